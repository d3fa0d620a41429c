//! v1 cpuset: a new cpuset starts with empty cpus and mems, and a task cannot join it until
//! they are set, so every newly created level copies its parent's values.

use std::path::Path;

use crate::error::Result;
use crate::fs;

/// For each directory from below `mount_point` down to `leaf`, fills empty cpuset.cpus and
/// cpuset.mems from the parent.
pub(crate) fn inherit_from_parents(mount_point: &Path, leaf: &Path) -> Result<()> {
    let Ok(rel) = leaf.strip_prefix(mount_point) else {
        return Ok(());
    };
    let mut parent = mount_point.to_path_buf();
    for comp in rel.components() {
        let dir = parent.join(comp);
        for file in ["cpuset.cpus", "cpuset.mems"] {
            if fs::read(&dir, file)?.trim().is_empty() {
                let value = fs::read(&parent, file)?;
                fs::write(&dir, file, value.trim())?;
            }
        }
        parent = dir;
    }
    Ok(())
}
