//! `POST /images/{name}/push`: layers, config and manifest of local tags to a registry,
//! with Docker's progress lines and the final `<tag>: digest: … size: …` line.

use std::sync::Arc;

use crate::error::{EngineError, Result};
use crate::stream::JsonStream;
use berth_api_types::{AuthConfig, JsonMessage};
use berth_content::Digest;
use berth_registry::{Client, Progress, ProgressFn, ProgressStatus, PushedBlob, Reference};
use tokio::sync::mpsc;

use super::progress::{bytes_progress, layer_status, Throttle};
use super::{parse_reference, pull::join_reference, ImageService};

impl ImageService {
    /// `POST /images/{name}/push?tag=`: without a tag, every local tag of the repository.
    /// A repository with no such local tag is Docker's 404 before anything is sent.
    pub async fn image_push(
        &self,
        auth: Option<&AuthConfig>,
        name: &str,
        tag: Option<String>,
    ) -> Result<JsonStream<JsonMessage>> {
        let named = parse_reference(&join_reference(name, tag.as_deref()))?;
        let targets: Vec<(Reference, Digest)> = if tag.as_deref().is_some_and(|t| !t.is_empty())
            || name.contains('@')
            || named.tag() != Some("latest")
        {
            let id = self
                .resolve_id(&named.familiar())
                .map_err(|_| no_local_tag(&named))?;
            vec![(named.clone(), id)]
        } else {
            let prefix = format!("{}:", named.name());
            let mut all: Vec<(Reference, Digest)> = self
                .images
                .store
                .references()
                .map_err(EngineError::from)?
                .into_iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .filter_map(|(k, id)| Reference::parse(&k).ok().map(|r| (r, id)))
                .collect();
            all.sort_by_key(|a| a.0.familiar());
            all
        };
        if targets.is_empty() {
            return Err(no_local_tag(&named));
        }
        let client = self.client(auth, named.registry())?;
        let (out, rx) = mpsc::channel(64);
        let svc = PushJob {
            images: self.images.clone(),
            client,
            out,
        };
        let events = self.events.clone();
        let repo = named.repository_only();
        tokio::spawn(async move {
            let _ = svc
                .out
                .send(JsonMessage::status(
                    format!("The push refers to repository [{}]", repo.familiar_name()),
                    None,
                ))
                .await;
            for (r, id) in targets {
                match svc.push_one(&r, &id).await {
                    Ok(()) => events(super::image_event(
                        "push",
                        &r.familiar(),
                        Some(&r.familiar()),
                    )),
                    Err(m) => {
                        let _ = svc.out.send(JsonMessage::error(m)).await;
                        return;
                    }
                }
            }
        });
        Ok(rx)
    }
}

fn no_local_tag(r: &Reference) -> EngineError {
    EngineError::not_found(format!(
        "An image does not exist locally with the tag: {}",
        r.familiar_name()
    ))
}

struct PushJob {
    images: Arc<berth_image::Images>,
    client: Client,
    out: mpsc::Sender<JsonMessage>,
}

impl PushJob {
    async fn send(&self, m: JsonMessage) {
        let _ = self.out.send(m).await;
    }

    async fn push_one(&self, r: &Reference, id: &Digest) -> Result<(), String> {
        let rec = self.images.store.get(id).map_err(|e| e.to_string())?;
        let manifest = self.images.manifest_of(&rec).map_err(|e| e.to_string())?;
        let manifest_bytes = self
            .images
            .content
            .read_blob(&rec.manifest_digest)
            .map_err(|e| e.to_string())?;
        for l in &manifest.layers {
            self.send(layer_status("Preparing", &l.digest)).await;
        }
        // Layers one at a time, base first (what the registry needs for mounts to work).
        for l in &manifest.layers {
            let (tx, mut rx) = mpsc::unbounded_channel::<Progress>();
            let relay: ProgressFn = Arc::new(move |p: &Progress| {
                let _ = tx.send(p.clone());
            });
            let push = self
                .client
                .push_blob(r, l, &self.images.content, None, Some(&relay));
            tokio::pin!(push);
            let mut throttle = Throttle::default();
            let outcome = loop {
                tokio::select! {
                    res = &mut push => break res,
                    Some(p) = rx.recv() => {
                        if p.status == ProgressStatus::Transferring
                            && throttle.allow(&p.digest, p.current >= p.total)
                        {
                            self.send(bytes_progress("Pushing", &p.digest, p.current, p.total)).await;
                        }
                    }
                }
            };
            let status = match outcome.map_err(|e| e.to_string())? {
                PushedBlob::Existed => "Layer already exists".to_string(),
                PushedBlob::Mounted => "Mounted from another repository".to_string(),
                PushedBlob::Uploaded => "Pushed".to_string(),
            };
            self.send(layer_status(&status, &l.digest)).await;
        }
        self.client
            .push_blob(r, &manifest.config, &self.images.content, None, None)
            .await
            .map_err(|e| e.to_string())?;
        let digest = self
            .client
            .push_manifest(r, &rec.manifest_media_type, &manifest_bytes)
            .await
            .map_err(|e| e.to_string())?;
        let tag = r.tag().unwrap_or("latest").to_string();
        self.send(JsonMessage::status(
            format!("{tag}: digest: {digest} size: {}", manifest_bytes.len()),
            None,
        ))
        .await;
        self.send(JsonMessage {
            aux: Some(serde_json::json!({
                "Tag": tag,
                "Digest": digest.to_string(),
                "Size": manifest_bytes.len(),
            })),
            ..Default::default()
        })
        .await;
        self.images
            .add_repo_digest(id, &format!("{}@{digest}", r.name()))
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}
