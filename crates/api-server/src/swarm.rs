//! Swarm-mode endpoints on a node that is not in a swarm (berth never is).
//!
//! Docker registers `/swarm`, `/nodes`, `/services`, `/tasks`, `/secrets` and `/configs` on
//! every daemon and answers 503 while the node is outside a swarm: leaving says "This node is
//! not part of a swarm" (docker-py's `leave_swarm(force=True)` treats that 503 as success),
//! everything else that a manager would serve says the node is not a manager. Paths that are
//! not one of those routes stay 404.

use hyper::Method;

use crate::error::{ApiError, ErrorKind};
use crate::query::Query;

/// `errNoSwarm` of moby's `daemon/cluster`.
pub const NOT_IN_SWARM: &str = "This node is not part of a swarm";

/// `errNoManager` of moby's `daemon/cluster` for a node outside any swarm.
pub const NOT_A_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";

/// The first path segments owned by swarm mode.
pub fn is_swarm_area(first: &str) -> bool {
    matches!(
        first,
        "swarm" | "nodes" | "services" | "tasks" | "secrets" | "configs"
    )
}

/// The answer to a request under a swarm area (`segs` is the whole path, split). Parameters
/// Docker checks before asking the cluster are checked first, with its messages.
pub fn not_in_swarm(method: &Method, segs: &[&str], query: &Query) -> ApiError {
    let unavailable = |m: &str| ApiError::new(ErrorKind::Unavailable, m);
    let get = method == Method::GET || method == Method::HEAD;
    let post = method == Method::POST;
    let delete = method == Method::DELETE;
    match segs {
        ["swarm", "leave"] if post => unavailable(NOT_IN_SWARM),
        ["swarm", "init" | "join"] if post => unavailable(
            "swarm mode is not supported by berth: this node cannot create or join a swarm",
        ),
        ["swarm"] if get => unavailable(NOT_A_MANAGER),
        ["swarm", "unlockkey"] if get => unavailable(NOT_A_MANAGER),
        ["swarm", "update"] if post => {
            let raw = query.get("version").unwrap_or("");
            match raw.parse::<u64>() {
                Ok(_) => unavailable(NOT_A_MANAGER),
                Err(_) => {
                    let why = if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
                        "value out of range"
                    } else {
                        "invalid syntax"
                    };
                    ApiError::invalid(format!(
                        "invalid swarm version '{raw}': strconv.ParseUint: parsing {raw:?}: {why}"
                    ))
                }
            }
        }
        ["swarm", "unlock"] if post => unavailable(NOT_A_MANAGER),
        ["nodes"] if get => unavailable(NOT_A_MANAGER),
        ["nodes", _] if get || delete => unavailable(NOT_A_MANAGER),
        ["nodes", _, "update"] if post => unavailable(NOT_A_MANAGER),
        ["services" | "tasks" | "secrets" | "configs"] if get => unavailable(NOT_A_MANAGER),
        ["services" | "secrets" | "configs", "create"] if post => unavailable(NOT_A_MANAGER),
        ["services" | "secrets" | "configs", _] if get || delete => unavailable(NOT_A_MANAGER),
        ["tasks", _] if get => unavailable(NOT_A_MANAGER),
        ["services" | "secrets" | "configs", _, "update"] if post => unavailable(NOT_A_MANAGER),
        ["services" | "tasks", _, "logs"] if get => {
            if query.bool("stdout") || query.bool("stderr") {
                unavailable(NOT_A_MANAGER)
            } else {
                ApiError::invalid("Bad parameters: you must choose at least one stream")
            }
        }
        _ => ApiError::not_found("page not found"),
    }
}
