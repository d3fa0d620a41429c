//! Network benchmark: berth's daemon against Docker's own daemon (Debian docker.io's
//! `dockerd`), both private to this run, driven by the same docker CLI, in one run:
//!
//! a) **network setup per container start**: the median time of the `POST
//!    /containers/{id}/start` API call for a created busybox `sleep` container on the default
//!    bridge, minus the median for one with `--network none` (which still gets its own netns
//!    with loopback up). The difference is what attaching the default bridge costs a start:
//!    veth pair, address, routes, `/etc/hosts`, and for Docker libnetwork's sandbox and its
//!    `libnetwork-setkey` prestart hook. The call is made on a raw unix-socket connection
//!    (already connected when the clock starts) so no CLI start-up is timed; create and rm
//!    are untimed. Each round creates the four containers first, then starts them in an
//!    order that rotates every round, then removes them.
//! b) **published-port throughput on loopback**: one container per engine published with
//!    `-p 127.0.0.1:<free port>:5000 -p 127.0.0.1:<free port>:5001`, running busybox
//!    `nc -ll -e dd` servers: port 5000 swallows whatever it gets (`dd of=/dev/null bs=1M`),
//!    port 5001 sends exactly N MiB of zeros (`dd if=/dev/zero bs=1M count=N`). The bench
//!    pushes N MiB (timed until the server has read it all: its close is the EOF we wait for)
//!    and pulls N MiB (timed until EOF), over 127.0.0.1. berth serves such ports by kernel
//!    DNAT; Docker with `--iptables=false` by its userland `docker-proxy` (the same path
//!    default Docker uses for 127.0.0.1 when the hairpin/localnet rules are off).
//!
//! Safety: dockerd runs on a private socket, data root, exec root, pidfile and
//! `daemon.json`, with `--iptables=false --ip6tables=false --ip-masq=false
//! --ip-forward=false` (no host firewall or sysctl change), on a bridge this bench creates
//! with a unique name and a free private /24, and a unique `--cgroup-parent`. berth's daemon
//! gets its own bridge, nftables table and subnet. Everything (containers, daemons by PID,
//! mounts, bridges, the berth table, cgroup directories, the temp dir) is removed at the end,
//! also when a step panics.
//!
//! Run as root after `cargo build --release -p berth --bins`:
//! `cargo run --release -p berth-bench --bin network [start rounds (20)]`;
//! `BENCH_TP_ROUNDS` (5) and `BENCH_MIB` (1024) size the throughput part.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use berth_bench::{free_loopback_port, median, report, unmount_under, wait_for, ChildGuard};

/// The docker CLI both daemons are driven with.
const DOCKER_CLI: &str = "/usr/local/bin/docker";

/// A daemon under test with everything it owns on the host, removed on drop.
struct Engine {
    name: &'static str,
    dir: PathBuf,
    daemon: Option<ChildGuard>,
    bridge: String,
    /// berth's private nftables table (`inet`).
    nft_table: Option<String>,
    /// Docker's private cgroup parent (a directory under every v1 controller / v2 root).
    cgroup_parent: Option<String>,
}

impl Engine {
    fn sock(&self) -> PathBuf {
        self.dir.join("engine.sock")
    }

    fn cli(&self, args: &[&str]) -> Output {
        Command::new(DOCKER_CLI)
            .arg("-H")
            .arg(format!("unix://{}", self.sock().display()))
            .args(args)
            .env("DOCKER_CONFIG", self.dir.join("docker-config"))
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{DOCKER_CLI}: {e}"))
    }

