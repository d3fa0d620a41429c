//! Files inside a root directory (a container's `/`, an image layer, a build's snapshot),
//! reached only through descriptors, and the one tar extractor berth has.
//!
//! Every lookup starts from a descriptor of the root and goes through `openat2` with
//! `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS` ([`Resolve::InRoot`]: `..`, absolute and relative
//! symlinks all stay inside the root, atomically, even while the tree changes under us) or
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS` ([`Resolve::NoSymlinks`]: any symlink in the way
//! is refused — how image layers are unpacked). Below a resolved directory single names are
//! opened with `O_NOFOLLOW`; file contents and metadata are reached through the descriptor
//! already found (`/proc/self/fd/<n>`), never through a second lookup by path.
//!
//! - [`Root`]: open, create, `mkdir -p`, read small files inside a root;
//! - [`remount_bind`]: read-only (or other flags) on a bind mount found inside a root;
//!   [`open_in_root`] / [`create_in_root`] for callers holding any descriptor (the runtime);
//! - [`locate`] / [`PathStat`]: Docker's `ResolvePath` and `ContainerPathStat` (`docker cp`);
//! - [`write_tar`]: a tar of a located path, named as Docker names it;
//! - [`extract`] / [`ExtractOptions`]: the hardened extractor for `docker cp`, image layers
//!   (overlay whiteouts, xattrs, sparse files) and build steps.
//!
//! All system calls go through `rustix` (its `openat2` is safe); no `unsafe` here.

mod error;
#[cfg(feature = "archive")]
mod extract;
mod locate;
mod mount;
mod path;
mod root;
#[cfg(feature = "archive")]
mod write;

pub use error::InRootError;
#[cfg(feature = "archive")]
pub use extract::{
    check_extraction_point, extract, ExtractOptions, Whiteouts, OVERLAY_OPAQUE_XATTR,
};
pub use locate::{go_file_mode, locate, path_stat, Located, PathStat};
pub use mount::remount_bind;
pub use path::{clean, relative};
pub use root::{create_in_root, open_in_root, proc_fd_path, remove_all_at, Resolve, Root};
#[cfg(feature = "archive")]
pub use write::write_tar;
