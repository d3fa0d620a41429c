//! Times create + start + wait + delete of the same busybox bundle (`true`) with berth's
//! runtime and with runc, interleaved in one run, and prints both medians and their ratio.
//!
//! Usage (as root): `cargo run --release -p berth-bench --bin runtime [rounds]`. The berth
//! binary is taken from next to this executable (target/release/berth); runc from PATH or
//! /usr/sbin/runc. Waiting uses a pidfd on the --pid-file pid for both runtimes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_testkit::{busybox, TempDir};

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(30);
    let berth = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .join("berth");
    assert!(
        berth.is_file(),
        "{} missing: cargo build --release -p berth",
        berth.display()
    );
    let runc = berth_testkit::which("runc").expect("runc installed");
    let dir = TempDir::new("berth-bench-rt-");
    let bundle = dir.path().join("bundle");
    busybox::make_rootfs(&bundle.join("rootfs"));
    let st = Command::new(&berth)
        .args(["runtime", "spec", "--bundle"])
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

    let berth_cmd = vec![berth.into_os_string(), "runtime".into()];
    let runc_cmd = vec![runc.into_os_string()];
    let (mut b, mut r) = (Vec::new(), Vec::new());
    // One warm-up each (page cache, cgroup parents), then interleaved rounds.
    one_round(
        &berth_cmd,
        &dir.path().join("root-berth"),
        &bundle,
        "warm-b",
    );
    one_round(&runc_cmd, &dir.path().join("root-runc"), &bundle, "warm-r");
    for i in 0..rounds {
        b.push(one_round(
            &berth_cmd,
            &dir.path().join("root-berth"),
            &bundle,
            &format!("b{i}"),
        ));
        r.push(one_round(
            &runc_cmd,
            &dir.path().join("root-runc"),
            &bundle,
            &format!("r{i}"),
        ));
    }
    let (mb, mr) = (berth_bench::median(&mut b), berth_bench::median(&mut r));
    berth_bench::report(
        "runtime create+start+wait+delete (busybox true)",
        mb,
        "runc",
        mr,
    );
}

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

fn one_round(cmd: &[std::ffi::OsString], root: &Path, bundle: &Path, id: &str) -> Duration {
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
    run(cmd, root, &["start", id]);
    let mut fds = [rustix::event::PollFd::new(
        &pidfd,
        rustix::event::PollFlags::IN,
    )];
    rustix::event::poll(&mut fds, None).unwrap();
    run(cmd, root, &["delete", id]);
    let took = t0.elapsed();
    let _ = std::fs::remove_file(&pid_file);
    took
}
