//! The engine's error: typed until the API edge.
//!
//! Every service returns [`EngineError`]. Its [`ErrorKind`] says what kind of failure it is
//! (Docker's `errdefs`: not found, conflict, invalid argument, …); its text is what Docker
//! clients print ("No such container: x"), so Docker's wording is used where clients or users
//! rely on it. Failures of the libraries below (registry, image store, volumes, networks) stay
//! typed as their own variants, so a caller tells them apart by variant, never by message.
//! So do the content store's and the snapshotter's, a path in a container (`docker cp`)
//! and the engine's own file system operations ([`EngineError::Io`], with what was done).
//!
//! The one conversion into the HTTP layer's error is in `daemon/engine.rs`.

use berth_content::ContentError;
use berth_image::ImageError;
use berth_inroot::InRootError;
use berth_network::NetworkError;
use berth_registry::{Reference, RegistryError};
use berth_volume::VolumeError;

/// What kind of failure an [`EngineError`] is: Docker's kinds, whose status codes are
/// the one table in `berth-api-types` ([`ErrorKind::status_code`]).
pub use berth_api_types::ErrorKind;

/// An engine failure.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A failure the engine describes itself, in Docker's words.
    #[error("{message}")]
    Failed {
        /// What kind of failure.
        kind: ErrorKind,
        /// The text clients show.
        message: String,
    },
    /// The registry client failed (pull, push, login, search).
    #[error("{}", registry_message(.0))]
    Registry(#[from] RegistryError),
    /// The image store failed.
    #[error("{}", image_message(.0))]
    Image(#[from] ImageError),
    /// The volume store failed.
    #[error("{0}")]
    Volume(#[from] VolumeError),
    /// The network manager failed.
    #[error("{}", network_message(.0))]
    Network(#[from] NetworkError),
    /// The content store failed.
    #[error("{0}")]
    Content(#[from] ContentError),
    /// The snapshotter failed.
    #[error("{0}")]
    Snapshot(#[from] berth_snapshot::Error),
    /// A path in a container could not be used (`docker cp`).
    #[error("{}", container_path_message(.container, .path, .source))]
    ContainerPath {
        /// The container as the client named it.
        container: String,
        /// The path in the container.
        path: String,
        /// What went wrong.
        #[source]
        source: InRootError,
    },
    /// A file system operation of the engine's own failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done ("create /var/lib/…").
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Result of engine operations.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

impl EngineError {
    /// A failure of `kind` described by `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        EngineError::Failed {
            kind,
            message: message.into(),
        }
    }
    /// Invalid argument.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
    /// Not found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    /// Docker's "No such container: <reference>".
    pub fn no_such_container(reference: &str) -> Self {
        Self::not_found(format!("No such container: {reference}"))
    }
    /// Docker's "No such exec instance: <id>".
    pub fn no_such_exec(id: &str) -> Self {
        Self::not_found(format!("No such exec instance: {id}"))
    }
    /// Docker's "No such image: <name>", naming the image as Docker does (`nosuch:latest`).
    pub fn no_such_image(name: &str) -> Self {
        Self::not_found(no_such_image_message(name))
    }
    /// Conflict.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
    /// Nothing to do (already started, already stopped).
    pub fn not_modified() -> Self {
        Self::new(ErrorKind::NotModified, "")
    }
    /// Unauthorized.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthorized, message)
    }
    /// Forbidden.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }
    /// Not implemented.
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotImplemented, message)
    }
    /// Unavailable.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }
    /// The failure `source` of `path` in container `container` (as the client named it).
    pub fn container_path(container: &str, path: &str, source: InRootError) -> Self {
        EngineError::ContainerPath {
            container: container.to_string(),
            path: path.to_string(),
            source,
        }
    }
    /// An I/O failure of the engine while doing `context`.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        EngineError::Io {
            context: context.into(),
            source,
        }
    }
    /// Internal, from anything displayable.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(ErrorKind::Internal, message.to_string())
    }

    /// The kind of this failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::Failed { kind, .. } => *kind,
            EngineError::Registry(e) => registry_kind(e),
            EngineError::Image(e) => image_kind(e),
            EngineError::Volume(e) => match e {
                VolumeError::InvalidArgument(_) => ErrorKind::InvalidArgument,
                VolumeError::NotFound(_) => ErrorKind::NotFound,
                VolumeError::InUse { .. } => ErrorKind::Conflict,
                _ => ErrorKind::Internal,
            },
            EngineError::Network(e) => match e {
                NetworkError::InvalidArgument(_) | NetworkError::AddressOutsideSubnet(_) => {
                    ErrorKind::InvalidArgument
                }
                NetworkError::ActiveEndpoints { .. } => ErrorKind::Forbidden,
                NetworkError::PoolOverlap { .. }
                | NetworkError::AddressInUse(_)
                | NetworkError::PortInUse { .. } => ErrorKind::Conflict,
                _ => ErrorKind::Internal,
            },
            EngineError::Content(e) => match e {
                ContentError::NotFound(_) => ErrorKind::NotFound,
                ContentError::InvalidDigest { .. }
                | ContentError::DigestMismatch { .. }
                | ContentError::SizeMismatch { .. } => ErrorKind::InvalidArgument,
                ContentError::Io { .. } => ErrorKind::Internal,
            },
            EngineError::Snapshot(e) => match e {
                berth_snapshot::Error::NotFound(_) => ErrorKind::NotFound,
                berth_snapshot::Error::AlreadyExists(_) | berth_snapshot::Error::InUse(..) => {
                    ErrorKind::Conflict
                }
                berth_snapshot::Error::InvalidId(..) => ErrorKind::InvalidArgument,
                _ => ErrorKind::Internal,
            },
            EngineError::ContainerPath { source, .. } => match source {
                InRootError::NotFound(_) => ErrorKind::NotFound,
                InRootError::NotADirectory | InRootError::Refused(_) => ErrorKind::InvalidArgument,
                InRootError::Io { .. } => ErrorKind::Internal,
            },
            EngineError::Io { .. } => ErrorKind::Internal,
        }
    }

    /// True when the kind is `kind`.
    pub fn is(&self, kind: ErrorKind) -> bool {
        self.kind() == kind
    }

    /// The same failure (same kind) with its text rewritten by `f` (context added).
    pub fn map_message(self, f: impl FnOnce(String) -> String) -> Self {
        let kind = self.kind();
        Self::new(kind, f(self.to_string()))
    }
}

