//! go-units' sizes: parsing (`RAMInBytes`, `FromHumanSize`) and printing (`HumanSize`,
//! `BytesSize`), with Go's `%g` formatting under the printers.

use std::fmt;

/// A size that does not parse; the text is go-units' message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SizeError {
    /// No number, a malformed one, or a negative one: `invalid size: '…'`.
    InvalidSize(String),
    /// An unknown unit: `invalid suffix: '…'`.
    InvalidSuffix(String),
}

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SizeError::InvalidSize(s) => write!(f, "invalid size: '{s}'"),
            SizeError::InvalidSuffix(s) => write!(f, "invalid suffix: '{s}'"),
        }
    }
}

impl std::error::Error for SizeError {}

/// go-units' `parseSize`: a number (maybe fractional, maybe followed by a space), then an
/// optional unit `b`, `k`, `kb`, `kib`, … `p`, `pb`, `pib` (any case).
fn parse_size(input: &str, base: f64) -> Result<i64, SizeError> {
    let invalid = || SizeError::InvalidSize(input.to_string());
    let sep = input
        .rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')
        .ok_or_else(invalid)?;
    let (num, suffix) = if input.as_bytes()[sep] == b' ' {
        (&input[..sep], &input[sep + 1..])
    } else {
        (&input[..=sep], &input[sep + 1..])
    };
    // Go's ParseFloat: digits, one dot, an exponent; no sign games after the number.
    if num.is_empty()
        || !num.bytes().all(|c| {
            c.is_ascii_digit() || c == b'.' || c == b'e' || c == b'E' || c == b'+' || c == b'-'
        })
    {
        return Err(invalid());
    }
    let size: f64 = num.parse().map_err(|_| invalid())?;
    if size < 0.0 || !size.is_finite() {
        return Err(invalid());
    }
    let bad_suffix = || SizeError::InvalidSuffix(suffix.to_ascii_lowercase());
    let multiplier = if suffix.is_empty() {
        1.0
    } else {
        let sfx = suffix.to_ascii_lowercase();
        if sfx.len() > 3 {
            return Err(bad_suffix());
        }
        let bytes = sfx.as_bytes();
        if bytes[0] == b'b' {
            if bytes.len() > 1 {
                return Err(bad_suffix());
            }
            1.0
        } else {
            let power = match bytes[0] {
                b'k' => 1,
                b'm' => 2,
                b'g' => 3,
                b't' => 4,
                b'p' => 5,
                _ => return Err(bad_suffix()),
            };
            match (bytes.len(), &sfx[1..]) {
                (1, _) | (2, "b") | (3, "ib") => {}
                _ => return Err(bad_suffix()),
            }
            base.powi(power)
        }
    };
    // Go: int64(size * mul) — saturating for what no one types.
    #[allow(clippy::cast_possible_truncation)]
    let bytes = (size * multiplier) as i64;
    Ok(bytes)
}

/// go-units' `RAMInBytes`: binary units (`"512m"` = 512 MiB, `"1.5g"`, `"1024"`, `"10 KiB"`),
/// what docker takes for `--memory`, `--shm-size`, `tmpfs-size`.
pub fn ram_in_bytes(s: &str) -> Result<i64, SizeError> {
    parse_size(s, 1024.0)
}

/// go-units' `FromHumanSize`: decimal units (`"10m"` = 10,000,000 bytes), what docker takes
/// for the json-file log driver's `max-size`.
pub fn from_human_size(s: &str) -> Result<i64, SizeError> {
    parse_size(s, 1000.0)
}

