//! Ownership shifted in tar streams that leave or enter a remapped container (`docker cp`,
//! `export`, `commit`): its files are stored in the host's remapped ids, the tar speaks the
//! container's ids, as dockerd's archives with its `IdentityMapping` do.
//!
//! The shift rewrites the uid and gid fields of each entry's header block (and its
//! checksum) as the stream goes by, whatever produced it: headers are found by walking the
//! stream block by block (512 bytes) and skipping each entry's data. Pax and GNU long-name
//! entries pass unchanged; an id the mapping does not cover is kept as it is.

use std::io::{self, Read, Write};

use super::IdMapping;

const BLOCK: usize = 512;

/// Which way ids go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Host (remapped) ids to the container's (what leaves the container).
    ToContainer,
    /// The container's ids to the host's remapped ones (what enters it).
    ToHost,
}

/// The block walker shared by [`ShiftWriter`] and [`ShiftReader`].
struct Shifter<'a> {
    map: &'a IdMapping,
    direction: Direction,
    /// Data blocks of the current entry still to pass.
    data_left: u64,
    /// A block that is not a header was met where one should be: pass the rest unchanged.
    lost: bool,
}

impl Shifter<'_> {
    /// Rewrites the headers among the whole blocks at the start of `data`; returns how many
    /// bytes (whole blocks) it went over.
    fn process(&mut self, data: &mut [u8]) -> usize {
        let whole = data.len() / BLOCK * BLOCK;
        for block in data[..whole].chunks_exact_mut(BLOCK) {
            if self.lost {
                break;
            }
            if self.data_left > 0 {
                self.data_left -= 1;
                continue;
            }
            if block.iter().all(|b| *b == 0) {
                continue;
            }
            if !checksum_ok(block) {
                self.lost = true;
                break;
            }
            let Some(size) = parse_number(&block[124..136]) else {
                self.lost = true;
                break;
            };
            self.data_left = size.div_ceil(BLOCK as u64);
            if matches!(block[156], b'x' | b'g' | b'L' | b'K') {
                continue;
            }
            // An owner beyond 32 bits is not an id a mapping can hold: left as it is.
            let (Some(uid), Some(gid)) = (
                parse_number(&block[108..116]).and_then(|n| u32::try_from(n).ok()),
                parse_number(&block[116..124]).and_then(|n| u32::try_from(n).ok()),
            ) else {
                continue;
            };
            let (new_uid, new_gid) = match self.direction {
                Direction::ToContainer => (
                    self.map.container_uid(uid).unwrap_or(uid),
                    self.map.container_gid(gid).unwrap_or(gid),
                ),
                Direction::ToHost => (
                    self.map.host_uid(uid).unwrap_or(uid),
                    self.map.host_gid(gid).unwrap_or(gid),
                ),
            };
            if (new_uid, new_gid) != (uid, gid) {
                write_number(&mut block[108..116], new_uid.into());
                write_number(&mut block[116..124], new_gid.into());
                set_checksum(block);
            }
        }
        whole
    }
}

/// A tar number field: octal text, or base-256 when the first byte has its top bit set.
fn parse_number(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        let mut n: u64 = u64::from(field[0] & 0x7f);
        for b in &field[1..] {
            n = n.checked_mul(256)?.checked_add(u64::from(*b))?;
        }
        return Some(n);
    }
    let text: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|b| *b == b' ')
        .take_while(|b| (b'0'..=b'7').contains(b))
        .collect();
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(std::str::from_utf8(&text).ok()?, 8).ok()
}

/// Writes `n` into an 8-byte id field: 7 octal digits and a NUL, or base-256 when larger.
fn write_number(field: &mut [u8], n: u64) {
    if n < 0o10000000 {
        let text = format!("{n:07o}\0");
        field.copy_from_slice(text.as_bytes());
    } else {
        let bytes = n.to_be_bytes();
        let len = field.len();
        field[0] = 0x80;
        field[1..].copy_from_slice(&bytes[bytes.len() - (len - 1)..]);
    }
}

fn checksum_of(block: &[u8]) -> u64 {
    block
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                u64::from(b' ')
            } else {
                u64::from(*b)
            }
        })
        .sum()
}

fn checksum_ok(block: &[u8]) -> bool {
    parse_number(&block[148..156]) == Some(checksum_of(block))
}

fn set_checksum(block: &mut [u8]) {
    let sum = checksum_of(block);
    block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// A writer that shifts the ownership of the tar written through it.
pub struct ShiftWriter<'a, W: Write> {
    inner: W,
    shifter: Shifter<'a>,
    pending: Vec<u8>,
}

