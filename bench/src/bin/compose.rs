//! `berth compose` on berth's daemon against Debian's docker-compose v1 on Docker's daemon,
//! in one run, on a 5-service project (2 networks, 2 volumes, a depends_on chain that waits
//! for a healthcheck): `up -d`, `up -d` again with nothing changed, `down -v`. Medians of
//! interleaved rounds and the ratios (targets: up and down 5× faster, an unchanged up under
//! 100 ms).
//!
//! Usage (as root): `cargo build --release -p berth -p berth-shim && cargo run --release -p
//! berth-bench --bin compose [rounds]` (default 5). With `BENCH_TRACE=1`, one more `up -d` and
//! `down -v` on berth print the daemon's events with their time since the command started:
//! where the time of each goes.
//!
//! Both daemons run on private sockets, data roots and exec roots under one temporary
//! directory (dockerd with `--iptables=false` and a containerd of its own); everything
//! started is stopped by pid and unmounted at the end.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_bench::engines::{Engines, DOCKER_CLI};
use berth_bench::median;
use berth_testkit::TempDir;

const PROJECT: &str = r#"
services:
  db:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    volumes: [data:/data]
    networks: [back]
    healthcheck:
      test: ["CMD", "true"]
      interval: 200ms
      timeout: 1s
      retries: 3
  cache:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    volumes: [cache:/cache]
    networks: [back]
    depends_on:
      db:
        condition: service_healthy
  api:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    networks: [back, front]
    depends_on: [cache]
  worker:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    networks: [back]
    depends_on: [api]
  web:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    networks: [front]
    depends_on: [api]
networks:
  back: {}
  front: {}
volumes:
  data: {}
  cache: {}
"#;

/// One compose client on one daemon.
struct Side {
    label: &'static str,
    program: PathBuf,
    pre: Vec<&'static str>,
    host: String,
    dir: PathBuf,
}

impl Side {
    fn run(&self, args: &[&str]) -> Duration {
        let start = Instant::now();
        let o = Command::new(&self.program)
            .args(&self.pre)
            .args(["-p", "bench"])
            .args(args)
            .current_dir(&self.dir)
            .env("DOCKER_HOST", &self.host)
            .env("COMPOSE_PROGRESS", "quiet")
            .stdin(Stdio::null())
            .output()
            .expect("run compose");
        let took = start.elapsed();
        assert!(
            o.status.success(),
            "{} {args:?}: {}",
            self.label,
            String::from_utf8_lossy(&o.stderr)
        );
        took
    }
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    assert!(berth_testkit::is_root(), "the compose bench needs root");
    let bin_dir = std::env::current_exe()
        .expect("current_exe")
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let tmp = TempDir::new("compose-bench");
    let lab = Engines::start(tmp.path(), &bin_dir);
    let berth = &lab.berth;
    lab.load_busybox();
    let docker_host = lab.docker_host();
    let dir = lab.root.join("project");
    std::fs::create_dir_all(&dir).expect("mkdir project");
    std::fs::write(dir.join("compose.yaml"), PROJECT).expect("write project");
    let sides = [
        Side {
            label: "berth compose -> berth",
            program: berth.bin.clone(),
            pre: vec!["compose"],
            host: berth.host(),
            dir: dir.clone(),
        },
        Side {
            label: "docker-compose v1 -> dockerd",
            program: PathBuf::from("/usr/bin/docker-compose"),
            pre: vec![],
            host: docker_host.clone(),
            dir: dir.clone(),
        },
    ];
    // warm-up round on each side
    for s in &sides {
        s.run(&["up", "-d"]);
        s.run(&["down", "-v"]);
    }
    let mut samples: Vec<[Vec<Duration>; 3]> = vec![Default::default(), Default::default()];
    for round in 0..rounds {
        for k in 0..sides.len() {
            let i = (round + k) % sides.len();
            let s = &sides[i];
            samples[i][0].push(s.run(&["up", "-d"]));
            samples[i][1].push(s.run(&["up", "-d"]));
            samples[i][2].push(s.run(&["down", "-v"]));
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "compose, 5 services / 2 networks / 2 volumes / healthcheck chain, median of {rounds} rounds (load average {}):",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    let names = ["up -d", "up -d (unchanged)", "down -v"];
    let mut medians = [[Duration::ZERO; 3]; 2];
    for (i, s) in sides.iter().enumerate() {
        for (j, name) in names.iter().enumerate() {
            medians[i][j] = median(&mut samples[i][j]);
            println!(
                "  {:<30} {:<18} {:>8.1} ms",
                s.label,
                name,
                medians[i][j].as_secs_f64() * 1e3
            );
        }
    }
    for (j, name) in names.iter().enumerate() {
        println!(
            "  {name:<18} docker-compose v1 on Docker / berth compose on berth: {:.2}x",
            medians[1][j].as_secs_f64() / medians[0][j].as_secs_f64()
        );
    }
    if std::env::var_os("BENCH_TRACE").is_some() {
        trace(&sides[0], &["up", "-d"]);
        trace(&sides[0], &["down", "-v"]);
    }
}

/// Runs one compose command with `docker events` listening on the same daemon and prints
/// each event with its time since the command started.
fn trace(side: &Side, args: &[&str]) {
    let events = Command::new(DOCKER_CLI)
        .args(["-H", &side.host, "events", "--format"])
        .arg("{{.TimeNano}} {{.Type}} {{.Action}} {{.Actor.Attributes.name}}")
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("docker events");
    std::thread::sleep(Duration::from_millis(300));
    let start_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let took = side.run(args);
    std::thread::sleep(Duration::from_millis(300));
    // SIGTERM to the listener we started, by pid.
    let _ = Command::new("kill").arg(events.id().to_string()).status();
    let out = events.wait_with_output().expect("events output");
    println!(
        "trace: {} {args:?} took {:.1} ms",
        side.label,
        took.as_secs_f64() * 1e3
    );
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut parts = line.splitn(2, ' ');
        let at: u128 = parts.next().and_then(|t| t.parse().ok()).unwrap_or(0);
        let rest = parts.next().unwrap_or_default();
        let since = Duration::from_nanos(u64::try_from(at.saturating_sub(start_ns)).unwrap_or(0));
        println!("  {:>8.1} ms  {rest}", since.as_secs_f64() * 1e3);
    }
}
