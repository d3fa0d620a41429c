//! Docker's json-file log format: one `{"log":…,"stream":…,"time":…}` object per line
//! (`"attrs"` too when the `labels`/`env` options pick some), rotated at `max-size` into
//! `max-file` files, rotated files gzipped with `compress`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek};
use std::path::Path;

use berth_units::SubSeconds;
use serde::Serialize;

use crate::config::parse_bool;
use crate::rotate::{self, RotatingFile, Rotation};
use crate::{LogConfig, LogDriver, LogEntry, LogError, Message};

#[derive(Serialize)]
struct Line<'a> {
    log: &'a str,
    stream: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    attrs: Option<&'a std::collections::BTreeMap<String, String>>,
    time: &'a str,
}

/// The json-file driver.
#[derive(Debug)]
pub struct JsonFileDriver {
    file: RotatingFile,
    attrs: std::collections::BTreeMap<String, String>,
}

impl JsonFileDriver {
    /// Opens the container's json-file log with its rotation options.
    pub fn open(config: &LogConfig) -> Result<Self, LogError> {
        let rotation = rotation(config, 0, 1, false);
        let file = RotatingFile::open(&config.json_path, rotation)
            .map_err(|e| LogError::io("open log", &config.json_path, e))?;
        Ok(JsonFileDriver {
            file,
            attrs: config.container.attrs.clone(),
        })
    }

    /// A plain writer of `path` (build steps log here; no options).
    pub fn plain(path: &Path, max_size: u64, max_file: u32) -> io::Result<Self> {
        let rotation = Rotation {
            max_size,
            max_file,
            compress: false,
        };
        Ok(JsonFileDriver {
            file: RotatingFile::open(path, rotation)?,
            attrs: Default::default(),
        })
    }
}

/// The rotation a file driver's options ask for, with the driver's defaults.
pub(crate) fn rotation(config: &LogConfig, size: u64, files: u32, compress: bool) -> Rotation {
    let max_size = config
        .opt("max-size")
        .and_then(|s| berth_units::from_human_size(s).ok())
        .map_or(size, |n| u64::try_from(n).unwrap_or(0));
    Rotation {
        max_size,
        max_file: config
            .opt("max-file")
            .and_then(|s| s.parse().ok())
            .unwrap_or(files),
        compress: config
            .opt("compress")
            .and_then(parse_bool)
            .unwrap_or(compress),
    }
}

impl LogDriver for JsonFileDriver {
    fn log(&mut self, msg: &Message<'_>) -> io::Result<()> {
        let log = msg.output();
        let time = msg.time.to_rfc3339(SubSeconds::Nanos);
        let line = Line {
            log: &log,
            stream: msg.stream.as_str(),
            attrs: (!self.attrs.is_empty()).then_some(&self.attrs),
            time: &time,
        };
        let mut record = serde_json::to_vec(&line).map_err(io::Error::other)?;
        record.push(b'\n');
        self.file.write_record(&record)
    }
}

/// All entries of a json-file log, oldest rotated file first.
pub fn read_all(path: &Path) -> io::Result<Vec<LogEntry>> {
    Ok(rotate::read_all(path)?
        .iter()
        .flat_map(|data| parse(data))
        .collect())
}

fn parse(data: &[u8]) -> Vec<LogEntry> {
    data.split(|b| *b == b'\n')
        .filter_map(|l| serde_json::from_slice::<LogEntry>(l).ok())
        .collect()
}

/// The entries of one open log file (from its start), e.g. a log already unlinked.
pub fn read_open(mut file: &File) -> Vec<LogEntry> {
    if file.seek(io::SeekFrom::Start(0)).is_err() {
        return Vec::new();
    }
    BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<LogEntry>(&l).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Stream;
    use berth_units::Timestamp;

    #[test]
    fn writes_docker_lines_with_attrs() {
        let dir = std::env::temp_dir().join(format!("berth-jf-{}", std::process::id()));
        let mut cfg = LogConfig {
            driver: "json-file".into(),
            json_path: dir.join("c-json.log"),
            ..Default::default()
        };
        cfg.container.attrs.insert("app".into(), "web".into());
        let mut d = JsonFileDriver::open(&cfg).unwrap();
        let t = Timestamp::new(0, 0);
        d.log(&Message::from_output(Stream::Stdout, b"a\n", t))
            .unwrap();
        let text = std::fs::read_to_string(&cfg.json_path).unwrap();
        assert_eq!(
            text,
            "{\"log\":\"a\\n\",\"stream\":\"stdout\",\"attrs\":{\"app\":\"web\"},\"time\":\"1970-01-01T00:00:00.000000000Z\"}\n"
        );
        assert_eq!(read_all(&cfg.json_path).unwrap()[0].log, "a\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
