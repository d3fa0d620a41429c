//! A temporary directory removed on drop (also when the test panics).

use std::path::{Path, PathBuf};

/// A directory under the system temp dir (or `base`), removed recursively on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh directory `/tmp/<prefix><unique>`.
    pub fn new(prefix: &str) -> Self {
        Self::new_in(&std::env::temp_dir(), prefix)
    }

    /// Creates a fresh directory `<base>/<prefix><unique>`.
    pub fn new_in(base: &Path, prefix: &str) -> Self {
        let path = base.join(crate::unique_name(prefix));
        std::fs::create_dir_all(&path).expect("create temp dir");
        Self { path }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
