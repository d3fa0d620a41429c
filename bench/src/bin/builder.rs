//! `docker build` on berth vs on Docker's daemon (Debian's dockerd 20.10, classic builder),
//! in the same run: a 10-step Dockerfile (COPY, RUN, ENV, multi-stage) built cold
//! (`--no-cache`), fully cached, and after editing one copied file. The docker v28 CLI
//! drives both daemons, so only the daemons differ.
//!
//! ```sh
//! cargo build --release -p berth -p berth-shim
//! cargo run --release -p berth-bench --bin builder [rounds=5]   # as root
//! ```

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use berth_bench::{median, report};
use berth_testkit::daemon::{Daemon, DaemonOptions, DOCKER_CLI};
use berth_testkit::dockerd::Dockerd;

const DOCKERFILE: &str = "FROM busybox AS build\n\
COPY src /src\n\
RUN cat /src/a.txt /src/b.txt > /combined && sha256sum /combined > /combined.sum\n\
FROM busybox\n\
ENV APP=/app MODE=bench\n\
WORKDIR /app\n\
COPY config.txt .\n\
COPY --from=build /combined.sum .\n\
RUN echo built > stamp\n\
CMD [\"cat\", \"/app/stamp\"]\n";

fn build(host: &str, ctx: &Path, extra: &[&str]) -> Duration {
    let start = Instant::now();
    let o = Command::new(DOCKER_CLI)
        .args(["-H", host, "build", "-q", "-t", "bench"])
        .args(extra)
        .arg(ctx)
        .env("DOCKER_CONFIG", ctx.join(".docker-config"))
        .output()
        .expect("docker build");
    let took = start.elapsed();
    assert!(
        o.status.success(),
        "build on {host}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    took
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let exe = std::env::current_exe().expect("current exe");
    let bin = exe.parent().expect("target dir").join("berth");
    let berth: Daemon = DaemonOptions::new().bin(bin).start();
    berth.load_busybox();
    let docker = Dockerd::start();
    docker.load_busybox();
    let ctx = berth.root().join("bench-ctx");
    std::fs::create_dir_all(ctx.join("src")).expect("ctx");
    std::fs::write(ctx.join("Dockerfile"), DOCKERFILE).expect("Dockerfile");
    std::fs::write(ctx.join(".dockerignore"), ".docker-config\n").expect("ignore");
    std::fs::write(ctx.join("src/a.txt"), "a".repeat(100_000)).expect("a");
    std::fs::write(ctx.join("src/b.txt"), "b".repeat(100_000)).expect("b");
    std::fs::write(ctx.join("config.txt"), "v0\n").expect("config");
    let hosts = [("berth", berth.host()), ("dockerd", docker.host())];
    // Warm both (first pull-free build fills the caches).
    for (_, h) in &hosts {
        build(h, &ctx, &[]);
    }
    let mut cold = [Vec::new(), Vec::new()];
    let mut cached = [Vec::new(), Vec::new()];
    let mut edited = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        // Interleaved, the order rotating each round.
        let order: Vec<usize> = if round % 2 == 0 {
            vec![0, 1]
        } else {
            vec![1, 0]
        };
        for &i in &order {
            cold[i].push(build(&hosts[i].1, &ctx, &["--no-cache"]));
        }
        for &i in &order {
            cached[i].push(build(&hosts[i].1, &ctx, &[]));
        }
        std::fs::write(ctx.join("config.txt"), format!("v{}\n", round + 1)).expect("edit");
        for &i in &order {
            edited[i].push(build(&hosts[i].1, &ctx, &[]));
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("build bench: {rounds} rounds, load average {}", load.trim());
    for (name, samples) in [
        ("cold (--no-cache)", &mut cold),
        ("fully cached", &mut cached),
        ("one copied file edited", &mut edited),
    ] {
        let [b, d] = samples;
        let (b, d) = (median(b), median(d));
        report(name, b, "dockerd", d);
        println!("  dockerd/berth: {:.2}x", d.as_secs_f64() / b.as_secs_f64());
    }
}
