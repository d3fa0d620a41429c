//! Durable file primitives: write temp + fsync + rename + fsync directory.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::error::{MetadataError, Result};

/// Suffix of files being written; such files are never read and are removed on open.
pub const TMP_SUFFIX: &str = ".tmp";

/// Writes `data` to `path` atomically and durably: a reader (or a crash) sees either the old
/// content or the new one. The directory is *not* synced here (see [`sync_dir`]).
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(TMP_SUFFIX);
    let tmp = path.with_file_name(tmp_name);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| MetadataError::io(&tmp, e))?;
    f.write_all(data).map_err(|e| MetadataError::io(&tmp, e))?;
    f.sync_all().map_err(|e| MetadataError::io(&tmp, e))?;
    drop(f);
    fs::rename(&tmp, path).map_err(|e| MetadataError::io(path, e))
}

/// Makes renames and unlinks in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| MetadataError::io(dir, e))
}

/// Removes `path` if it exists.
pub fn remove_if_exists(path: &Path) -> Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(MetadataError::io(path, e)),
    }
}

/// Encodes a record key as a file name: `[A-Za-z0-9_-]` and non-leading `.` stay, every
/// other byte becomes `%XX` (so image references like `localhost:5000/a/b:1` are safe).
pub fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for (i, b) in key.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && i > 0);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Inverse of [`encode_key`]; `None` for names that are not encoded keys.
pub fn decode_key(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = name.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_file_names() {
        for key in [
            "abc",
            "localhost:5000/a/b:1",
            ".hidden",
            "a.b",
            "naïve",
            "x%y",
            "..",
            "/",
        ] {
            let enc = encode_key(key);
            assert!(!enc.contains('/') && enc != "." && enc != ".." && !enc.starts_with('.'));
            assert!(!enc.ends_with(TMP_SUFFIX));
            assert_eq!(decode_key(&enc).as_deref(), Some(key));
        }
    }
}