/// Docker's text for a missing image: familiar names (`nosuch:latest`), ids as given.
pub fn no_such_image_message(name: &str) -> String {
    let shown = match Reference::parse(name) {
        Ok(r) if !name.starts_with("sha256:") => r.familiar(),
        _ => name.to_string(),
    };
    format!("No such image: {shown}")
}

fn registry_kind(e: &RegistryError) -> ErrorKind {
    match e {
        RegistryError::NotFound { .. } => ErrorKind::NotFound,
        RegistryError::Unauthorized { .. } => ErrorKind::Unauthorized,
        RegistryError::InvalidReference { .. } => ErrorKind::InvalidArgument,
        _ => ErrorKind::Internal,
    }
}

/// Docker's wording of a registry failure: `<what> not found` for a missing manifest or
/// repository, the client's text otherwise.
fn registry_message(e: &RegistryError) -> String {
    match e {
        RegistryError::NotFound { what } => format!("{what} not found"),
        e => e.to_string(),
    }
}

fn image_kind(e: &ImageError) -> ErrorKind {
    match e {
        ImageError::NotFound(_) => ErrorKind::NotFound,
        ImageError::Invalid { .. }
        | ImageError::Layer { .. }
        | ImageError::DiffIdMismatch { .. } => ErrorKind::InvalidArgument,
        ImageError::NoMatchingPlatform { .. } => ErrorKind::NotFound,
        ImageError::Registry(r) => registry_kind(r),
        _ => ErrorKind::Internal,
    }
}

fn image_message(e: &ImageError) -> String {
    match e {
        ImageError::NotFound(name) => no_such_image_message(name),
        ImageError::Registry(r) => registry_message(r),
        e => e.to_string(),
    }
}

