//! Crash-safe JSON state files: written to a temp file, fsynced, then renamed over.

use std::io::Write;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{NetworkError, Result};

/// Writes `value` as JSON to `path` atomically (temp + fsync + rename).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| NetworkError::io("create dir", dir, e))?;
    let tmp = path.with_extension("json.tmp");
    let data = serde_json::to_vec_pretty(value).expect("state serializes");
    let mut f = std::fs::File::create(&tmp).map_err(|e| NetworkError::io("create", &tmp, e))?;
    f.write_all(&data)
        .map_err(|e| NetworkError::io("write", &tmp, e))?;
    f.sync_all()
        .map_err(|e| NetworkError::io("fsync", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| NetworkError::io("rename", path, e))
}

/// Reads JSON state from `path`; `None` when the file does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match std::fs::read(path) {
        Ok(data) => {
            serde_json::from_slice(&data)
                .map(Some)
                .map_err(|e| NetworkError::CorruptState {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(NetworkError::io("read", path, e)),
    }
}

/// Removes a state file; a missing file is fine.
pub fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(NetworkError::io("remove", path, e)),
    }
}
