//! Pulling: resolve a reference to a manifest, fetch blobs into the content store.

use std::io::Write;
use std::sync::Arc;

use berth_content::{ContentError, ContentStore, Descriptor, Digest};
use http_body_util::BodyExt;
use hyper::{header, Method};

use crate::client::{repo_scope, Endpoint};
use crate::manifest::{classify, verify_digest, FetchedManifest, ManifestAccept, MANIFEST_LIMIT};
use crate::progress::{emit, ProgressFn, ProgressStatus};
use crate::transport::{header_str, read_body, Req, BODY_STALL_TIMEOUT};
use crate::{Client, Reference, RegistryError};

/// Emit a Transferring event at most every this many bytes.
const PROGRESS_STEP: u64 = 256 * 1024;

impl Client {
    /// Resolves a reference (tag or digest) to its manifest or index, verified: the bytes
    /// hash to the digest asked for (or announced in `Docker-Content-Digest`), and the media
    /// type agrees with the Content-Type. Mirrors are tried first for Docker Hub.
    pub async fn resolve(&self, r: &Reference) -> Result<FetchedManifest, RegistryError> {
        self.fetch_manifest_ref(r, &r.api_reference(), r.digest(), None, ManifestAccept::Any)
            .await
    }

    /// Fetches the manifest `digest` of `r`'s repository, accepting only `accept` (e.g. the
    /// platform manifest an index points to must not be another index). `size`, when known
    /// from a descriptor, is checked too.
    pub async fn fetch_manifest(
        &self,
        r: &Reference,
        digest: &Digest,
        size: Option<u64>,
        accept: ManifestAccept,
    ) -> Result<FetchedManifest, RegistryError> {
        self.fetch_manifest_ref(r, digest.as_str(), Some(digest), size, accept)
            .await
    }

