//! Detach key sequences (`--detach-keys`, `detachKeys` of config.json, the `detachKeys` query
//! of attach and `DetachKeys` of exec create): parsing and the escape scanner that both the
//! daemon (on attach/exec connections with a tty) and the CLI (on its raw terminal) run.
//!
//! The format is moby/term's `ToBytes`: comma-separated keys, each a single character or one
//! of `ctrl-@`, `ctrl-a` … `ctrl-z`, `ctrl-[`, `ctrl-\`, `ctrl-]`, `ctrl-^`, `ctrl-_`, `DEL`.

/// Docker's default: ctrl-p, ctrl-q.
pub const DEFAULT: [u8; 2] = [16, 17];

/// A detach key string that is not a key sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidDetachKeys {
    /// The offending key (moby/term's "Unknown character").
    pub key: String,
}

impl std::fmt::Display for InvalidDetachKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Unknown character: '{}'", self.key)
    }
}

impl std::error::Error for InvalidDetachKeys {}

/// `"ctrl-p,ctrl-q"` → `[16, 17]`; an empty string is the empty sequence.
pub fn parse(keys: &str) -> Result<Vec<u8>, InvalidDetachKeys> {
    let mut codes = Vec::new();
    if keys.is_empty() {
        return Ok(codes);
    }
    for key in keys.split(',') {
        if key.len() == 1 {
            codes.push(key.as_bytes()[0]);
            continue;
        }
        if key == "DEL" {
            codes.push(127);
            continue;
        }
        let code = key
            .strip_prefix("ctrl-")
            .and_then(|rest| match rest.as_bytes() {
                [c @ b'a'..=b'z'] => Some(c - b'a' + 1),
                [b'@'] => Some(0),
                [b'['] => Some(27),
                [b'\\'] => Some(28),
                [b']'] => Some(29),
                [b'^'] => Some(30),
                [b'_'] => Some(31),
                _ => None,
            });
        match code {
            Some(c) => codes.push(c),
            None => {
                return Err(InvalidDetachKeys {
                    key: key.to_string(),
                })
            }
        }
    }
    Ok(codes)
}

/// The sequence to watch for: `keys` when given and not empty, else [`DEFAULT`].
pub fn sequence_or_default(keys: Option<&str>) -> Result<Vec<u8>, InvalidDetachKeys> {
    match keys.filter(|k| !k.is_empty()) {
        Some(k) => {
            let v = parse(k)?;
            Ok(if v.is_empty() { DEFAULT.to_vec() } else { v })
        }
        None => Ok(DEFAULT.to_vec()),
    }
}

/// What [`EscapeScanner::feed`] found in a chunk of input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// Bytes to pass on (possibly empty while a partial sequence is held back).
    Pass(Vec<u8>),
    /// The full sequence was typed: pass these bytes (typed before it), then detach.
    Detach(Vec<u8>),
}

/// moby/term's `EscapeProxy`: bytes that could start the sequence are held back; when the
/// sequence completes the session detaches, when it breaks off they are passed on.
#[derive(Debug, Clone)]
pub struct EscapeScanner {
    keys: Vec<u8>,
    matched: usize,
}

impl EscapeScanner {
    /// A scanner for `keys` (an empty sequence never detaches).
    pub fn new(keys: Vec<u8>) -> Self {
        EscapeScanner { keys, matched: 0 }
    }

    /// Scans one chunk of input.
    pub fn feed(&mut self, data: &[u8]) -> Scan {
        let mut out = Vec::with_capacity(data.len());
        if self.keys.is_empty() {
            out.extend_from_slice(data);
            return Scan::Pass(out);
        }
        for &b in data {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return Scan::Detach(out);
                }
                continue;
            }
            // The held-back prefix was not the sequence: release it, then look at `b` afresh.
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    self.matched = 0;
                    return Scan::Detach(out);
                }
            } else {
                out.push(b);
            }
        }
        Scan::Pass(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_key_names() {
        assert_eq!(parse("ctrl-p,ctrl-q").unwrap(), vec![16, 17]);
        assert_eq!(
            parse("ctrl-a,x,DEL,ctrl-@,ctrl-_").unwrap(),
            vec![1, b'x', 127, 0, 31]
        );
        assert_eq!(parse("").unwrap(), Vec::<u8>::new());
        assert_eq!(
            parse("ctrl-p,foo").unwrap_err().to_string(),
            "Unknown character: 'foo'"
        );
        assert!(parse("ctrl-1").is_err());
        assert_eq!(sequence_or_default(None).unwrap(), DEFAULT.to_vec());
        assert_eq!(sequence_or_default(Some("")).unwrap(), DEFAULT.to_vec());
        assert_eq!(sequence_or_default(Some("ctrl-x")).unwrap(), vec![24]);
    }

    #[test]
    fn scanner_holds_back_prefixes_and_detaches_across_chunks() {
        let mut s = EscapeScanner::new(DEFAULT.to_vec());
        assert_eq!(s.feed(b"ab"), Scan::Pass(b"ab".to_vec()));
        assert_eq!(s.feed(&[b'c', 16]), Scan::Pass(b"c".to_vec()));
        assert_eq!(s.feed(&[17, b'z']), Scan::Detach(Vec::new()));
        // A broken-off prefix is released with the byte that broke it.
        let mut s = EscapeScanner::new(DEFAULT.to_vec());
        assert_eq!(s.feed(&[16, b'x']), Scan::Pass(vec![16, b'x']));
        assert_eq!(s.feed(&[16, 16, 17]), Scan::Detach(vec![16]));
        let mut s = EscapeScanner::new(vec![b'q']);
        assert_eq!(s.feed(b"abq"), Scan::Detach(b"ab".to_vec()));
        let mut s = EscapeScanner::new(Vec::new());
        assert_eq!(s.feed(&[16, 17]), Scan::Pass(vec![16, 17]));
    }
}
