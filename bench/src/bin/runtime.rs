//! Times create + start + wait + delete of the same busybox bundle (`true`) with berth's
//! runtime and with runc, interleaved in one run, and prints both medians and their ratio.
//!
//! Usage (as root): `cargo build --release -p berth --bins && cargo run --release -p
//! berth-bench --bin runtime [rounds]`. berth's runtime is the lean `berth-runtime` binary
//! from next to this executable (target/release; `BERTH_BENCH_FULL=1` times `berth runtime`
//! of the full binary instead); runc from PATH or /usr/sbin/runc. Waiting uses a pidfd on the --pid-file pid for both runtimes.
//! Also prints each phase's median (create, start, wait, delete) and the load average, since
//! this machine is shared and the numbers move with the load.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_testkit::{busybox, TempDir};

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(30);
    let bin_dir = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let full = std::env::var_os("BERTH_BENCH_FULL").is_some();
    let berth_cmd: Vec<std::ffi::OsString> = if full {
        vec![bin_dir.join("berth").into_os_string(), "runtime".into()]
    } else {
        vec![bin_dir.join("berth-runtime").into_os_string()]
    };
    assert!(
        Path::new(&berth_cmd[0]).is_file(),
        "{} missing: cargo build --release -p berth --bins",
        Path::new(&berth_cmd[0]).display()
    );
    let runc = berth_testkit::which("runc").expect("runc installed");
    let dir = TempDir::new("berth-bench-rt-");
    let bundle = dir.path().join("bundle");
    busybox::make_rootfs(&bundle.join("rootfs"));
    let st = Command::new(&berth_cmd[0])
        .args(&berth_cmd[1..])
        .args(["spec", "--bundle"])
        .arg(&bundle)
        .status()
        .unwrap();
    assert!(st.success());
    let path = bundle.join("config.json");
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    spec["process"]["terminal"] = serde_json::json!(false);
    spec["process"]["args"] = serde_json::json!(["true"]);
    std::fs::write(&path, serde_json::to_vec(&spec).unwrap()).unwrap();

    let runc_cmd = vec![runc.into_os_string()];
    let (mut b, mut r): (Vec<Round>, Vec<Round>) = (Vec::new(), Vec::new());
    // One warm-up each (page cache, cgroup parents), then interleaved rounds.
    one_round(
        &berth_cmd,
        &dir.path().join("root-berth"),
        &bundle,
        "warm-b",
    );
    one_round(&runc_cmd, &dir.path().join("root-runc"), &bundle, "warm-r");
    // The order alternates each round: whichever runs right after the other's delete pays
    // for the kernel's deferred cgroup/namespace teardown (about 10% in an A/A run of one
    // binary against itself in a fixed order).
    for i in 0..rounds {
        let berth_round = |b: &mut Vec<Round>| {
            b.push(one_round(
                &berth_cmd,
                &dir.path().join("root-berth"),
                &bundle,
                &format!("b{i}"),
            ))
        };
        let runc_round = |r: &mut Vec<Round>| {
            r.push(one_round(
                &runc_cmd,
                &dir.path().join("root-runc"),
                &bundle,
                &format!("r{i}"),
            ))
        };
        if i % 2 == 0 {
            berth_round(&mut b);
            runc_round(&mut r);
        } else {
            runc_round(&mut r);
            berth_round(&mut b);
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "berth: {:?}; load average: {}",
        berth_cmd,
        load.split(' ').take(3).collect::<Vec<_>>().join(" ")
    );
    for (i, phase) in ["create", "start", "wait", "delete"].iter().enumerate() {
        let mut pb: Vec<Duration> = b.iter().map(|x| x[i]).collect();
        let mut pr: Vec<Duration> = r.iter().map(|x| x[i]).collect();
        berth_bench::report(
            &format!("  phase {phase}"),
            berth_bench::median(&mut pb),
            "runc",
            berth_bench::median(&mut pr),
        );
    }
    let mut tb: Vec<Duration> = b.iter().map(|x| x.iter().sum()).collect();
    let mut tr: Vec<Duration> = r.iter().map(|x| x.iter().sum()).collect();
    let (mb, mr) = (berth_bench::median(&mut tb), berth_bench::median(&mut tr));
    berth_bench::report(
        "runtime create+start+wait+delete (busybox true)",
        mb,
        "runc",
        mr,
    );
}

/// Durations of create, start, wait and delete in one round.
type Round = [Duration; 4];

fn run(cmd: &[std::ffi::OsString], root: &Path, args: &[&str]) {
    let st = Command::new(&cmd[0])
        .args(&cmd[1..])
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "{:?} {args:?} failed", cmd);
}

fn one_round(cmd: &[std::ffi::OsString], root: &Path, bundle: &Path, id: &str) -> Round {
    let pid_file: PathBuf = bundle.parent().unwrap().join(format!("{id}.pid"));
    let b = bundle.to_str().unwrap();
    let t0 = Instant::now();
    run(
        cmd,
        root,
        &[
            "create",
            "--bundle",
            b,
            "--pid-file",
            pid_file.to_str().unwrap(),
            id,
        ],
    );
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let pidfd = rustix::process::pidfd_open(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::PidfdFlags::empty(),
    )
    .unwrap();
    let t1 = Instant::now();
    run(cmd, root, &["start", id]);
    let t2 = Instant::now();
    let mut fds = [rustix::event::PollFd::new(
        &pidfd,
        rustix::event::PollFlags::IN,
    )];
    rustix::event::poll(&mut fds, None).unwrap();
    let t3 = Instant::now();
    run(cmd, root, &["delete", id]);
    let t4 = Instant::now();
    let _ = std::fs::remove_file(&pid_file);
    [t1 - t0, t2 - t1, t3 - t2, t4 - t3]
}
