//! YAML for Compose files: a tree with positions ([`node`]), loading ([`load`]), typed
//! reading with located errors ([`de`]) and writing as `docker compose config` does ([`emit`]).

pub mod de;
pub mod emit;
pub mod load;
pub mod node;

pub use node::{Key, Mark, Node, Value};
