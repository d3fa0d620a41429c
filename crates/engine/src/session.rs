//! An interactive session with a container or an exec (attach, exec start): the service
//! validates the request and subscribes to the output before returning a [`Session`], then
//! runs it on the client's input and an [`OutputWriter`]. The daemon runs it on a hijacked
//! HTTP connection (`daemon/adapt.rs`: the writer frames the output for the wire).

use std::future::Future;
use std::io;
use std::pin::Pin;

use async_trait::async_trait;
use tokio::io::AsyncRead;

use crate::stream::StdStream;

/// Where a session writes the output it forwards.
#[async_trait]
pub trait OutputWriter: Send {
    /// Writes one chunk of `stream`'s output and flushes it.
    async fn write(&mut self, stream: StdStream, data: &[u8]) -> io::Result<()>;
    /// Ends the output (a half-close where the transport has one).
    async fn shutdown(&mut self) -> io::Result<()>;
}

/// The two directions a session runs on.
pub struct SessionStreams {
    /// What the client sends (the process's stdin); EOF when it half-closes.
    pub stdin: Box<dyn AsyncRead + Send + Unpin>,
    /// Where the process's output goes.
    pub output: Box<dyn OutputWriter>,
}

impl std::fmt::Debug for SessionStreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStreams").finish_non_exhaustive()
    }
}

/// A boxed session future.
pub type SessionFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// An accepted session, not started yet: `run` drives it and returns when it ends.
pub struct Session {
    /// The process has a tty: its output is one raw stream.
    pub tty: bool,
    run: Box<dyn FnOnce(SessionStreams) -> SessionFuture + Send>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("tty", &self.tty)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session running `f` on the streams it is given.
    pub fn new<F, Fut>(tty: bool, f: F) -> Self
    where
        F: FnOnce(SessionStreams) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Session {
            tty,
            run: Box::new(move |s| Box::pin(f(s))),
        }
    }

    /// Runs the session on `streams`.
    pub fn run(self, streams: SessionStreams) -> SessionFuture {
        (self.run)(streams)
    }
}
