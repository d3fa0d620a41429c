//! The JSON messages streamed by pull, push, load, import and build (`jsonmessage.JSONMessage`).

use serde::{Deserialize, Serialize};

/// Byte progress of one layer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProgressDetail {
    /// Bytes done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<i64>,
    /// Bytes in total.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
}

/// Error detail of a failed stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorDetail {
    /// Code (unused, 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    /// Message.
    pub message: String,
}

/// One line of a progress stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JsonMessage {
    /// Build output text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// Status ("Pulling fs layer", "Downloading", "Pull complete", "Digest: ...").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Byte progress.
    #[serde(rename = "progressDetail", skip_serializing_if = "Option::is_none")]
    pub progress_detail: Option<ProgressDetail>,
    /// Rendered progress bar (deprecated, still sent by Docker).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// Layer id (12 hex) or tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Fatal error detail; the stream ends after it.
    #[serde(rename = "errorDetail", skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<ErrorDetail>,
    /// Fatal error message (deprecated duplicate of `errorDetail.message`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Auxiliary data (push digest, build image id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aux: Option<serde_json::Value>,
}

impl JsonMessage {
    /// A `{"status": s}` line, with `id` when given.
    pub fn status(status: impl Into<String>, id: Option<&str>) -> Self {
        JsonMessage {
            status: Some(status.into()),
            id: id.map(str::to_string),
            ..Default::default()
        }
    }

    /// The terminal error line (`error` and `errorDetail.message`).
    pub fn error(message: impl Into<String>) -> Self {
        let message = message.into();
        JsonMessage {
            error: Some(message.clone()),
            error_detail: Some(ErrorDetail {
                code: None,
                message,
            }),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_line_shapes() {
        let m = JsonMessage {
            status: Some("Downloading".into()),
            id: Some("a3ed95caeb02".into()),
            progress_detail: Some(ProgressDetail {
                current: Some(10),
                total: Some(100),
            }),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"status":"Downloading","progressDetail":{"current":10,"total":100},"id":"a3ed95caeb02"}"#
        );
        assert_eq!(
            serde_json::to_string(&JsonMessage::error("manifest unknown")).unwrap(),
            r#"{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}"#
        );
        let parsed: JsonMessage =
            crate::json::from_str(r#"{"status":"Pull complete","progressDetail":{},"id":"x"}"#)
                .unwrap();
        assert_eq!(parsed.progress_detail, Some(ProgressDetail::default()));
    }
}
