//! The registry client's error type.

use berth_content::{ContentError, Digest};

/// Everything that can go wrong talking to a registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// An image reference does not follow Docker's grammar.
    #[error("invalid reference format {input:?}: {reason}")]
    InvalidReference {
        /// The text that was parsed.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The connection failed (refused, reset, TLS, timeout).
    #[error("{url}: connection failed: {message}")]
    Connect {
        /// The URL being requested.
        url: String,
        /// The transport's description.
        message: String,
    },
    /// The registry answered with an unexpected status.
    #[error("{url}: {status}{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    Status {
        /// The URL being requested.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The registry's error message (from its `errors` JSON), if any.
        message: String,
    },
    /// Credentials are missing or refused.
    #[error("unauthorized: {registry}: {message}")]
    Unauthorized {
        /// The registry host.
        registry: String,
        /// What the registry or token server said.
        message: String,
    },
    /// The manifest, blob or repository does not exist.
    #[error("not found: {what}")]
    NotFound {
        /// What was asked for (`manifest for x:tag`, `blob sha256:…`).
        what: String,
    },
    /// Bytes served do not hash to the digest they were asked for or announced with.
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was being fetched.
        what: String,
        /// The digest that was expected.
        expected: Digest,
        /// The digest of the bytes received.
        actual: Digest,
    },
    /// Bytes served are not as long as expected.
    #[error("{what}: size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// What was being fetched.
        what: String,
        /// The size that was expected.
        expected: u64,
        /// The size received (for too many bytes: at least this many).
        actual: u64,
    },
    /// A manifest is malformed, of the wrong kind or disagrees with its Content-Type.
    #[error("invalid manifest {what}: {reason}")]
    InvalidManifest {
        /// Which manifest.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The registry broke the protocol in some other way (bad header, bad JSON, ...).
    #[error("{url}: protocol error: {message}")]
    Protocol {
        /// The URL being requested.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// A credential helper or the docker config file failed.
    #[error("credentials: {0}")]
    Credentials(String),
    /// The local content store failed.
    #[error(transparent)]
    Content(#[from] ContentError),
}

impl RegistryError {
    /// True for errors worth retrying: connection failures, 5xx, 429.
    pub fn is_transient(&self) -> bool {
        match self {
            RegistryError::Connect { .. } => true,
            RegistryError::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    /// True when the thing asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, RegistryError::NotFound { .. })
    }

    /// True for authentication and authorisation failures.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, RegistryError::Unauthorized { .. })
    }
}
