//! The fake's one image (busybox, two tags) and its pull stream.

use tokio::sync::mpsc;

use crate::types::*;
use crate::{ApiError, ApiResult, JsonStream};

/// The only image: `busybox:latest` and `localhost:5000/busybox:1`, 4.26 MB.
pub(super) fn busybox() -> ImageSummary {
    ImageSummary {
        id: format!(
            "sha256:{}",
            "beae173ccac6ad749f76713cf4440fe3d21d1043fe616dfbe30775815d1d0f6a"
        ),
        repo_tags: vec!["busybox:latest".into(), "localhost:5000/busybox:1".into()],
        repo_digests: vec![
            "busybox@sha256:0123456789012345678901234567890123456789012345678901234567890123"
                .into(),
        ],
        created: 1_600_000_000,
        size: 4_261_550,
        containers: -1,
        shared_size: -1,
        ..Default::default()
    }
}

/// Any reference whose last path part starts with `busybox` (`busybox`, `busybox:latest`,
/// `localhost:5000/lib/busybox:1`) is the image; anything else is Docker's 404.
pub(super) fn inspect(name: &str) -> ApiResult<ImageInspect> {
    let last = name.rsplit('/').next().unwrap_or(name);
    if !last.starts_with("busybox") {
        return Err(ApiError::no_such_image(name));
    }
    Ok(ImageInspect {
        id: busybox().id,
        repo_tags: vec![name.into()],
        ..Default::default()
    })
}

/// A pull of one layer as a registry pull streams it; a name ending in `missing` is 404.
pub(super) fn pull(from: String) -> ApiResult<JsonStream<JsonMessage>> {
    if from.ends_with("missing") {
        return Err(ApiError::not_found("pull access denied for missing, repository does not exist or may require 'docker login'"));
    }
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        let p = |id: &str, st: &str, cur: Option<i64>| JsonMessage {
            id: Some(id.into()),
            status: Some(st.into()),
            progress_detail: cur.map(|c| ProgressDetail {
                current: Some(c),
                total: Some(2000),
            }),
            progress: cur.map(|_| "[==>   ]".to_string()),
            ..Default::default()
        };
        for m in [
            JsonMessage::status("Pulling from library/busybox", Some("latest")),
            p("a1b2c3d4e5f6", "Pulling fs layer", None),
            p("a1b2c3d4e5f6", "Downloading", Some(1000)),
            p("a1b2c3d4e5f6", "Download complete", None),
            p("a1b2c3d4e5f6", "Pull complete", None),
            JsonMessage::status("Digest: sha256:0123", None),
            JsonMessage::status(
                format!("Status: Downloaded newer image for {from}:latest"),
                None,
            ),
        ] {
            if tx.send(m).await.is_err() {
                return;
            }
        }
    });
    Ok(rx)
}
