//! Copy of an image directory into an empty volume, preserving ownership, modes and
//! symlinks (Docker does this the first time an empty named volume is mounted over image
//! content, unless `nocopy`).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::error::{Result, VolumeError};

/// Copies the tree `src` into the existing directory `dst` (whose own owner and mode are
/// set from `src`). Regular files, directories and symlinks are copied; device nodes,
/// fifos and sockets are skipped. Extended attributes are not copied.
pub fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(src).map_err(|e| VolumeError::io("stat", src, e))?;
    copy_dir(src, dst)?;
    set_owner_mode(dst, &meta)
}

fn set_owner_mode(path: &Path, meta: &std::fs::Metadata) -> Result<()> {
    std::os::unix::fs::lchown(path, Some(meta.uid()), Some(meta.gid()))
        .map_err(|e| VolumeError::io("chown", path, e))?;
    if !meta.file_type().is_symlink() {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(meta.mode() & 0o7777))
            .map_err(|e| VolumeError::io("chmod", path, e))?;
    }
    Ok(())
}

fn copy_dir(src: &Path, dst: &Path) -> Result<()> {
    let entries = std::fs::read_dir(src).map_err(|e| VolumeError::io("read dir", src, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| VolumeError::io("read dir", src, e))?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let meta =
            std::fs::symlink_metadata(&from).map_err(|e| VolumeError::io("stat", &from, e))?;
        let ft = meta.file_type();
        if ft.is_dir() {
            std::fs::create_dir(&to).map_err(|e| VolumeError::io("mkdir", &to, e))?;
            copy_dir(&from, &to)?;
        } else if ft.is_symlink() {
            let target =
                std::fs::read_link(&from).map_err(|e| VolumeError::io("readlink", &from, e))?;
            std::os::unix::fs::symlink(&target, &to)
                .map_err(|e| VolumeError::io("symlink", &to, e))?;
        } else if ft.is_file() {
            std::fs::copy(&from, &to).map_err(|e| VolumeError::io("copy", &to, e))?;
        } else {
            continue;
        }
        set_owner_mode(&to, &meta)?;
    }
    Ok(())
}
