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
        std::time::Duration::from_nanos(self.0.max(0) as u64)
    }

    /// Parses `1m30s`, `1.5s`, `100ms`, `2h` (a bare integer is seconds).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(n) = s.parse::<i64>() {
            return Ok(Duration(n.saturating_mul(1_000_000_000)));
        }
        let (neg, mut rest) = match s.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        if rest == "0" {
            return Ok(Duration(0));
        }
        if rest.is_empty() {
            return Err(format!("invalid duration {s:?}"));
        }
        let mut total: f64 = 0.0;
        while !rest.is_empty() {
            let num_end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(|| format!("missing unit in duration {s:?}"))?;
            let num: f64 = rest[..num_end]
                .parse()
                .map_err(|_| format!("invalid duration {s:?}"))?;
            rest = &rest[num_end..];
            let unit_end = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let mult = match &rest[..unit_end] {
                "ns" => 1.0,
                "us" | "µs" | "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                u => return Err(format!("unknown unit {u:?} in duration {s:?}")),
            };
            total += num * mult;
            rest = &rest[unit_end..];
        }
        let n = total.round() as i64;
        Ok(Duration(if neg { -n } else { n }))
    }
}

impl fmt::Display for Duration {
    /// Go's `time.Duration.String()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.0 < 0;
        let u = self.0.unsigned_abs();
        let sign = if neg { "-" } else { "" };
        if u == 0 {
            return write!(f, "0s");
        }
        if u < 1_000_000_000 {
            let (unit, div) = if u < 1_000 {
                ("ns", 1)
            } else if u < 1_000_000 {
                ("µs", 1_000)
            } else {
                ("ms", 1_000_000)
            };
            return write!(f, "{sign}{}{unit}", frac(u, div));
        }
        let h = u / 3_600_000_000_000;
        let m = (u / 60_000_000_000) % 60;
        let s_ns = u % 60_000_000_000;
        let mut out = String::from(sign);
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&format!("{}s", frac(s_ns, 1_000_000_000)));
        f.write_str(&out)
    }
}

/// `v / div` with the fraction's trailing zeros dropped (`1.5`, `2`).
fn frac(v: u64, div: u64) -> String {
    let whole = v / div;
    let rem = v % div;
    if rem == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let digits = format!("{rem:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
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
        let t = s.trim().to_ascii_lowercase();
        let num_end = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let num: f64 = t[..num_end]
            .parse()
            .map_err(|_| format!("invalid size: '{s}'"))?;
        let mult: f64 = match t[num_end..].trim() {
            "" | "b" => 1.0,
            "k" | "kb" | "kib" => 1024.0,
            "m" | "mb" | "mib" => 1024.0 * 1024.0,
            "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
            "t" | "tb" | "tib" => 1024f64.powi(4),
            "p" | "pb" | "pib" => 1024f64.powi(5),
            _ => return Err(format!("invalid size: '{s}'")),
        };
        Ok(UnitBytes((num * mult) as i64))
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
