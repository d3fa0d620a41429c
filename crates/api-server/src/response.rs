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

/// The largest request body read whole (a JSON document): 16 MiB, far above any real
/// create or network request. Archives, image loads and builds are streams
/// ([`crate::RequestBody`]) and have no such limit.
pub const MAX_JSON_BODY: usize = 16 << 20;

/// Reads the whole request body, up to [`MAX_JSON_BODY`]: a larger one (by its
/// Content-Length, or as it arrives when chunked) is refused with 413 before more of it is
/// buffered.
pub async fn read_body(body: Incoming) -> ApiResult<Bytes> {
    read_limited(body, MAX_JSON_BODY).await
}

/// [`read_body`] with a chosen limit.
pub async fn read_limited<B>(body: B, limit: usize) -> ApiResult<Bytes>
where
    B: http_body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let too_large = || {
        ApiError::new(
            ErrorKind::PayloadTooLarge,
            format!("request body is larger than the limit of {limit} bytes"),
        )
    };
    if body.size_hint().lower() > limit as u64 {
        return Err(too_large());
    }
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(e) => Err(ApiError::invalid(format!(
            "error reading request body: {e}"
        ))),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A chunked body that never ends; counts the frames pulled from it.
    struct Endless(Arc<AtomicUsize>);

    impl http_body::Body for Endless {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            self.0.fetch_add(1, Ordering::Relaxed);
            std::task::Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from(vec![
                b' ';
                10
            ])))))
        }
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_413_without_reading_them_whole() {
        let ok = read_limited(Full::new(Bytes::from_static(b"{}")), 16).await;
        assert_eq!(ok.unwrap(), Bytes::from_static(b"{}"));
        // Known length (Content-Length): refused before any byte is read.
        let e = read_limited(Full::new(Bytes::from(vec![b' '; 17])), 16)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::PayloadTooLarge);
        assert_eq!(e.status(), StatusCode::PAYLOAD_TOO_LARGE);
        // Unknown length (chunked): refused once the limit is passed, the rest never pulled.
        let pulled = Arc::new(AtomicUsize::new(0));
        let e = read_limited(Endless(pulled.clone()), 16).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::PayloadTooLarge);
        assert_eq!(pulled.load(Ordering::Relaxed), 2);
    }
}
