//! berth's engine against Docker's, in one run:
//!
//! 1. `run --rm busybox true` timed three ways, interleaved round by round: the berth CLI
//!    against the berth daemon, the docker CLI against the berth daemon, and the docker CLI
//!    against Docker's own daemon (Debian's `dockerd`, with a private `containerd`);
//! 2. 100 idle containers (`sleep`) started on each engine in turn, and the memory they cost:
//!    the monitor process per container (berth-shim / containerd-shim-runc-v2, PSS and RSS
//!    from /proc/<pid>/smaps_rollup), the daemons' growth, and the machine's used-memory
//!    growth (MemTotal − MemAvailable), each per container.
//!
//! Usage (as root): `cargo build --release -p berth -p berth-shim && cargo run --release -p
//! berth-bench --bin engine [rounds] [idle-containers] [cycles]` (defaults 20, 100, 3).
//!
//! Both engines run on private sockets, data roots and exec roots under one temporary
//! directory: berth with its own bridge name, nftables table and address block; dockerd with
//! `--bridge=none --iptables=false` and a containerd of its own (never the host's). Every
//! container runs with `--network none` so both engines do the same work. Everything started
//! is stopped by pid and unmounted at the end, also when the bench fails half-way.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use berth_bench::engines::{processes, remove_all_containers, Engines, DOCKER_CLI};
use berth_bench::median;
use berth_testkit::daemon::Daemon;
use berth_testkit::TempDir;

fn main() {
    let mut argv = std::env::args().skip(1);
    let rounds: usize = argv.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let idle: usize = argv.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let cycles: usize = argv.next().and_then(|a| a.parse().ok()).unwrap_or(3).max(1);
    assert!(berth_testkit::is_root(), "the engine bench needs root");
    let bin_dir = std::env::current_exe()
        .expect("current_exe")
        .parent()
        .expect("bin dir")
        .to_path_buf();
    for name in ["berth", "berth-shim", "berth-runtime"] {
        assert!(
            bin_dir.join(name).is_file(),
            "{} missing: cargo build --release -p berth -p berth-shim",
            bin_dir.join(name).display()
        );
    }
    for program in ["dockerd", "containerd", "containerd-shim-runc-v2", "runc"] {
        assert!(
            berth_testkit::which(program).is_some(),
            "{program} not installed (apt-get install docker.io)"
        );
    }
    let dir = TempDir::new("berth-bench-engine-");
    let lab = Lab {
        engines: Engines::start(dir.path(), &bin_dir),
    };
    lab.engines.load_busybox();
    let driver = lab.ok(Target::DockerToDocker, &["info", "--format", "{{.Driver}}"]);
    println!(
        "dockerd {}, storage driver {}; load average {}",
        lab.ok(
            Target::DockerToDocker,
            &["version", "--format", "{{.Server.Version}}"]
        )
        .trim(),
        driver.trim(),
        load_average()
    );

    time_run_rm(&lab, rounds);
    // The machine's used memory moves with everything else running here: the engines
    // alternate over several cycles and the medians are reported.
    println!("{idle} idle containers (sleep), per container, {cycles} cycles per engine:");
    let (mut berth_runs, mut docker_runs) = (Vec::new(), Vec::new());
    for cycle in 1..=cycles {
        berth_runs.push(idle_memory(&lab, Target::DockerToBerth, idle, cycle));
        docker_runs.push(idle_memory(&lab, Target::DockerToDocker, idle, cycle));
    }
    let berth_mem = IdleMemory::median(&berth_runs);
    let docker_mem = IdleMemory::median(&docker_runs);
    berth_mem.print("berth", "median");
    docker_mem.print("docker", "median");
    println!(
        "idle total (machine used-memory growth per container): berth {:.2} MiB, docker {:.2} MiB, ratio berth/docker {:.3}",
        berth_mem.machine,
        docker_mem.machine,
        berth_mem.machine / docker_mem.machine
    );
    println!(
        "idle accounted (monitor + daemon growth + container PSS + kernel growth, per container): berth {:.2} MiB, docker {:.2} MiB, ratio berth/docker {:.3}",
        berth_mem.accounted(),
        docker_mem.accounted(),
        berth_mem.accounted() / docker_mem.accounted()
    );
    println!(
        "idle monitor PSS per container: berth-shim {:.2} MiB, containerd-shim {:.2} MiB, ratio {:.3}",
        berth_mem.monitor_pss,
        docker_mem.monitor_pss,
        berth_mem.monitor_pss / docker_mem.monitor_pss
    );
    drop(lab);
}

/// Who talks to whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// berth CLI → berth daemon.
    BerthToBerth,
    /// docker CLI → berth daemon.
    DockerToBerth,
    /// docker CLI → dockerd.
    DockerToDocker,
}

