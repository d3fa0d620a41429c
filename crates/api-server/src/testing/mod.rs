//! An in-memory [`Engine`](crate::Engine) and a server for it, shared by the tests of the
//! api-server and of the client (feature `testing`; never in the `berth` binary).
//!
//! [`FakeEngine`] keeps a list of containers and answers the rest with fixed data that the
//! docker CLI (the oracle) and `berth` print the same way. A few names and commands steer it:
//!
//! | input | answer |
//! |---|---|
//! | image `missing` / `missing:latest` at create, `…missing` at pull | 404 |
//! | image inspect of a reference whose last path part is not `busybox…` | 404 |
//! | start of `nope` / `noperm` | 400: executable not found / permission denied (126/127 in `run`) |
//! | start of `exit3` / `false` | the container exits with 3 / 1 (else 0) |
//! | attach to `cat` with stdin | echoes stdin; to `echo a b`, prints `a b` and `to stderr` after start |
//! | exec | ids start with `e`; prints `exec output`; its inspect reports exit code 7 |
//! | build of a Dockerfile with `FORM` / `RUN exit N` | a parse error / a step failing with N |
//!
//! [`TestServer`] serves it with the real [`ApiServer`](crate::ApiServer) on a unix socket
//! in a temp dir and stops when dropped.

mod answers;
mod build;
mod engine;
mod images;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::build::BuildOptions;
use crate::types::{AuthConfig, ContainerCreateRequest};
use crate::{bind_unix, ApiError, ApiResult, ApiServer, ApiVersion, ServerConfig};

/// One fake container.
pub struct FakeContainer {
    /// 64 hex digits: `abc0123…`, `abd0123…`, … in the order of creation.
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    /// The image reference it was created from.
    pub image: String,
    /// Its command (`Cmd`); the first word steers start, attach and exit (module doc).
    pub cmd: Vec<String>,
    /// `Tty`: logs and attach are raw instead of multiplexed.
    pub tty: bool,
    /// Listed by `ps` without `-a`, reported running by inspect, killable.
    pub running: bool,
    /// `HostConfig.AutoRemove`: removed when its (instant) process exits.
    pub auto_remove: bool,
    /// The exit code, once started; waiters and attachers watch it.
    pub exited: watch::Sender<Option<i64>>,
}

/// One `PUT /containers/{id}/archive`, as received.
#[derive(Debug, Clone)]
pub struct ArchivePut {
    /// The container reference the client sent.
    pub container: String,
    /// The `path` query parameter.
    pub path: String,
    /// The request body (a tar stream from a real client).
    pub data: Vec<u8>,
}

/// An in-memory engine good enough for the docker CLI's and `berth`'s commands; records
/// what clients sent so tests can check it.
#[derive(Default)]
pub struct FakeEngine {
    /// The containers, in creation order.
    pub containers: Mutex<Vec<FakeContainer>>,
    /// The body of the last `POST /containers/create`.
    pub last_create: Mutex<Option<ContainerCreateRequest>>,
    /// The last credentials seen (`POST /auth`, `X-Registry-Auth` of a pull).
    pub seen_auth: Mutex<Option<AuthConfig>>,
    /// The negotiated API version of every `GET /version`.
    pub seen_versions: Mutex<Vec<ApiVersion>>,
    /// Every `PUT /containers/{id}/archive`.
    pub archive_puts: Mutex<Vec<ArchivePut>>,
    /// Every `POST /build`: its options and the context's entry names.
    pub builds: Mutex<Vec<(BuildOptions, Vec<String>)>>,
}

impl FakeEngine {
    /// Adds a container (no tty, not auto-removed) and returns its id.
    pub fn add(&self, name: &str, image: &str, cmd: &[&str], running: bool) -> String {
        let mut list = self.containers.lock().unwrap();
        let id = format!("{:x}", 0xabc + list.len()) + &"0123456789abcdef".repeat(4)[..61];
        list.push(FakeContainer {
            id: id.clone(),
            name: name.into(),
            image: image.into(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            tty: false,
            running,
            auto_remove: false,
            exited: watch::channel(None).0,
        });
        id
    }

    /// Runs `f` on the container `key` (an id prefix or a name), or answers Docker's 404.
    pub fn update<R>(&self, key: &str, f: impl FnOnce(&mut FakeContainer) -> R) -> ApiResult<R> {
        let mut list = self.containers.lock().unwrap();
        let c = list
            .iter_mut()
            .find(|c| c.id.starts_with(key) || c.name == key.trim_start_matches('/'))
            .ok_or_else(|| ApiError::no_such_container(key))?;
        Ok(f(c))
    }
}

/// A [`FakeEngine`] served by the real [`ApiServer`] on a unix socket in a temp dir;
/// stops when dropped.
pub struct TestServer {
    /// The temp dir holding the socket; tests may put their own files in it.
    pub dir: berth_testkit::TempDir,
    /// The API socket.
    pub socket: PathBuf,
    /// The engine behind the server, to set up data and check what clients sent.
    pub engine: Arc<FakeEngine>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    /// Binds the socket and serves `engine` on the current tokio runtime.
    pub async fn start(engine: FakeEngine) -> Self {
        let dir = berth_testkit::TempDir::new("berth-api-");
        let socket = dir.path().join("api.sock");
        let listener = bind_unix(&socket, 0o660).expect("bind the test socket");
        let engine = Arc::new(engine);
        let server = ApiServer::new(engine.clone(), ServerConfig::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = server
                .serve_unix(listener, async move {
                    let _ = stopped.await;
                })
                .await;
        });
        TestServer {
            dir,
            socket,
            engine,
            stop: Some(stop),
        }
    }

    /// `unix://<socket>`, for `-H` / `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}
