//! Durable file primitives: write temp + fsync + rename + fsync directory.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use crate::error::{MetadataError, Result};

/// Suffix of files being written; such files are never read and are removed on open.
pub const TMP_SUFFIX: &str = ".tmp";

/// Mode of record files: records carry secrets (a container's environment), so only the
/// owner (root) reads them.
pub const FILE_MODE: u32 = 0o600;

/// Mode of the store's directories.
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` and missing parents with [`DIR_MODE`].
pub fn create_dir_all(dir: &Path) -> Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| MetadataError::io(dir, e))
}

/// Writes `data` to `path` atomically and durably: a reader (or a crash) sees either the old
/// content or the new one. The file is [`FILE_MODE`]. The directory is *not* synced here (see
/// [`sync_dir`]).
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    write_replacing(path, data, true)
}

/// [`write_atomic`], with the fsync before the rename only when `durable`: without it the
/// replace is still atomic for every reader and survives a crash of the writing process,
/// but a host crash may leave the old content (or, for a new file, none).
pub fn write_replacing(path: &Path, data: &[u8], durable: bool) -> Result<()> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(TMP_SUFFIX);
    let tmp = path.with_file_name(tmp_name);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(&tmp)
        .map_err(|e| MetadataError::io(&tmp, e))?;
    f.write_all(data).map_err(|e| MetadataError::io(&tmp, e))?;
    if durable {
        f.sync_all().map_err(|e| MetadataError::io(&tmp, e))?;
    }
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

/// Longest file-name stem an encoded key keeps (NAME_MAX is 255 bytes; the stem is followed
/// by `.json` and, while written, `.tmp`).
const MAX_STEM: usize = 240;

/// First byte of a hashed stem; [`encode_key`] never produces it.
const HASHED: char = '#';

/// The file-name stem of `key`: [`encode_key`], or for a key whose encoding would be too long
/// for a file name, `#` and the SHA-256 of the key (the record then carries its key).
/// The second value tells which.
pub fn key_stem(key: &str) -> (String, bool) {
    let enc = encode_key(key);
    if enc.len() <= MAX_STEM {
        return (enc, false);
    }
    use sha2::Digest;
    let sum = sha2::Sha256::digest(key.as_bytes());
    let hex: String = sum.iter().map(|b| format!("{b:02x}")).collect();
    (format!("{HASHED}{hex}"), true)
}

/// True for a stem made by [`key_stem`] from a hash (its key is inside the record).
pub fn is_hashed_stem(stem: &str) -> bool {
    stem.starts_with(HASHED)
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
            assert_eq!(key_stem(key), (enc, false));
        }
    }

    #[test]
    fn long_keys_get_hashed_stems_that_fit_a_file_name() {
        let long = "a".repeat(10_000);
        let (stem, hashed) = key_stem(&long);
        assert!(hashed && is_hashed_stem(&stem));
        assert!(stem.len() + ".json.tmp".len() <= 255);
        assert_ne!(key_stem(&"a".repeat(9_999)).0, stem);
        let (short, hashed) = key_stem(&"b".repeat(240));
        assert!(!hashed && !is_hashed_stem(&short));
        assert!(decode_key(&stem).is_none() || !stem.starts_with('%'));
    }
}