impl Target {
    fn label(self) -> &'static str {
        match self {
            Target::BerthToBerth => "berth CLI -> berth daemon",
            Target::DockerToBerth => "docker CLI -> berth daemon",
            Target::DockerToDocker => "docker CLI -> dockerd",
        }
    }
}

/// The two engines of the run (stopped and cleaned on drop) and the CLI paths to them.
struct Lab {
    engines: Engines,
}

impl Lab {
    fn berth(&self) -> &Daemon {
        &self.engines.berth
    }

    fn command(&self, target: Target) -> Command {
        let (program, sock) = match target {
            Target::BerthToBerth => (self.berth().bin.clone(), self.berth().sock()),
            Target::DockerToBerth => (PathBuf::from(DOCKER_CLI), self.berth().sock()),
            Target::DockerToDocker => (PathBuf::from(DOCKER_CLI), self.engines.docker_sock()),
        };
        let mut c = Command::new(program);
        c.arg("-H")
            .arg(format!("unix://{}", sock.display()))
            .env("DOCKER_CONFIG", self.engines.root.join("cli-config"))
            .stdin(Stdio::null());
        c
    }

    fn cmd(&self, target: Target, args: &[&str]) -> Output {
        self.command(target).args(args).output().expect("run CLI")
    }

    /// Runs a CLI command that must succeed; returns its stdout.
    fn ok(&self, target: Target, args: &[&str]) -> String {
        let o = self.cmd(target, args);
        assert!(
            o.status.success(),
            "{} {args:?}: {}",
            target.label(),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn daemon_pids(&self, target: Target) -> Vec<i32> {
        match target {
            Target::DockerToDocker => self.engines.docker_pids(),
            _ => self
                .berth()
                .pid()
                .and_then(|p| i32::try_from(p).ok())
                .into_iter()
                .collect(),
        }
    }

    /// The per-container monitors this engine started.
    fn monitor_pids(&self, target: Target) -> Vec<i32> {
        self.engines
            .monitor_pids(matches!(target, Target::DockerToDocker))
    }

    fn remove_all(&self, target: Target) {
        let sock = match target {
            Target::DockerToDocker => self.engines.docker_host(),
            _ => self.engines.berth_host(),
        };
        remove_all_containers(&sock);
    }
}

/// Times `run --rm --network none busybox true` through the three paths, interleaved, with
/// the order rotating every round.
fn time_run_rm(lab: &Lab, rounds: usize) {
    let targets = [
        Target::BerthToBerth,
        Target::DockerToBerth,
        Target::DockerToDocker,
    ];
    let args = [
        "run",
        "--rm",
        "--pull",
        "never",
        "--network",
        "none",
        "busybox",
        "true",
    ];
    let once = |t: Target| {
        let start = Instant::now();
        let o = lab.cmd(t, &args);
        let took = start.elapsed();
        assert!(
            o.status.success(),
            "{}: {}",
            t.label(),
            String::from_utf8_lossy(&o.stderr)
        );
        took
    };
    for t in targets {
        once(t); // warm-up: page cache, image unpacked, cgroup parents
    }
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); targets.len()];
    for round in 0..rounds {
        for k in 0..targets.len() {
            let i = (round + k) % targets.len();
            samples[i].push(once(targets[i]));
        }
    }
    let medians: Vec<Duration> = samples.iter_mut().map(|s| median(s)).collect();
    println!(
        "run --rm busybox true, median of {rounds} rounds (load average {}):",
        load_average()
    );
    for (t, m) in targets.iter().zip(&medians) {
        println!("  {:<28} {:>8.1} ms", t.label(), m.as_secs_f64() * 1e3);
    }
    let docker = medians[2].as_secs_f64();
    println!(
        "  dockerd / berth daemon: {:.2}x with the berth CLI, {:.2}x with the docker CLI",
        docker / medians[0].as_secs_f64(),
        docker / medians[1].as_secs_f64()
    );
}

/// Memory per idle container on one engine, in MiB.
#[derive(Debug, Default, Clone, Copy)]
struct IdleMemory {
    monitor_pss: f64,
    monitor_rss: f64,
    daemon_pss: f64,
    daemon_rss: f64,
    /// The containers' own processes (children of the monitors).
    container_pss: f64,
    /// Kernel memory growth: unreclaimable slab, kernel stacks, page tables.
    kernel: f64,
    machine: f64,
}

impl IdleMemory {
    /// What the engine's processes and the kernel objects of its containers cost: less
    /// exposed to the rest of the machine than `machine`.
    fn accounted(&self) -> f64 {
        self.monitor_pss + self.daemon_pss + self.container_pss + self.kernel
    }
}

