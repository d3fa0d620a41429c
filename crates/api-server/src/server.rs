//! Serving connections: unix socket listener, generic connection seam (for TLS later).

use std::future::Future;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::UnixListener;

use crate::engine::Engine;
use crate::router;

/// Settings of the HTTP layer (what `/_ping` and the response headers announce).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `Server` header, e.g. "berth/0.1.0 (linux)".
    pub server_header: String,
    /// `Docker-Experimental` header of `/_ping`.
    pub experimental: bool,
    /// `Builder-Version` header of `/_ping` ("1" = classic builder, "2" = BuildKit).
    pub builder_version: String,
    /// `Ostype` header ("linux").
    pub os_type: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            server_header: format!("berth/{} (linux)", env!("CARGO_PKG_VERSION")),
            experimental: false,
            builder_version: "1".to_string(),
            os_type: "linux".to_string(),
        }
    }
}

/// The API server: an engine and its settings; cheap to clone.
#[derive(Clone)]
pub struct ApiServer {
    engine: Arc<dyn Engine>,
    config: Arc<ServerConfig>,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ApiServer {
    /// A server for `engine`.
    pub fn new(engine: Arc<dyn Engine>, config: ServerConfig) -> Self {
        ApiServer {
            engine,
            config: Arc::new(config),
        }
    }

    /// Serves one accepted connection (unix stream, TCP, or a TLS stream wrapped around it)
    /// until the client closes it, including hijacked sessions.
    pub async fn serve_connection<IO>(&self, io: IO) -> Result<(), hyper::Error>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let engine = self.engine.clone();
        let config = self.config.clone();
        let service = service_fn(move |req| {
            let engine = engine.clone();
            let config = config.clone();
            async move { Ok::<_, std::convert::Infallible>(router::handle(engine, config, req).await) }
        });
        http1::Builder::new()
            .keep_alive(true)
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades()
            .await
    }

    /// Accepts connections on `listener` until `shutdown` resolves; each connection runs in
    /// its own task (and outlives the accept loop until its client leaves).
    pub async fn serve_unix(
        &self,
        listener: UnixListener,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()> {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return Ok(()),
                accepted = listener.accept() => {
                    let (stream, _) = match accepted {
                        Ok(s) => s,
                        // EMFILE and friends: keep serving the others.
                        Err(_) => {
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let server = self.clone();
                    tokio::spawn(async move {
                        let _ = server.serve_connection(stream).await;
                    });
                }
            }
        }
    }
}

/// Binds a unix socket at `path` with permission `mode` (e.g. 0o660), replacing a stale
/// socket file left by a previous run. Refuses to replace anything that is not a socket.
pub fn bind_unix(path: &Path, mode: u32) -> io::Result<UnixListener> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path)?,
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(listener)
}
