//! What the services stream out (and read in), in the engine's own types: the daemon's
//! `Engine` impl hands them to the HTTP layer (`daemon/adapt.rs`), which frames them.
//!
//! Byte and JSON streams are bounded tokio channels: when the client goes away the HTTP
//! layer drops the receiver, the service's `send` fails and its task ends.

use std::future::Future;
use std::io;
use std::pin::Pin;

use berth_api_types::ContainerWaitResponse;
use bytes::Bytes;
use tokio::io::AsyncRead;
use tokio::sync::mpsc;

/// A raw byte stream (export, save, archive download); an `Err` aborts it.
pub type ByteStream = mpsc::Receiver<io::Result<Bytes>>;

/// A stream of messages (pull/push/load/build progress, stats samples), one per item.
pub type JsonStream<T> = mpsc::Receiver<T>;

/// A request body read as bytes (archive upload, image load and import, build context).
pub type BodyReader = Box<dyn AsyncRead + Send + Unpin>;

/// Resolves when a waited-for container reaches the condition.
pub type WaitFuture = Pin<Box<dyn Future<Output = ContainerWaitResponse> + Send>>;

/// Which output stream of a container (or exec) a chunk comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdStream {
    /// Standard output (all output, with a tty).
    Stdout,
    /// Standard error.
    Stderr,
}

impl StdStream {
    /// The stream a log entry names (`"stderr"`, else stdout).
    pub fn of_log(name: &str) -> Self {
        if name == "stderr" {
            StdStream::Stderr
        } else {
            StdStream::Stdout
        }
    }
}

/// One chunk of a container's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    /// Its stream (meaningless when the container has a tty).
    pub stream: StdStream,
    /// The bytes (with the timestamp already prepended when asked for).
    pub data: Bytes,
}

/// A container's log: chunks until the channel closes.
#[derive(Debug)]
pub struct LogStream {
    /// The container has a tty: the output is one raw stream.
    pub tty: bool,
    /// The chunks.
    pub chunks: mpsc::Receiver<LogChunk>,
}
