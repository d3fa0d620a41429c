//! Pull benchmark: a generated ~250 MB (≈80 MB gzip) multi-layer image served by a local
//! docker-registry, pulled into a runnable state by berth (fresh data root each round) and
//! by Docker's own daemon (private socket and data root), with `skopeo copy` (download only)
//! as the floor. Prints medians and ratios.
//!
//! Run as root: `cargo run --release -p berth-bench --bin pull` (BENCH_ROUNDS=n, default 3).

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_bench::{free_loopback_port, unmount_under, wait_for, ChildGuard};
use berth_content::{media_types as mt, Digest};
use berth_image::oci_layout::OciLayoutWriter;
use berth_image::{ContainerConfig, ImageConfig, Images, PullOptions, RootFs};
use berth_registry::{Client, Reference, RegistryConfig};

const LAYERS: usize = 6;
/// Per layer: incompressible bytes and compressible (text-like) bytes.
const RANDOM_PER_LAYER: usize = 7 << 20;
const TEXT_PER_LAYER: usize = 35 << 20;

/// xorshift64*: fast deterministic filler.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    fn text(&mut self, len: usize) -> Vec<u8> {
        const WORDS: &[&str] = &[
            "container",
            "image",
            "layer",
            "overlay",
            "registry",
            "digest",
            "manifest",
            "config",
            "snapshot",
            "runtime",
            "network",
            "volume",
            "the",
            "of",
            "and",
            "a",
            "to",
            "in",
            "berth",
            "docker",
            "kernel",
            "mount",
            "process",
            "namespace",
            "cgroup",
            "\n",
        ];
        let mut out = Vec::with_capacity(len + 16);
        while out.len() < len {
            let w = WORDS[usize::try_from(self.next() % WORDS.len() as u64).expect("below len")];
            out.extend_from_slice(w.as_bytes());
            out.push(if self.next() % 9 == 0 { b'\n' } else { b' ' });
            if self.next() % 50 == 0 {
                out.extend_from_slice(format!("{}", self.next() % 100_000).as_bytes());
            }
        }
        out.truncate(len);
        out
    }
}

/// One layer: files of mixed sizes, random and compressible. Returns (tar, gzip).
fn make_layer(n: usize) -> (Vec<u8>, Vec<u8>) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((n as u64 + 1) * 0x1234_5678));
    let mut b = tar::Builder::new(Vec::with_capacity(
        RANDOM_PER_LAYER + TEXT_PER_LAYER + (8 << 20),
    ));
    let add = |b: &mut tar::Builder<Vec<u8>>, name: String, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, name, data).unwrap();
    };
    let mut left = RANDOM_PER_LAYER;
    let mut i = 0;
    while left > 0 {
        let size = (usize::try_from((rng.next() % 2048) + 16).expect("small") * 1024).min(left);
        let mut data = vec![0u8; size];
        rng.fill(&mut data);
        add(&mut b, format!("layer{n}/bin/blob{i:04}"), &data);
        left -= size;
        i += 1;
    }
    let mut left = TEXT_PER_LAYER;
    while left > 0 {
        let size = (usize::try_from((rng.next() % 512) + 1).expect("small") * 1024).min(left);
        let data = rng.text(size);
        add(
            &mut b,
            format!("layer{n}/share/doc/d{}/file{i:05}.txt", i % 37),
            &data,
        );
        left -= size;
        i += 1;
    }
    let tar = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    gz.write_all(&tar).unwrap();
    (tar, gz.finish().unwrap())
}

fn build_layout(dir: &Path) -> (u64, u64) {
    let layers: Vec<(Vec<u8>, Vec<u8>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..LAYERS)
            .map(|n| s.spawn(move || make_layer(n)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut w = OciLayoutWriter::create(dir).unwrap();
    let descs = layers
        .iter()
        .map(|(_, gz)| w.add_blob(mt::OCI_LAYER_GZIP, gz).unwrap())
        .collect();
    let config = ImageConfig {
        architecture: "amd64".into(),
        os: "linux".into(),
        config: Some(ContainerConfig {
            cmd: Some(vec!["/bin/sh".into()]),
            ..ContainerConfig::default()
        }),
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: layers.iter().map(|(t, _)| Digest::of(t)).collect(),
        },
        ..ImageConfig::default()
    };
    w.add_image(&config, descs, "v1").unwrap();
    w.finish().unwrap();
    let raw = layers.iter().map(|(t, _)| t.len() as u64).sum();
    let gz = layers.iter().map(|(_, g)| g.len() as u64).sum();
    (raw, gz)
}

fn start_registry(dir: &Path) -> (ChildGuard, String) {
    let addr = format!("127.0.0.1:{}", free_loopback_port());
    let config = dir.join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
            dir.join("registry").display()
        ),
    )
    .unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry");
    wait_for("docker-registry", || TcpStream::connect(&addr).is_ok());
    (ChildGuard(child), addr)
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn time_berth(tmp: &Path, addr: &str, rounds: usize) -> Vec<Duration> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = Client::new(RegistryConfig {
        insecure_registries: vec![addr.to_string()],
        ..RegistryConfig::default()
    })
    .unwrap();
    let reference = Reference::parse(&format!("{addr}/bench/big:v1")).unwrap();
    let mut samples = Vec::new();
    for round in 0..rounds {
        let root = tmp.join(format!("berth-{round}"));
        let start = Instant::now();
        let images = Arc::new(Images::open(&root).unwrap());
        let result = rt
            .block_on(berth_image::pull(
                &images,
                &client,
                &reference,
                &PullOptions::default(),
                None,
            ))
            .expect("berth pull");
        let took = start.elapsed();
        assert_eq!(result.record.layers.len(), LAYERS);
        samples.push(took);
        eprintln!("berth round {round}: {took:.2?}");
        std::fs::remove_dir_all(&root).unwrap();
    }
    samples
}

