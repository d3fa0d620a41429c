//! Stream framing: Docker's 8-byte stdcopy multiplexing and JSON-lines streams.

use std::io;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// Which standard stream a chunk belongs to (the first byte of a stdcopy header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum StdStream {
    /// 0: stdin (written back only by exotic clients).
    Stdin = 0,
    /// 1: stdout.
    Stdout = 1,
    /// 2: stderr.
    Stderr = 2,
    /// 3: system error (Docker sends one at the end when streaming failed).
    System = 3,
}

/// Media type of an un-multiplexed (tty) raw stream.
pub const MEDIA_RAW_STREAM: &str = "application/vnd.docker.raw-stream";
/// Media type of a stdcopy-multiplexed stream (API ≥ 1.42 announces it).
pub const MEDIA_MULTIPLEXED_STREAM: &str = "application/vnd.docker.multiplexed-stream";

/// Frames `data` with the stdcopy header `[stream, 0, 0, 0, len (u32 big endian)]`.
/// Data longer than a frame can say (4 GiB) becomes several frames.
pub fn stdcopy_frame(stream: StdStream, data: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(8 + data.len());
    let mut rest = data;
    loop {
        let len = u32::try_from(rest.len()).unwrap_or(u32::MAX);
        let (part, tail) = rest.split_at(len as usize);
        b.put_u8(stream as u8);
        b.put_slice(&[0, 0, 0]);
        b.put_u32(len);
        b.put_slice(part);
        if tail.is_empty() {
            return b.freeze();
        }
        rest = tail;
    }
}

/// Splits a stdcopy stream back into `(stream, payload)` frames (client side and tests).
/// Returns the frames and the number of bytes consumed (an incomplete tail is left).
pub fn stdcopy_parse(buf: &[u8]) -> (Vec<(u8, Vec<u8>)>, usize) {
    let mut out = Vec::new();
    let mut pos = 0;
    while buf.len() - pos >= 8 {
        let len =
            u32::from_be_bytes([buf[pos + 4], buf[pos + 5], buf[pos + 6], buf[pos + 7]]) as usize;
        if buf.len() - pos - 8 < len {
            break;
        }
        out.push((buf[pos], buf[pos + 8..pos + 8 + len].to_vec()));
        pos += 8 + len;
    }
    (out, pos)
}

/// One chunk of container output for the logs endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    /// Source stream (ignored when the container has a tty).
    pub stream: StdStream,
    /// Bytes (with timestamps already prepended when requested).
    pub data: Bytes,
}

/// What an engine returns for `GET /containers/{id}/logs`: chunks until the channel closes.
#[derive(Debug)]
pub struct LogStream {
    /// Container has a tty: raw output, no framing.
    pub tty: bool,
    /// The chunks.
    pub chunks: mpsc::Receiver<LogChunk>,
}

/// A raw byte stream (export, save, archive download); an `Err` aborts the response.
pub type ByteStream = mpsc::Receiver<io::Result<Bytes>>;

/// A stream of JSON messages (pull/push/load progress, events), one JSON document per line.
pub type JsonStream<T> = mpsc::Receiver<T>;

/// Serializes one JSON-lines record (`<json>\n`).
pub fn json_line<T: Serialize>(value: &T) -> Bytes {
    let mut v = serde_json::to_vec(value)
        .unwrap_or_else(|e| format!("{{\"error\":{:?}}}", e.to_string()).into_bytes());
    v.push(b'\n');
    Bytes::from(v)
}

/// Where a hijacked session writes container output: multiplexed with stdcopy headers
/// unless the session has a tty.
pub struct OutputSink {
    writer: Box<dyn AsyncWrite + Send + Unpin>,
    multiplexed: bool,
}

impl std::fmt::Debug for OutputSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputSink")
            .field("multiplexed", &self.multiplexed)
            .finish_non_exhaustive()
    }
}

impl OutputSink {
    /// Wraps a writer; `multiplexed` = no tty.
    pub fn new(writer: Box<dyn AsyncWrite + Send + Unpin>, multiplexed: bool) -> Self {
        OutputSink {
            writer,
            multiplexed,
        }
    }

    /// True when output is framed with stdcopy headers.
    pub fn is_multiplexed(&self) -> bool {
        self.multiplexed
    }

    /// Writes one chunk of `stream` output (framed when multiplexed) and flushes it.
    pub async fn write(&mut self, stream: StdStream, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if self.multiplexed {
            self.writer.write_all(&stdcopy_frame(stream, data)).await?;
        } else {
            self.writer.write_all(data).await?;
        }
        self.writer.flush().await
    }

    /// Ends the output side (half-close when the transport supports it).
    pub async fn shutdown(&mut self) -> io::Result<()> {
        self.writer.shutdown().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdcopy_header_layout() {
        let f = stdcopy_frame(StdStream::Stderr, b"hello");
        assert_eq!(&f[..8], &[2, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(&f[8..], b"hello");
        let mut two = f.to_vec();
        two.extend_from_slice(&stdcopy_frame(StdStream::Stdout, &[7u8; 300]));
        two.extend_from_slice(&[1, 0, 0]); // incomplete header
        let (frames, used) = stdcopy_parse(&two);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1].0, 1);
        assert_eq!(frames[1].1.len(), 300);
        assert_eq!(used, two.len() - 3);
        let big = stdcopy_frame(StdStream::Stdout, &vec![0u8; 70000]);
        assert_eq!(&big[4..8], &70000u32.to_be_bytes());
    }

    #[tokio::test]
    async fn sink_frames_only_without_tty() {
        let (a, mut b) = tokio::io::duplex(1024);
        let mut sink = OutputSink::new(Box::new(a), true);
        sink.write(StdStream::Stdout, b"hi").await.unwrap();
        sink.shutdown().await.unwrap();
        drop(sink);
        let mut got = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut b, &mut got)
            .await
            .unwrap();
        assert_eq!(got, [1, 0, 0, 0, 0, 0, 0, 2, b'h', b'i']);

        let (a, mut b) = tokio::io::duplex(1024);
        let mut raw = OutputSink::new(Box::new(a), false);
        raw.write(StdStream::Stdout, b"hi").await.unwrap();
        drop(raw);
        let mut got = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut b, &mut got)
            .await
            .unwrap();
        assert_eq!(got, b"hi");
    }
}
