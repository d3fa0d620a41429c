//! Crash safety: the daemon is killed (SIGKILL, deterministic through
//! `BERTH_TEST_CRASH_AT=<point>`) in the middle of create, start, rm and pull; after a
//! restart `ps -a`, `images` and `system df` agree with the disk, no mount under the daemon's
//! roots belongs to anything but a running container, no process of a dead container is
//! left, and the interrupted operation can be done again.
#![cfg(test)]

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};

use berth_testkit::daemon::{self, stderr, stdout, Daemon};
use berth_testkit::registry::{DockerRegistry, RegistryOptions, REGISTRY_BIN};

const CRASH_ENV: &str = "BERTH_TEST_CRASH_AT";

fn need() -> bool {
    daemon::need("crash_safety", &[])
}

fn ok(d: &Daemon, args: &[&str]) -> String {
    let o = d.docker(args);
    assert!(
        o.status.success(),
        "docker {args:?}: {}{}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// Restarts the daemon with `point` armed; the next matching operation kills it.
fn arm(d: &mut Daemon, point: &str) {
    d.kill9();
    d.spawn_env(&[(CRASH_ENV, point)]);
}

/// Runs `args` (which must crash the daemon), checks the daemon died of SIGKILL, and starts
/// it again without the crash point.
fn crash_and_restart(d: &mut Daemon, args: &[&str]) {
    let o = d.docker(args);
    assert!(
        !o.status.success(),
        "docker {args:?} should have lost the daemon: {}",
        stdout(&o)
    );
    let st = d.wait_gone();
    assert_eq!(st.signal(), Some(9), "the daemon died of SIGKILL: {st:?}");
    d.spawn();
}

fn data(d: &Daemon) -> PathBuf {
    d.root().join("data")
}

fn exec(d: &Daemon) -> PathBuf {
    d.root().join("exec")
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn mounts_under(root: &Path) -> Vec<String> {
    let root = format!("{}/", root.display());
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&root))
        .map(str::to_string)
        .collect()
}

/// Pids of processes whose command line names `needle`.
fn processes_naming(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'));
        if !zombie && String::from_utf8_lossy(&cmd).contains(needle) {
            out.push(pid);
        }
    }
    out
}

/// The checks every recovery must pass. `running` are the containers (full ids) expected
/// to run.
fn assert_consistent(d: &Daemon, running: &[String]) {
    let all: Vec<String> = ok(d, &["ps", "-aq", "--no-trunc"])
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let up: Vec<String> = ok(d, &["ps", "-q", "--no-trunc"])
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let mut want = running.to_vec();
    want.sort();
    let mut up_sorted = up.clone();
    up_sorted.sort();
    assert_eq!(up_sorted, want, "running containers");
    ok(d, &["images"]);
    let df = ok(d, &["system", "df"]);
    assert!(df.contains("Images"), "{df}");
    // Every container snapshot and directory belongs to a container.
    for key in names(&data(d).join("snapshots/active")) {
        assert!(all.contains(&key), "snapshot {key} without a container");
    }
    for dir in [data(d).join("containers"), exec(d).join("containers")] {
        for id in names(&dir) {
            assert!(
                all.contains(&id),
                "{} without a container",
                dir.join(&id).display()
            );
        }
    }
    // No partial downloads.
    assert_eq!(names(&data(d).join("content/ingest")), Vec::<String>::new());
    // Mounts: only running containers' root filesystems.
    for m in mounts_under(d.root()) {
        assert!(
            up.iter().any(|id| {
                m.starts_with(&format!("{}/containers/{id}/rootfs", exec(d).display()))
            }),
            "mount {m} belongs to no running container"
        );
    }
    // Processes: nothing of a container that does not run.
    for id in names(&exec(d).join("containers"))
        .into_iter()
        .chain(all.iter().cloned())
    {
        if up.contains(&id) {
            continue;
        }
        let pids = processes_naming(&format!("{}/containers/{id}", exec(d).display()));
        assert!(pids.is_empty(), "processes {pids:?} left for {id}");
    }
}

fn full_id(d: &Daemon, name: &str) -> String {
    ok(d, &["inspect", "-f", "{{.Id}}", name])
        .trim()
        .to_string()
}

