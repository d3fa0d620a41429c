//! A debootstrapped Debian image for tests that need a real distribution (the builder's
//! redis stand-in, compose's services): `debootstrap --variant=minbase bookworm` with the
//! packages asked for, made once per machine (and so once per CI run) and cached under
//! `/var/cache/berth-test` (`BERTH_TEST_CACHE` overrides). A file lock serialises the build,
//! so parallel tests and other crates' tests share one copy; a half-made copy is never seen
//! (temp dir + rename).
//!
//! ```no_run
//! let img = berth_testkit::debian::image_archive(&["redis-server"]);
//! // `docker load -i img.path` gives img.tag, a runnable Debian with redis installed.
//! ```

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest as _, Sha256};

/// The suite debootstrap installs.
pub const SUITE: &str = "bookworm";

/// The mirror: `BERTH_DEBIAN_MIRROR`, else Debian's.
pub fn mirror() -> String {
    std::env::var("BERTH_DEBIAN_MIRROR").unwrap_or_else(|_| "http://deb.debian.org/debian".into())
}

/// Where cached artefacts live.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("BERTH_TEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/berth-test"))
}

/// A cached Debian image.
#[derive(Debug, Clone)]
pub struct DebianImage {
    /// A `docker save`-style archive (`docker load -i`).
    pub path: PathBuf,
    /// The tag it loads as (`berth-test/debian:bookworm-<hash>`).
    pub tag: String,
    /// The plain rootfs tar (`docker import`).
    pub rootfs_tar: PathBuf,
}

fn key(include: &[&str]) -> String {
    let mut pkgs: Vec<&str> = include.to_vec();
    pkgs.sort_unstable();
    pkgs.dedup();
    let h = Sha256::digest(format!("{SUITE} minbase {}", pkgs.join(",")).as_bytes());
    h.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Holds an exclusive lock on `<cache>/<name>.lock` while alive.
struct Lock(std::fs::File);

impl Lock {
    fn take(path: &Path) -> Lock {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
            .unwrap_or_else(|e| panic!("lock {}: {e}", path.display()));
        Lock(f)
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = rustix::fs::flock(&self.0, rustix::fs::FlockOperation::Unlock);
    }
}

/// The image with `include` installed, made on first use (needs root and `debootstrap`).
pub fn image_archive(include: &[&str]) -> DebianImage {
    let dir = cache_dir();
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let k = key(include);
    let name = format!("debian-{SUITE}-{k}");
    let image = DebianImage {
        path: dir.join(format!("{name}.image.tar")),
        tag: format!("berth-test/debian:{SUITE}-{k}"),
        rootfs_tar: dir.join(format!("{name}.rootfs.tar")),
    };
    let _lock = Lock::take(&dir.join(format!("{name}.lock")));
    if image.path.exists() && image.rootfs_tar.exists() {
        return image;
    }
    let work = dir.join(format!("{name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("create work dir");
    let root = work.join("root");
    let mut cmd = Command::new("debootstrap");
    cmd.args(["--variant=minbase", "--no-merged-usr"]);
    if !include.is_empty() {
        cmd.arg(format!("--include={}", include.join(",")));
    }
    cmd.arg(SUITE).arg(&root).arg(mirror());
    let out = cmd.output().expect("run debootstrap (is it installed?)");
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&work);
        panic!(
            "debootstrap failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // An image has no apt caches and no debootstrap leftovers.
    for p in ["var/cache/apt/archives", "var/lib/apt/lists", "debootstrap"] {
        let _ = std::fs::remove_dir_all(root.join(p));
    }
    let rootfs_tmp = work.join("rootfs.tar");
    let status = Command::new("tar")
        .args(["--numeric-owner", "--sort=name", "--mtime=@0", "-C"])
        .arg(&root)
        .args(["-cf"])
        .arg(&rootfs_tmp)
        .arg(".")
        .status()
        .expect("run tar");
    assert!(status.success(), "tar of the debootstrapped root failed");
    let archive_tmp = work.join("image.tar");
    write_image_archive(&rootfs_tmp, &archive_tmp, &image.tag);
    std::fs::rename(&rootfs_tmp, &image.rootfs_tar).expect("rename rootfs tar");
    std::fs::rename(&archive_tmp, &image.path).expect("rename image archive");
    let _ = std::fs::remove_dir_all(&work);
    image
}

fn file_digest(path: &Path) -> String {
    let mut f = std::fs::File::open(path).expect("open layer");
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).expect("read layer");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    format!(
        "sha256:{}",
        h.finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// A one-layer docker-archive whose layer is the tar at `layer`, streamed (not in memory).
fn write_image_archive(layer: &Path, out: &Path, tag: &str) {
    let diff_id = file_digest(layer);
    let config = serde_json::json!({
        "architecture": berth_units::arch::go_arch(),
        "os": "linux",
        "created": "2024-01-02T03:04:05Z",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["bash"],
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "2024-01-02T03:04:05Z", "created_by": format!("debootstrap --variant=minbase {SUITE}")}],
    });
    let config_bytes = serde_json::to_vec(&config).expect("config JSON");
    let id = crate::image_tar::sha256_digest(&config_bytes);
    let id_hex = &id["sha256:".len()..];
    let layer_name = format!("{}/layer.tar", &diff_id["sha256:".len()..]);
    let f = std::fs::File::create(out).unwrap_or_else(|e| panic!("create {}: {e}", out.display()));
    let mut b = tar::Builder::new(std::io::BufWriter::new(f));
    let add = |b: &mut tar::Builder<_>, name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).expect("append");
    };
    add(&mut b, &format!("{id_hex}.json"), &config_bytes);
    let layer_file = std::fs::File::open(layer).expect("open layer");
    let mut h = tar::Header::new_ustar();
    h.set_size(layer_file.metadata().expect("layer size").len());
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, &layer_name, layer_file)
        .expect("append layer");
    let manifest = serde_json::json!([{
        "Config": format!("{id_hex}.json"),
        "RepoTags": [tag],
        "Layers": [layer_name],
    }]);
    add(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&manifest).expect("json"),
    );
    let mut w = b.into_inner().expect("finish archive");
    w.flush().expect("flush archive");
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_ignore_order_and_duplicates() {
        assert_eq!(super::key(&["a", "b"]), super::key(&["b", "a", "a"]));
        assert_ne!(super::key(&["a"]), super::key(&["b"]));
    }
}
