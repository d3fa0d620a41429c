//! Errors of the log drivers, with Docker's texts where a user sees them.

use std::path::PathBuf;

/// What went wrong configuring, opening or reading a log driver.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A driver name Docker does not know either (no plugin by that name).
    #[error("error looking up logging plugin {0}: plugin \"{0}\" not found")]
    UnknownDriver(String),
    /// One of Docker's drivers berth does not have.
    #[error("logging driver {0} is not available in berth: use json-file, local, journald, syslog or none")]
    Unavailable(String),
    /// An option the driver does not take.
    #[error("unknown log opt '{opt}' for {driver} log driver")]
    UnknownOpt {
        /// The option.
        opt: String,
        /// The driver.
        driver: String,
    },
    /// An option with a bad value (the text says which and why).
    #[error("{0}")]
    BadOpt(String),
    /// `logs` on a driver that keeps nothing to read.
    #[error("configured logging driver does not support reading")]
    ReadNotSupported,
    /// A file or socket could not be opened or read.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or socket.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl LogError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LogError::Io {
            what,
            path: path.into(),
            source,
        }
    }
}
