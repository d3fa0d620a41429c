//! HTTP/1.1 to the daemon over a unix socket or TCP (with TLS, [`crate::tls`]): JSON requests, streamed
//! responses, hijacked (upgraded) connections, and API version negotiation via `/_ping`.

use std::pin::Pin;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE, HOST, UPGRADE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::{CliError, CliResult};
use crate::host::{parse_host, Address};

/// The newest API version berth's CLI speaks.
pub const MAX_API_VERSION: &str = "1.47";

/// A request body.
pub type ReqBody = BoxBody<Bytes, std::io::Error>;

/// An empty body.
pub fn empty() -> ReqBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// A body of these bytes.
pub fn full(b: impl Into<Bytes>) -> ReqBody {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A hijacked connection (after `101 Switching Protocols`).
pub type Upgraded = TokioIo<hyper::upgrade::Upgraded>;

/// The API client: one endpoint, one negotiated version.
#[derive(Clone)]
pub struct Client {
    host: String,
    address: Address,
    version: String,
    tls: Option<Tls>,
}

/// TLS to a `tcp://` daemon.
#[derive(Clone)]
struct Tls {
    connector: tokio_rustls::TlsConnector,
    server_name: rustls::pki_types::ServerName<'static>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("host", &self.host)
            .field("version", &self.version)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Client {
    /// A client for `host` (not yet negotiated: uses [`MAX_API_VERSION`]).
    pub fn new(host: &str) -> CliResult<Self> {
        Client::with_tls(host, None)
    }

    /// A client for `host` speaking TLS as `tls` says (`tcp://` hosts only; a host without
    /// a port then means Docker's TLS port 2376).
    pub fn with_tls(host: &str, tls: Option<&crate::tls::TlsSettings>) -> CliResult<Self> {
        let mut address = parse_host(host)?;
        let tls = match (tls, &mut address) {
            (Some(settings), Address::Tcp(addr)) => {
                let given = host
                    .split_once("://")
                    .map_or(host, |(_, rest)| rest)
                    .trim_end_matches('/');
                if !given.contains(':') || given.ends_with(']') {
                    *addr = format!("{given}:2376");
                }
                Some(Tls {
                    connector: tokio_rustls::TlsConnector::from(crate::tls::client_config(
                        settings,
                    )?),
                    server_name: crate::tls::server_name(addr)?,
                })
            }
            _ => None,
        };
        Ok(Client {
            host: host.to_string(),
            address,
            version: MAX_API_VERSION.to_string(),
            tls,
        })
    }

    /// The endpoint URL.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The API version requests use.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Pins the API version (`$DOCKER_API_VERSION`).
    pub fn set_version(&mut self, v: &str) {
        self.version = v.trim_start_matches('v').to_string();
    }

    /// `GET /_ping`: adopts the server's `API-Version` when older than ours.
    pub async fn negotiate(&mut self) -> CliResult<()> {
        let req = Request::builder()
            .method(Method::HEAD)
            .uri("/_ping")
            .header(HOST, "api.moby.localhost")
            .body(empty())
            .map_err(|e| CliError::Transport(e.to_string()))?;
        let resp = self.send(req, false).await?;
        if let Some(v) = resp
            .headers()
            .get("api-version")
            .and_then(|v| v.to_str().ok())
        {
            if version_less(v, MAX_API_VERSION) {
                self.version = v.to_string();
            }
        }
        Ok(())
    }

    async fn connect(&self) -> CliResult<Box<dyn Io>> {
        let conn_err = |_| CliError::Connect {
            host: self.host.clone(),
        };
        Ok(match &self.address {
            Address::Unix(p) => match tokio::net::UnixStream::connect(p).await {
                Ok(s) => Box::new(s),
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    return Err(CliError::PermissionDenied {
                        host: self.host.clone(),
                        path: p.display().to_string(),
                    })
                }
                Err(e) => return Err(conn_err(e)),
            },
            Address::Tcp(a) => {
                let tcp = tokio::net::TcpStream::connect(a).await.map_err(conn_err)?;
                match &self.tls {
                    Some(tls) => Box::new(
                        tls.connector
                            .connect(tls.server_name.clone(), tcp)
                            .await
                            .map_err(|e| CliError::Transport(e.to_string()))?,
                    ),
                    None => Box::new(tcp),
                }
            }
        })
    }

    async fn send(&self, req: Request<ReqBody>, upgrades: bool) -> CliResult<Response<Incoming>> {
        let io = TokioIo::new(self.connect().await?);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| CliError::Transport(e.to_string()))?;
        if upgrades {
            tokio::spawn(async move {
                let _ = conn.with_upgrades().await;
            });
        } else {
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
        sender
            .send_request(req)
            .await
            .map_err(|e| CliError::Transport(e.to_string()))
    }

    fn build(
        &self,
        method: Method,
        path: &str,
        json: bool,
        body: ReqBody,
    ) -> CliResult<Request<ReqBody>> {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("/v{}{}", self.version, path))
            .header(HOST, "api.moby.localhost")
            .header("User-Agent", concat!("berth/", env!("CARGO_PKG_VERSION")));
        if json {
            b = b.header(CONTENT_TYPE, "application/json");
        }
        b.body(body).map_err(|e| CliError::Transport(e.to_string()))
    }

    /// Sends a request with extra headers; errors (status ≥ 400) become [`CliError::Daemon`].
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<ReqBody>,
        json: bool,
        headers: &[(&str, String)],
    ) -> CliResult<Response<Incoming>> {
        let mut req = self.build(method, path, json, body.unwrap_or_else(empty))?;
        for (k, v) in headers {
            if let (Ok(name), Ok(v)) = (
                hyper::header::HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                req.headers_mut().insert(name, v);
            }
        }
        let resp = self.send(req, false).await?;
        check(resp).await
    }

    /// Sends and reads the whole body (ignoring 304).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> CliResult<Bytes> {
        let b = body.map(|v| full(serde_json::to_vec(v).unwrap_or_default()));
        let json = b.is_some();
        let resp = self.request(method, path, b, json, &[]).await?;
        read_all(resp).await
    }

    /// `GET` a JSON document.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> CliResult<T> {
        let bytes = self.call(Method::GET, path, None).await?;
        berth_api_types::json::from_slice(&bytes)
            .map_err(|e| CliError::Transport(format!("decoding {path}: {e}")))
    }

    /// `POST` a JSON body, decode a JSON answer.
    pub async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> CliResult<T> {
        let v = serde_json::to_value(body).map_err(|e| CliError::msg(e.to_string()))?;
        let bytes = self.call(Method::POST, path, Some(&v)).await?;
        berth_api_types::json::from_slice(&bytes)
            .map_err(|e| CliError::Transport(format!("decoding {path}: {e}")))
    }

    /// `POST` without body, ignore the answer.
    pub async fn post(&self, path: &str) -> CliResult<()> {
        self.call(Method::POST, path, None).await.map(|_| ())
    }

    /// Opens a hijacked session (attach, exec start).
    pub async fn hijack(
        &self,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> CliResult<Upgraded> {
        let b = body.map(|v| full(serde_json::to_vec(v).unwrap_or_default()));
        let json = b.is_some();
        let mut req = self.build(Method::POST, path, json, b.unwrap_or_else(empty))?;
        req.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("Upgrade"));
        req.headers_mut()
            .insert(UPGRADE, HeaderValue::from_static("tcp"));
        let resp = self.send(req, true).await?;
        let resp = check(resp).await?;
        if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
            return Err(CliError::Transport(format!(
                "expected 101 Switching Protocols, got {}",
                resp.status()
            )));
        }
        let up = hyper::upgrade::on(resp)
            .await
            .map_err(|e| CliError::Transport(e.to_string()))?;
        Ok(TokioIo::new(up))
    }
}