impl<'a, W: Write> ShiftWriter<'a, W> {
    /// Writes to `inner`, ids shifted `direction` through `map`.
    pub fn new(inner: W, map: &'a IdMapping, direction: Direction) -> Self {
        ShiftWriter {
            inner,
            shifter: Shifter {
                map,
                direction,
                data_left: 0,
                lost: false,
            },
            pending: Vec::new(),
        }
    }
}

impl<W: Write> Write for ShiftWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        let done = self.shifter.process(&mut self.pending);
        self.inner.write_all(&self.pending[..done])?;
        self.pending.drain(..done);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // A tar is whole blocks: a partial one is only ever the end of a broken stream.
        if !self.pending.is_empty() && self.shifter.lost {
            self.inner.write_all(&self.pending)?;
            self.pending.clear();
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for ShiftWriter<'_, W> {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let _ = self.inner.write_all(&self.pending);
        }
        let _ = self.inner.flush();
    }
}

/// A reader that shifts the ownership of the tar read through it.
pub struct ShiftReader<'a, R: Read> {
    inner: R,
    shifter: Shifter<'a>,
    buf: Vec<u8>,
    /// Bytes of `buf` processed and not yet handed out: `buf[start..ready]`.
    start: usize,
    ready: usize,
    eof: bool,
}

impl<'a, R: Read> ShiftReader<'a, R> {
    /// Reads from `inner`, ids shifted `direction` through `map`.
    pub fn new(inner: R, map: &'a IdMapping, direction: Direction) -> Self {
        ShiftReader {
            inner,
            shifter: Shifter {
                map,
                direction,
                data_left: 0,
                lost: false,
            },
            buf: Vec::new(),
            start: 0,
            ready: 0,
            eof: false,
        }
    }
}

impl<R: Read> Read for ShiftReader<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.start == self.ready {
            self.buf.drain(..self.ready);
            self.start = 0;
            self.ready = 0;
            if self.eof {
                // The tail that is not a whole block goes out as it is.
                self.ready = self.buf.len();
                if self.ready == 0 {
                    return Ok(0);
                }
                break;
            }
            let have = self.buf.len();
            self.buf.resize(have + 64 * 1024, 0);
            let n = self.inner.read(&mut self.buf[have..])?;
            self.buf.truncate(have + n);
            if n == 0 {
                self.eof = true;
            }
            self.ready = self.shifter.process(&mut self.buf);
        }
        let n = out.len().min(self.ready - self.start);
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remap::IdRange;

    fn map() -> IdMapping {
        let r = |host| {
            vec![IdRange {
                container: 0,
                host,
                size: 65_536,
            }]
        };
        IdMapping::from_ranges(r(1_000_000_000), r(1_000_000_000))
    }

    fn tar_of(entries: &[(&str, u64, u64, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, uid, gid, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_uid(*uid);
            h.set_gid(*gid);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn owners(tar: &[u8]) -> Vec<(String, u64, u64, Vec<u8>)> {
        let mut a = tar::Archive::new(tar);
        a.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let h = e.header().clone();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    h.uid().unwrap(),
                    h.gid().unwrap(),
                    data,
                )
            })
            .collect()
    }

    #[test]
    fn ids_shift_both_ways_and_data_is_untouched() {
        let m = map();
        let long = "d/".repeat(80) + "f";
        let body = vec![7u8; 1500];
        let host = tar_of(&[
            ("a", 1_000_000_000, 1_000_000_005, b"x"),
            (&long, 1_000_000_033, 1_000_000_000, &body),
            ("out", 70_000, 4_000_000_000, b""),
        ]);
        // Written in odd pieces, as a tar builder does.
        let mut out = Vec::new();
        {
            let mut w = ShiftWriter::new(&mut out, &m, Direction::ToContainer);
            for chunk in host.chunks(333) {
                w.write_all(chunk).unwrap();
            }
            w.flush().unwrap();
        }
        assert_eq!(
            owners(&out),
            vec![
                ("a".into(), 0, 5, b"x".to_vec()),
                (long.clone(), 33, 0, body.clone()),
                ("out".into(), 70_000, 4_000_000_000, vec![]),
            ]
        );
        let mut back = Vec::new();
        ShiftReader::new(&out[..], &m, Direction::ToHost)
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(owners(&back), owners(&host));
        assert_eq!(back.len(), host.len());
    }
}
