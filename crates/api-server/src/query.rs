//! Query-string parsing with Docker's conventions and clear 400s.

use berth_api_types::Filters;

use crate::error::{ApiError, ApiResult};

/// The decoded query string of a request (keys may repeat).
#[derive(Debug, Clone, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Decodes `a=1&b=x%20y`.
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        Query { pairs }
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `key`, `None` when absent or empty.
    pub fn string(&self, key: &str) -> Option<String> {
        self.get(key).filter(|v| !v.is_empty()).map(str::to_string)
    }

    /// All values of a repeated `key`.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Docker's `BoolValue`: false when absent, "", "0", "no", "false", "none"; true otherwise.
    pub fn bool(&self, key: &str) -> bool {
        match self.get(key) {
            None => false,
            Some(v) => !matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "" | "0" | "no" | "false" | "none"
            ),
        }
    }

    /// Like [`Query::bool`] but `default` when the key is absent.
    pub fn bool_or(&self, key: &str, default: bool) -> bool {
        if self.get(key).is_some() {
            self.bool(key)
        } else {
            default
        }
    }

    /// An integer parameter; absent or empty is `None`, garbage is a 400.
    pub fn int(&self, key: &str) -> ApiResult<Option<i64>> {
        match self.get(key).map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::invalid(format!("invalid value for {key}: {v:?} is not an integer"))
            }),
        }
    }

    /// The `filters` parameter (400 on malformed JSON).
    pub fn filters(&self) -> ApiResult<Filters> {
        let raw = self.get("filters").unwrap_or("");
        Filters::parse(raw).map_err(|e| ApiError::invalid(format!("invalid filter '{raw}': {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_bool_and_ints() {
        let q = Query::parse(Some(
            "all=1&size=false&force=True&v=&n=10&bad=x&names=a&names=b%2Fc&f=%7B%22status%22%3A%5B%22running%22%5D%7D",
        ));
        assert!(q.bool("all"));
        assert!(!q.bool("size"));
        assert!(q.bool("force"));
        assert!(!q.bool("v"));
        assert!(!q.bool("missing"));
        assert!(q.bool_or("missing", true));
        assert_eq!(q.int("n").unwrap(), Some(10));
        assert_eq!(q.int("missing").unwrap(), None);
        assert_eq!(q.int("bad").unwrap_err().status().as_u16(), 400);
        assert_eq!(q.all("names"), vec!["a", "b/c"]);
        let q2 = Query::parse(Some("filters=%7B%22status%22%3A%5B%22running%22%5D%7D"));
        assert_eq!(
            q2.filters().unwrap().get("status"),
            &["running".to_string()]
        );
        assert_eq!(
            Query::parse(Some("filters=%7Bx"))
                .filters()
                .unwrap_err()
                .status()
                .as_u16(),
            400
        );
    }
}
