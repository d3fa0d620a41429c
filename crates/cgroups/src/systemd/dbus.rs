//! A minimal, blocking D-Bus client: the few method calls and the one signal the systemd
//! driver needs, on a direct (peer-to-peer) connection to systemd's private socket.
//!
//! What it speaks: SASL `EXTERNAL` authentication (the peer checks our uid through
//! SO_PEERCRED), little-endian messages (type, flags, version 1, header fields `a(yv)`),
//! method calls with a body the caller marshals with [`Encoder`], and replies, errors and
//! signals read back with [`Decoder`]. No bus daemon is involved (no `Hello`, no match
//! rules): systemd sends its `JobRemoved` signals to every direct connection unasked. Why
//! this and not zbus: docs/cgroups.md.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// Message types (the header's second byte).
const METHOD_CALL: u8 = 1;
const METHOD_RETURN: u8 = 2;
const ERROR: u8 = 3;
/// A signal.
pub const SIGNAL: u8 = 4;

/// Header field codes.
const FIELD_PATH: u8 = 1;
const FIELD_INTERFACE: u8 = 2;
const FIELD_MEMBER: u8 = 3;
const FIELD_ERROR_NAME: u8 = 4;
const FIELD_REPLY_SERIAL: u8 = 5;
const FIELD_DESTINATION: u8 = 6;
const FIELD_SIGNATURE: u8 = 8;