#[test]
fn peer_crash_mid_create_then_create_again() {
    if !need() {
        return;
    }
    let mut d = Daemon::start();
    d.load_busybox();
    arm(&mut d, "create-before-commit");
    crash_and_restart(
        &mut d,
        &[
            "create", "--pull", "never", "--name", "c1", "busybox", "true",
        ],
    );
    assert_consistent(&d, &[]);
    assert_eq!(ok(&d, &["ps", "-aq"]), "");
    // The name was never taken; the same create works now, and so does rm.
    ok(
        &d,
        &[
            "create", "--pull", "never", "--name", "c1", "busybox", "true",
        ],
    );
    let o = ok(&d, &["start", "-a", "c1"]);
    assert_eq!(o, "");
    ok(&d, &["rm", "c1"]);
    assert_consistent(&d, &[]);
}

#[test]
fn peer_crash_mid_start_leaves_no_orphan() {
    if !need() {
        return;
    }
    let mut d = Daemon::start();
    d.load_busybox();
    ok(
        &d,
        &[
            "create", "--pull", "never", "--name", "s1", "busybox", "sleep", "1000",
        ],
    );
    let id = full_id(&d, "s1");
    arm(&mut d, "start-before-save");
    crash_and_restart(&mut d, &["start", "s1"]);
    // The start did not complete: no process, no mount, the record is not running.
    assert_consistent(&d, &[]);
    assert_eq!(
        ok(&d, &["inspect", "-f", "{{.State.Running}}", "s1"]),
        "false\n"
    );
    // And it can be done again.
    ok(&d, &["start", "s1"]);
    assert_consistent(&d, std::slice::from_ref(&id));
    ok(&d, &["rm", "-f", "s1"]);
    assert_consistent(&d, &[]);
}

