//! ADD of an http(s) URL: downloaded by the daemon (redirects followed), verified against
//! `--checksum`, saved as a file named after the URL's last path segment, mode 0600 (as
//! Docker's classic builder). Never extracted, even when it is an archive.

use std::path::Path;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{header, Request, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::error::{BuildError, Result};

/// A downloaded file.
#[derive(Debug, Clone)]
pub struct Download {
    /// The file name (last segment of the URL's path).
    pub name: String,
    /// Its length in bytes.
    pub size: u64,
    /// `sha256:<hex>` of the content.
    pub digest: String,
}

fn fail(url: &str, m: impl std::fmt::Display) -> BuildError {
    BuildError::Source(format!("ADD failed: {url}: {m}"))
}

/// Downloads `url` to `out`; checks `checksum` (`sha256:<hex>`) when given.
pub async fn download(url: &str, out: &Path, checksum: Option<&str>) -> Result<Download> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider)
        .map_err(|e| fail(url, format!("loading the system's CA certificates: {e}")))?
        .https_or_http()
        .enable_http1()
        .wrap_connector({
            let mut http = HttpConnector::new();
            http.enforce_http(false);
            http.set_connect_timeout(Some(Duration::from_secs(30)));
            http
        });
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let mut current = url.to_string();
    let mut response = None;
    for _ in 0..10 {
        let uri: Uri = current
            .parse()
            .map_err(|e| fail(url, format!("invalid URL: {e}")))?;
        let req = Request::get(uri.clone())
            .header(header::USER_AGENT, "berth-build")
            .body(Empty::new())
            .map_err(|e| fail(url, e))?;
        let resp = client.request(req).await.map_err(|e| fail(url, e))?;
        if resp.status().is_redirection() {
            let loc = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| fail(url, "redirect without a location"))?;
            current = if loc.starts_with("http://") || loc.starts_with("https://") {
                loc.to_string()
            } else {
                let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
                format!("{}://{authority}{loc}", uri.scheme_str().unwrap_or("http"))
            };
            continue;
        }
        response = Some(resp);
        break;
    }
    let resp = response.ok_or_else(|| fail(url, "too many redirects"))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(BuildError::Source(format!(
            "failed to GET {url} with status {status}"
        )));
    }
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name = path
        .split_once("://")
        .map_or(path, |(_, rest)| rest)
        .split_once('/')
        .map(|(_, p)| p.rsplit('/').next().unwrap_or(""))
        .unwrap_or("")
        .to_string();
    if name.is_empty() || name == "." || name == ".." {
        return Err(BuildError::Source(format!(
            "cannot determine filename from url: {url}"
        )));
    }
    let mut file = tokio::fs::File::create(out)
        .await
        .map_err(|e| fail(url, e))?;
    let mut body = resp.into_body();
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| fail(url, e))?;
        if let Some(data) = frame.data_ref() {
            hasher.update(data);
            size += data.len() as u64;
            file.write_all(data).await.map_err(|e| fail(url, e))?;
        }
    }
    file.flush().await.map_err(|e| fail(url, e))?;
    let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
    if let Some(expected) = checksum {
        if expected != digest {
            let _ = std::fs::remove_file(out);
            return Err(BuildError::Source(format!(
                "digest mismatch {expected}: {digest}"
            )));
        }
    }
    Ok(Download { name, size, digest })
}