/// A length as the wire's `u32`. Our messages are a few KiB; one over 4 GiB (or over the
/// bus's 128 MiB limit) is refused by the bus, so saturating cannot make a wrong message pass.
fn wire_len(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Writes D-Bus wire format (little endian), aligned from the start of its buffer (a message
/// body starts 8-aligned, so a body encoded on its own aligns as it will on the wire).
#[derive(Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    /// An empty buffer.
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    fn pad(&mut self, align: usize) {
        while self.buf.len() % align != 0 {
            self.buf.push(0);
        }
    }

    /// `y`.
    pub fn byte(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// `b` (a 32-bit 0 or 1).
    pub fn boolean(&mut self, v: bool) {
        self.u32(u32::from(v));
    }

    /// `u`.
    pub fn u32(&mut self, v: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// `t`.
    pub fn u64(&mut self, v: u64) {
        self.pad(8);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// `s` or `o`: length, bytes, NUL.
    pub fn string(&mut self, v: &str) {
        self.u32(wire_len(v.len()));
        self.buf.extend_from_slice(v.as_bytes());
        self.buf.push(0);
    }

    /// `g`: one-byte length, bytes, NUL.
    pub fn signature(&mut self, v: &str) {
        // A signature is at most 255 bytes (ours are a few); a longer one is refused by the bus.
        self.buf.push(u8::try_from(v.len()).unwrap_or(u8::MAX));
        self.buf.extend_from_slice(v.as_bytes());
        self.buf.push(0);
    }

    /// An array whose elements align to `element_align` (8 for structs and `t`); `f`
    /// writes the elements.
    pub fn array(&mut self, element_align: usize, f: impl FnOnce(&mut Encoder)) {
        self.pad(4);
        let len_at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        self.pad(element_align);
        let start = self.buf.len();
        f(self);
        let len = wire_len(self.buf.len() - start);
        self.buf[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
    }

    /// The start of a struct (8-aligned).
    pub fn begin_struct(&mut self) {
        self.pad(8);
    }

    /// `v` holding `value`.
    pub fn variant(&mut self, value: &Value) {
        self.signature(&value.signature());
        value.encode(self);
    }
}

/// The values the driver puts in variants (unit properties).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `b`.
    Bool(bool),
    /// `t`.
    U64(u64),
    /// `s`.
    Str(String),
    /// `au`.
    U32s(Vec<u32>),
    /// `ay`.
    Bytes(Vec<u8>),
}

impl Value {
    /// Its D-Bus signature.
    pub fn signature(&self) -> String {
        match self {
            Value::Bool(_) => "b",
            Value::U64(_) => "t",
            Value::Str(_) => "s",
            Value::U32s(_) => "au",
            Value::Bytes(_) => "ay",
        }
        .into()
    }

    fn encode(&self, e: &mut Encoder) {
        match self {
            Value::Bool(b) => e.boolean(*b),
            Value::U64(v) => e.u64(*v),
            Value::Str(s) => e.string(s),
            Value::U32s(v) => e.array(4, |e| v.iter().for_each(|x| e.u32(*x))),
            Value::Bytes(v) => e.array(1, |e| v.iter().for_each(|x| e.byte(*x))),
        }
    }
}

/// Reads D-Bus wire format (little endian) from a buffer aligned at its start.
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn short() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "truncated D-Bus message")
}

impl<'a> Decoder<'a> {
    /// Reads `buf` from its start.
    pub fn new(buf: &'a [u8]) -> Decoder<'a> {
        Decoder { buf, pos: 0 }
    }

    fn align(&mut self, n: usize) {
        self.pos = self.pos.div_ceil(n) * n;
    }

    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or_else(short)?;
        let s = self.buf.get(self.pos..end).ok_or_else(short)?;
        self.pos = end;
        Ok(s)
    }

    /// `y`.
    pub fn byte(&mut self) -> io::Result<u8> {
        Ok(self.take(1)?[0])
    }

    /// `u`.
    pub fn u32(&mut self) -> io::Result<u32> {
        self.align(4);
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// `s` or `o`.
    pub fn string(&mut self) -> io::Result<String> {
        let len = self.u32()? as usize;
        let s = self.take(len + 1)?;
        Ok(String::from_utf8_lossy(&s[..len]).into_owned())
    }

    /// `g`.
    pub fn signature(&mut self) -> io::Result<String> {
        let len = self.byte()? as usize;
        let s = self.take(len + 1)?;
        Ok(String::from_utf8_lossy(&s[..len]).into_owned())
    }
}

/// A message read from the connection.
#[derive(Clone, Debug, Default)]
pub struct Message {
    /// METHOD_RETURN, ERROR or SIGNAL.
    pub kind: u8,
    /// The call it answers.
    pub reply_serial: Option<u32>,
    /// A signal's interface.
    pub interface: String,
    /// A signal's member.
    pub member: String,
    /// An error's name (`org.freedesktop.systemd1.NoSuchUnit`).
    pub error_name: String,
    /// The body's signature.
    pub signature: String,
    /// The body.
    pub body: Vec<u8>,
}

impl Message {
    /// The body's first string (an error's message, a returned object path).
    pub fn first_string(&self) -> String {
        if self.signature.starts_with(['s', 'o']) {
            Decoder::new(&self.body).string().unwrap_or_default()
        } else {
            String::new()
        }
    }
}

/// A method call failed: the error's name and message, or the connection failed.
#[derive(Debug)]
pub enum CallError {
    /// The peer answered with an error.
    Remote {
        /// `org.freedesktop.systemd1.UnitExists`, …
        name: String,
        /// Its message.
        message: String,
    },
    /// Reading or writing the socket failed (or timed out).
    Io(io::Error),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Remote { name, message } => write!(f, "{message} ({name})"),
            CallError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<io::Error> for CallError {
    fn from(e: io::Error) -> Self {
        CallError::Io(e)
    }
}

/// A direct connection to a D-Bus peer (systemd's private socket).
pub struct Connection {
    stream: UnixStream,
    serial: u32,
    /// Signals read while waiting for a reply, for [`Connection::wait_signal`].
    signals: Vec<Message>,
}

impl Connection {
    /// Connects to the socket at `path` and authenticates with our uid (SASL EXTERNAL).
    pub fn connect(path: &Path) -> io::Result<Connection> {
        let mut stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let uid = rustix_uid().to_string();
        let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
        stream.write_all(format!("\0AUTH EXTERNAL {hex}\r\n").as_bytes())?;
        let line = read_line(&mut stream)?;
        if !line.starts_with("OK ") {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("D-Bus authentication refused: {line:?}"),
            ));
        }
        stream.write_all(b"BEGIN\r\n")?;
        Ok(Connection {
            stream,
            serial: 0,
            signals: Vec::new(),
        })
    }

    /// Calls `interface.member` on `path` with `body` (of `signature`) and waits (up to
    /// `timeout`) for the reply.
    pub fn call(
        &mut self,
        path: &str,
        interface: &str,
        member: &str,
        signature: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Message, CallError> {
        self.serial += 1;
        let serial = self.serial;
        let mut e = Encoder::new();
        e.byte(b'l');
        e.byte(METHOD_CALL);
        e.byte(0);
        e.byte(1);
        e.u32(wire_len(body.len()));
        e.u32(serial);
        let field = |e: &mut Encoder, code: u8, sig: &str, value: &str| {
            e.begin_struct();
            e.byte(code);
            e.signature(sig);
            if sig == "g" {
                e.signature(value);
            } else {
                e.string(value);
            }
        };
        e.array(8, |e| {
            field(e, FIELD_PATH, "o", path);
            field(e, FIELD_INTERFACE, "s", interface);
            field(e, FIELD_MEMBER, "s", member);
            field(e, FIELD_DESTINATION, "s", "org.freedesktop.systemd1");
            if !signature.is_empty() {
                field(e, FIELD_SIGNATURE, "g", signature);
            }
        });
        e.pad(8);
        let mut msg = e.into_bytes();
        msg.extend_from_slice(&body);
        self.stream.write_all(&msg)?;
        let deadline = Instant::now() + timeout;
        loop {
            let m = self.read(deadline)?;
            match m.kind {
                SIGNAL => self.signals.push(m),
                METHOD_RETURN if m.reply_serial == Some(serial) => return Ok(m),
                ERROR if m.reply_serial == Some(serial) => {
                    return Err(CallError::Remote {
                        message: m.first_string(),
                        name: m.error_name,
                    })
                }
                _ => {}
            }
        }
    }

    /// Waits until `deadline` for a signal `matches` accepts (signals read earlier first).
    pub fn wait_signal(
        &mut self,
        deadline: Instant,
        matches: impl Fn(&Message) -> bool,
    ) -> io::Result<Message> {
        if let Some(i) = self.signals.iter().position(&matches) {
            return Ok(self.signals.remove(i));
        }
        loop {
            let m = self.read(deadline)?;
            if m.kind == SIGNAL && matches(&m) {
                return Ok(m);
            }
        }
    }

    fn read(&mut self, deadline: Instant) -> io::Result<Message> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no answer from systemd",
            ));
        }
        self.stream.set_read_timeout(Some(left))?;
        let mut fixed = [0u8; 16];
        self.stream.read_exact(&mut fixed)?;
        if fixed[0] != b'l' {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "big-endian D-Bus messages are not supported",
            ));
        }
        let word =
            |i: usize| u32::from_le_bytes([fixed[i], fixed[i + 1], fixed[i + 2], fixed[i + 3]]);
        let (body_len, fields_len) = (word(4) as usize, word(12) as usize);
        if body_len > 64 << 20 || fields_len > 64 << 20 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "oversized D-Bus message",
            ));
        }
        let header_len = (16 + fields_len).div_ceil(8) * 8;
        let mut all = fixed.to_vec();
        all.resize(header_len + body_len, 0);
        self.stream.read_exact(&mut all[16..])?;
        let mut m = Message {
            kind: fixed[1],
            body: all[header_len..].to_vec(),
            ..Message::default()
        };
        let mut d = Decoder::new(&all[..16 + fields_len]);
        d.pos = 16;
        while d.pos < 16 + fields_len {
            d.align(8);
            let code = d.byte()?;
            let sig = d.signature()?;
            match sig.as_str() {
                "u" => {
                    let v = d.u32()?;
                    if code == FIELD_REPLY_SERIAL {
                        m.reply_serial = Some(v);
                    }
                }
                "s" | "o" => {
                    let v = d.string()?;
                    match code {
                        FIELD_INTERFACE => m.interface = v,
                        FIELD_MEMBER => m.member = v,
                        FIELD_ERROR_NAME => m.error_name = v,
                        _ => {}
                    }
                }
                "g" => {
                    let v = d.signature()?;
                    if code == FIELD_SIGNATURE {
                        m.signature = v;
                    }
                }
                other => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("unexpected D-Bus header field type {other:?}"),
                    ))
                }
            }
        }
        Ok(m)
    }
}

