//! Docker's error model: a few stable kinds mapped to HTTP status codes, `{"message": …}` body.

use hyper::StatusCode;

/// The kind of an API error; decides the HTTP status (the one table is
/// [`ErrorKind::status_code`], in `berth-api-types`).
pub use berth_api_types::ErrorKind;

/// An error returned by an [`Engine`](crate::Engine) action or by request parsing.
///
/// The message is what Docker clients print ("Error response from daemon: <message>"), so
/// use Docker's wording where clients or users rely on it ("No such container: x").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// Kind, deciding the status code.
    pub kind: ErrorKind,
    /// Message for the `{"message": …}` body.
    pub message: String,
}

/// Result of engine actions and handlers.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
        }
    }
    /// 400.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    /// 404 with Docker's container wording: "No such container: <id>".
    pub fn no_such_container(id: &str) -> Self {
        Self::not_found(format!("No such container: {id}"))
    }
    /// 404 with Docker's image wording: "No such image: <name>".
    pub fn no_such_image(name: &str) -> Self {
        Self::not_found(format!("No such image: {name}"))
    }
    /// 404 with Docker's exec wording: "No such exec instance: <id>".
    pub fn no_such_exec(id: &str) -> Self {
        Self::not_found(format!("No such exec instance: {id}"))
    }
    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
    /// 304 (no body is sent).
    pub fn not_modified() -> Self {
        Self::new(ErrorKind::NotModified, "")
    }
    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthorized, message)
    }
    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }
    /// 501.
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotImplemented, message)
    }
    /// 503.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }
    /// 500.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.kind.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_docker_statuses() {
        let cases = [
            (ErrorKind::NotFound, 404),
            (ErrorKind::Conflict, 409),
            (ErrorKind::InvalidArgument, 400),
            (ErrorKind::NotModified, 304),
            (ErrorKind::Unauthorized, 401),
            (ErrorKind::Forbidden, 403),
            (ErrorKind::Unavailable, 503),
            (ErrorKind::Internal, 500),
            (ErrorKind::NotImplemented, 501),
        ];
        for (kind, code) in cases {
            assert_eq!(ApiError::new(kind, "").status().as_u16(), code);
        }
        assert_eq!(
            ApiError::no_such_container("x").to_string(),
            "No such container: x"
        );
    }
}
