//! API version parsing and negotiation (`/v1.NN/` prefixes, 1.24 ..= 1.47).

use std::fmt;

use crate::error::ApiError;

/// An Engine API version `1.NN` (only major 1 exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    /// Major (1).
    pub major: u16,
    /// Minor (24..=47).
    pub minor: u16,
}

impl ApiVersion {
    /// The newest version served (1.47).
    pub const MAX: ApiVersion = ApiVersion::new(1, 47);
    /// The oldest version served (1.24).
    pub const MIN: ApiVersion = ApiVersion::new(1, 24);

    /// `major.minor`.
    pub const fn new(major: u16, minor: u16) -> Self {
        ApiVersion { major, minor }
    }

    /// Parses "1.41"; `None` when it is not two dot-separated numbers.
    pub fn parse(s: &str) -> Option<Self> {
        let (a, b) = s.split_once('.')?;
        Some(ApiVersion::new(a.parse().ok()?, b.parse().ok()?))
    }

    /// True when at least `1.minor`.
    pub fn at_least(self, minor: u16) -> bool {
        self >= ApiVersion::new(1, minor)
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Splits a request path into its requested version (when prefixed `/vX.Y`) and the rest.
///
/// `/v1.41/containers/json` → (Some("1.41"), "/containers/json"); `/_ping` → (None, "/_ping").
pub fn split_version(path: &str) -> (Option<&str>, &str) {
    if let Some(rest) = path.strip_prefix("/v") {
        let end = rest.find('/').unwrap_or(rest.len());
        let candidate = &rest[..end];
        if !candidate.is_empty() && candidate.chars().all(|c| c.is_ascii_digit() || c == '.') {
            let remainder = &rest[end..];
            return (
                Some(candidate),
                if remainder.is_empty() { "/" } else { remainder },
            );
        }
    }
    (None, path)
}

/// Checks a requested version against the supported range, with Docker's messages.
/// No version means the newest.
pub fn negotiate(requested: Option<&str>) -> Result<ApiVersion, ApiError> {
    let Some(text) = requested else {
        return Ok(ApiVersion::MAX);
    };
    let v = ApiVersion::parse(text)
        .ok_or_else(|| ApiError::invalid(format!("invalid API version: {text}")))?;
    if v > ApiVersion::MAX {
        return Err(ApiError::invalid(format!(
            "client version {text} is too new. Maximum supported API version is {}",
            ApiVersion::MAX
        )));
    }
    if v < ApiVersion::MIN {
        return Err(ApiError::invalid(format!(
            "client version {text} is too old. Minimum supported API version is {}, please upgrade your client to a newer version",
            ApiVersion::MIN
        )));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_negotiate() {
        assert_eq!(
            split_version("/v1.41/containers/json"),
            (Some("1.41"), "/containers/json")
        );
        assert_eq!(split_version("/_ping"), (None, "/_ping"));
        assert_eq!(split_version("/volumes"), (None, "/volumes"));
        assert_eq!(split_version("/v1.47"), (Some("1.47"), "/"));
        assert_eq!(negotiate(None).unwrap(), ApiVersion::MAX);
        assert_eq!(negotiate(Some("1.41")).unwrap(), ApiVersion::new(1, 41));
        assert_eq!(
            negotiate(Some("1.99")).unwrap_err().message,
            "client version 1.99 is too new. Maximum supported API version is 1.47"
        );
        let old = negotiate(Some("1.12")).unwrap_err();
        assert_eq!(old.status().as_u16(), 400);
        assert!(old.message.starts_with("client version 1.12 is too old"));
        assert!(negotiate(Some("1.x")).is_err());
        assert!(ApiVersion::new(1, 42).at_least(42));
        assert!(ApiVersion::new(1, 10) < ApiVersion::new(1, 9).max(ApiVersion::new(1, 24)));
    }
}