    async fn fetch_manifest_ref(
        &self,
        r: &Reference,
        api_ref: &str,
        digest: Option<&Digest>,
        size: Option<u64>,
        accept: ManifestAccept,
    ) -> Result<FetchedManifest, RegistryError> {
        let endpoints = self.endpoints(r.registry(), true);
        let mut last = None;
        for ep in &endpoints {
            match self
                .fetch_manifest_at(ep, r, api_ref, digest, size, accept)
                .await
            {
                Ok(m) => return Ok(m),
                Err(e) if ep.is_mirror => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("at least the origin endpoint"))
    }

    async fn fetch_manifest_at(
        &self,
        ep: &Endpoint,
        r: &Reference,
        api_ref: &str,
        digest: Option<&Digest>,
        size: Option<u64>,
        accept: ManifestAccept,
    ) -> Result<FetchedManifest, RegistryError> {
        let what = format!("{}:{api_ref}", r.familiar_name());
        let url = format!("{}/v2/{}/manifests/{api_ref}", ep.base, r.repository());
        let req = Req::new(Method::GET, url).header(header::ACCEPT, accept.header());
        let (resp, url) = self.request(ep, &[repo_scope(r, "pull")], req).await?;
        if !resp.status().is_success() {
            return Err(self
                .error_for(resp, &url, &format!("manifest for {what}"))
                .await);
        }
        let content_type = header_str(&resp, header::CONTENT_TYPE);
        let header_digest = header_str(&resp, "docker-content-digest".parse().expect("name"));
        let limit = size.map_or(MANIFEST_LIMIT, |s| {
            usize::try_from(s).unwrap_or(usize::MAX).min(MANIFEST_LIMIT) + 1
        });
        let bytes = read_body(resp, &url, limit).await.map_err(|e| match e {
            RegistryError::Protocol { .. } if size.is_some() => RegistryError::SizeMismatch {
                what: format!("manifest {what}"),
                expected: size.unwrap_or_default(),
                actual: limit as u64,
            },
            e => e,
        })?;
        if let Some(expected) = size {
            if bytes.len() as u64 != expected {
                return Err(RegistryError::SizeMismatch {
                    what: format!("manifest {what}"),
                    expected,
                    actual: bytes.len() as u64,
                });
            }
        }
        let digest = verify_digest(
            &format!("manifest {what}"),
            &bytes,
            digest,
            header_digest.as_deref(),
        )?;
        let media_type = classify(&what, &bytes, content_type.as_deref(), accept)?;
        Ok(FetchedManifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// Downloads one blob of `r`'s repository into `store`, verified against the
    /// descriptor's digest and size (nothing is left behind on failure). Transient errors
    /// restart the download, with back-off. A blob already stored is not fetched again.
    pub async fn fetch_blob(
        &self,
        r: &Reference,
        desc: &Descriptor,
        store: &ContentStore,
        progress: Option<&ProgressFn>,
    ) -> Result<(), RegistryError> {
        if store.size(&desc.digest) == Some(desc.size) {
            emit(
                progress,
                &desc.digest,
                desc.size,
                desc.size,
                ProgressStatus::Exists,
            );
            return Ok(());
        }
        let endpoints = self.endpoints(r.registry(), true);
        let mut last = None;
        for ep in &endpoints {
            let mut attempt = 0;
            let result = loop {
                attempt += 1;
                let mut body_started = false;
                match self
                    .download_at(ep, r, desc, store, progress, &mut body_started)
                    .await
                {
                    // Errors before the body were already retried by `request`; a body cut
                    // off mid-way restarts the download.
                    Err(e)
                        if body_started
                            && e.is_transient()
                            && attempt < self.inner.config.max_attempts =>
                    {
                        emit(
                            progress,
                            &desc.digest,
                            0,
                            desc.size,
                            ProgressStatus::Retrying,
                        );
                        self.back_off(attempt, None).await;
                    }
                    other => break other,
                }
            };
            match result {
                Ok(()) => return Ok(()),
                Err(e) if ep.is_mirror => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("at least the origin endpoint"))
    }

    async fn download_at(
        &self,
        ep: &Endpoint,
        r: &Reference,
        desc: &Descriptor,
        store: &ContentStore,
        progress: Option<&ProgressFn>,
        body_started: &mut bool,
    ) -> Result<(), RegistryError> {
        let what = format!("blob {}", desc.digest);
        let url = format!("{}/v2/{}/blobs/{}", ep.base, r.repository(), desc.digest);
        let (resp, url) = self
            .request(ep, &[repo_scope(r, "pull")], Req::new(Method::GET, url))
            .await?;
        if !resp.status().is_success() {
            return Err(self.error_for(resp, &url, &what).await);
        }
        if let Some(len) =
            header_str(&resp, header::CONTENT_LENGTH).and_then(|v| v.trim().parse::<u64>().ok())
        {
            if len != desc.size {
                return Err(RegistryError::SizeMismatch {
                    what,
                    expected: desc.size,
                    actual: len,
                });
            }
        }
        let mut writer = store.writer(Some((&desc.digest, desc.size)))?;
        *body_started = true;
        let mut body = resp.into_body();
        let mut reported = 0u64;
        loop {
            let frame = match tokio::time::timeout(BODY_STALL_TIMEOUT, body.frame()).await {
                Err(_) => {
                    return Err(RegistryError::Connect {
                        url,
                        message: "download stalled".into(),
                    })
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    return Err(RegistryError::Connect {
                        url,
                        message: format!("reading body: {e}"),
                    })
                }
                Ok(Some(Ok(frame))) => frame,
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if writer.write_all(&data).is_err() {
                // The writer refuses bytes past the expected size (or the disk failed).
                if writer.written() + data.len() as u64 > desc.size {
                    return Err(RegistryError::SizeMismatch {
                        what,
                        expected: desc.size,
                        actual: writer.written() + data.len() as u64,
                    });
                }
                return Err(RegistryError::Content(ContentError::Io {
                    op: "write",
                    path: writer.temp_path().to_owned(),
                    source: std::io::Error::other("write failed"),
                }));
            }
            if writer.written() - reported >= PROGRESS_STEP {
                reported = writer.written();
                emit(
                    progress,
                    &desc.digest,
                    reported,
                    desc.size,
                    ProgressStatus::Transferring,
                );
            }
        }
        let committed = tokio::task::spawn_blocking(move || writer.commit())
            .await
            .map_err(|e| RegistryError::Protocol {
                url: String::new(),
                message: format!("commit task: {e}"),
            })?;
        match committed {
            Ok(_) => {
                emit(
                    progress,
                    &desc.digest,
                    desc.size,
                    desc.size,
                    ProgressStatus::Done,
                );
                Ok(())
            }
            Err(ContentError::DigestMismatch { expected, actual }) => {
                Err(RegistryError::DigestMismatch {
                    what,
                    expected,
                    actual,
                })
            }
            Err(ContentError::SizeMismatch {
                expected, actual, ..
            }) => Err(RegistryError::SizeMismatch {
                what,
                expected,
                actual,
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Fetches many blobs with at most `concurrency` downloads at once; the first error
    /// cancels the rest (their temp files are removed) and is returned.
    pub async fn pull_blobs(
        &self,
        r: &Reference,
        descriptors: &[Descriptor],
        store: &ContentStore,
        concurrency: usize,
        progress: Option<ProgressFn>,
    ) -> Result<(), RegistryError> {
        let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for desc in descriptors {
            let (client, r, desc, store, progress, sem) = (
                self.clone(),
                r.clone(),
                desc.clone(),
                store.clone(),
                progress.clone(),
                semaphore.clone(),
            );
            tasks.spawn(async move {
                let _permit = sem.acquire_owned().await.expect("semaphore open");
                client
                    .fetch_blob(&r, &desc, &store, progress.as_ref())
                    .await
            });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(e) => {
                    return Err(RegistryError::Protocol {
                        url: r.to_string(),
                        message: format!("download task failed: {e}"),
                    })
                }
            }
        }
        Ok(())
    }
}
