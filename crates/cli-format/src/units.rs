//! docker's human-readable sizes and durations (go-units, from [`berth_units`]), and id
//! truncation.

pub use berth_units::duration::human_duration;
pub use berth_units::size::{bytes_size, go_format_g, human_size, human_size_with_precision};

/// The sizes `docker images`/`ps -s`/`system df` print: 3 significant digits ("1.23MB").
pub fn docker_size(size: i64) -> String {
    human_size_with_precision(size as f64, 3)
}

/// The first 12 characters of an id, after an optional `sha256:` prefix.
pub fn truncate_id(id: &str) -> String {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    id.chars().take(12).collect()
}

/// docker's `Ellipsis`: cut to `max` characters, the last one replaced by "…".
pub fn ellipsis(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_docker() {
        assert_eq!(docker_size(4_261_550), "4.26MB");
        assert_eq!(docker_size(0), "0B");
        assert_eq!(docker_size(999), "999B");
        assert_eq!(docker_size(1_000), "1kB");
        assert_eq!(docker_size(1_234_567), "1.23MB");
        assert_eq!(docker_size(72_800_000), "72.8MB");
        assert_eq!(docker_size(187_000_000), "187MB");
        assert_eq!(docker_size(999_900), "1e+03kB");
        assert_eq!(docker_size(1_500_000_000), "1.5GB");
        assert_eq!(human_size(1_234_567.0), "1.235MB");
        assert_eq!(human_size(2_000_000.0), "2MB");
        assert_eq!(bytes_size(1536.0), "1.5KiB");
        assert_eq!(bytes_size(67_108_864.0), "64MiB");
        assert_eq!(go_format_g(0.0001234, 3), "0.000123");
        assert_eq!(go_format_g(0.00001234, 3), "1.23e-05");
    }

    #[test]
    fn ids_and_ellipsis() {
        assert_eq!(
            truncate_id("sha256:b189fa6a73fe4ca09ea51e3e19e1405d"),
            "b189fa6a73fe"
        );
        assert_eq!(truncate_id("b189fa6a73fe4ca09ea5"), "b189fa6a73fe");
        assert_eq!(ellipsis("echo Coucou !", 20), "echo Coucou !");
        assert_eq!(
            ellipsis("sh -c 'while true; do sleep 1; done'", 20),
            "sh -c 'while true; …"
        );
    }
}
