//! Small file helpers that attach the path to every error.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{CgroupError, Result};

/// Writes `value` to `dir/file` (cgroup files take one write each).
pub(crate) fn write(dir: &Path, file: &str, value: impl AsRef<str>) -> Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, value.as_ref()).map_err(|source| CgroupError::Io {
        op: "write",
        path,
        source,
    })
}

/// Reads `dir/file` as text.
pub(crate) fn read(dir: &Path, file: &str) -> Result<String> {
    let path = dir.join(file);
    std::fs::read_to_string(&path).map_err(|source| CgroupError::Io {
        op: "read",
        path,
        source,
    })
}

/// Reads `dir/file`, or `None` when it does not exist (controller file absent on this kernel).
pub(crate) fn read_opt(dir: &Path, file: &str) -> Result<Option<String>> {
    match read(dir, file) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Parses one unsigned number, with "max" (v2) mapped to `None`.
pub(crate) fn parse_limit(dir: &Path, file: &str, text: &str) -> Result<Option<u64>> {
    let t = text.trim();
    if t == "max" {
        return Ok(None);
    }
    t.parse().map(Some).map_err(|_| CgroupError::Parse {
        path: dir.join(file),
        content: t.to_string(),
    })
}

/// Reads a file holding one number.
pub(crate) fn read_u64(dir: &Path, file: &str) -> Result<u64> {
    let text = read(dir, file)?;
    parse_u64(dir, file, &text)
}

/// Reads a file holding one number, `None` when the file is absent.
pub(crate) fn read_u64_opt(dir: &Path, file: &str) -> Result<Option<u64>> {
    match read_opt(dir, file)? {
        Some(text) => parse_u64(dir, file, &text).map(Some),
        None => Ok(None),
    }
}

fn parse_u64(dir: &Path, file: &str, text: &str) -> Result<u64> {
    text.trim().parse().map_err(|_| CgroupError::Parse {
        path: dir.join(file),
        content: text.trim().to_string(),
    })
}

/// Parses "key value" lines (memory.stat, cpu.stat, memory.events, ...); lines that do not
/// have a numeric value are skipped.
pub(crate) fn parse_flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let k = it.next()?;
            let v = it.next()?.parse().ok()?;
            Some((k.to_string(), v))
        })
        .collect()
}

/// Reads a flat-keyed file, empty when absent.
pub(crate) fn read_flat_keyed(dir: &Path, file: &str) -> Result<BTreeMap<String, u64>> {
    Ok(read_opt(dir, file)?
        .map(|t| parse_flat_keyed(&t))
        .unwrap_or_default())
}
