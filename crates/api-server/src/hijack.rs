//! Connection hijacking for attach and exec start.
//!
//! A client that sends `Upgrade: tcp` gets `101 Switching Protocols` and then the raw
//! connection: its reads are the container's stdin, its writes the container's output
//! (stdcopy-framed unless a tty). A client that does not ask for an upgrade gets the old
//! behaviour: `200 OK` and the output streamed as the response body, the request body as stdin.
//!
//! On a unix socket the session starts once the client has read the 101 response (the
//! socket's send queue is empty, or after [`HEADERS_READ_PATIENCE`]): the first output
//! (`attach?logs=1` replays the log at once) then arrives as a read of its own, so clients
//! that parse the headers through a buffer and then read the raw socket (Python's
//! http.client, docker-py) do not lose it in that buffer.

use std::future::Future;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::time::Duration;

use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE, UPGRADE};
use hyper::upgrade::OnUpgrade;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::UnixStream;

use crate::body::{ApiBody, RequestBody};
use crate::stream::{OutputSink, MEDIA_MULTIPLEXED_STREAM, MEDIA_RAW_STREAM};

/// The two directions of a hijacked session, handed to the engine.
pub struct HijackedStreams {
    /// What the client sends (container stdin); EOF when the client half-closes.
    pub stdin: Box<dyn AsyncRead + Send + Unpin>,
    /// Where container output goes.
    pub output: OutputSink,
}

impl std::fmt::Debug for HijackedStreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HijackedStreams")
            .field("output", &self.output)
            .finish_non_exhaustive()
    }
}

/// A boxed session future.
pub type HijackFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// An accepted attach/exec session: the engine has validated the request and subscribed to
/// the output *before* returning it (so nothing is lost between the 101 and `run`); `run` is
/// then driven with the hijacked streams and ends the session when it returns.
pub struct Hijack {
    /// The session has a tty: output is raw, not multiplexed.
    pub tty: bool,
    run: Box<dyn FnOnce(HijackedStreams) -> HijackFuture + Send>,
}

impl std::fmt::Debug for Hijack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hijack")
            .field("tty", &self.tty)
            .finish_non_exhaustive()
    }
}

impl Hijack {
    /// A session running `f` on the hijacked streams.
    pub fn new<F, Fut>(tty: bool, f: F) -> Self
    where
        F: FnOnce(HijackedStreams) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Hijack {
            tty,
            run: Box::new(move |s| Box::pin(f(s))),
        }
    }

    /// Runs the session.
    pub fn run(self, streams: HijackedStreams) -> HijackFuture {
        (self.run)(streams)
    }
}

/// How long a session waits for the client to read the 101 response before it starts
/// anyway (a client may write before it reads).
pub const HEADERS_READ_PATIENCE: Duration = Duration::from_secs(1);

/// Waits until the peer of `stream` has read everything sent so far (bounded by
/// [`HEADERS_READ_PATIENCE`]).
async fn peer_has_read(stream: &UnixStream) {
    let deadline = tokio::time::Instant::now() + HEADERS_READ_PATIENCE;
    while berth_sys::socket::unread_output(stream.as_fd()).is_ok_and(|n| n > 0)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

type Halves = (
    Box<dyn AsyncRead + Send + Unpin>,
    Box<dyn AsyncWrite + Send + Unpin>,
);

/// The two directions of an upgraded connection. A unix socket is taken back from hyper
/// (with what hyper had already read of the client's stdin) so the session can wait for the
/// client to read the 101 first.
async fn split_upgraded(upgraded: hyper::upgrade::Upgraded) -> Halves {
    match upgraded.downcast::<TokioIo<UnixStream>>() {
        Ok(parts) => {
            let stream = parts.io.into_inner();
            peer_has_read(&stream).await;
            let (reader, writer) = stream.into_split();
            let already_read = std::io::Cursor::new(parts.read_buf);
            (Box::new(already_read.chain(reader)), Box::new(writer))
        }
        Err(upgraded) => {
            let (reader, writer) = tokio::io::split(TokioIo::new(upgraded));
            (Box::new(reader), Box::new(writer))
        }
    }
}

/// True when the request asks for a protocol upgrade (`Upgrade: tcp` / `Connection: Upgrade`).
pub fn wants_upgrade(headers: &hyper::HeaderMap) -> bool {
    let has = |name, needle: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.to_ascii_lowercase().contains(needle))
    };
    has(UPGRADE, "tcp") || has(CONNECTION, "upgrade")
}

fn media_type(tty: bool, multiplexed_media: bool) -> &'static str {
    if !tty && multiplexed_media {
        MEDIA_MULTIPLEXED_STREAM
    } else {
        MEDIA_RAW_STREAM
    }
}

/// Builds the response of a hijacking endpoint and spawns the session.
///
/// `multiplexed_media`: announce `application/vnd.docker.multiplexed-stream` for non-tty
/// sessions (API ≥ 1.42), else always `raw-stream` as older daemons did.
/// `stdin_without_upgrade` is the session's stdin when the client did not upgrade (the rest
/// of the request body for attach, nothing for exec start).
pub fn respond(
    hijack: Hijack,
    upgrade: Option<OnUpgrade>,
    stdin_without_upgrade: RequestBody,
    multiplexed_media: bool,
) -> Response<ApiBody> {
    let tty = hijack.tty;
    let content_type = HeaderValue::from_static(media_type(tty, multiplexed_media));
    match upgrade {
        Some(on_upgrade) => {
            tokio::spawn(async move {
                let Ok(upgraded) = on_upgrade.await else {
                    return;
                };
                let (reader, writer) = split_upgraded(upgraded).await;
                let streams = HijackedStreams {
                    stdin: reader,
                    output: OutputSink::new(writer, !tty),
                };
                hijack.run(streams).await;
            });
            let mut resp = Response::new(ApiBody::Empty);
            *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            let h = resp.headers_mut();
            h.insert(CONTENT_TYPE, content_type);
            h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
            h.insert(UPGRADE, HeaderValue::from_static("tcp"));
            resp
        }
        None => {
            // Old behaviour: stream the output as the body of a 200.
            let (pipe_writer, mut pipe_reader) = tokio::io::duplex(64 * 1024);
            let (tx, resp_body) = ApiBody::channel();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match pipe_reader.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if tx.send(Ok(buf[..n].to_vec().into())).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
            let streams = HijackedStreams {
                stdin: Box::new(stdin_without_upgrade),
                output: OutputSink::new(Box::new(pipe_writer), !tty),
            };
            tokio::spawn(hijack.run(streams));
            let mut resp = Response::new(resp_body);
            resp.headers_mut().insert(CONTENT_TYPE, content_type);
            resp
        }
    }
}
