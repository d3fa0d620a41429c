//! Docker's error kinds (moby/containerd `errdefs`) and the one table of their HTTP status
//! codes: the engine classifies its failures by [`ErrorKind`], the API server answers with
//! [`ErrorKind::status_code`], and clients map a daemon's status back with
//! [`ErrorKind::from_status`].

/// The kind of an Engine API failure; decides the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 400: malformed request, bad parameter, invalid name.
    InvalidArgument,
    /// 401: registry credentials missing or rejected.
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

/// Kind ↔ status, as Docker answers.
const STATUS: [(ErrorKind, u16); 10] = [
    (ErrorKind::InvalidArgument, 400),
    (ErrorKind::Unauthorized, 401),
    (ErrorKind::Forbidden, 403),
    (ErrorKind::NotFound, 404),
    (ErrorKind::Conflict, 409),
    (ErrorKind::PayloadTooLarge, 413),
    (ErrorKind::NotModified, 304),
    (ErrorKind::NotImplemented, 501),
    (ErrorKind::Unavailable, 503),
    (ErrorKind::Internal, 500),
];

impl ErrorKind {
    /// The HTTP status Docker uses for this kind.
    pub fn status_code(self) -> u16 {
        STATUS
            .iter()
            .find(|(k, _)| *k == self)
            .map_or(500, |(_, code)| *code)
    }

    /// The kind of an HTTP status (client side: a daemon's answer); unknown codes are
    /// [`ErrorKind::Internal`].
    pub fn from_status(status: u16) -> ErrorKind {
        STATUS
            .iter()
            .find(|(_, code)| *code == status)
            .map_or(ErrorKind::Internal, |(k, _)| *k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_docker_statuses_both_ways() {
        for (kind, code) in STATUS {
            assert_eq!(kind.status_code(), code);
            assert_eq!(ErrorKind::from_status(code), kind);
        }
        assert_eq!(ErrorKind::from_status(418), ErrorKind::Internal);
    }
}
