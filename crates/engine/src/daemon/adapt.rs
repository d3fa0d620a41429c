//! The services' sessions and streams as the HTTP layer's: the one place below the `Engine`
//! impl that knows how `berth-api-server` frames output (stdcopy, raw) and hijacks.

use std::io;

use async_trait::async_trait;
use berth_api_server::{Hijack, OutputSink, RequestBody};
use tokio::sync::mpsc;

use crate::session::{OutputWriter, Session, SessionStreams};
use crate::stream::{self, BodyReader, StdStream};

/// An attach or exec session run on a hijacked connection.
pub fn hijack(session: Session) -> Hijack {
    Hijack::new(session.tty, move |s| {
        session.run(SessionStreams {
            stdin: s.stdin,
            output: Box::new(s.output),
        })
    })
}

/// A request body as the services read it.
pub fn body(body: RequestBody) -> BodyReader {
    Box::new(body)
}

fn wire_stream(s: StdStream) -> berth_api_server::StdStream {
    match s {
        StdStream::Stdout => berth_api_server::StdStream::Stdout,
        StdStream::Stderr => berth_api_server::StdStream::Stderr,
    }
}

/// A container's log as the logs endpoint streams it (chunks forwarded until either side
/// closes).
pub fn log_stream(log: stream::LogStream) -> berth_api_server::LogStream {
    let stream::LogStream { tty, mut chunks } = log;
    let (tx, rx) = mpsc::channel(chunks.max_capacity());
    tokio::spawn(async move {
        while let Some(c) = chunks.recv().await {
            let chunk = berth_api_server::LogChunk {
                stream: wire_stream(c.stream),
                data: c.data,
            };
            if tx.send(chunk).await.is_err() {
                break;
            }
        }
    });
    berth_api_server::LogStream { tty, chunks: rx }
}

#[async_trait]
impl OutputWriter for OutputSink {
    async fn write(&mut self, stream: StdStream, data: &[u8]) -> io::Result<()> {
        OutputSink::write(self, wire_stream(stream), data).await
    }
    async fn shutdown(&mut self) -> io::Result<()> {
        OutputSink::shutdown(self).await
    }
}
