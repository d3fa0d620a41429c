//! berth's OCI runtime: turns a bundle (config.json + rootfs) into an isolated process, with
//! runc's lifecycle (create, start, state, kill, delete, exec, pause, resume).
//!
//! Process structure of `create`: the runtime forks a child that immediately execs a sealed,
//! read-only copy of the berth binary (`sealed_exe`) as the init ([`init_main`]); the two
//! talk over a socketpair (`channel`). The init joins/unshares namespaces, forks the
//! container process into the new pid namespace as the runtime's direct child, builds the
//! rootfs (`rootfs`) and waits on the exec fifo until `start`.
//!
//! The API is [`Runtime`] and its options, records and errors, the `features`/`spec`
//! documents ([`features_document`], [`default_spec`]); the modules are private. Docker's
//! seccomp profile format is the engine's to convert (`berth_engine::spec::seccomp`); signal
//! names are `berth_units::signal`'s, in-root lookups `berth_inroot`'s.

mod cgroup;
mod channel;
mod console;
mod container;
mod devices;
mod error;
mod features;
mod hooks;
mod init;
mod launch;
mod lsm;
mod mount_options;
mod process_setup;
mod rootfs;
mod sealed_exe;
mod seccomp;
mod spec;
mod state;

pub use channel::INIT_FD_ENV;
pub use container::{CreateOptions, ExecOptions, Runtime};
pub use error::{Error, Result};
pub use features::{default_spec, document as features_document};
pub use init::main as init_main;
pub use state::{ContainerRecord, StateOutput, Status};
