//! The HTTP(S) transport: one pooled hyper client for `http` and `https`, redirects, timeouts.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{header, Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;

use crate::RegistryError;

/// How long to wait for response headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a body may stall between two chunks.
pub(crate) const BODY_STALL_TIMEOUT: Duration = Duration::from_secs(60);
const MAX_REDIRECTS: usize = 10;

/// A request that can be sent again (retries, re-authentication, redirects).
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(header::HeaderName, String)>,
    pub body: Bytes,
}

impl Req {
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Req {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    pub fn header(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }
}

/// The pooled HTTP client.
#[derive(Clone)]
pub(crate) struct Transport {
    client: HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    user_agent: String,
}

impl Transport {
    pub fn new(user_agent: &str) -> Result<Self, RegistryError> {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .map_err(|e| RegistryError::Connect {
                url: "(tls setup)".into(),
                message: format!("loading the system's CA certificates: {e}"),
            })?
            .https_or_http()
            .enable_http1()
            .wrap_connector({
                let mut http = HttpConnector::new();
                http.enforce_http(false);
                http.set_connect_timeout(Some(Duration::from_secs(30)));
                http.set_nodelay(true);
                http
            });
        let client = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Ok(Transport {
            client,
            user_agent: user_agent.to_owned(),
        })
    }

    /// Sends one request (no redirects followed).
    pub async fn send_once(
        &self,
        req: &Req,
        authorization: Option<&str>,
    ) -> Result<Response<Incoming>, RegistryError> {
        let uri: Uri = req.url.parse().map_err(|e| RegistryError::Protocol {
            url: req.url.clone(),
            message: format!("invalid URL: {e}"),
        })?;
        let mut builder = Request::builder()
            .method(req.method.clone())
            .uri(uri)
            .header(header::USER_AGENT, &self.user_agent);
        for (name, value) in &req.headers {
            builder = builder.header(name, value);
        }
        if let Some(auth) = authorization {
            builder = builder.header(header::AUTHORIZATION, auth);
        }
        let has_body =
            !req.body.is_empty() || req.method == Method::PUT || req.method == Method::PATCH;
        if has_body {
            builder = builder.header(header::CONTENT_LENGTH, req.body.len());
        }
        let request =
            builder
                .body(Full::new(req.body.clone()))
                .map_err(|e| RegistryError::Protocol {
                    url: req.url.clone(),
                    message: format!("building request: {e}"),
                })?;
        match tokio::time::timeout(HEADER_TIMEOUT, self.client.request(request)).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => Err(RegistryError::Connect {
                url: req.url.clone(),
                message: error_chain(&e),
            }),
            Err(_) => Err(RegistryError::Connect {
                url: req.url.clone(),
                message: format!("no response within {}s", HEADER_TIMEOUT.as_secs()),
            }),
        }
    }

    /// Sends a request and follows redirects for GET and HEAD, dropping the Authorization
    /// header when a redirect leaves the original host (blob storage on another host).
    /// Returns the response and the URL it came from.
    pub async fn send(
        &self,
        req: &Req,
        authorization: Option<&str>,
    ) -> Result<(Response<Incoming>, String), RegistryError> {
        let mut current = req.clone();
        let mut auth = authorization.map(str::to_owned);
        let origin = authority_of(&req.url);
        for _ in 0..=MAX_REDIRECTS {
            let resp = self.send_once(&current, auth.as_deref()).await?;
            let follow = matches!(current.method, Method::GET | Method::HEAD)
                && resp.status().is_redirection()
                && resp.status() != StatusCode::NOT_MODIFIED;
            if !follow {
                return Ok((resp, current.url));
            }
            let location =
                header_str(&resp, header::LOCATION).ok_or_else(|| RegistryError::Protocol {
                    url: current.url.clone(),
                    message: "redirect without Location".into(),
                })?;
            let next = resolve_url(&current.url, &location);
            if authority_of(&next) != origin {
                auth = None;
            }
            current.url = next;
        }
        Err(RegistryError::Protocol {
            url: req.url.clone(),
            message: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }
}

/// A header's value as a string, if present and valid.
pub(crate) fn header_str(resp: &Response<Incoming>, name: header::HeaderName) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Reads a whole (small) body, refusing more than `limit` bytes.
pub(crate) async fn read_body(
    resp: Response<Incoming>,
    url: &str,
    limit: usize,
) -> Result<Vec<u8>, RegistryError> {
    let mut body = resp.into_body();
    let mut out = Vec::new();
    loop {
        let frame = match tokio::time::timeout(BODY_STALL_TIMEOUT, body.frame()).await {
            Err(_) => {
                return Err(RegistryError::Connect {
                    url: url.to_owned(),
                    message: "body stalled".into(),
                })
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(RegistryError::Connect {
                    url: url.to_owned(),
                    message: error_chain(&e),
                })
            }
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(RegistryError::Protocol {
                    url: url.to_owned(),
                    message: format!("response larger than {limit} bytes"),
                });
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

/// Turns a non-success response into an error, with the registry's message if it sent one.
pub(crate) async fn status_error(resp: Response<Incoming>, url: &str) -> RegistryError {
    let status = resp.status().as_u16();
    let body = read_body(resp, url, 64 * 1024).await.unwrap_or_default();
    RegistryError::Status {
        url: url.to_owned(),
        status,
        message: registry_message(&body),
    }
}

/// The `errors[].message` of a distribution error body, or its text.
pub(crate) fn registry_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorItem>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorItem {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(e) = serde_json::from_slice::<Errors>(body) {
        return e
            .errors
            .iter()
            .map(|i| format!("{} {}", i.code, i.message).trim().to_owned())
            .collect::<Vec<_>>()
            .join("; ");
    }
    String::from_utf8_lossy(&body[..body.len().min(300)])
        .trim()
        .to_owned()
}

/// `scheme://authority` of a URL.
pub(crate) fn authority_of(url: &str) -> String {
    match url.parse::<Uri>() {
        Ok(u) => format!(
            "{}://{}",
            u.scheme_str().unwrap_or(""),
            u.authority().map_or("", |a| a.as_str())
        ),
        Err(_) => String::new(),
    }
}

/// Resolves a Location header against the URL it came from.
pub(crate) fn resolve_url(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        location.to_owned()
    } else if location.starts_with('/') {
        format!("{}{location}", authority_of(base))
    } else {
        let dir = base.rsplit_once('/').map_or(base, |(d, _)| d);
        format!("{dir}/{location}")
    }
}

/// Appends `key=value` to a URL's query, percent-encoding the value.
pub(crate) fn with_query(url: &str, key: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{key}={}", percent_encode(value))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_resolve_and_encode() {
        assert_eq!(
            resolve_url(
                "http://h:1/v2/a/blobs/uploads/",
                "/v2/a/blobs/uploads/u1?x=1"
            ),
            "http://h:1/v2/a/blobs/uploads/u1?x=1"
        );
        assert_eq!(
            resolve_url("http://h:1/v2/x", "https://s3.example/obj"),
            "https://s3.example/obj"
        );
        assert_eq!(resolve_url("http://h/a/b", "c"), "http://h/a/c");
        assert_eq!(
            with_query("http://h/u?_state=a", "digest", "sha256:ab"),
            "http://h/u?_state=a&digest=sha256%3Aab"
        );
        assert_eq!(authority_of("https://h:5/x?y"), "https://h:5");
        assert_eq!(
            registry_message(
                br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#
            ),
            "MANIFEST_UNKNOWN manifest unknown"
        );
    }
}