/// Docker's words for a path of a `docker cp`: a missing one is "Could not find the file
/// <path> in container <name>"; the others say what is wrong with it.
fn container_path_message(container: &str, path: &str, e: &InRootError) -> String {
    match e {
        InRootError::NotFound(_) => {
            format!("Could not find the file {path} in container {container}")
        }
        e => e.to_string(),
    }
}

fn network_message(e: &NetworkError) -> String {
    match e {
        NetworkError::InvalidArgument(m) => m.clone(),
        e => e.to_string(),
    }
}

/// Maps a blocking task's join failure (a panic) to an internal error.
impl From<tokio::task::JoinError> for EngineError {
    fn from(e: tokio::task::JoinError) -> Self {
        EngineError::internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_with_endpoints_is_forbidden_by_variant_not_text() {
        let e = EngineError::from(NetworkError::ActiveEndpoints {
            network: "n1".into(),
            containers: vec!["a".into(), "b".into()],
        });
        assert_eq!(e.kind(), ErrorKind::Forbidden);
        assert_eq!(
            e.to_string(),
            "error while removing network: network n1 has active endpoints (a, b)"
        );
    }

    #[test]
    fn registry_failures_keep_their_kind_and_docker_wording() {
        let e = EngineError::from(RegistryError::NotFound {
            what: "manifest for x:1".into(),
        });
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.to_string(), "manifest for x:1 not found");
        let e = EngineError::from(RegistryError::Unauthorized {
            registry: "r".into(),
            message: "no".into(),
        });
        assert_eq!(e.kind(), ErrorKind::Unauthorized);
        assert!(e.to_string().starts_with("unauthorized"), "{e}");
        let e = EngineError::from(ImageError::Registry(RegistryError::NotFound {
            what: "blob".into(),
        }));
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(matches!(e, EngineError::Image(ImageError::Registry(_))));
        assert_eq!(e.to_string(), "blob not found");
    }

    #[test]
    fn image_failures_map_to_docker_kinds() {
        let e = EngineError::from(ImageError::NotFound("busybox".into()));
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.to_string(), "No such image: busybox:latest");
        let e = EngineError::from(ImageError::Invalid {
            what: "manifest".into(),
            reason: "bad".into(),
        });
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(
            EngineError::no_such_image("sha256:abc").to_string(),
            "No such image: sha256:abc"
        );
    }

    #[test]
    fn container_paths_speak_docker() {
        let e = EngineError::container_path("web", "/nosuch", InRootError::NotFound("x".into()));
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(
            e.to_string(),
            "Could not find the file /nosuch in container web"
        );
        let e = EngineError::container_path("web", "/etc/hosts", InRootError::NotADirectory);
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(e.to_string(), "extraction point is not a directory");
        let e = EngineError::container_path("web", "/", InRootError::Refused("bad tar".into()));
        assert_eq!(
            (e.kind(), e.to_string()),
            (ErrorKind::InvalidArgument, "bad tar".into())
        );
    }

    #[test]
    fn store_and_io_failures_keep_their_kind() {
        let d = berth_content::Digest::of(b"x");
        let e = EngineError::from(ContentError::NotFound(d));
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let e = EngineError::from(berth_snapshot::Error::AlreadyExists("k".into()));
        assert_eq!(e.kind(), ErrorKind::Conflict);
        let e = EngineError::from(berth_snapshot::Error::NotFound("k".into()));
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let e = EngineError::io(
            "open /x",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert!(e.to_string().starts_with("open /x: "), "{e}");
    }

    #[test]
    fn library_errors_and_context() {
        let e = EngineError::from(VolumeError::NotFound("v".into()));
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let e = EngineError::from(NetworkError::InvalidArgument("bad subnet".into()));
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(e.to_string(), "bad subnet");
        let e = e.map_message(|m| format!("invalid config: {m}"));
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(e.to_string(), "invalid config: bad subnet");
        assert!(EngineError::not_modified().is(ErrorKind::NotModified));
        assert_eq!(
            EngineError::no_such_container("web").to_string(),
            "No such container: web"
        );
    }
}
