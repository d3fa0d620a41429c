//! Docker's progress JSON lines (`jsonmessage`): statuses per layer id (12 hex digits),
//! `progressDetail` and the rendered `progress` bar the old CLIs print.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use berth_api_types::{JsonMessage, ProgressDetail};
use berth_content::Digest;

/// Docker's layer id in progress lines: the first 12 hex digits of the blob digest.
pub(crate) fn short_id(d: &Digest) -> String {
    d.hex()[..12].to_string()
}

/// A status line for a layer.
pub(crate) fn layer_status(status: &str, d: &Digest) -> JsonMessage {
    JsonMessage::status(status, Some(&short_id(d)))
}

/// A byte-progress line: `{"status":"Downloading","progressDetail":{…},"progress":"[==> ] …","id":…}`.
pub(crate) fn bytes_progress(status: &str, d: &Digest, current: u64, total: u64) -> JsonMessage {
    JsonMessage {
        status: Some(status.into()),
        progress_detail: Some(ProgressDetail {
            current: Some(i64::try_from(current).unwrap_or(i64::MAX)),
            total: Some(i64::try_from(total).unwrap_or(i64::MAX)),
        }),
        progress: Some(bar(current, total)),
        id: Some(short_id(d)),
        ..Default::default()
    }
}

/// The 50-column bar Docker renders: `[=====>     ]  1.2MB/2.4MB`.
pub(crate) fn bar(current: u64, total: u64) -> String {
    const WIDTH: usize = 50;
    if total == 0 {
        return format!("{:>8}", human_size(current));
    }
    // current <= total, so the quotient is at most WIDTH (u128: no overflow on the product).
    let filled =
        usize::try_from(u128::from(current.min(total)) * WIDTH as u128 / u128::from(total))
            .unwrap_or(WIDTH);
    let mut s = String::from("[");
    if filled > 0 {
        s.push_str(&"=".repeat(filled - 1));
        s.push('>');
    }
    s.push_str(&" ".repeat(WIDTH - filled));
    s.push_str("] ");
    s.push_str(&format!("{:>8}/{}", human_size(current), human_size(total)));
    s
}

/// go-units `HumanSize`: decimal units with 4 significant digits (`2.15MB`, `512B`).
pub(crate) fn human_size(n: u64) -> String {
    berth_units::human_size(berth_units::size::bytes_f64(n))
}

/// Limits byte-progress lines to a few per second per layer (the last one always passes).
#[derive(Default)]
pub(crate) struct Throttle {
    last: HashMap<Digest, Instant>,
}

impl Throttle {
    /// True when a progress line for `d` should be sent now.
    pub(crate) fn allow(&mut self, d: &Digest, done: bool) -> bool {
        let now = Instant::now();
        match self.last.get(d) {
            Some(t) if !done && now.duration_since(*t) < Duration::from_millis(100) => false,
            _ => {
                self.last.insert(d.clone(), now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_and_sizes_like_docker() {
        assert_eq!(human_size(512), "512B");
        assert_eq!(human_size(2_150_000), "2.15MB");
        assert_eq!(human_size(1_000), "1kB");
        assert_eq!(human_size(123_456), "123.5kB");
        let b = bar(25, 100);
        assert!(b.starts_with(&format!("[{}> ", "=".repeat(11))), "{b}");
        assert_eq!(b.find(']'), Some(51), "{b}");
        assert!(b.ends_with("     25B/100B"), "{b}");
        let full = bar(100, 100);
        assert!(
            full.starts_with(&format!("[{}>]", "=".repeat(49))),
            "{full}"
        );
    }
}
