//! Content digests (`sha256:<hex>`), parsed strictly, and a streaming hasher.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest as _;

use crate::ContentError;

/// A digest algorithm the store accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// SHA-256, the algorithm of every image in practice.
    Sha256,
    /// SHA-512, allowed by the OCI spec.
    Sha512,
}

impl Algorithm {
    /// The algorithm's name as written in digests (`sha256`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Length of the hex-encoded hash.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

/// A validated content digest: `<algorithm>:<lowercase hex>`.
///
/// Parsing is strict (the hex part becomes a file name, so nothing but `[0-9a-f]` of exactly
/// the algorithm's length is accepted): `sha256:../x`, uppercase hex, a wrong length or an
/// unknown algorithm are errors.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    /// The whole string, `sha256:<hex>`.
    repr: String,
}

impl Digest {
    /// Parses a digest string strictly.
    pub fn parse(s: &str) -> Result<Self, ContentError> {
        let invalid = |reason| ContentError::InvalidDigest {
            input: s.chars().take(200).collect(),
            reason,
        };
        let (algo, hex) = s
            .split_once(':')
            .ok_or_else(|| invalid("expected <algorithm>:<hex>"))?;
        let algorithm = Algorithm::from_name(algo)
            .ok_or_else(|| invalid("unsupported algorithm (expected sha256 or sha512)"))?;
        if !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(invalid("the hash must be lowercase hexadecimal"));
        }
        if hex.len() != algorithm.hex_len() {
            return Err(invalid("the hash has the wrong length for its algorithm"));
        }
        Ok(Digest {
            algorithm,
            repr: s.to_owned(),
        })
    }

    /// The SHA-256 digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let mut d = Digester::new(Algorithm::Sha256);
        d.update(bytes);
        d.finish()
    }

    /// The digest's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The hex-encoded hash (safe to use as a file name).
    pub fn hex(&self) -> &str {
        &self.repr[self.algorithm.name().len() + 1..]
    }

    /// The whole digest string.
    pub fn as_str(&self) -> &str {
        &self.repr
    }

    /// The first 12 hex characters, Docker's short id form.
    pub fn short(&self) -> &str {
        &self.hex()[..12]
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repr)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.repr)
    }
}

impl FromStr for Digest {
    type Err = ContentError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.repr)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A streaming hasher producing a [`Digest`].
#[derive(Clone)]
pub struct Digester {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Digester {
    /// A fresh hasher for `algorithm`.
    pub fn new(algorithm: Algorithm) -> Self {
        let inner = match algorithm {
            Algorithm::Sha256 => Inner::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => Inner::Sha512(sha2::Sha512::new()),
        };
        Digester { inner }
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.inner {
            Inner::Sha256(h) => h.update(bytes),
            Inner::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest of everything fed so far.
    pub fn finish(self) -> Digest {
        let (algorithm, hash): (Algorithm, Vec<u8>) = match self.inner {
            Inner::Sha256(h) => (Algorithm::Sha256, h.finalize().to_vec()),
            Inner::Sha512(h) => (Algorithm::Sha512, h.finalize().to_vec()),
        };
        let mut repr = String::with_capacity(algorithm.name().len() + 1 + hash.len() * 2);
        repr.push_str(algorithm.name());
        repr.push(':');
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for b in hash {
            repr.push(HEX[usize::from(b >> 4)] as char);
            repr.push(HEX[usize::from(b & 15)] as char);
        }
        Digest { algorithm, repr }
    }
}

impl fmt::Debug for Digester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.inner {
            Inner::Sha256(_) => "sha256",
            Inner::Sha512(_) => "sha512",
        };
        write!(f, "Digester({name})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn hashes_known_values() {
        assert_eq!(Digest::of(b"").as_str(), EMPTY);
        let mut d = Digester::new(Algorithm::Sha512);
        d.update(b"abc");
        assert_eq!(
            d.finish().hex(),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
    }

    #[test]
    fn parses_valid_digests() {
        let d: Digest = EMPTY.parse().unwrap();
        assert_eq!(d.algorithm(), Algorithm::Sha256);
        assert_eq!(d.hex().len(), 64);
        assert_eq!(d.to_string(), EMPTY);
        assert_eq!(d.short(), "e3b0c44298fc");
        let long = format!("sha512:{}", "a".repeat(128));
        assert_eq!(Digest::parse(&long).unwrap().algorithm(), Algorithm::Sha512);
    }

    #[test]
    fn rejects_hostile_and_malformed_digests() {
        let upper = EMPTY.to_uppercase().replace("SHA256", "sha256");
        let short = &EMPTY[..EMPTY.len() - 1];
        let long = format!("{EMPTY}0");
        let md5 = format!("md5:{}", "0".repeat(32));
        for bad in [
            "sha256:../x",
            "sha256:../../../../etc/passwd",
            upper.as_str(),
            short,
            long.as_str(),
            md5.as_str(),
            "",
            "sha256",
            "sha256:",
            ":abc",
            "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85/",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g",
        ] {
            let err = Digest::parse(bad).expect_err(bad);
            assert!(
                matches!(err, ContentError::InvalidDigest { .. }),
                "{bad}: {err}"
            );
            assert!(err.to_string().contains("invalid digest"), "{err}");
        }
    }

    #[test]
    fn serde_round_trip_is_a_string() {
        let d = Digest::of(b"x");
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{d}\""));
        let back: Digest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
        assert!(serde_json::from_str::<Digest>("\"sha256:../x\"").is_err());
    }
}
