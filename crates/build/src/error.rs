//! Build errors. `Display` is what `docker build` prints (the classic builder's wording).

use berth_dockerfile::{ExpandError, ParseError};

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Dockerfile does not parse (the API answers 400 before streaming).
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A bad request: missing Dockerfile, unknown target, bad build option.
    #[error("{0}")]
    Invalid(String),
    /// A variable substitution failed (`${X:?}`).
    #[error("{0}")]
    Expand(#[from] ExpandError),
    /// The build context is unusable (hostile tar, unreadable).
    #[error("{0}")]
    Context(String),
    /// A COPY/ADD source is missing or escapes the context.
    #[error("{0}")]
    Source(String),
    /// A RUN step exited non-zero.
    #[error("The command '{command}' returned a non-zero code: {code}")]
    StepFailed {
        /// The command as Docker prints it.
        command: String,
        /// Its exit code.
        code: i64,
    },
    /// What the engine said.
    #[error("{0}")]
    Backend(String),
    /// The build was cancelled (the client went away).
    #[error("build cancelled")]
    Cancelled,
    #[error("{context}: {source}")]
    /// An I/O error and what was being done.
    Io {
        /// What was being done.
        context: String,
        #[source]
        /// The error.
        source: std::io::Error,
    },
}

impl BuildError {
    /// The `errorDetail.code` of the stream: a failed step's exit code, else 1.
    pub fn code(&self) -> i64 {
        match self {
            Self::StepFailed { code, .. } => *code,
            _ => 1,
        }
    }

    /// A Dockerfile problem known before any step ran (the API answers 400).
    pub fn is_syntax(&self) -> bool {
        matches!(self, Self::Parse(_))
    }
}

/// A result with [`BuildError`].
pub type Result<T, E = BuildError> = std::result::Result<T, E>;

pub(crate) trait IoContext<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| BuildError::Io {
            context: what(),
            source,
        })
    }
}
