//! berth-snapshot: an overlayfs snapshotter.
//!
//! Lifecycle (containerd's snapshotter model, layout inspired by docker's overlay2):
//!
//! * A **layer** is a committed, read-only directory keyed by its chain id
//!   (`sha256:<hex>`), shared by every image that contains it. Layers are made either by
//!   unpacking into a [`PendingLayer`] and [`Snapshotter::commit_pending`], or by committing an
//!   active snapshot with [`Snapshotter::commit`].
//! * An **active** snapshot (per container) is a writable upper dir (plus overlay work dir)
//!   over a parent layer chain: [`Snapshotter::prepare`]. A **view** is read-only:
//!   [`Snapshotter::view`]. Both return a [`Mount`] *description*; the caller mounts it
//!   (the runtime does; tests and the engine may use [`mount`]).
//! * [`Snapshotter::remove`] drops an active/view snapshot; [`Snapshotter::remove_layer`]
//!   drops a layer nobody builds on.
//! * [`changes`](Snapshotter::changes) lists `docker diff`'s A/C/D entries of an active
//!   snapshot; [`write_diff`](Snapshotter::write_diff) writes its upper dir as a layer tar
//!   (overlay whiteouts turned back into `.wh.` entries).
//!
//! On disk (`<data-root>/snapshots`):
//! ```text
//! layers/<hex>/diff        layer contents, overlay form (whiteouts = char dev 0/0)
//! layers/<hex>/link        short id;  l/<short> -> ../layers/<hex>/diff
//! layers/<hex>/parent      parent chain id (absent for a base layer)
//! active/<key>/{diff,work} writable snapshot; active/<key>/info.json {kind, parent}
//! tmp/                     pending (unpacking) layers, renamed into layers/ on commit
//! ```

mod diff;
mod error;
mod mount;
mod store;

pub use diff::{write_layer_tar, Change, ChangeKind};
pub use error::{Error, Result};
pub use mount::{mount, mount_idmapped, unmount, Mount, MountGuard};
pub use store::{ActiveInfo, LayerInfo, PendingLayer, SnapshotKind, Snapshotter, Usage};

/// Name of the xattr overlayfs uses to mark an opaque directory.
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