    /// Runs the CLI, panics with its stderr on failure, returns trimmed stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "{}: docker {args:?} failed: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn wait_ready(&self) {
        let what = format!("{} daemon", self.name);
        wait_for(&what, || self.cli(&["version"]).status.success());
    }

    fn load_busybox(&self) {
        let tar = self.dir.join("busybox.tar");
        berth_testkit::image_tar::busybox_archive(&tar, &["busybox:latest"]);
        self.ok(&["load", "-q", "-i", tar.to_str().expect("utf-8 path")]);
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if self.daemon.is_some() {
            let out = self.cli(&["ps", "-aq"]);
            for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = self.cli(&["rm", "-f", id]);
            }
        }
        drop(self.daemon.take());
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .stderr(Stdio::null())
            .status();
        if let Some(table) = &self.nft_table {
            let _ = Command::new("nft")
                .args(["delete", "table", "inet", table])
                .stderr(Stdio::null())
                .status();
        }
        unmount_under(&self.dir);
        if let Some(parent) = &self.cgroup_parent {
            remove_cgroup_dirs(parent);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Removes `parent` (and leftover children) under every mounted cgroup hierarchy.
fn remove_cgroup_dirs(parent: &str) {
    let Ok(roots) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    let mut dirs: Vec<PathBuf> = vec![Path::new("/sys/fs/cgroup").join(parent)];
    dirs.extend(roots.flatten().map(|r| r.path().join(parent)));
    for dir in dirs.into_iter().filter(|d| d.is_dir()) {
        if let Ok(children) = std::fs::read_dir(&dir) {
            for child in children.flatten().filter(|c| c.path().is_dir()) {
                let _ = std::fs::remove_dir(child.path());
            }
        }
        let _ = std::fs::remove_dir(&dir);
    }
}

/// A /20 `10.a.b.0/20` that no host route touches.
fn free_block() -> (u8, u8) {
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let used: Vec<(u32, u32)> = routes
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dst = u32::from_str_radix(f.get(1)?, 16).ok()?.swap_bytes();
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?.swap_bytes();
            (mask != 0).then_some((dst, mask))
        })
        .collect();
    let seed = std::process::id() as usize * 31;
    for i in 0..2048 {
        let slot = (seed + i * 97) % 2048;
        let (a, b) = (64 + (slot / 16) as u8, ((slot % 16) * 16) as u8);
        let net = u32::from_be_bytes([10, a, b, 0]);
        let mask = 0xffff_f000u32;
        if !used.iter().any(|(d, m)| (d & m & mask) == (net & m & mask)) {
            return (a, b);
        }
    }
    panic!("no free 10.x.y.0/20 for the bench");
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// berth's daemon on `10.a.b.0/21` (default bridge = the first /24).
fn start_berth(base: &Path, tag: &str, (a, b): (u8, u8)) -> Engine {
    let berth = std::env::current_exe()
        .expect("current_exe")
        .with_file_name("berth");
    assert!(
        berth.is_file(),
        "{} missing: cargo build --release -p berth --bins",
        berth.display()
    );
    let dir = base.join("berth");
    std::fs::create_dir_all(&dir).expect("mkdir berth dir");
    let mut engine = Engine {
        name: "berth",
        dir: dir.clone(),
        daemon: None,
        bridge: format!("bnb{tag}"),
        nft_table: Some(format!("berth_nb{tag}")),
        cgroup_parent: None,
    };
    let log = std::fs::File::create(dir.join("daemon.log")).expect("log file");
    let child = Command::new(&berth)
        .arg("daemon")
        .arg("-H")
        .arg(format!("unix://{}", engine.sock().display()))
        .arg("--data-root")
        .arg(dir.join("data"))
        .arg("--exec-root")
        .arg(dir.join("exec"))
        .arg("--pidfile")
        .arg(dir.join("daemon.pid"))
        .arg("--config-file")
        .arg(dir.join("daemon.json"))
        .arg("--bridge")
        .arg(&engine.bridge)
        .arg("--bip")
        .arg(format!("10.{a}.{b}.1/24"))
        .arg("--nft-table")
        .arg(engine.nft_table.as_deref().expect("table"))
        .arg("--default-address-pool")
        .arg(format!("base=10.{a}.{b}.0/21,size=24"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn berth daemon");
    engine.daemon = Some(ChildGuard(child));
    engine.wait_ready();
    engine
}

/// Docker's daemon on a bridge of our own at `10.a.(b+8).1/24`, no firewall changes.
fn start_docker(base: &Path, tag: &str, (a, b): (u8, u8)) -> Engine {
    let dir = base.join("docker");
    std::fs::create_dir_all(&dir).expect("mkdir docker dir");
    let mut engine = Engine {
        name: "docker",
        dir: dir.clone(),
        daemon: None,
        bridge: format!("dnb{tag}"),
        nft_table: None,
        cgroup_parent: Some(format!("berth-bench-{tag}")),
    };
    ip(&["link", "add", &engine.bridge, "type", "bridge"]);
    ip(&[
        "addr",
        "add",
        &format!("10.{a}.{}.1/24", b + 8),
        "dev",
        &engine.bridge,
    ]);
    ip(&["link", "set", &engine.bridge, "up"]);
    std::fs::write(dir.join("daemon.json"), "{}").expect("daemon.json");
    let log = std::fs::File::create(dir.join("dockerd.log")).expect("log file");
    let child = Command::new("dockerd")
        .arg("--host")
        .arg(format!("unix://{}", engine.sock().display()))
        .arg("--data-root")
        .arg(dir.join("data"))
        .arg("--exec-root")
        .arg(dir.join("exec"))
        .arg("--pidfile")
        .arg(dir.join("dockerd.pid"))
        .arg("--config-file")
        .arg(dir.join("daemon.json"))
        .arg(format!("--bridge={}", engine.bridge))
        .arg(format!(
            "--cgroup-parent=/{}",
            engine.cgroup_parent.as_deref().expect("parent")
        ))
        .args([
            "--iptables=false",
            "--ip6tables=false",
            "--ip-masq=false",
            "--ip-forward=false",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn dockerd");
    engine.daemon = Some(ChildGuard(child));
    engine.wait_ready();
    engine
}

/// `POST /containers/{id}/start` on a fresh connection; times request to full response.
fn api_start(sock: &Path, id: &str) -> Duration {
    let mut conn = UnixStream::connect(sock).expect("connect to daemon");
    let request = format!(
        "POST /v1.41/containers/{id}/start HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let started = Instant::now();
    conn.write_all(request.as_bytes()).expect("send start");
    let mut response = Vec::new();
    conn.read_to_end(&mut response)
        .expect("read start response");
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&response);
    assert!(
        text.starts_with("HTTP/1.1 204"),
        "start {id} failed: {text}"
    );
    took
}

/// The start-latency containers of one round: (engine index, network mode, id).
struct StartCase {
    engine: usize,
    bridge: bool,
    id: String,
}

/// One round of part a): creates bridge and none containers on every engine, starts them in
/// an order rotated by `round`, removes them. Returns (engine, bridge?, start time).
fn start_round(engines: &[Engine], round: usize) -> Vec<(usize, bool, Duration)> {
    let mut cases = Vec::new();
    for (e, engine) in engines.iter().enumerate() {
        for bridge in [true, false] {
            let name = format!("nb-{}-{round}", if bridge { "bridge" } else { "none" });
            let mut args = vec!["create", "--name", &name];
            if !bridge {
                args.extend(["--network", "none"]);
            }
            args.extend(["busybox", "sleep", "600"]);
            let id = engine.ok(&args);
            cases.push(StartCase {
                engine: e,
                bridge,
                id,
            });
        }
    }
    let n = cases.len();
    let mut out = Vec::new();
    for k in 0..n {
        let case = &cases[(k + round) % n];
        let engine = &engines[case.engine];
        out.push((
            case.engine,
            case.bridge,
            api_start(&engine.sock(), &case.id),
        ));
    }
    for case in &cases {
        engines[case.engine].ok(&["rm", "-f", &case.id]);
    }
    out
}

const MIB: usize = 1 << 20;

/// Sends `mib` MiB to 127.0.0.1:port, half-closes, waits for the server's close.
fn push(port: u16, mib: usize) -> std::io::Result<Duration> {
    let mut conn = TcpStream::connect(("127.0.0.1", port))?;
    conn.set_read_timeout(Some(Duration::from_secs(120)))?;
    let chunk = vec![0u8; MIB];
    let started = Instant::now();
    for _ in 0..mib {
        conn.write_all(&chunk)?;
    }
    conn.shutdown(Shutdown::Write)?;
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest)?;
    Ok(started.elapsed())
}

/// Reads from 127.0.0.1:port until EOF; returns the time and the byte count.
fn pull(port: u16) -> std::io::Result<(Duration, usize)> {
    let mut conn = TcpStream::connect(("127.0.0.1", port))?;
    conn.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut buf = vec![0u8; MIB];
    let mut total = 0;
    let started = Instant::now();
    loop {
        match conn.read(&mut buf)? {
            0 => break,
            n => total += n,
        }
    }
    Ok((started.elapsed(), total))
}

/// The published (push port, pull port) of an engine's throughput container.
fn start_sink(engine: &Engine, mib: usize) -> (u16, u16) {
    let (push_port, pull_port) = (free_loopback_port(), free_loopback_port());
    let server = format!(
        "nc -ll -p 5000 -e dd of=/dev/null bs=1M 2>/dev/null & \
         exec nc -ll -p 5001 -e dd if=/dev/zero bs=1M count={mib} 2>/dev/null"
    );
    engine.ok(&[
        "run",
        "-d",
        "--name",
        "nb-throughput",
        "-p",
        &format!("127.0.0.1:{push_port}:5000"),
        "-p",
        &format!("127.0.0.1:{pull_port}:5001"),
        "busybox",
        "sh",
        "-c",
        &server,
    ]);
    // Ready when a whole pull and a whole push go through (a proxy may accept before the
    // server listens; DNAT refuses until it does).
    let what = format!("{} throughput servers", engine.name);
    wait_for(&what, || {
        pull(pull_port).is_ok_and(|(_, n)| n == mib * MIB) && push(push_port, 1).is_ok()
    });
    (push_port, pull_port)
}

fn mib_per_s(mib: usize, d: Duration) -> f64 {
    mib as f64 / d.as_secs_f64()
}

fn main() {
    assert!(berth_testkit::is_root(), "the network bench needs root");
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let env = |k: &str, default: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let tp_rounds = env("BENCH_TP_ROUNDS", 5);
    let mib = env("BENCH_MIB", 1024);

    let base = std::env::var_os("BENCH_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp"))
        .join(format!("berth-bench-net-{}", std::process::id()));
    std::fs::create_dir_all(&base).expect("mkdir bench dir");
    let _base = RemoveOnDrop(base.clone());
    let tag = berth_testkit::unique_name("");
    let block = free_block();
    // Declared in this order so that they drop (and clean up) even when a later step panics.
    let engines = [
        start_berth(&base, &tag, block),
        start_docker(&base, &tag, block),
    ];
    for engine in &engines {
        engine.load_busybox();
    }
    let names: Vec<&str> = engines.iter().map(|e| e.name).collect();

    // a) start latency, bridge vs none.
    start_round(&engines, usize::MAX / 2); // warm-up (page cache, cgroup parents, bridge)
    let mut samples = vec![[Vec::new(), Vec::new()]; engines.len()];
    for round in 0..rounds {
        for (e, bridge, took) in start_round(&engines, round) {
            samples[e][usize::from(bridge)].push(took);
        }
    }
    let mut start_medians = Vec::new();
    for (e, [none, bridge]) in samples.iter_mut().enumerate() {
        let (mn, mb) = (median(none), median(bridge));
        println!(
            "{}: start --network none {:.2} ms, default bridge {:.2} ms",
            names[e],
            mn.as_secs_f64() * 1e3,
            mb.as_secs_f64() * 1e3
        );
        start_medians.push((mb, mn));
    }
    let setup: Vec<Duration> = start_medians
        .iter()
        .map(|(bridge, none)| bridge.saturating_sub(*none))
        .collect();
    report(
        &format!("network setup per start (bridge - none, median of {rounds})"),
        setup[0],
        "docker",
        setup[1],
    );
    report(
        "start on the default bridge",
        start_medians[0].0,
        "docker",
        start_medians[1].0,
    );

    // b) published-port throughput over 127.0.0.1.
    let ports: Vec<(u16, u16)> = engines.iter().map(|e| start_sink(e, mib)).collect();
    let mut pushes = vec![Vec::new(); engines.len()];
    let mut pulls = vec![Vec::new(); engines.len()];
    for round in 0..tp_rounds {
        for k in 0..engines.len() {
            let e = (k + round) % engines.len();
            let (push_port, pull_port) = ports[e];
            pushes[e].push(push(push_port, mib).expect("push"));
            let (took, n) = pull(pull_port).expect("pull");
            assert_eq!(n, mib * MIB, "{} pull got {n} bytes", names[e]);
            pulls[e].push(took);
        }
    }
    for (what, samples) in [("push", &mut pushes), ("pull", &mut pulls)] {
        let m: Vec<Duration> = samples.iter_mut().map(|s| median(s)).collect();
        println!(
            "{what} {mib} MiB via 127.0.0.1 published port: berth {:.0} MiB/s, docker {:.0} MiB/s",
            mib_per_s(mib, m[0]),
            mib_per_s(mib, m[1])
        );
        report(
            &format!("{what} {mib} MiB (median of {tp_rounds})"),
            m[0],
            "docker",
            m[1],
        );
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average: {}",
        load.split(' ').take(3).collect::<Vec<_>>().join(" ")
    );
}

/// The bench's temp dir, removed last (after the engines it holds).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        unmount_under(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
