//! Building responses: JSON, errors, empty statuses, streams.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use berth_api_types::ErrorResponse;

use crate::body::ApiBody;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::stream::{json_line, stdcopy_frame, ByteStream, JsonStream, LogStream};
use crate::stream::{MEDIA_MULTIPLEXED_STREAM, MEDIA_RAW_STREAM};

/// A response with `status` and a JSON body (`<json>\n`, as Go's json.Encoder writes).
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<ApiBody> {
    let mut resp = Response::new(ApiBody::full(json_line(value)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// A `200` JSON response.
pub fn ok_json<T: Serialize>(value: &T) -> ApiResult<Response<ApiBody>> {
    Ok(json(StatusCode::OK, value))
}

/// A body-less response.
pub fn empty(status: StatusCode) -> ApiResult<Response<ApiBody>> {
    let mut resp = Response::new(ApiBody::Empty);
    *resp.status_mut() = status;
    Ok(resp)
}

/// The error response: `{"message": …}` with the kind's status; 304 has no body.
pub fn error(err: &ApiError) -> Response<ApiBody> {
    if err.kind == ErrorKind::NotModified {
        let mut resp = Response::new(ApiBody::Empty);
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        return resp;
    }
    json(
        err.status(),
        &ErrorResponse {
            message: err.message.clone(),
        },
    )
}

/// A streamed response of `content_type` fed by `rx` (spawned task, ends with the channel).
pub fn stream_bytes(content_type: &'static str, mut rx: ByteStream) -> Response<ApiBody> {
    let (tx, body) = ApiBody::channel();
    tokio::spawn(async move {
        while let Some(item) = rx.recv().await {
            if tx.send(item).await.is_err() {
                break;
            }
        }
    });
    let mut resp = Response::new(body);
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// A JSON-lines stream (progress, events).
pub fn stream_json<T: Serialize + Send + 'static>(mut rx: JsonStream<T>) -> Response<ApiBody> {
    let (tx, body) = ApiBody::channel();
    tokio::spawn(async move {
        while let Some(item) = rx.recv().await {
            if tx.send(Ok(json_line(&item))).await.is_err() {
                break;
            }
        }
    });
    let mut resp = Response::new(body);
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// Container logs: stdcopy-framed without a tty, raw with one.
pub fn stream_logs(logs: LogStream, multiplexed_media: bool) -> Response<ApiBody> {
    let LogStream { tty, mut chunks } = logs;
    let (tx, body) = ApiBody::channel();
    tokio::spawn(async move {
        while let Some(chunk) = chunks.recv().await {
            let bytes = if tty {
                chunk.data
            } else {
                stdcopy_frame(chunk.stream, &chunk.data)
            };
            if tx.send(Ok(bytes)).await.is_err() {
                break;
            }
        }
    });
    let media = if !tty && multiplexed_media {
        MEDIA_MULTIPLEXED_STREAM
    } else {
        MEDIA_RAW_STREAM
    };
    let mut resp = Response::new(body);
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(media));
    resp
}

/// Reads the whole request body.
pub async fn read_body(body: Incoming) -> ApiResult<Bytes> {
    body.collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| ApiError::invalid(format!("error reading request body: {e}")))
}

/// Parses a required JSON body (400 on empty, malformed or mistyped JSON).
pub async fn json_body<T: DeserializeOwned>(body: Incoming) -> ApiResult<T> {
    let bytes = read_body(body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid("invalid JSON: request body is empty"));
    }
    parse_json(&bytes)
}

/// Parses an optional JSON body: empty (or `null`) gives `None`.
pub async fn optional_json_body<T: DeserializeOwned>(body: Incoming) -> ApiResult<Option<T>> {
    let bytes = read_body(body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    parse_json(&bytes)
}

/// Parses JSON with a 400 carrying serde's message (what and where).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    berth_api_types::json::from_slice(bytes)
        .map_err(|e| ApiError::invalid(format!("invalid JSON: {e}")))
}