fn time_docker(tmp: &Path, addr: &str, rounds: usize) -> Vec<Duration> {
    let base = tmp.join("docker");
    std::fs::create_dir_all(&base).unwrap();
    let sock = base.join("docker.sock");
    let host = format!("unix://{}", sock.display());
    let log = std::fs::File::create(base.join("dockerd.log")).unwrap();
    let child = Command::new("dockerd")
        .arg("--host")
        .arg(&host)
        .arg("--data-root")
        .arg(base.join("data"))
        .arg("--exec-root")
        .arg(base.join("exec"))
        .arg("--pidfile")
        .arg(base.join("dockerd.pid"))
        .args([
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-masq=false",
        ])
        .args(["--insecure-registry", addr])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("dockerd");
    let dockerd = ChildGuard(child);
    let docker = || {
        let mut c = Command::new("docker");
        c.arg("-H").arg(&host);
        c
    };
    wait_for("dockerd", || {
        docker()
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    let image = format!("{addr}/bench/big:v1");
    let mut samples = Vec::new();
    for round in 0..rounds {
        let start = Instant::now();
        run(docker().args(["pull", "-q", &image]));
        let took = start.elapsed();
        samples.push(took);
        eprintln!("docker round {round}: {took:.2?}");
        run(docker().args(["rmi", &image]));
    }
    drop(dockerd);
    unmount_under(&base);
    samples
}

fn time_skopeo(tmp: &Path, addr: &str, rounds: usize) -> Vec<Duration> {
    let mut samples = Vec::new();
    for round in 0..rounds {
        let dest = tmp.join(format!("skopeo-{round}"));
        let start = Instant::now();
        run(Command::new("skopeo")
            .args(["copy", "--src-tls-verify=false"])
            .arg(format!("docker://{addr}/bench/big:v1"))
            .arg(format!("dir:{}", dest.display())));
        let took = start.elapsed();
        samples.push(took);
        eprintln!("skopeo round {round}: {took:.2?}");
        std::fs::remove_dir_all(&dest).unwrap();
    }
    samples
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        unmount_under(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let base = std::env::var_os("BENCH_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp"));
    let tmp = TempDir(base.join(format!("berth-bench-pull-{}", std::process::id())));
    std::fs::create_dir_all(&tmp.0).unwrap();

    let start = Instant::now();
    let (raw, gz) = build_layout(&tmp.0.join("layout"));
    eprintln!(
        "generated {LAYERS} layers: {} MB uncompressed, {} MB gzip ({:.1?})",
        raw >> 20,
        gz >> 20,
        start.elapsed()
    );
    let (_registry, addr) = start_registry(&tmp.0);
    run(Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:v1", tmp.0.join("layout").display()))
        .arg(format!("docker://{addr}/bench/big:v1")));

    let mut berth = time_berth(&tmp.0, &addr, rounds);
    let mut skopeo = time_skopeo(&tmp.0, &addr, rounds);
    let mut docker = time_docker(&tmp.0, &addr, rounds);
    let (b, d, s) = (
        berth_bench::median(&mut berth),
        berth_bench::median(&mut docker),
        berth_bench::median(&mut skopeo),
    );
    berth_bench::report("pull", b, "docker", d);
    berth_bench::report("pull", b, "skopeo-download-only", s);
    println!(
        "pull: berth is {:.1}x faster than docker ({} layers, {} MB / {} MB gzip)",
        d.as_secs_f64() / b.as_secs_f64(),
        LAYERS,
        raw >> 20,
        gz >> 20
    );
}
