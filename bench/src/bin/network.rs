//! Network benchmark: berth's daemon against Docker's own daemon (Debian docker.io's
//! `dockerd`), both private to this run, driven by the same docker CLI, in one run:
//!
//! a) **network setup per container start**: per round, the time of the `POST
//!    /containers/{id}/start` API call for a created busybox `sleep` container on the default
//!    bridge, minus the same for one with `--network none` (which still gets its own netns
//!    with loopback up) started in the same round; the median of these paired differences
//!    (and its quartiles) is what attaching the default bridge costs a start:
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
//! Safety: both daemons are [`Engines`] (`berth_bench::engines`): dockerd runs on a private
//! socket, data root, exec root, containerd, pidfile and `daemon.json`, with
//! `--iptables=false --ip6tables=false --ip-masq=false --ip-forward=false` (no host firewall
//! or sysctl change), on a bridge the run creates with a unique name and a free private /24
//! ([`DockerNet::Bridge`]), and a unique `--cgroup-parent`. berth's daemon (testkit's) gets
//! its own bridge, nftables table and subnet. Everything (containers, daemons by PID,
//! mounts, bridges, the berth table, cgroup directories, the temp dir) is removed at the end,
//! also when a step panics.
//!
//! Run as root after `cargo build --release -p berth -p berth-shim -p berth-runtime`:
//! `cargo run --release -p berth-bench --bin network [start rounds (20)]`;
//! `BENCH_TP_ROUNDS` (5) and `BENCH_MIB` (1024) size the throughput part.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_bench::engines::{docker_cli, DockerNet, Engines};
use berth_bench::{free_loopback_port, median, report, unmount_under, wait_for};

/// One engine of the run as the parts below drive it (the daemons are [`Engines`]'s).
struct Engine {
    name: &'static str,
    /// `unix://<socket>`.
    host: String,
    sock: PathBuf,
    /// The daemon whose `docker-proxy` children carry published ports (Docker's).
    proxy_parent: Option<u32>,
}

impl Engine {
    /// Runs the CLI, panics with its stderr on failure, returns trimmed stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = docker_cli(&self.host, args);
        assert!(
            out.status.success(),
            "{}: docker {args:?} failed: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
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
        out.push((case.engine, case.bridge, api_start(&engine.sock, &case.id)));
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

/// The CPU time spent moving a throughput container's bytes: this process (the client),
/// the container's cgroup (its `nc` and `dd`) and, for Docker, the daemon's `docker-proxy`
/// children. Unlike wall time it does not depend on how much CPU the other tenants of a
/// shared machine leave (softirq work deferred to ksoftirqd is not counted, for either).
struct CpuMeter {
    cgroup_usage: PathBuf,
    proxy_parent: Option<u32>,
}

impl CpuMeter {
    fn new(engine: &Engine, container: &str, docker_proxy: bool) -> CpuMeter {
        let pid = engine.ok(&["inspect", "-f", "{{.State.Pid}}", container]);
        CpuMeter {
            cgroup_usage: cgroup_cpu_file(&pid),
            proxy_parent: if docker_proxy {
                engine.proxy_parent
            } else {
                None
            },
        }
    }

    fn total(&self) -> Duration {
        let mut sum = process_cpu("self") + cgroup_cpu(&self.cgroup_usage);
        if let Some(parent) = self.proxy_parent {
            for pid in children_named(parent, "docker-proxy") {
                sum += process_cpu(&pid.to_string());
            }
        }
        sum
    }
}

/// user + system time of a process (all threads), from `/proc/<pid>/stat`.
fn process_cpu(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .map(|f| f.parse().unwrap_or(0))
                .collect()
        })
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 of stat (11 and 12 after the comm), in
    // USER_HZ ticks, which is 100 on Linux.
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// PIDs of the processes called `comm` whose parent is `parent`.
fn children_named(parent: u32, comm: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let name = stat.split_once('(').and_then(|(_, r)| r.rsplit_once(')'));
            name.is_some_and(|(n, rest)| {
                n == comm && rest.split_whitespace().nth(1) == Some(&parent.to_string())
            })
        })
        .collect()
}

/// The CPU usage file of the cgroup of `pid`: v1 `cpuacct.usage` or v2 `cpu.stat`.
fn cgroup_cpu_file(pid: &str) -> PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("container cgroup");
    let root = Path::new("/sys/fs/cgroup");
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next(), parts.next(), parts.next());
        let (Some(controllers), Some(path)) = (controllers, path) else {
            continue;
        };
        let path = path.trim_start_matches('/');
        if controllers.split(',').any(|c| c == "cpuacct") {
            for dir in [controllers, "cpuacct", "cpu,cpuacct"] {
                let file = root.join(dir).join(path).join("cpuacct.usage");
                if file.is_file() {
                    return file;
                }
            }
        }
        if controllers.is_empty() {
            for base in [root.to_path_buf(), root.join("unified")] {
                let file = base.join(path).join("cpu.stat");
                if file.is_file() && !text.contains("cpuacct") {
                    return file;
                }
            }
        }
    }
    panic!("no CPU accounting file for the cgroup of pid {pid}: {text}");
}

