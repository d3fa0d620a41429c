//! `POST /images/create`: pull (`fromImage`) with Docker's progress lines, and import
//! (`fromSrc`) of a rootfs tarball.
//!
//! Errors before the pull has produced anything (bad reference, unknown repository or tag,
//! refused credentials) are HTTP errors, as with Docker; later ones end the stream with an
//! `error` line.

use crate::error::{EngineError, Result};
use crate::stream::{BodyReader, JsonStream};
use berth_api_types::query::ImageCreateOptions;
use berth_api_types::{AuthConfig, JsonMessage};
use berth_image::{ImageError, LayerStatus, PlatformSpec, PullEvent, PullOptions, PullResult};
use berth_registry::Reference;
use tokio::sync::mpsc;

use super::progress::{bytes_progress, layer_status, Throttle};
use super::{familiar, parse_reference, ImageService};

enum PullUpdate {
    Layer(PullEvent),
    Done(Box<Result<PullResult, ImageError>>),
}

/// `fromImage` + `tag` as one reference (`tag` may be a digest).
pub(crate) fn join_reference(image: &str, tag: Option<&str>) -> String {
    match tag.filter(|t| !t.is_empty()) {
        Some(t) if t.contains(':') => format!("{image}@{t}"),
        Some(t) => format!("{image}:{t}"),
        None => image.to_string(),
    }
}