/// Go's `%.{precision}g` for a non-negative float: shortest form with `precision`
/// significant digits, trailing zeros removed, exponent form when the exponent is < -4 or
/// ≥ precision (so 999.9 with precision 3 prints "1e+03", as docker does).
pub fn go_format_g(value: f64, precision: usize) -> String {
    if value == 0.0 {
        return "0".into();
    }
    let precision = precision.max(1);
    // Round to `precision` significant digits via scientific formatting.
    let sci = format!("{:.*e}", precision - 1, value);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let p = i64::try_from(precision).unwrap_or(i64::MAX);
    if exp < -4 || exp >= p {
        let m = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = usize::try_from(p - 1 - exp).unwrap_or(0);
        trim_zeros(&format!("{value:.decimals$}"))
    }
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

const DECIMAL_UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY_UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

fn scaled(size: f64, base: f64, units: &[&'static str]) -> (f64, &'static str) {
    let mut size = size;
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    (size, units[i])
}

/// go-units' `HumanSizeWithPrecision`: base 1000 ("4.26MB" with precision 3).
pub fn human_size_with_precision(size: f64, precision: usize) -> String {
    let (v, unit) = scaled(size, 1000.0, &DECIMAL_UNITS);
    format!("{}{unit}", go_format_g(v, precision))
}

/// go-units' `HumanSize`: base 1000, 4 significant digits ("1.235MB", "512B").
pub fn human_size(size: f64) -> String {
    human_size_with_precision(size, 4)
}

/// go-units' `BytesSize`: base 1024 ("1.5GiB"), 4 significant digits.
pub fn bytes_size(size: f64) -> String {
    let (v, unit) = scaled(size, 1024.0, &BINARY_UNITS);
    format!("{}{unit}", go_format_g(v, 4))
}

/// A byte count as `f64` for the printers (exact below 2^53 bytes = 8 PiB).
#[allow(clippy::cast_precision_loss)]
pub fn bytes_f64(n: u64) -> f64 {
    n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_in_bytes_is_binary() {
        let ok = |s| ram_in_bytes(s).unwrap();
        assert_eq!(ok("100"), 100);
        assert_eq!(ok("1k"), 1024);
        assert_eq!(ok("1K"), 1024);
        assert_eq!(ok("2G"), 2 << 30);
        assert_eq!(ok("10mb"), 10 << 20);
        assert_eq!(ok("10MiB"), 10 << 20);
        assert_eq!(ok("10 MiB"), 10 << 20);
        assert_eq!(ok("1.5g"), 3 << 29);
        assert_eq!(ok("32b"), 32);
        assert_eq!(ok("1t"), 1 << 40);
        assert_eq!(ok("1p"), 1 << 50);
        assert_eq!(ram_in_bytes("x"), Err(SizeError::InvalidSize("x".into())));
        assert_eq!(ram_in_bytes(""), Err(SizeError::InvalidSize(String::new())));
        assert_eq!(ram_in_bytes("-1"), Err(SizeError::InvalidSize("-1".into())));
        assert_eq!(
            ram_in_bytes("10x").unwrap_err().to_string(),
            "invalid suffix: 'x'"
        );
        assert_eq!(
            ram_in_bytes("10kbb").unwrap_err().to_string(),
            "invalid suffix: 'kbb'"
        );
        assert_eq!(
            ram_in_bytes("10bk").unwrap_err().to_string(),
            "invalid suffix: 'bk'"
        );
        assert_eq!(
            ram_in_bytes("10kx").unwrap_err().to_string(),
            "invalid suffix: 'kx'"
        );
    }

    #[test]
    fn from_human_size_is_decimal() {
        assert_eq!(from_human_size("10m"), Ok(10_000_000));
        assert_eq!(from_human_size("1kb"), Ok(1000));
        assert_eq!(from_human_size("1KiB"), Ok(1000));
        assert_eq!(from_human_size("512"), Ok(512));
    }

    #[test]
    fn printers_match_go_units() {
        assert_eq!(human_size(512.0), "512B");
        assert_eq!(human_size(2_150_000.0), "2.15MB");
        assert_eq!(human_size(1_234_567.0), "1.235MB");
        assert_eq!(human_size_with_precision(4_260_000.0, 3), "4.26MB");
        assert_eq!(human_size_with_precision(999_900.0, 3), "1e+03kB");
        assert_eq!(bytes_size(1_610_612_736.0), "1.5GiB");
        assert_eq!(bytes_size(0.0), "0B");
        assert_eq!(go_format_g(0.000_012_5, 3), "1.25e-05");
    }
}
