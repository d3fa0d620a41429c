//! Pushing: blob existence check, cross-repository mount, upload, manifest PUT.

use berth_content::{ContentStore, Descriptor, Digest};
use hyper::{header, Method, StatusCode};
use tokio::io::AsyncReadExt;

use crate::client::{repo_scope, Endpoint};
use crate::progress::{emit, ProgressFn, ProgressStatus};
use crate::transport::{header_str, resolve_url, with_query, Req};
use crate::{Client, Reference, RegistryError};

/// How a blob reached the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushedBlob {
    /// It was already there.
    Existed,
    /// Mounted from another repository of the same registry.
    Mounted,
    /// Uploaded.
    Uploaded,
}

impl Client {
    /// `HEAD /v2/<repo>/blobs/<digest>`: the blob's size if the repository has it.
    pub async fn blob_exists(
        &self,
        r: &Reference,
        digest: &Digest,
    ) -> Result<Option<u64>, RegistryError> {
        let ep = self.origin(r.registry());
        self.blob_exists_at(&ep, r, digest, "pull").await
    }

    async fn blob_exists_at(
        &self,
        ep: &Endpoint,
        r: &Reference,
        digest: &Digest,
        actions: &str,
    ) -> Result<Option<u64>, RegistryError> {
        let url = format!("{}/v2/{}/blobs/{digest}", ep.base, r.repository());
        let (resp, url) = self
            .request(ep, &[repo_scope(r, actions)], Req::new(Method::HEAD, url))
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(Some(
                header_str(&resp, header::CONTENT_LENGTH)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            )),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.error_for(resp, &url, &format!("blob {digest}")).await),
        }
    }

    /// Pushes one blob from `store` to `r`'s repository: nothing if it exists, a
    /// cross-repository mount if `mount_from` (same registry) has it, else an upload (one
    /// PUT up to the configured chunk size, PATCH chunks then PUT above it).
    pub async fn push_blob(
        &self,
        r: &Reference,
        desc: &Descriptor,
        store: &ContentStore,
        mount_from: Option<&Reference>,
        progress: Option<&ProgressFn>,
    ) -> Result<PushedBlob, RegistryError> {
        let ep = self.origin(r.registry());
        let digest = &desc.digest;
        if self
            .blob_exists_at(&ep, r, digest, "pull,push")
            .await?
            .is_some()
        {
            emit(
                progress,
                digest,
                desc.size,
                desc.size,
                ProgressStatus::Exists,
            );
            return Ok(PushedBlob::Existed);
        }
        let mut scopes = vec![repo_scope(r, "pull,push")];
        let mut start_url = format!("{}/v2/{}/blobs/uploads/", ep.base, r.repository());
        if let Some(from) =
            mount_from.filter(|f| f.registry() == r.registry() && f.repository() != r.repository())
        {
            scopes.push(repo_scope(from, "pull"));
            start_url = with_query(&start_url, "mount", digest.as_str());
            start_url = with_query(&start_url, "from", from.repository());
        }
        let (resp, url) = self
            .request(&ep, &scopes, Req::new(Method::POST, start_url))
            .await?;
        if resp.status() == StatusCode::CREATED {
            emit(
                progress,
                digest,
                desc.size,
                desc.size,
                ProgressStatus::Mounted,
            );
            return Ok(PushedBlob::Mounted);
        }
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self
                .error_for(resp, &url, &format!("upload of blob {digest}"))
                .await);
        }
        let mut location = upload_location(&resp, &url)?;
        let path = store.path(digest);
        let mut file =
            tokio::fs::File::open(&path)
                .await
                .map_err(|e| berth_content::ContentError::Io {
                    op: "open",
                    path: path.clone(),
                    source: e,
                })?;
        let chunk = self.inner.config.upload_chunk_size.max(1);
        let scopes = [repo_scope(r, "pull,push")];
        let read_err = |e| berth_content::ContentError::Io {
            op: "read",
            path: path.clone(),
            source: e,
        };
        let mut body = Vec::new();
        let chunk_len = u64::try_from(chunk).unwrap_or(u64::MAX);
        if desc.size > chunk_len {
            let mut offset = 0u64;
            while offset < desc.size {
                let n = chunk_len.min(desc.size - offset);
                // n <= chunk, a usize.
                let mut buf = vec![0u8; usize::try_from(n).unwrap_or(chunk)];
                file.read_exact(&mut buf).await.map_err(read_err)?;
                let req = Req::new(Method::PATCH, location.clone())
                    .header(header::CONTENT_TYPE, "application/octet-stream")
                    .header(
                        header::CONTENT_RANGE,
                        format!("{offset}-{}", offset + n - 1),
                    )
                    .body(buf);
                let (resp, url) = self.request(&ep, &scopes, req).await?;
                if resp.status() != StatusCode::ACCEPTED {
                    return Err(self
                        .error_for(resp, &url, &format!("chunk of blob {digest}"))
                        .await);
                }
                location = upload_location(&resp, &url)?;
                offset += n;
                emit(
                    progress,
                    digest,
                    offset,
                    desc.size,
                    ProgressStatus::Transferring,
                );
            }
        } else {
            body = Vec::with_capacity(usize::try_from(desc.size).unwrap_or(0));
            file.read_to_end(&mut body).await.map_err(read_err)?;
            if body.len() as u64 != desc.size {
                return Err(RegistryError::SizeMismatch {
                    what: format!("local blob {digest}"),
                    expected: desc.size,
                    actual: body.len() as u64,
                });
            }
        }
        let put = Req::new(
            Method::PUT,
            with_query(&location, "digest", digest.as_str()),
        )
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(body);
        let (resp, url) = self.request(&ep, &scopes, put).await?;
        if resp.status() != StatusCode::CREATED {
            return Err(self
                .error_for(resp, &url, &format!("upload of blob {digest}"))
                .await);
        }
        if let Some(h) = header_str(&resp, "docker-content-digest".parse().expect("name")) {
            if h.trim() != digest.as_str() {
                return Err(RegistryError::Protocol {
                    url,
                    message: format!("registry stored {h} for blob {digest}"),
                });
            }
        }
        emit(progress, digest, desc.size, desc.size, ProgressStatus::Done);
        Ok(PushedBlob::Uploaded)
    }

    /// Puts a manifest (or index) under `r`'s tag (or digest) with its media type as
    /// Content-Type; returns its digest (checked against what the registry reports).
    pub async fn push_manifest(
        &self,
        r: &Reference,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest, RegistryError> {
        let ep = self.origin(r.registry());
        let digest = Digest::of(bytes);
        let url = format!(
            "{}/v2/{}/manifests/{}",
            ep.base,
            r.repository(),
            r.api_reference()
        );
        let req = Req::new(Method::PUT, url)
            .header(header::CONTENT_TYPE, media_type)
            .body(bytes.to_vec());
        let (resp, url) = self
            .request(&ep, &[repo_scope(r, "pull,push")], req)
            .await?;
        if resp.status() != StatusCode::CREATED && !resp.status().is_success() {
            return Err(self
                .error_for(resp, &url, &format!("manifest for {}", r.familiar()))
                .await);
        }
        if let Some(h) = header_str(&resp, "docker-content-digest".parse().expect("name")) {
            if h.trim() != digest.as_str() {
                return Err(RegistryError::Protocol {
                    url,
                    message: format!("registry computed {h} for manifest {digest}"),
                });
            }
        }
        Ok(digest)
    }
}

fn upload_location(
    resp: &hyper::Response<hyper::body::Incoming>,
    url: &str,
) -> Result<String, RegistryError> {
    let loc = header_str(resp, header::LOCATION).ok_or_else(|| RegistryError::Protocol {
        url: url.to_owned(),
        message: "upload response without Location".into(),
    })?;
    Ok(resolve_url(url, &loc))
}
