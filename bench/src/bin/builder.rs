//! `docker build` on berth vs on Docker's daemon (Debian's dockerd 20.10, classic builder),
//! in the same run: a 10-step Dockerfile (COPY, RUN, ENV, multi-stage) built cold
//! (`--no-cache`), fully cached, and after editing one copied file. The docker v28 CLI
//! drives both daemons, so only the daemons differ.
//!
//! ```sh
//! cargo build --release -p berth -p berth-shim
//! cargo run --release -p berth-bench --bin builder [rounds=5]   # as root
//! ```

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
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

/// `docker version` against `host`: the docker CLI's own start-up and one round trip, the
/// floor under every build timed through the CLI.
fn cli_floor(host: &str, ctx: &Path) -> Duration {
    let start = Instant::now();
    let o = Command::new(DOCKER_CLI)
        .args(["-H", host, "version", "--format", "{{.Server.Version}}"])
        .env("DOCKER_CONFIG", ctx.join(".docker-config"))
        .output()
        .expect("docker version");
    let took = start.elapsed();
    assert!(o.status.success(), "docker version on {host}");
    took
}

fn loadavg() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `POST /build?t=bench` with the tar `body`, straight on the daemon's socket.
fn build_raw(sock: &Path, body: &[u8]) -> Duration {
    let start = Instant::now();
    let mut s = UnixStream::connect(sock).expect("connect");
    write!(
        s,
        "POST /v1.41/build?t=bench HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .expect("request");
    s.write_all(body).expect("body");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("answer");
    let took = start.elapsed();
    assert!(
        answer.starts_with("HTTP/1.1 200")
            && !answer.contains("errorDetail")
            && !answer.contains("Running in"),
        "raw build on {} (must be all cache): {answer}",
        sock.display()
    );
    took
}

/// The context as the CLI sends it: owner 0:0 with the names `root` (Docker's classic
/// builder hashes the tar headers, so these must match for its cache to hit), the ignored
/// config dir left out.
fn context_tar(ctx: &Path) -> Vec<u8> {
    fn add(b: &mut tar::Builder<Vec<u8>>, ctx: &Path, name: &str) {
        let p = ctx.join(name);
        let meta = std::fs::metadata(&p).expect("stat");
        let mut h = tar::Header::new_ustar();
        h.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
        h.set_mode(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777);
        h.set_uid(0);
        h.set_gid(0);
        h.set_username("root").expect("uname");
        h.set_groupname("root").expect("gname");
        if meta.is_dir() {
            h.set_size(0);
            b.append_data(&mut h, format!("{name}/"), std::io::empty())
                .expect("tar dir");
            let mut names: Vec<String> = std::fs::read_dir(&p)
                .expect("read dir")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            for n in names {
                add(b, ctx, &format!("{name}/{n}"));
            }
        } else {
            let f = std::fs::File::open(&p).expect("open");
            b.append_data(&mut h, name, f).expect("tar file");
        }
    }
    let mut b = tar::Builder::new(Vec::new());
    for name in [".dockerignore", "Dockerfile", "config.txt", "src"] {
        add(&mut b, ctx, name);
    }
    b.into_inner().expect("tar")
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
    let socks = [berth.sock(), docker.sock()];
    // Warm both (first pull-free build fills the caches).
    for (_, h) in &hosts {
        build(h, &ctx, &[]);
    }
    let mut cold = [Vec::new(), Vec::new()];
    let mut cached = [Vec::new(), Vec::new()];
    let mut edited = [Vec::new(), Vec::new()];
    let mut raw = [Vec::new(), Vec::new()];
    let mut floor = [Vec::new(), Vec::new()];
    let mut round_ratio = Vec::new();
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
        // Three cached builds a round on each side (interleaved), the round's figure their
        // median: one stall of the CLI on a loaded machine (its own `docker version` then
        // takes 80 ms too) does not decide a round.
        let mut this_round = [Vec::new(), Vec::new()];
        for _ in 0..3 {
            for &i in &order {
                this_round[i].push(build(&hosts[i].1, &ctx, &[]));
            }
        }
        for &i in &order {
            cached[i].extend(this_round[i].iter().copied());
            floor[i].push(cli_floor(&hosts[i].1, &ctx));
        }
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let (b, d) = (median(&mut this_round[0]), median(&mut this_round[1]));
        round_ratio.push(d.as_secs_f64() / b.as_secs_f64());
        println!(
            "round {}: fully cached through the CLI (median of 3): berth {:.1} ms, dockerd {:.1} ms, {:.2}x (CLI floor {:.1} / {:.1} ms; load {})",
            round + 1,
            ms(b),
            ms(d),
            d.as_secs_f64() / b.as_secs_f64(),
            ms(floor[0][round]),
            ms(floor[1][round]),
            loadavg()
        );
        let body = context_tar(&ctx);
        for &i in &order {
            raw[i].push(build_raw(&socks[i], &body));
        }
        std::fs::write(ctx.join("config.txt"), format!("v{}\n", round + 1)).expect("edit");
        for &i in &order {
            edited[i].push(build(&hosts[i].1, &ctx, &[]));
        }
    }
    let worst = round_ratio.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "build bench: {rounds} rounds, load average {}; fully cached through the CLI, worst round: {worst:.2}x",
        loadavg()
    );
    for (name, samples) in [
        ("cold (--no-cache)", &mut cold),
        ("fully cached", &mut cached),
        ("fully cached, POST /build without the CLI", &mut raw),
        ("one copied file edited", &mut edited),
        ("CLI floor (docker version)", &mut floor),
    ] {
        let [b, d] = samples;
        let (b, d) = (median(b), median(d));
        report(name, b, "dockerd", d);
        println!("  dockerd/berth: {:.2}x", d.as_secs_f64() / b.as_secs_f64());
    }
}
