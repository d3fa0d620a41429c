//! Compose's scalar types with their own text forms: durations (Go's `time.Duration`),
//! byte sizes (`512m`, written back as a decimal string) and octal file modes.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration in nanoseconds, read as Go's `time.ParseDuration` and written as `String()`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub i64);

impl Duration {
    /// As a std duration (negative → zero).
    pub fn std(self) -> std::time::Duration {
        std::time::Duration::from_nanos(u64::try_from(self.0).unwrap_or(0))
    }

    /// Parses `1m30s`, `1.5s`, `100ms`, `2h` (a bare integer is seconds).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(n) = s.parse::<i64>() {
            return Ok(Duration(n.saturating_mul(1_000_000_000)));
        }
        // compose-go reports Go's message without its `time: ` prefix.
        berth_units::parse_go_duration(s)
            .map(Duration)
            .map_err(|e| e.to_string().trim_start_matches("time: ").to_string())
    }
}

impl fmt::Display for Duration {
    /// Go's `time.Duration.String()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&berth_units::format_go_duration(self.0))
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Duration::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A size in bytes: `512m`, `1g`, `100000` (docker's `RAMInBytes`, binary units).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnitBytes(pub i64);

impl UnitBytes {
    /// Parses docker's RAM size text.
    pub fn parse(s: &str) -> Result<Self, String> {
        berth_units::ram_in_bytes(s.trim())
            .map(UnitBytes)
            .map_err(|e| e.to_string())
    }
}

impl Serialize for UnitBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for UnitBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        UnitBytes::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A file mode, read as octal text or a number, written as `"0444"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileMode(pub u32);

impl Serialize for FileMode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0{:o}", self.0))
    }
}

impl<'de> Deserialize<'de> for FileMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u32),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(FileMode(n)),
            Raw::S(s) => u32::from_str_radix(s.trim_start_matches("0o"), 8)
                .map(FileMode)
                .map_err(|_| serde::de::Error::custom(format!("invalid file mode {s:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_go() {
        for (text, shown) in [
            ("1s", "1s"),
            ("90s", "1m30s"),
            ("1.5s", "1.5s"),
            ("100ms", "100ms"),
            ("2h", "2h0m0s"),
            ("1m", "1m0s"),
            ("0s", "0s"),
            ("10", "10s"),
            ("1h2m3s", "1h2m3s"),
        ] {
            assert_eq!(Duration::parse(text).unwrap().to_string(), shown, "{text}");
        }
        assert!(Duration::parse("3x").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(UnitBytes::parse("512m").unwrap().0, 512 << 20);
        assert_eq!(UnitBytes::parse("1G").unwrap().0, 1 << 30);
        assert_eq!(UnitBytes::parse("100").unwrap().0, 100);
        assert!(UnitBytes::parse("lots").is_err());
    }
}
