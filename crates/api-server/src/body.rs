//! Response bodies (complete or streamed from a channel) and the request body as `AsyncRead`.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;

/// Error type of streamed response bodies: aborts the connection mid-stream.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// The body of every response the server sends.
#[derive(Debug)]
pub enum ApiBody {
    /// No body (204, 304, HEAD).
    Empty,
    /// A complete body.
    Full(Option<Bytes>),
    /// Chunks produced by a task; an `Err` aborts the response.
    Channel(mpsc::Receiver<io::Result<Bytes>>),
}

impl ApiBody {
    /// A complete body.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        ApiBody::Full(Some(bytes.into()))
    }

    /// A streamed body and the sender feeding it (bounded, so a slow client applies
    /// back-pressure to the producer).
    pub fn channel() -> (mpsc::Sender<io::Result<Bytes>>, Self) {
        let (tx, rx) = mpsc::channel(32);
        (tx, ApiBody::Channel(rx))
    }
}

impl Body for ApiBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            ApiBody::Empty => Poll::Ready(None),
            ApiBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            ApiBody::Channel(rx) => match ready!(rx.poll_recv(cx)) {
                Some(Ok(b)) => Poll::Ready(Some(Ok(Frame::data(b)))),
                Some(Err(e)) => Poll::Ready(Some(Err(Box::new(e)))),
                None => Poll::Ready(None),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ApiBody::Empty => true,
            ApiBody::Full(b) => b.is_none(),
            ApiBody::Channel(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ApiBody::Empty => SizeHint::with_exact(0),
            ApiBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            ApiBody::Full(None) => SizeHint::with_exact(0),
            ApiBody::Channel(_) => SizeHint::default(),
        }
    }
}

/// A request body read as a byte stream (image load, import, archive upload).
pub struct RequestBody {
    inner: Option<Incoming>,
    chunk: Bytes,
}

impl RequestBody {
    /// Wraps hyper's body.
    pub fn new(body: Incoming) -> Self {
        RequestBody {
            inner: Some(body),
            chunk: Bytes::new(),
        }
    }

    /// A body that is already at its end.
    pub fn empty() -> Self {
        RequestBody {
            inner: None,
            chunk: Bytes::new(),
        }
    }
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestBody").finish_non_exhaustive()
    }
}

impl AsyncRead for RequestBody {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.chunk.is_empty() {
                let n = this.chunk.len().min(buf.remaining());
                buf.put_slice(&this.chunk[..n]);
                this.chunk.advance(n);
                return Poll::Ready(Ok(()));
            }
            let Some(body) = this.inner.as_mut() else {
                return Poll::Ready(Ok(()));
            };
            match ready!(Pin::new(body).poll_frame(cx)) {
                None => {
                    this.inner = None;
                    return Poll::Ready(Ok(()));
                }
                Some(Err(e)) => return Poll::Ready(Err(io::Error::other(e))),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        this.chunk = data;
                    }
                }
            }
        }
    }
}