impl ImageService {
    /// `POST /images/create`.
    pub async fn image_create(
        &self,
        auth: Option<&AuthConfig>,
        opts: ImageCreateOptions,
        body: BodyReader,
    ) -> Result<JsonStream<JsonMessage>> {
        if let Some(src) = opts.from_src.clone() {
            return self.import(opts, &src, body).await;
        }
        let image = opts
            .from_image
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| EngineError::invalid("either fromImage or fromSrc is required"))?;
        let reference = parse_reference(&join_reference(image, opts.tag.as_deref()))?;
        let mut pull_opts = PullOptions::default();
        if let Some(p) = opts.platform.as_deref().filter(|p| !p.is_empty()) {
            pull_opts.platform =
                PlatformSpec::parse(p).map_err(|e| EngineError::invalid(e.to_string()))?;
        }
        self.pull(auth, reference, pull_opts).await
    }

    /// Pulls `reference`, streaming Docker's progress lines.
    pub async fn pull(
        &self,
        auth: Option<&AuthConfig>,
        reference: Reference,
        opts: PullOptions,
    ) -> Result<JsonStream<JsonMessage>> {
        let client = self.client(auth, reference.registry())?;
        let (tx, mut updates) = mpsc::unbounded_channel();
        let images = self.images.clone();
        let r = reference.clone();
        let progress_tx = tx.clone();
        tokio::spawn(async move {
            let progress: berth_image::PullProgress = std::sync::Arc::new(move |ev: &PullEvent| {
                match ev.status {
                    LayerStatus::Downloading { current, .. } if current > 0 => {
                        crate::crash::point("pull-downloading")
                    }
                    LayerStatus::PullComplete => crate::crash::point("pull-layer-committed"),
                    _ => {}
                }
                let _ = progress_tx.send(PullUpdate::Layer(ev.clone()));
            });
            let result = berth_image::pull(&images, &client, &r, &opts, Some(progress)).await;
            let _ = tx.send(PullUpdate::Done(Box::new(result)));
        });
        let first = updates
            .recv()
            .await
            .ok_or_else(|| EngineError::internal("pull task ended without a result"))?;
        let first = match first {
            PullUpdate::Done(r) => match *r {
                Err(e) => return Err(pull_error(&reference, e)),
                ok => PullUpdate::Done(Box::new(ok)),
            },
            layer => layer,
        };
        let (out, rx) = mpsc::channel(64);
        let shown = reference.familiar();
        let events = self.events.clone();
        let header = JsonMessage::status(
            format!("Pulling from {}", reference.repository()),
            Some(&reference.api_reference()),
        );
        tokio::spawn(async move {
            if out.send(header).await.is_err() {
                return;
            }
            let mut throttle = Throttle::default();
            let mut next = Some(first);
            while let Some(update) = match next.take() {
                Some(u) => Some(u),
                None => updates.recv().await,
            } {
                let msg = match update {
                    PullUpdate::Layer(ev) => match ev.status {
                        LayerStatus::Waiting => layer_status("Pulling fs layer", &ev.layer),
                        LayerStatus::AlreadyExists => layer_status("Already exists", &ev.layer),
                        LayerStatus::Downloading { current, total } => {
                            if !throttle.allow(&ev.layer, current >= total) {
                                continue;
                            }
                            bytes_progress("Downloading", &ev.layer, current, total)
                        }
                        LayerStatus::Retrying => layer_status("Retrying", &ev.layer),
                        LayerStatus::Verifying => layer_status("Verifying Checksum", &ev.layer),
                        LayerStatus::DownloadComplete => {
                            layer_status("Download complete", &ev.layer)
                        }
                        LayerStatus::Extracting => layer_status("Extracting", &ev.layer),
                        LayerStatus::PullComplete => layer_status("Pull complete", &ev.layer),
                    },
                    PullUpdate::Done(done) => {
                        let res = match *done {
                            Ok(res) => res,
                            Err(e) => {
                                let _ = out
                                    .send(JsonMessage::error(pull_error(&reference, e).to_string()))
                                    .await;
                                return;
                            }
                        };
                        let _ = out
                            .send(JsonMessage::status(format!("Digest: {}", res.digest), None))
                            .await;
                        let verb = if res.downloaded {
                            "Downloaded newer image for"
                        } else {
                            "Image is up to date for"
                        };
                        let _ = out
                            .send(JsonMessage::status(format!("Status: {verb} {shown}"), None))
                            .await;
                        events(super::image_event("pull", &shown, Some(&shown)));
                        return;
                    }
                };
                if out.send(msg).await.is_err() {
                    return;
                }
            }
        });
        Ok(rx)
    }

    /// `fromSrc`: "-" imports the request body; URLs are not fetched.
    async fn import(
        &self,
        opts: ImageCreateOptions,
        src: &str,
        body: BodyReader,
    ) -> Result<JsonStream<JsonMessage>> {
        if src != "-" {
            return Err(EngineError::not_implemented(format!(
                "importing from a URL is not supported: {src}"
            )));
        }
        let tmp = self.receive_body(body, "import").await?;
        self.import_file(&tmp.0, opts).await
    }

    /// Imports a rootfs tarball from a file as a one-layer image, tagged `opts.repo`
    /// (`opts.tag`), with `opts.changes` applied to its config and `opts.message` as its
    /// history comment. Answers `{"status":"sha256:…"}`.
    pub async fn import_file(
        &self,
        path: &std::path::Path,
        opts: ImageCreateOptions,
    ) -> Result<JsonStream<JsonMessage>> {
        let target = match opts.repo.as_deref().filter(|r| !r.is_empty()) {
            Some(repo) => Some(parse_reference(&join_reference(repo, opts.tag.as_deref()))?),
            None => None,
        };
        let mut config = berth_image::ContainerConfig::default();
        super::changes::apply_changes(&mut config, &opts.changes)?;
        let platform = match opts.platform.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => {
                Some(PlatformSpec::parse(p).map_err(|e| EngineError::invalid(e.to_string()))?)
            }
            None => None,
        };
        let import_opts = berth_image::archive::ImportOptions {
            config: (config != berth_image::ContainerConfig::default()).then_some(config),
            message: opts.message.clone().filter(|m| !m.is_empty()),
            platform,
        };
        let images = self.images.clone();
        let path = path.to_path_buf();
        let rec = tokio::task::spawn_blocking(move || {
            let f = std::fs::File::open(&path)
                .map_err(|e| EngineError::invalid(format!("open {}: {e}", path.display())))?;
            berth_image::archive::import(&images, std::io::BufReader::new(f), &import_opts)
                .map_err(EngineError::from)
        })
        .await
        .map_err(EngineError::from)??;
        if let Some(r) = &target {
            let key = format!("{}:{}", r.name(), r.tag().unwrap_or("latest"));
            self.images
                .store
                .tag(&key, &rec.id)
                .map_err(EngineError::from)?;
            self.touch_tag_time(&rec.id);
        }
        self.event(
            "import",
            rec.id.as_str(),
            target.as_ref().map(|r| r.familiar()).as_deref(),
        );
        let (tx, rx) = mpsc::channel(1);
        let _ = tx.try_send(JsonMessage::status(rec.id.to_string(), None));
        Ok(rx)
    }
}

/// Docker's wording for a failed pull.
fn pull_error(r: &Reference, e: ImageError) -> EngineError {
    let err = EngineError::from(e);
    if err.kind() == crate::error::ErrorKind::Unauthorized {
        return EngineError::not_found(format!(
            "pull access denied for {}, repository does not exist or may require 'docker login': {}",
            familiar(&r.name()),
            err
        ));
    }
    err
}
