//! Docker's `local` driver: protobuf-framed records ([`proto`]) in
//! `<container>/local-logs/container.log`, rotated at `max-size` (20 MB) into `max-file` (5)
//! files, rotated files gzipped (`compress`, on by default). Also the file format of the
//! dual-logging cache kept for drivers that cannot be read back.

pub mod proto;

use std::io;
use std::path::Path;

use berth_units::{SubSeconds, Timestamp};

use crate::jsonfile::rotation;
use crate::rotate::{self, RotatingFile, Rotation};
use crate::{LogConfig, LogDriver, LogEntry, LogError, Message};

/// Docker's defaults: 20 MB, 5 files, compressed.
const DEFAULT_MAX_SIZE: u64 = 20 * 1024 * 1024;
const DEFAULT_MAX_FILE: u32 = 5;

/// The local driver.
#[derive(Debug)]
pub struct LocalDriver {
    file: RotatingFile,
}

impl LocalDriver {
    /// Opens `<dir>/local-logs/container.log` with the container's options.
    pub fn open(config: &LogConfig) -> Result<Self, LogError> {
        let rotation = rotation(config, DEFAULT_MAX_SIZE, DEFAULT_MAX_FILE, true);
        Self::at(&config.local_path(), rotation)
    }

    /// Opens the dual-logging cache (`cache-max-size`, `cache-max-file`, `cache-compress`).
    pub fn open_cache(config: &LogConfig) -> Result<Self, LogError> {
        let path = config.cache_path().unwrap_or_else(|| config.local_path());
        let rotation = Rotation {
            max_size: config
                .opt("cache-max-size")
                .and_then(|s| berth_units::from_human_size(s).ok())
                .map_or(DEFAULT_MAX_SIZE, |n| u64::try_from(n).unwrap_or(0)),
            max_file: config
                .opt("cache-max-file")
                .and_then(|s| s.parse().ok())
                .unwrap_or(DEFAULT_MAX_FILE),
            compress: config
                .opt("cache-compress")
                .and_then(crate::config::parse_bool)
                .unwrap_or(true),
        };
        Self::at(&path, rotation)
    }

    fn at(path: &Path, rotation: Rotation) -> Result<Self, LogError> {
        let file =
            RotatingFile::open(path, rotation).map_err(|e| LogError::io("open log", path, e))?;
        Ok(LocalDriver { file })
    }
}

impl LogDriver for LocalDriver {
    fn log(&mut self, msg: &Message<'_>) -> io::Result<()> {
        let record = proto::Record {
            source: msg.stream.as_str().into(),
            time_nano: i64::try_from(msg.time.as_nanos()).unwrap_or(0),
            line: msg.line.to_vec(),
            partial: msg.partial,
        };
        self.file.write_record(&proto::encode(&record)?)
    }
}

/// All entries of a local-format log, oldest rotated file first.
pub fn read_all(path: &Path) -> io::Result<Vec<LogEntry>> {
    Ok(rotate::read_all(path)?
        .iter()
        .flat_map(|data| proto::decode_all(data))
        .map(entry)
        .collect())
}

/// The entries of one open local-format file (from its start), e.g. a log already unlinked.
pub fn read_open(mut file: &std::fs::File) -> Vec<LogEntry> {
    use std::io::{Read, Seek};
    let mut data = Vec::new();
    if file.seek(io::SeekFrom::Start(0)).is_err() || file.read_to_end(&mut data).is_err() {
        return Vec::new();
    }
    proto::decode_all(&data).into_iter().map(entry).collect()
}

fn entry(r: proto::Record) -> LogEntry {
    let mut log = String::from_utf8_lossy(&r.line).into_owned();
    if !r.partial {
        log.push('\n');
    }
    LogEntry {
        log,
        stream: r.source,
        time: Timestamp::from_nanos(i128::from(r.time_nano)).to_rfc3339(SubSeconds::Nanos),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Stream;

    #[test]
    fn rotates_compressed_and_reads_back() {
        let dir = std::env::temp_dir().join(format!("berth-local-{}", std::process::id()));
        let mut cfg = LogConfig {
            driver: "local".into(),
            dir: dir.clone(),
            ..Default::default()
        };
        cfg.opts.insert("max-size".into(), "200".into());
        cfg.opts.insert("max-file".into(), "3".into());
        let mut d = LocalDriver::open(&cfg).unwrap();
        for i in 0..40 {
            let line = format!("line {i:02}\n");
            let t = Timestamp::new(i, 0);
            d.log(&Message::from_output(Stream::Stderr, line.as_bytes(), t))
                .unwrap();
        }
        let path = cfg.local_path();
        assert!(rotate::rotated(&path, 2, true).exists());
        assert!(!rotate::rotated(&path, 3, true).exists());
        let all = read_all(&path).unwrap();
        let last = all.last().unwrap();
        assert_eq!(last.log, "line 39\n");
        assert_eq!(last.stream, "stderr");
        assert_eq!(last.time, "1970-01-01T00:00:39.000000000Z");
        assert!(all.len() < 40 && all.len() > 10);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
