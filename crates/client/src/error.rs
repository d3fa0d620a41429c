//! The CLI's error type and how each kind maps to docker's message and exit code.

use std::fmt;

/// Everything a command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The daemon answered with an error status and `{"message": …}`.
    #[error("Error response from daemon: {message}")]
    Daemon {
        /// HTTP status.
        status: u16,
        /// The daemon's message.
        message: String,
    },
    /// The daemon could not be reached.
    #[error("Cannot connect to the berth daemon at {host}. Is the berth daemon running?")]
    Connect {
        /// The endpoint as configured (`unix:///run/berth/berth.sock`).
        host: String,
    },
    /// The socket refused us (not in its group): docker's text for EACCES.
    #[error("permission denied while trying to connect to the berth daemon socket at {host}: dial unix {path}: connect: permission denied")]
    PermissionDenied {
        /// The endpoint as configured.
        host: String,
        /// The socket path.
        path: String,
    },
    /// Transport or protocol failure talking to the daemon.
    #[error("error during connect: {0}")]
    Transport(String),
    /// A local problem (bad flag value, file not found, …), printed as is.
    #[error("{0}")]
    Message(String),
    /// Exit silently with this status (the message, if any, was already printed).
    #[error("exit status {0}")]
    Status(i32),
}

impl CliError {
    /// A local error with a message.
    pub fn msg(m: impl fmt::Display) -> Self {
        CliError::Message(m.to_string())
    }

    /// The daemon's message when this is a daemon error.
    pub fn daemon_message(&self) -> Option<&str> {
        match self {
            CliError::Daemon { message, .. } => Some(message),
            _ => None,
        }
    }

    /// True for a 404 from the daemon.
    pub fn is_not_found(&self) -> bool {
        matches!(self, CliError::Daemon { status: 404, .. })
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Message(e.to_string())
    }
}

/// Result of a CLI operation.
pub type CliResult<T> = Result<T, CliError>;

/// An I/O error as Go prints it (`no such file or directory`, not Rust's
/// `No such file or directory (os error 2)`).
pub fn go_io_error(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = match s.find(" (os error ") {
        Some(i) => &s[..i],
        None => &s,
    };
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}
