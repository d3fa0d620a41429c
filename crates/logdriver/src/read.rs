//! Reading a container's log back ([`LogReader`]), whichever driver wrote it.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::journald::read::JournalReader;
use crate::{jsonfile, local, LogConfig, LogEntry, LogError};

/// Gives back a container's log, then what was added since.
pub trait LogReader: Send {
    /// The entries written since the previous call (everything, the first time).
    fn read_new(&mut self) -> io::Result<Vec<LogEntry>>;

    /// How often a follower should call [`LogReader::read_new`].
    fn poll_interval(&self) -> Duration {
        Duration::from_millis(100)
    }
}

/// The reader of the log `config` describes; drivers with nothing to read (`none`, or
/// syslog with its cache disabled) are refused with Docker's text.
pub fn reader(config: &LogConfig) -> Result<Box<dyn LogReader>, LogError> {
    Ok(match config.driver.as_str() {
        "json-file" => Box::new(FileReader::new(&config.json_path, Format::Json)),
        "local" => Box::new(FileReader::new(&config.local_path(), Format::Local)),
        "journald" => Box::new(JournalReader::new(
            &config.container.id,
            config.journal_namespace.as_deref(),
        )),
        _ => match config.cache_path() {
            Some(p) => Box::new(FileReader::new(&p, Format::Local)),
            None => return Err(LogError::ReadNotSupported),
        },
    })
}

#[derive(Debug, Clone, Copy)]
enum Format {
    Json,
    Local,
}

/// A file log (json-file or local format), rotated or not. The live file is held open
/// from the start, so a log removed with its container meanwhile is still read to its end
/// (docker-py's `run(remove=True)` reads the stream after removing the container).
#[derive(Debug)]
struct FileReader {
    path: PathBuf,
    format: Format,
    held: Option<File>,
    seen: usize,
}

impl FileReader {
    fn new(path: &Path, format: Format) -> Self {
        FileReader {
            path: path.to_path_buf(),
            format,
            held: File::open(path).ok(),
            seen: 0,
        }
    }

    fn read_everything(&self) -> io::Result<Vec<LogEntry>> {
        if let (false, Some(f)) = (self.path.exists(), &self.held) {
            return Ok(match self.format {
                Format::Json => jsonfile::read_open(f),
                Format::Local => local::read_open(f),
            });
        }
        match self.format {
            Format::Json => jsonfile::read_all(&self.path),
            Format::Local => local::read_all(&self.path),
        }
    }
}

impl LogReader for FileReader {
    fn read_new(&mut self) -> io::Result<Vec<LogEntry>> {
        let all = self.read_everything()?;
        if all.len() < self.seen {
            self.seen = 0; // rotated away
        }
        let new = all[self.seen..].to_vec();
        self.seen = all.len();
        Ok(new)
    }
}
