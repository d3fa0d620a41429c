//! Docker's naming rules for the name index (`/name`, unique per kind).

use crate::error::{MetadataError, Result};

/// The record kind holding `kind`'s name → id index.
pub fn index_kind(kind: &str) -> String {
    format!("{kind}-names")
}

/// Checks `name` against `[a-zA-Z0-9][a-zA-Z0-9_.-]+` (after an optional leading slash)
/// and returns it without the slash.
pub fn validate(kind: &str, name: &str) -> Result<String> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let bytes = bare.as_bytes();
    let valid = bytes.len() >= 2
        && bytes[0].is_ascii_alphanumeric()
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if valid {
        Ok(bare.to_string())
    } else {
        Err(MetadataError::InvalidName {
            kind: kind.to_string(),
            name: name.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_name_rules() {
        assert_eq!(validate("container", "/web").unwrap(), "web");
        assert_eq!(validate("container", "my_app.v2-1").unwrap(), "my_app.v2-1");
        for bad in ["", "/", "a", "_x", "-x", ".x", "a b", "a/b", "ü1"] {
            let e = validate("container", bad).unwrap_err();
            assert!(
                e.to_string().starts_with("Invalid container name"),
                "{bad}: {e}"
            );
        }
    }
}
