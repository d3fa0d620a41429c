//! Docker's json-file log format: one `{"log":…,"stream":…,"time":…}` object per line,
//! rotated to `<log>.1`, `<log>.2`, … when `max-size` is reached (`max-file` files kept).

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One log line as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The bytes (lossy UTF-8), newline included when the output had one.
    pub log: String,
    /// "stdout" or "stderr".
    pub stream: String,
    /// RFC 3339 with nanoseconds, UTC.
    pub time: String,
}

/// Appends entries to a json-file log with rotation.
#[derive(Debug)]
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    max_file: u32,
}

impl LogWriter {
    /// Opens (appending) `path`; `max_size` 0 = unlimited; `max_file` ≥ 1.
    pub fn open(path: &Path, max_size: u64, max_file: u32) -> io::Result<Self> {
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter {
            path: path.to_path_buf(),
            file,
            size,
            max_size,
            max_file: max_file.max(1),
        })
    }

    /// Writes one entry (a line of output from `stream`).
    pub fn write(&mut self, stream: &str, data: &[u8], time: &str) -> io::Result<()> {
        let entry = LogEntry {
            log: String::from_utf8_lossy(data).into_owned(),
            stream: stream.to_string(),
            time: time.to_string(),
        };
        let mut line = serde_json::to_vec(&entry).map_err(io::Error::other)?;
        line.push(b'\n');
        if self.max_size > 0 && self.size > 0 && self.size + line.len() as u64 > self.max_size {
            self.rotate()?;
        }
        self.file.write_all(&line)?;
        self.size += line.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.max_file <= 1 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        for i in (1..self.max_file).rev() {
            let from = rotated(&self.path, i - 1);
            let to = rotated(&self.path, i);
            if from.exists() {
                std::fs::rename(&from, &to)?;
            }
        }
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// Opens a log for appending, creating it 0600: a container's output may carry secrets, so
/// only root reads it (Docker: 0640 root:root).
fn open_append(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// `<log>` for 0, `<log>.N` otherwise.
fn rotated(path: &Path, n: u32) -> PathBuf {
    if n == 0 {
        path.to_path_buf()
    } else {
        PathBuf::from(format!("{}.{n}", path.display()))
    }
}

/// All entries of a log, oldest rotated file first.
pub fn read_all(path: &Path) -> io::Result<Vec<LogEntry>> {
    let mut files = Vec::new();
    let mut n = 1;
    while rotated(path, n).exists() {
        files.push(rotated(path, n));
        n += 1;
    }
    files.reverse();
    files.push(path.to_path_buf());
    let mut out = Vec::new();
    for f in files {
        let file = match File::open(&f) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for line in BufReader::new(file).lines() {
            let line = line?;
            if let Ok(e) = serde_json::from_str::<LogEntry>(&line) {
                out.push(e);
            }
        }
    }
    Ok(out)
}

/// The entries of one open log file (from its start), e.g. a log already unlinked.
pub fn read_open(mut file: &File) -> Vec<LogEntry> {
    use std::io::Seek;
    if file.seek(io::SeekFrom::Start(0)).is_err() {
        return Vec::new();
    }
    BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<LogEntry>(&l).ok())
        .collect()
}

/// Parses Docker's `since`/`until` (unix seconds with optional fraction, or RFC 3339) into
/// nanoseconds since the epoch.
pub fn parse_time(s: &str) -> Option<i128> {
    if let Ok(f) = s.parse::<f64>() {
        return Some((f * 1e9) as i128);
    }
    rfc3339_nanos(s)
}

/// Nanoseconds since the epoch of an RFC 3339 time (`…Z` or `±hh:mm`).
pub fn rfc3339_nanos(s: &str) -> Option<i128> {
    berth_units::parse_rfc3339(s).map(berth_units::Timestamp::as_nanos)
}

/// Now as RFC 3339 with nanoseconds.
pub fn now() -> String {
    berth_units::time::now_rfc3339_nanos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_max_file_files() {
        let dir = std::env::temp_dir().join(format!("berth-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c-json.log");
        let mut w = LogWriter::open(&path, 200, 3).unwrap();
        for i in 0..40 {
            w.write("stdout", format!("line {i}\n").as_bytes(), &now())
                .unwrap();
        }
        assert!(rotated(&path, 2).exists());
        assert!(!rotated(&path, 3).exists());
        let all = read_all(&path).unwrap();
        assert_eq!(all.last().unwrap().log, "line 39\n");
        assert!(all.len() < 40);
        use std::os::unix::fs::PermissionsExt;
        for n in 0..3 {
            let mode = std::fs::metadata(rotated(&path, n))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "log {n} is readable by others");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn times_parse() {
        assert_eq!(rfc3339_nanos("1970-01-01T00:00:01.5Z"), Some(1_500_000_000));
        assert_eq!(parse_time("2.25"), Some(2_250_000_000));
        assert_eq!(rfc3339_nanos("1970-01-01T01:00:00+01:00"), Some(0));
    }
}