#[test]
fn peer_crash_mid_rm_finishes_the_removal() {
    if !need() {
        return;
    }
    let mut d = Daemon::start();
    d.load_busybox();
    // A container that must survive every crash, with its logs flowing.
    ok(
        &d,
        &[
            "run",
            "-d",
            "--pull",
            "never",
            "--name",
            "keep",
            "busybox",
            "sh",
            "-c",
            "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done",
        ],
    );
    let keep = full_id(&d, "keep");
    ok(
        &d,
        &[
            "create", "--pull", "never", "--name", "stopped", "busybox", "true",
        ],
    );
    ok(
        &d,
        &[
            "run", "-d", "--pull", "never", "--name", "busy", "busybox", "sleep", "1000",
        ],
    );

    // Cut right after the record is marked: nothing was torn down yet.
    arm(&mut d, "rm-after-mark");
    crash_and_restart(&mut d, &["rm", "stopped"]);
    assert_consistent(&d, &[keep.clone(), full_id(&d, "busy")]);
    assert!(!ok(&d, &["ps", "-a"]).contains("stopped"));

    // Cut after the snapshot and directories are gone, the record not yet.
    arm(&mut d, "rm-after-snapshot");
    crash_and_restart(&mut d, &["rm", "-f", "busy"]);
    assert_consistent(&d, std::slice::from_ref(&keep));
    let ps = ok(&d, &["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(ps, "keep\n");

    // The names are free again; rm works on the new containers.
    ok(
        &d,
        &[
            "create", "--pull", "never", "--name", "busy", "busybox", "true",
        ],
    );
    ok(
        &d,
        &[
            "create", "--pull", "never", "--name", "stopped", "busybox", "true",
        ],
    );
    ok(&d, &["rm", "busy", "stopped"]);

    // Live restore held across three kill -9: `keep` runs and logs keep flowing.
    let before = ok(&d, &["logs", "keep"]).lines().count();
    let mut after = before;
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        after = ok(&d, &["logs", "keep"]).lines().count();
        if after > before {
            break;
        }
    }
    assert!(after > before, "logs keep flowing: {before} -> {after}");
    ok(&d, &["rm", "-f", "keep"]);
    assert_consistent(&d, &[]);
}

#[test]
fn peer_crash_mid_pull_then_pull_again() {
    if !need() {
        return;
    }
    if !Path::new(REGISTRY_BIN).exists() {
        berth_testkit::skip("crash_safety", &format!("needs {REGISTRY_BIN}"));
        return;
    }
    let reg = DockerRegistry::start(&RegistryOptions::default());
    let mut d = Daemon::start();
    d.load_busybox();
    let repo = format!("{}/crash/bb:v1", reg.host());
    ok(&d, &["tag", "busybox", &repo]);
    ok(&d, &["push", &repo]);
    ok(&d, &["rmi", &repo, "busybox"]);
    assert_eq!(ok(&d, &["images", "-q"]), "");

    for point in ["pull-downloading", "pull-layer-committed"] {
        arm(&mut d, point);
        crash_and_restart(&mut d, &["pull", &repo]);
        assert_consistent(&d, &[]);
        assert_eq!(ok(&d, &["images", "-q"]), "", "after a crash at {point}");
        // Nothing half-pulled is left: no layer, no blob.
        assert_eq!(
            names(&data(&d).join("snapshots/layers")),
            Vec::<String>::new(),
            "{point}"
        );
        assert_eq!(
            names(&data(&d).join("content/blobs/sha256")),
            Vec::<String>::new(),
            "{point}"
        );
        // Pulling again works and the image runs.
        let o = ok(&d, &["pull", &repo]);
        assert!(o.contains("Downloaded newer image"), "{o}");
        let o = ok(
            &d,
            &["run", "--rm", "--pull", "never", &repo, "echo", "pulled"],
        );
        assert_eq!(o, "pulled\n");
        ok(&d, &["rmi", &repo]);
        assert_consistent(&d, &[]);
    }
}

#[test]
fn peer_sigterm_stops_cleanly_and_sighup_reloads() {
    if !need() {
        return;
    }
    let mut d = Daemon::start();
    d.load_busybox();
    ok(
        &d,
        &[
            "run",
            "-d",
            "--pull",
            "never",
            "--name",
            "lr",
            "busybox",
            "sh",
            "-c",
            "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done",
        ],
    );
    let id = full_id(&d, "lr");

    // SIGHUP: daemon.json's reloadable keys take effect and a reload event is published.
    assert!(!ok(&d, &["info", "-f", "{{.Debug}}"]).contains("true"));
    std::fs::write(
        d.root().join("daemon.json"),
        r#"{"debug": true, "insecure-registries": ["myregistry.test:5000"]}"#,
    )
    .expect("daemon.json");
    let pid = d.pid().expect("daemon pid");
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .expect("kill -HUP");
    assert!(hup.success());
    let mut debug = String::new();
    for _ in 0..100 {
        debug = ok(&d, &["info", "-f", "{{.Debug}}"]);
        if debug.contains("true") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(debug, "true\n");
    let regs = ok(&d, &["info", "-f", "{{json .RegistryConfig.IndexConfigs}}"]);
    assert!(regs.contains("myregistry.test:5000"), "{regs}");
    let mut events = String::new();
    for _ in 0..50 {
        events = ok(
            &d,
            &[
                "events",
                "--since",
                "0",
                "--until",
                "0s",
                "--filter",
                "type=daemon",
                "--format",
                "{{.Action}}",
            ],
        );
        if events.lines().any(|l| l == "reload") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(events.lines().any(|l| l == "reload"), "{events:?}");
    // A broken daemon.json is refused; the daemon keeps its configuration and serves on.
    std::fs::write(d.root().join("daemon.json"), "{not json").expect("daemon.json");
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .expect("kill -HUP");
    assert!(hup.success());
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(ok(&d, &["info", "-f", "{{.Debug}}"]), "true\n");
    std::fs::write(d.root().join("daemon.json"), "{}").expect("daemon.json");

    // SIGTERM: exit 0, socket and pid file removed, the container keeps running.
    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill -TERM");
    assert!(term.success());
    let st = d.wait_gone();
    assert_eq!(st.code(), Some(0), "clean exit: {st:?}");
    assert!(!d.sock().exists(), "socket removed");
    assert!(!d.root().join("berth.pid").exists(), "pid file removed");
    let shims = processes_naming(&format!("{}/containers/{id}", exec(&d).display()));
    assert!(
        !shims.is_empty(),
        "the container's shim outlives the daemon"
    );

    // Live restore across the clean restart: still running, logs keep flowing.
    d.spawn();
    assert_eq!(
        ok(&d, &["inspect", "-f", "{{.State.Running}}", "lr"]),
        "true\n"
    );
    let before = ok(&d, &["logs", "lr"]).lines().count();
    let mut after = before;
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        after = ok(&d, &["logs", "lr"]).lines().count();
        if after > before {
            break;
        }
    }
    assert!(after > before, "logs keep flowing: {before} -> {after}");
    assert_consistent(&d, std::slice::from_ref(&id));
    ok(&d, &["rm", "-f", "lr"]);
    assert_consistent(&d, &[]);
}
