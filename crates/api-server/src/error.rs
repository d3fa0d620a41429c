//! Docker's error model: a few stable kinds mapped to HTTP status codes, `{"message": …}` body.

use hyper::StatusCode;

/// The kind of an API error; decides the HTTP status (containerd/moby `errdefs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 400: malformed request, bad parameter, invalid name.
    InvalidArgument,
    /// 401: registry credentials rejected.
    Unauthorized,
    /// 403: not allowed.
    Forbidden,
    /// 404: no such object.
    NotFound,
    /// 409: name in use, container running, image in use.
    Conflict,
    /// 413: a request body larger than the server reads.
    PayloadTooLarge,
    /// 304: already started / already stopped (sent without a body).
    NotModified,
    /// 501: not implemented by this engine.
    NotImplemented,
    /// 503: a dependency is not available.
    Unavailable,
    /// 500: anything else.
    Internal,
}

impl ErrorKind {
    /// The HTTP status Docker uses for this kind.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::InvalidArgument => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::NotModified => StatusCode::NOT_MODIFIED,
            ErrorKind::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The kind for an HTTP status (client side: mapping a daemon response back).
    pub fn from_status(status: u16) -> ErrorKind {
        match status {
            304 => ErrorKind::NotModified,
            400 => ErrorKind::InvalidArgument,
            401 => ErrorKind::Unauthorized,
            403 => ErrorKind::Forbidden,
            404 => ErrorKind::NotFound,
            409 => ErrorKind::Conflict,
            413 => ErrorKind::PayloadTooLarge,
            501 => ErrorKind::NotImplemented,
            503 => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        }
    }
}

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
        self.kind.status()
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
            assert_eq!(kind.status().as_u16(), code);
            assert_eq!(ErrorKind::from_status(code), kind);
        }
        assert_eq!(
            ApiError::no_such_container("x").to_string(),
            "No such container: x"
        );
    }
}