/// Turns an error status into [`CliError::Daemon`] with the daemon's message.
async fn check(resp: Response<Incoming>) -> CliResult<Response<Incoming>> {
    let status = resp.status();
    if status.as_u16() < 400 {
        return Ok(resp);
    }
    let body = read_all(resp).await.unwrap_or_default();
    let message = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
    Err(CliError::Daemon {
        status: status.as_u16(),
        message,
    })
}

/// Reads a whole response body.
pub async fn read_all(resp: Response<Incoming>) -> CliResult<Bytes> {
    resp.into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| CliError::Transport(e.to_string()))
}

/// Pulls the next data chunk of a streamed body (None at the end).
pub async fn next_chunk(body: &mut Incoming) -> CliResult<Option<Bytes>> {
    loop {
        match body.frame().await {
            None => return Ok(None),
            Some(Err(e)) => return Err(CliError::Transport(e.to_string())),
            Some(Ok(f)) => {
                if let Ok(d) = f.into_data() {
                    return Ok(Some(d));
                }
            }
        }
    }
}

/// A streamed body read as the engine's JSON-lines streams (events, stats, pull/build
/// progress): one message per line, the last one possibly without its newline.
pub struct BodyLines {
    body: Incoming,
    pending: Vec<u8>,
    ended: bool,
}