/// Our effective uid (what SO_PEERCRED shows the peer).
fn rustix_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// One `\r\n`-terminated line of the authentication exchange, read byte by byte so that
/// nothing of the message stream after it is consumed.
fn read_line(stream: &mut UnixStream) -> io::Result<String> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        if stream.read(&mut b)? == 0 || line.len() > 4096 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "D-Bus authentication: connection closed",
            ));
        }
        line.push(b[0]);
    }
    line.truncate(line.len() - 2);
    Ok(String::from_utf8_lossy(&line).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_property_arrays_with_dbus_alignment() {
        let mut e = Encoder::new();
        e.string("a");
        e.array(8, |e| {
            e.begin_struct();
            e.string("PIDs");
            e.variant(&Value::U32s(vec![7]));
        });
        let b = e.into_bytes();
        // "a": len 1, 'a', NUL (6 bytes), pad to 8, array length, pad to 8, struct.
        assert_eq!(&b[..6], &[1, 0, 0, 0, b'a', 0]);
        assert_eq!(&b[8..12], &wire_len(b.len() - 16).to_le_bytes());
        assert_eq!(&b[16..20], &4u32.to_le_bytes());
        assert_eq!(&b[20..25], b"PIDs\0");
        assert_eq!(&b[25..29], &[2, b'a', b'u', 0]);
        assert_eq!(&b[29..40], &[0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0]);
    }

    #[test]
    fn decodes_what_it_encodes() {
        let mut e = Encoder::new();
        e.u32(5);
        e.string("/org/freedesktop/systemd1/job/42");
        e.signature("uoss");
        let b = e.into_bytes();
        let mut d = Decoder::new(&b);
        assert_eq!(d.u32().unwrap(), 5);
        assert_eq!(d.string().unwrap(), "/org/freedesktop/systemd1/job/42");
        assert_eq!(d.signature().unwrap(), "uoss");
        assert!(d.byte().is_err());
    }
}