impl IdleMemory {
    /// The field-wise median of several cycles.
    fn median(samples: &[IdleMemory]) -> IdleMemory {
        let m = |f: fn(&IdleMemory) -> f64| {
            let mut v: Vec<f64> = samples.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            let n = v.len();
            if n % 2 == 1 {
                v[n / 2]
            } else {
                (v[n / 2 - 1] + v[n / 2]) / 2.0
            }
        };
        IdleMemory {
            monitor_pss: m(|s| s.monitor_pss),
            monitor_rss: m(|s| s.monitor_rss),
            daemon_pss: m(|s| s.daemon_pss),
            daemon_rss: m(|s| s.daemon_rss),
            container_pss: m(|s| s.container_pss),
            kernel: m(|s| s.kernel),
            machine: m(|s| s.machine),
        }
    }

    fn print(&self, engine: &str, what: &str) {
        println!(
            "  {engine:<6} {what}: monitor PSS {:.2} MiB, RSS {:.2} MiB; daemon growth PSS {:.2} MiB, RSS {:.2} MiB; container PSS {:.2} MiB; kernel growth {:.2} MiB; accounted {:.2} MiB; machine used-memory growth {:.2} MiB",
            self.monitor_pss,
            self.monitor_rss,
            self.daemon_pss,
            self.daemon_rss,
            self.container_pss,
            self.kernel,
            self.accounted(),
            self.machine
        );
    }
}

/// Starts `n` idle containers on one engine, measures, removes them.
fn idle_memory(lab: &Lab, target: Target, n: usize, cycle: usize) -> IdleMemory {
    let engine = if target == Target::DockerToDocker {
        "docker"
    } else {
        "berth"
    };
    lab.remove_all(target);
    settle();
    let daemons = lab.daemon_pids(target);
    let daemon_before = sum_rollup(&daemons);
    let used_before = machine_used_kib();
    let kernel_before = kernel_kib();
    let start = Instant::now();
    for i in 0..n {
        lab.ok(
            target,
            &[
                "run",
                "-d",
                "--pull",
                "never",
                "--network",
                "none",
                "--name",
                &format!("idle{i}"),
                "busybox",
                "sleep",
                "1000000",
            ],
        );
    }
    let started_in = start.elapsed();
    settle();
    let monitors = lab.monitor_pids(target);
    assert_eq!(
        monitors.len(),
        n,
        "{engine}: one monitor process per container"
    );
    let mon = sum_rollup(&monitors);
    let containers: Vec<i32> = processes()
        .into_iter()
        .filter(|p| monitors.contains(&parent_pid(p.0)))
        .map(|p| p.0)
        .collect();
    let inits = sum_rollup(&containers);
    let daemon_after = sum_rollup(&daemons);
    let used_after = machine_used_kib();
    let kernel_after = kernel_kib();
    let per = |kib: i64| kib as f64 / 1024.0 / n as f64;
    let mem = IdleMemory {
        monitor_pss: per(mon.pss),
        monitor_rss: per(mon.rss),
        daemon_pss: per(daemon_after.pss - daemon_before.pss),
        daemon_rss: per(daemon_after.rss - daemon_before.rss),
        container_pss: per(inits.pss),
        kernel: per(kernel_after - kernel_before),
        machine: per(used_after - used_before),
    };
    mem.print(
        engine,
        &format!(
            "cycle {cycle} ({n} started in {:.1} s)",
            started_in.as_secs_f64()
        ),
    );
    lab.remove_all(target);
    mem
}

/// Lets deferred work (page cache writeback, RCU frees) settle between measurements.
fn settle() {
    let _ = Command::new("sync").status();
    std::thread::sleep(Duration::from_secs(2));
}

#[derive(Debug, Default, Clone, Copy)]
struct Rollup {
    rss: i64,
    pss: i64,
}

/// Summed Rss and Pss (KiB) of `pids` from /proc/<pid>/smaps_rollup.
fn sum_rollup(pids: &[i32]) -> Rollup {
    let mut total = Rollup::default();
    for pid in pids {
        let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        for line in text.lines() {
            let mut f = line.split_whitespace();
            let (key, value) = (f.next(), f.next().and_then(|v| v.parse::<i64>().ok()));
            match (key, value) {
                (Some("Rss:"), Some(v)) => total.rss += v,
                (Some("Pss:"), Some(v)) => total.pss += v,
                _ => {}
            }
        }
    }
    total
}

/// SUnreclaim + KernelStack + PageTables in KiB (the kernel memory namespaces, cgroups,
/// mounts and processes pin).
fn kernel_kib() -> i64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    ["SUnreclaim:", "KernelStack:", "PageTables:"]
        .iter()
        .map(|name| {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0)
        })
        .sum()
}

/// The parent of `pid` (0 when unknown).
fn parent_pid(pid: i32) -> i32 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// MemTotal − MemAvailable in KiB.
fn machine_used_kib() -> i64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    field("MemTotal:") - field("MemAvailable:")
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