impl BodyLines {
    /// Reads `body` line by line.
    pub fn new(body: Incoming) -> Self {
        BodyLines {
            body,
            pending: Vec::new(),
            ended: false,
        }
    }

    /// The next non-blank line, trimmed of ASCII whitespace (`None` at the end of the body).
    /// Cancel-safe: a partial line stays buffered when the future is dropped.
    pub async fn next_line(&mut self) -> CliResult<Option<Vec<u8>>> {
        loop {
            if let Some(line) = take_line(&mut self.pending, self.ended) {
                return Ok(Some(line));
            }
            if self.ended {
                return Ok(None);
            }
            match next_chunk(&mut self.body).await? {
                Some(chunk) => self.pending.extend_from_slice(&chunk),
                None => self.ended = true,
            }
        }
    }
}

/// Takes the first complete non-blank line out of `pending` (all of it at the end).
fn take_line(pending: &mut Vec<u8>, at_end: bool) -> Option<Vec<u8>> {
    loop {
        let line: Vec<u8> = match pending.iter().position(|b| *b == b'\n') {
            Some(pos) => pending.drain(..=pos).collect(),
            None if at_end && !pending.is_empty() => std::mem::take(pending),
            None => return None,
        };
        let trimmed = line.trim_ascii();
        if !trimmed.is_empty() {
            return Some(trimmed.to_vec());
        }
    }
}

/// The first error a whole JSON-lines progress body reports (`error`, else
/// `errorDetail.message`), as the docker CLI stops on it.
pub fn stream_error(body: &[u8]) -> Option<String> {
    body.split(|b| *b == b'\n').find_map(|line| {
        let v: serde_json::Value = serde_json::from_slice(line.trim_ascii()).ok()?;
        v.get("error")
            .and_then(serde_json::Value::as_str)
            .or_else(|| v.pointer("/errorDetail/message")?.as_str())
            .map(String::from)
    })
}

/// Adapts a response body to `AsyncRead`.
pub fn body_reader(body: Incoming) -> impl AsyncRead + Unpin {
    BodyReader {
        body,
        buf: Bytes::new(),
    }
}

struct BodyReader {
    body: Incoming,
    buf: Bytes,
}

impl AsyncRead for BodyReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        out: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use hyper::body::Body;
        use std::task::Poll;
        loop {
            if !self.buf.is_empty() {
                let n = self.buf.len().min(out.remaining());
                out.put_slice(&self.buf.split_to(n));
                return Poll::Ready(Ok(()));
            }
            match Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(std::io::Error::other(e))),
                Poll::Ready(Some(Ok(f))) => {
                    if let Ok(d) = f.into_data() {
                        self.buf = d;
                    }
                }
            }
        }
    }
}

/// Compares dotted versions ("1.41" < "1.47").
pub fn version_less(a: &str, b: &str) -> bool {
    let parse = |s: &str| -> Vec<u64> { s.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    parse(a) < parse(b)
}

/// Builds a query string from pairs (percent-encoded).
pub fn query(pairs: &[(&str, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    let q = s.finish();
    if q.is_empty() {
        q
    } else {
        format!("?{q}")
    }
}

/// Percent-encodes one path segment (image names keep their slashes and colons).
pub fn seg(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b':')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'@');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_trimmed_and_the_last_one_kept_at_the_end() {
        let mut pending = b"{\"a\":1}\r\n\n  \n{\"b\"".to_vec();
        assert_eq!(
            take_line(&mut pending, false).as_deref(),
            Some(&b"{\"a\":1}"[..])
        );
        assert_eq!(take_line(&mut pending, false), None);
        pending.extend_from_slice(b":2}");
        assert_eq!(take_line(&mut pending, false), None);
        assert_eq!(
            take_line(&mut pending, true).as_deref(),
            Some(&b"{\"b\":2}"[..])
        );
        assert_eq!(take_line(&mut pending, true), None);
    }

    #[test]
    fn the_first_stream_error_is_found() {
        let body = b"{\"status\":\"Pulling\"}\n{\"errorDetail\":{\"message\":\"denied\"}}\n{\"error\":\"later\"}";
        assert_eq!(stream_error(body).as_deref(), Some("denied"));
        assert_eq!(stream_error(b"{\"status\":\"ok\"}\n").as_deref(), None);
        assert_eq!(
            stream_error(b"not json\n{\"error\":\"x\"}").as_deref(),
            Some("x")
        );
    }
}
