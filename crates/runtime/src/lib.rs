//! berth's OCI runtime: turns a bundle (config.json + rootfs) into an isolated process, with
//! runc's lifecycle (create, start, state, kill, delete, exec, pause, resume).
//!
//! Process structure of `create`: the runtime forks a child that immediately execs a sealed,
//! read-only copy of the berth binary ([`sealed_exe`]) as the init ([`init`]); the two talk
//! over a socketpair ([`channel`]). The init joins/unshares namespaces, forks the container
//! process into the new pid namespace as the runtime's direct child, builds the rootfs
//! ([`rootfs`]) and waits on the exec fifo until `start`.

pub mod cgroup;
pub mod channel;
pub mod console;
pub mod container;
pub mod devices;
pub mod error;
pub mod features;
pub mod hooks;
pub mod init;
pub mod launch;
pub mod mount_options;
pub mod process_setup;
pub mod rootfs;
pub mod safe_path;
pub mod sealed_exe;
pub mod seccomp;
pub mod signal;
pub mod spec;
pub mod state;

pub use container::{CreateOptions, ExecOptions, Runtime};
pub use error::{Error, Result};
pub use state::{StateOutput, Status};
