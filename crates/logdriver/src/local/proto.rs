//! The local driver's record: Docker's `LogEntry` protobuf message
//! (`api/types/plugins/logdriver/entry.proto`) between two big-endian u32 lengths
//! (`[len][message][len]`, the trailing length lets a reader walk backwards).
//!
//! ```text
//! message LogEntry { string source = 1; int64 time_nano = 2; bytes line = 3;
//!                    bool partial = 4; PartialLogEntryMetadata partial_log_metadata = 5; }
//! message PartialLogEntryMetadata { bool last = 1; string id = 2; int32 ordinal = 3; }
//! ```
//!
//! Hand-written: one small message, proto3 rules (zero values omitted, fields in order).

use std::io;

/// One decoded record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// "stdout" or "stderr".
    pub source: String,
    /// Nanoseconds since the epoch.
    pub time_nano: i64,
    /// The line, without its newline.
    pub line: Vec<u8>,
    /// Cut line: `partial_log_metadata` present and not `last`.
    pub partial: bool,
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(((v & 0x7f) as u8) | 0x80);
        v >>= 7;
    }
    out.push((v & 0x7f) as u8);
}

fn bytes_field(out: &mut Vec<u8>, field: u8, data: &[u8]) {
    out.push(field << 3 | 2);
    varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

/// The framed record (`[len][LogEntry][len]`); a record over 4 GiB cannot be framed.
pub fn encode(r: &Record) -> io::Result<Vec<u8>> {
    let mut msg = Vec::with_capacity(r.line.len() + 32);
    if !r.source.is_empty() {
        bytes_field(&mut msg, 1, r.source.as_bytes());
    }
    if r.time_nano != 0 {
        msg.push(2 << 3);
        // int64 on the wire: the two's complement bits as a varint.
        varint(&mut msg, u64::from_ne_bytes(r.time_nano.to_ne_bytes()));
    }
    if !r.line.is_empty() {
        bytes_field(&mut msg, 3, &r.line);
    }
    if r.partial {
        msg.push(4 << 3);
        msg.push(1);
        // Metadata present with `last` false: readers give the line back without a newline.
        bytes_field(&mut msg, 5, &[]);
    }
    let len = u32::try_from(msg.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "log record over 4 GiB"))?
        .to_be_bytes();
    let mut out = Vec::with_capacity(msg.len() + 8);
    out.extend_from_slice(&len);
    out.extend_from_slice(&msg);
    out.extend_from_slice(&len);
    Ok(out)
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.data.get(self.pos)?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    fn bytes(&mut self) -> Option<&[u8]> {
        let n = usize::try_from(self.varint()?).ok()?;
        let s = self.data.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }

    /// Skips a field of an unknown number.
    fn skip(&mut self, wire: u8) -> Option<()> {
        match wire {
            0 => self.varint().map(|_| ()),
            1 => (self.pos + 8 <= self.data.len()).then(|| self.pos += 8),
            2 => self.bytes().map(|_| ()),
            5 => (self.pos + 4 <= self.data.len()).then(|| self.pos += 4),
            _ => None,
        }
    }
}

fn decode_message(data: &[u8]) -> Option<Record> {
    let mut c = Cursor { data, pos: 0 };
    let mut r = Record::default();
    let mut partial_flag = false;
    let mut meta_last: Option<bool> = None;
    while c.pos < data.len() {
        let key = c.varint()?;
        let (field, wire) = (key >> 3, (key & 7) as u8);
        match (field, wire) {
            (1, 2) => r.source = String::from_utf8_lossy(c.bytes()?).into_owned(),
            (2, 0) => r.time_nano = i64::from_ne_bytes(c.varint()?.to_ne_bytes()),
            (3, 2) => r.line = c.bytes()?.to_vec(),
            (4, 0) => partial_flag = c.varint()? != 0,
            (5, 2) => meta_last = Some(decode_last(c.bytes()?)?),
            _ => c.skip(wire)?,
        }
    }
    r.partial = partial_flag && meta_last == Some(false);
    Some(r)
}

fn decode_last(data: &[u8]) -> Option<bool> {
    let mut c = Cursor { data, pos: 0 };
    let mut last = false;
    while c.pos < data.len() {
        let key = c.varint()?;
        match (key >> 3, (key & 7) as u8) {
            (1, 0) => last = c.varint()? != 0,
            (_, wire) => c.skip(wire)?,
        }
    }
    Some(last)
}

/// Every complete record of a file's contents (a torn record at the end is left out).
pub fn decode_all(data: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(head) = data.get(pos..pos + 4) {
        let n = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let Some(msg) = data.get(pos + 4..pos + 4 + n) else {
            break;
        };
        if data.get(pos + 4 + n..pos + 8 + n) != Some(head) {
            break;
        }
        match decode_message(msg) {
            Some(r) => out.push(r),
            None => break,
        }
        pos += n + 8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_matches_protobuf_bytes() {
        let r = Record {
            source: "stdout".into(),
            time_nano: 1,
            line: b"hi".to_vec(),
            partial: false,
        };
        let enc = encode(&r).unwrap();
        // 0a 06 "stdout" 10 01 1a 02 "hi": what gogo/protobuf's Marshal writes.
        let msg = b"\x0a\x06stdout\x10\x01\x1a\x02hi";
        assert_eq!(&enc[4..enc.len() - 4], msg);
        assert_eq!(&enc[..4], &[0, 0, 0, u8::try_from(msg.len()).unwrap()]);
        let p = Record {
            partial: true,
            time_nano: 1_700_000_000_123_456_789,
            ..r.clone()
        };
        let mut both = enc.clone();
        both.extend(encode(&p).unwrap());
        both.extend_from_slice(&[0, 0, 0]); // torn tail
        assert_eq!(decode_all(&both), vec![r, p]);
    }
}
