//! The framing spoken between the daemon and a shim over the shim's unix socket.
//!
//! Every frame is `[kind: u8][len: u32 big endian][payload]`. The shim sends container
//! output and lifecycle events; the daemon sends stdin, start, kill, resize and close-stdin.

use std::io::{self, Read, Write};

/// Container stdout bytes (shim → daemon).
pub const STDOUT: u8 = 1;
/// Container stderr bytes (shim → daemon).
pub const STDERR: u8 = 2;
/// The container was started; payload = pid as decimal text (shim → daemon).
pub const STARTED: u8 = 10;
/// Starting failed; payload = message (shim → daemon).
pub const START_FAILED: u8 = 11;
/// The container exited; payload = JSON [`ExitRecord`](crate::ExitRecord) (shim → daemon).
pub const EXITED: u8 = 12;
/// The answer to [`KILL`], in the order of the requests: empty when the signal was sent,
/// else why not (shim → daemon).
pub const KILLED: u8 = 13;
/// Bytes for the container's stdin (daemon → shim).
pub const STDIN: u8 = 20;
/// Run `runtime start` (daemon → shim).
pub const START: u8 = 21;
/// Resize the pty; payload = `height width` as text (daemon → shim).
pub const RESIZE: u8 = 22;
/// Close the container's stdin (daemon → shim).
pub const CLOSE_STDIN: u8 = 23;
/// Signal the container's init; payload = the signal number as decimal text (daemon →
/// shim). The shim holds a pidfd of its child, so the signal never reaches another
/// process that reused the pid; answered by [`KILLED`].
pub const KILL: u8 = 24;

/// Largest payload accepted (guards against a garbled stream).
pub const MAX_PAYLOAD: usize = 1 << 20;

/// Encodes one frame; a payload over [`MAX_PAYLOAD`] (which no reader accepts) is refused.
pub fn encode(kind: u8, payload: &[u8]) -> io::Result<Vec<u8>> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|_| payload.len() <= MAX_PAYLOAD)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("shim frame payload of {} bytes", payload.len()),
            )
        })?;
    let mut v = Vec::with_capacity(5 + payload.len());
    v.push(kind);
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(payload);
    Ok(v)
}

/// Writes one frame (blocking).
pub fn write_frame(w: &mut impl Write, kind: u8, payload: &[u8]) -> io::Result<()> {
    w.write_all(&encode(kind, payload)?)
}

/// Reads one frame (blocking); `Ok(None)` on a clean EOF before a frame.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_PAYLOAD {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    Ok(Some((head[0], payload)))
}

/// Incremental decoder for frames arriving in arbitrary chunks.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    /// Adds received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, if any.
    pub fn next_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        if self.buf.len() < 5 {
            return None;
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if self.buf.len() < 5 + len {
            return None;
        }
        let kind = self.buf[0];
        let payload = self.buf[5..5 + len].to_vec();
        self.buf.drain(..5 + len);
        Some((kind, payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_in_pieces() {
        let mut bytes = encode(STDOUT, b"hello").unwrap();
        bytes.extend(encode(EXITED, b"{}").unwrap());
        let mut d = Decoder::default();
        d.push(&bytes[..3]);
        assert!(d.next_frame().is_none());
        d.push(&bytes[3..]);
        assert_eq!(d.next_frame(), Some((STDOUT, b"hello".to_vec())));
        assert_eq!(d.next_frame(), Some((EXITED, b"{}".to_vec())));
        assert!(d.next_frame().is_none());
        let mut r = &bytes[..];
        assert_eq!(read_frame(&mut r).unwrap().unwrap().0, STDOUT);
    }
}
