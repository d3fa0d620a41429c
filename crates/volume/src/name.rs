//! Volume names: Docker's local-driver rule and anonymous (64-hex) names.

use std::io::Read;

use crate::error::{Result, VolumeError};

/// Checks `[a-zA-Z0-9][a-zA-Z0-9_.-]+` with Docker's error message.
pub fn validate_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = name.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(VolumeError::InvalidArgument(format!(
            "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )))
    }
}

/// A fresh anonymous volume name: 64 lowercase hex digits from the kernel's random source.
pub fn anonymous_name() -> String {
    let mut buf = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// True for names made by [`anonymous_name`].
pub fn is_anonymous_name(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["data", "my_vol.1-x", "0a", "A1"] {
            validate_name(ok).unwrap();
        }
        for bad in ["", "a", "-x", "_x", ".x", "a/b", "a b", "é1", "/abs"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            validate_name("a/b").unwrap_err().to_string(),
            "create a/b: \"a/b\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        );
        let a = anonymous_name();
        assert!(is_anonymous_name(&a) && a != anonymous_name());
        validate_name(&a).unwrap();
    }
}
