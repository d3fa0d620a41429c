//! docker's units, in one place and without dependencies (the per-container shim links it):
//!
//! - [`time`]: RFC 3339 timestamps (parse, format with docker's precisions) and the calendar
//!   arithmetic under them (days ↔ civil dates, weekdays), as Go's `time` package does them;
//! - [`duration`]: Go durations (`"1m30s"`, `time.ParseDuration` / `Duration.String`) and
//!   go-units' `HumanDuration` (`"About a minute"`);
//! - [`size`]: go-units' sizes: `RAMInBytes` (`"512m"`, binary), `FromHumanSize` (decimal),
//!   `HumanSize` (`"1.23MB"`) and `BytesSize` (`"1.5GiB"`);
//! - [`signal`]: Linux signal names and numbers as docker and runc take them;
//! - [`arch`]: this machine's architecture as Go (`GOARCH`) and seccomp profiles
//!   (libseccomp's native name, `SCMP_ARCH_*`) name it;
//! - `local_time` (feature `local-zone`, which adds tz-rs, itself dependency-free): instants
//!   in the local time zone, as Go's `time.Local` prints them.
//!
//! Why a crate of its own rather than `chrono`/`humantime`/`bytesize`: docs/units.md.

pub mod arch;
pub mod duration;
#[cfg(feature = "local-zone")]
pub mod local_time;
pub mod signal;
pub mod size;
pub mod time;

pub use duration::{format_go_duration, human_duration, parse_go_duration, DurationError};
pub use size::{bytes_size, from_human_size, human_size, ram_in_bytes, SizeError};
pub use time::{parse_rfc3339, SubSeconds, Timestamp};
