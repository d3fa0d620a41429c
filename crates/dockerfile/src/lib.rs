//! The Dockerfile, all of it, as a pure library: parser directives (`# syntax=`,
//! `# escape=`, `# check=`), comments and line continuations, JSON and shell forms,
//! heredocs, builder flags, typed instructions with BuildKit's checks and messages (every
//! error names its line), and Docker's variable substitution ([`shell`]).
//!
//! ```
//! let df = berth_dockerfile::parse("FROM alpine AS base\nRUN apk add redis\n").unwrap();
//! assert_eq!(df.stages[0].name.as_deref(), Some("base"));
//! ```

mod directives;
mod error;
mod flags;
mod heredoc;
mod instruction;
mod mount;
mod node;
mod parse;
mod pattern;
pub mod shell;
mod words;

pub use directives::{CheckDirective, Directives};
pub use error::{ExpandError, ParseError};
pub use heredoc::{chomp, parse_heredoc, Heredoc};
pub use instruction::*;
pub use mount::{parse_mount, Mount, MountType, NetworkMode, Sharing};
pub use parse::parse;
