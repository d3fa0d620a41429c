//! berth-sys: the only home of raw syscalls and `unsafe` in berth.
//!
//! Every other crate forbids `unsafe` (workspace lint). Each `unsafe` block here carries a
//! `// SAFETY:` comment saying why the call is sound. Safe wrappers from `rustix`/`nix` are
//! preferred everywhere; this crate holds what they do not cover.
//!
//! Modules are owned by concept: `bpf` (cgroup v2 device filters) and the runtime's process,
//! mount and namespace primitives, `idmap` (idmapped mounts for userns-remap), `socket` (what
//! a peer has not read yet), `seccomp` (loading a filter compiled earlier).

pub mod bpf;
pub mod fd;
pub mod idmap;
pub mod process;
pub mod seccomp;
pub mod socket;
