//! `GET /containers/{id}/changes` (`docker diff`): the read-write layer's changes, without
//! the init layer's paths.

use crate::error::{EngineError, Result};
use berth_api_types::*;

use super::Containers;

impl Containers {
    /// `GET /containers/{id}/changes`.
    pub fn changes(&self, reference: &str) -> Result<Vec<FilesystemChange>> {
        let rec = self.lookup(reference)?;
        let changes = self
            .images
            .images()
            .snapshots
            .changes(&rec.id)
            .map_err(|e| EngineError::internal(e.to_string()))?;
        let kept: std::collections::HashSet<String> =
            without_init_layer(changes.iter().map(|c| c.path.as_str()))
                .into_iter()
                .map(str::to_string)
                .collect();
        Ok(changes
            .into_iter()
            .filter(|c| kept.contains(c.path.as_str()))
            .map(|c| FilesystemChange {
                path: c.path,
                kind: c.kind.docker_kind(),
            })
            .collect())
    }
}

/// What Docker keeps in a container's init layer, below its read-write layer: mount points
/// and the files the engine writes. `docker diff` never shows them.
const INIT_LAYER: &[&str] = &[
    "/.dockerenv",
    "/dev/console",
    "/dev/pts",
    "/dev/shm",
    "/etc/hostname",
    "/etc/hosts",
    "/etc/mtab",
    "/etc/resolv.conf",
    "/proc",
    "/sys",
];

/// The changed paths `docker diff` shows: without the init layer's paths (and what is below
/// them), and without their parent directories when nothing else changed in them.
fn without_init_layer<'a>(
    paths: impl Iterator<Item = &'a str> + Clone,
) -> std::collections::HashSet<&'a str> {
    let below = |p: &str, dir: &str| {
        p.len() > dir.len() && p.starts_with(dir) && p[dir.len()..].starts_with('/')
    };
    let in_init = |p: &str| INIT_LAYER.iter().any(|i| p == *i || below(p, i));
    let init_parent = |p: &str| INIT_LAYER.iter().any(|i| below(i, p));
    let real: Vec<&str> = paths.clone().filter(|p| !in_init(p)).collect();
    real.iter()
        .copied()
        .filter(|p| !init_parent(p) || real.iter().any(|q| below(q, p)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::without_init_layer;

    #[test]
    fn diff_hides_the_init_layer() {
        let paths = [
            "/dev",
            "/dev/console",
            "/etc",
            "/etc/hosts",
            "/etc/resolv.conf",
            "/proc",
            "/sys",
            "/tmp",
            "/tmp/x",
            "/.dockerenv",
        ];
        let mut kept: Vec<&str> = without_init_layer(paths.iter().copied())
            .into_iter()
            .collect();
        kept.sort();
        assert_eq!(kept, ["/tmp", "/tmp/x"]);
        let paths = ["/etc", "/etc/hosts", "/etc/motd"];
        let mut kept: Vec<&str> = without_init_layer(paths.iter().copied())
            .into_iter()
            .collect();
        kept.sort();
        assert_eq!(kept, ["/etc", "/etc/motd"]);
    }
}