fn cgroup_cpu(file: &Path) -> Duration {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    if file.ends_with("cpuacct.usage") {
        Duration::from_nanos(text.trim().parse().unwrap_or(0))
    } else {
        let usec = text
            .lines()
            .find_map(|l| l.strip_prefix("usage_usec "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        Duration::from_micros(usec)
    }
}

/// Median and quartiles of millisecond samples (nearest rank).
fn quartiles_ms(samples: &mut [f64]) -> (f64, f64, f64) {
    samples.sort_by(f64::total_cmp);
    // The rank (n - 1) * percent / 100, rounded half up.
    let at = |percent: usize| samples[((samples.len() - 1) * percent + 50) / 100];
    (at(50), at(25), at(75))
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
    let bin_dir = std::env::current_exe()
        .expect("current_exe")
        .parent()
        .expect("bin dir")
        .to_path_buf();
    // Dropped before `_base`: the daemons and what they own go first, even on a panic.
    let lab = Engines::start_with(&base, &bin_dir, DockerNet::Bridge);
    lab.load_busybox();
    let engines = [
        Engine {
            name: "berth",
            host: lab.berth_host(),
            sock: lab.berth.sock(),
            proxy_parent: None,
        },
        Engine {
            name: "docker",
            host: lab.docker_host(),
            sock: lab.docker_sock(),
            proxy_parent: lab.dockerd_pid(),
        },
    ];
    let names: Vec<&str> = engines.iter().map(|e| e.name).collect();

    // a) start latency, bridge vs none.
    // Warm-up (page cache, cgroup parents, bridge).
    start_round(&engines, usize::MAX / 2);
    let per_round: Vec<Vec<(usize, bool, Duration)>> =
        (0..rounds).map(|r| start_round(&engines, r)).collect();
    // samples[engine][round] = [none, bridge]
    let samples: Vec<Vec<[Duration; 2]>> = (0..engines.len())
        .map(|e| {
            per_round
                .iter()
                .map(|starts| {
                    let mut pair = [Duration::ZERO; 2];
                    for &(_, bridge, took) in starts.iter().filter(|s| s.0 == e) {
                        pair[usize::from(bridge)] = took;
                    }
                    pair
                })
                .collect()
        })
        .collect();
    let mut start_medians = Vec::new();
    let mut setup_ms = Vec::new();
    for (e, rounds_of_engine) in samples.iter().enumerate() {
        let mut none: Vec<Duration> = rounds_of_engine.iter().map(|r| r[0]).collect();
        let mut bridge: Vec<Duration> = rounds_of_engine.iter().map(|r| r[1]).collect();
        // Paired: bridge minus none of the same round (same load), then the median.
        let mut diffs: Vec<f64> = rounds_of_engine
            .iter()
            .map(|r| (r[1].as_secs_f64() - r[0].as_secs_f64()) * 1e3)
            .collect();
        let (mn, mb) = (median(&mut none), median(&mut bridge));
        let (d, q1, q3) = quartiles_ms(&mut diffs);
        println!(
            "{}: start --network none {:.2} ms, default bridge {:.2} ms; \
             bridge - none per round: median {d:.2} ms (quartiles {q1:.2} .. {q3:.2})",
            names[e],
            mn.as_secs_f64() * 1e3,
            mb.as_secs_f64() * 1e3
        );
        start_medians.push((mb, mn));
        setup_ms.push(d);
    }
    println!(
        "network setup per start (paired bridge - none, median of {rounds}): \
         berth {:.2} ms, docker {:.2} ms, ratio berth/docker {:.3}",
        setup_ms[0],
        setup_ms[1],
        setup_ms[0] / setup_ms[1]
    );
    report(
        "start on the default bridge",
        start_medians[0].0,
        "docker",
        start_medians[1].0,
    );

    // b) published-port throughput over 127.0.0.1.
    let ports: Vec<(u16, u16)> = engines.iter().map(|e| start_sink(e, mib)).collect();
    let meters: Vec<CpuMeter> = engines
        .iter()
        .map(|e| CpuMeter::new(e, "nb-throughput", e.name == "docker"))
        .collect();
    // [engine] → (wall, cpu) per transfer
    let mut pushes = vec![Vec::new(); engines.len()];
    let mut pulls = vec![Vec::new(); engines.len()];
    for round in 0..tp_rounds {
        for k in 0..engines.len() {
            let e = (k + round) % engines.len();
            let (push_port, pull_port) = ports[e];
            let cpu0 = meters[e].total();
            let took = push(push_port, mib).expect("push");
            let cpu1 = meters[e].total();
            pushes[e].push((took, cpu1.saturating_sub(cpu0)));
            let (took, n) = pull(pull_port).expect("pull");
            assert_eq!(n, mib * MIB, "{} pull got {n} bytes", names[e]);
            pulls[e].push((took, meters[e].total().saturating_sub(cpu1)));
        }
    }
    for (what, samples) in [("push", &pushes), ("pull", &pulls)] {
        let wall: Vec<Duration> = samples
            .iter()
            .map(|s| median(&mut s.iter().map(|x| x.0).collect::<Vec<_>>()))
            .collect();
        let cpu: Vec<Duration> = samples
            .iter()
            .map(|s| median(&mut s.iter().map(|x| x.1).collect::<Vec<_>>()))
            .collect();
        println!(
            "{what} {mib} MiB via 127.0.0.1 published port: berth {:.0} MiB/s, docker {:.0} MiB/s",
            mib_per_s(mib, wall[0]),
            mib_per_s(mib, wall[1])
        );
        report(
            &format!("{what} {mib} MiB wall time (median of {tp_rounds})"),
            wall[0],
            "docker",
            wall[1],
        );
        report(
            &format!("{what} {mib} MiB CPU time, client + container + proxy (median)"),
            cpu[0],
            "docker",
            cpu[1],
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
