//! What the `berth` CLI needs to print like docker.
//!
//! - [`template`]: a Go text/template engine for `--format` over `serde_json::Value`
//!   (own implementation; see the crate README in docs/api.md for why not gtmpl).
//! - [`table`]: `table`/`json`/raw `--format` handling and tabwriter alignment (3 spaces).
//! - [`rows`]: docker's per-row fields for ps, images, history and their column titles.
//! - [`units`]: human sizes ("4.26MB"), durations ("About a minute"), id truncation.
//! - [`time`]: RFC 3339 parsing/formatting, "… ago", and the ps `Status` text.
//! - [`local_time`]: instants in the local time zone, as Go's `time.Local` prints them.
//! - [`events`]: `/events` messages as `docker events` and `docker compose events` print them.

pub mod events;
pub use berth_units::local_time;
pub mod rows;
pub mod table;
pub mod template;
pub mod time;
pub mod units;

pub use table::{tabwrite, Format};
pub use template::{render, Template, TemplateError};
