//! `docker save` (a docker-archive tar streamed to the client) and `docker load`.

use std::io::{self, Write};

use crate::error::{EngineError, Result};
use crate::stream::{BodyReader, ByteStream, JsonStream};
use berth_api_types::JsonMessage;
use bytes::Bytes;
use tokio::sync::mpsc;

use super::{familiar, ImageService};

/// An `io::Write` that ships 256 KiB chunks into a response channel (from a blocking thread).
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

const CHUNK: usize = 256 << 10;

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl ImageService {
    /// `GET /images/get?names=…` and `GET /images/{name}/get`: Docker 25+'s archive layout
    /// (OCI layout + `manifest.json`), layers uncompressed. Unknown names are a 404 before
    /// anything is sent.
    pub async fn image_save(&self, names: Vec<String>) -> Result<ByteStream> {
        if names.is_empty() {
            return Err(EngineError::invalid("no images specified"));
        }
        let mut refs = Vec::new();
        for n in &names {
            let id = self.resolve_id(n)?;
            // Tags are saved under their name; ids and digests as the bare image.
            let tagged = !n.starts_with("sha256:")
                && !n.contains('@')
                && self
                    .images
                    .store
                    .names_of(&id)
                    .map_err(EngineError::from)?
                    .iter()
                    .any(|k| {
                        berth_registry::Reference::parse(n)
                            .map(|r| format!("{}:{}", r.name(), r.tag().unwrap_or("latest")) == *k)
                            .unwrap_or(false)
                    });
            refs.push(if tagged { n.clone() } else { id.to_string() });
            self.event("save", id.as_str(), None);
        }
        let (tx, rx) = mpsc::channel(8);
        let images = self.images.clone();
        tokio::task::spawn_blocking(move || {
            let mut w = ChannelWriter {
                tx: tx.clone(),
                buf: Vec::with_capacity(CHUNK),
            };
            let result = berth_image::archive::save(&images, &refs, &mut w)
                .map_err(|e| io::Error::other(e.to_string()))
                .and_then(|()| w.flush());
            if let Err(e) = result {
                let _ = tx.blocking_send(Err(e));
            }
        });
        Ok(rx)
    }

    /// `POST /images/load`: the body is a `docker save` tar (classic, Docker 25+ or OCI
    /// layout; plain, gzip or zstd). Answers `Loaded image: name:tag` (or `Loaded image ID:`
    /// for untagged images) as JSON-lines `stream` messages. A broken archive loads nothing
    /// and, as in Docker, is reported in the stream (`errorDetail`/`error` after a 200),
    /// which clients turn into their load error.
    pub async fn image_load(
        &self,
        _quiet: bool,
        body: BodyReader,
    ) -> Result<JsonStream<JsonMessage>> {
        let loaded = match self.receive_body(body, "load").await {
            Ok(tmp) => self.load_file(&tmp.0).await,
            Err(e) => Err(e),
        };
        loaded.or_else(|e| {
            let (tx, rx) = mpsc::channel(1);
            let message = e.to_string();
            let _ = tx.try_send(JsonMessage {
                error_detail: Some(berth_api_types::ErrorDetail {
                    code: None,
                    message: message.clone(),
                }),
                error: Some(message),
                ..Default::default()
            });
            Ok(rx)
        })
    }

    /// Loads a `docker save` archive from a file (what [`ImageService::image_load`] does
    /// with the received body).
    pub async fn load_file(&self, path: &std::path::Path) -> Result<JsonStream<JsonMessage>> {
        let images = self.images.clone();
        let path = path.to_path_buf();
        let loaded = tokio::task::spawn_blocking(move || {
            let f = std::fs::File::open(&path)
                .map_err(|e| EngineError::invalid(format!("open {}: {e}", path.display())))?;
            berth_image::archive::load(&images, io::BufReader::with_capacity(1 << 20, f))
                .map_err(EngineError::from)
        })
        .await
        .map_err(EngineError::from)??;
        let (tx, rx) = mpsc::channel(loaded.iter().map(|i| i.names.len() + 1).sum::<usize>() + 1);
        for img in &loaded {
            if img.names.is_empty() {
                let _ = tx.try_send(stream_line(format!("Loaded image ID: {}\n", img.id)));
                self.event("load", img.id.as_str(), None);
            }
            for n in &img.names {
                let _ = tx.try_send(stream_line(format!("Loaded image: {}\n", familiar(n))));
                self.event("load", img.id.as_str(), Some(&familiar(n)));
            }
        }
        Ok(rx)
    }

    /// Copies a request body into a temporary file under the data root.
    pub(crate) async fn receive_body(
        &self,
        mut body: BodyReader,
        what: &str,
    ) -> Result<super::TempFile> {
        let tmp = self.temp_file(what);
        let mut f = tokio::fs::File::create(&tmp.0)
            .await
            .map_err(|e| EngineError::internal(format!("create {}: {e}", tmp.0.display())))?;
        tokio::io::copy(&mut body, &mut f)
            .await
            .map_err(|e| EngineError::invalid(format!("reading request body: {e}")))?;
        tokio::io::AsyncWriteExt::flush(&mut f)
            .await
            .map_err(EngineError::internal)?;
        Ok(tmp)
    }
}

/// A `{"stream": "…"}` message (what `docker load` prints).
pub(crate) fn stream_line(text: String) -> JsonMessage {
    JsonMessage {
        stream: Some(text),
        ..Default::default()
    }
}
