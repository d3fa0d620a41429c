//! `berth-shim` as the daemon drives it: a busybox container created through the lean
//! `berth-runtime`, started over the shim's socket, its output framed and logged (with
//! rotation), its exit code recorded, and nothing left behind.
#![cfg(test)]

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use berth_logdriver::jsonfile as logfile;
use berth_shim::{exit_path, protocol, socket_path, ExitRecord, ShimArgs};
use berth_testkit::{busybox, helper_bin, require_root, unique_name, TempDir};

const SHIM: &str = env!("CARGO_BIN_EXE_berth-shim");

/// A shim's directories in a TempDir, laid out as the daemon does; on drop the shim is
/// killed and the container force-deleted if a test failed half-way.
struct Setup {
    /// Holds the bundle, state and log (removed on drop, after the container).
    _dir: TempDir,
    args: ShimArgs,
    shim: Option<Child>,
}

impl Setup {
    fn new(argv: &[&str], max_size: u64, max_file: u32) -> Setup {
        let dir = TempDir::new("berth-shim-");
        let id = unique_name("s");
        let bundle = dir.path().join("bundle");
        busybox::make_rootfs(&bundle.join("rootfs"));
        let runtime = helper_bin("berth-runtime");
        let st = Command::new(&runtime)
            .args(["spec", "--bundle"])
            .arg(&bundle)
            .status()
            .expect("berth-runtime spec");
        assert!(st.success());
        let cfg = bundle.join("config.json");
        let mut spec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&cfg).unwrap()).unwrap();
        spec["process"]["terminal"] = serde_json::json!(false);
        spec["process"]["args"] = serde_json::json!(argv);
        std::fs::write(&cfg, serde_json::to_vec(&spec).unwrap()).unwrap();
        let state_dir = dir.path().join("exec/containers").join(&id);
        std::fs::create_dir_all(&state_dir).unwrap();
        let args = ShimArgs {
            id,
            bundle,
            runtime,
            runtime_args: Vec::new(),
            runtime_root: dir.path().join("exec/runtime"),
            state_dir,
            log: dir.path().join("c-json.log"),
            log_config: None,
            tty: false,
            stdin: false,
            merge_output: false,
            max_size,
            max_file,
        };
        Setup {
            _dir: dir,
            args,
            shim: None,
        }
    }

    /// Starts the shim and returns its first line.
    fn spawn(&mut self) -> String {
        let mut child = Command::new(SHIM)
            .args(self.args.to_args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn berth-shim");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        self.shim = Some(child);
        line
    }

    fn runtime_state(&self) -> PathBuf {
        self.args.runtime_root.join(&self.args.id)
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Some(mut c) = self.shim.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new(&self.args.runtime)
            .arg("--root")
            .arg(&self.args.runtime_root)
            .args(["delete", "--force", &self.args.id])
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_file(socket_path(&self.args.state_dir));
    }
}

#[test]
fn bad_arguments_exit_2_and_name_the_flag() {
    let out = Command::new(SHIM).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "berth-shim: unknown flag \"--bogus\"\n"
    );
    let out = Command::new(SHIM).args(["--id", "x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bundle is required"));
}

#[test]
fn runs_a_container_frames_and_logs_its_output_and_records_the_exit() {
    require_root!();
    let script = "for i in $(seq 1 30); do echo line $i; done; echo oops >&2; exit 3";
    let mut s = Setup::new(&["sh", "-c", script], 300, 2);
    let first = s.spawn();
    let pid: i32 = first
        .strip_prefix("ok ")
        .unwrap_or_else(|| panic!("shim answered {first:?}"))
        .trim()
        .parse()
        .unwrap();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    let mut conn = UnixStream::connect(socket_path(&s.args.state_dir)).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(120)))
        .unwrap();
    protocol::write_frame(&mut conn, protocol::START, b"").unwrap();
    let (mut out, mut err, mut started, mut exit) = (Vec::new(), Vec::new(), None, None);
    while let Some((kind, payload)) = protocol::read_frame(&mut conn).unwrap() {
        match kind {
            protocol::STDOUT => out.extend(payload),
            protocol::STDERR => err.extend(payload),
            protocol::STARTED => started = Some(String::from_utf8(payload).unwrap()),
            protocol::EXITED => {
                exit = Some(serde_json::from_slice::<ExitRecord>(&payload).unwrap());
                break;
            }
            k => panic!("unexpected frame {k}"),
        }
    }
    assert_eq!(started, Some(pid.to_string()));
    let expected: String = (1..=30).map(|i| format!("line {i}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&out), expected);
    assert_eq!(String::from_utf8_lossy(&err), "oops\n");
    let exit = exit.expect("EXITED frame");
    assert_eq!(exit.exit_code, 3);
    drop(conn);
    let status = s.shim.take().unwrap().wait().unwrap();
    assert!(status.success(), "shim exit: {status}");
    let recorded: ExitRecord =
        serde_json::from_slice(&std::fs::read(exit_path(&s.args.state_dir)).unwrap()).unwrap();
    assert_eq!(recorded, exit);
    // Rotation: 300-byte files, two kept; the newest entries survive, in order.
    assert!(PathBuf::from(format!("{}.1", s.args.log.display())).is_file());
    assert!(!PathBuf::from(format!("{}.2", s.args.log.display())).exists());
    let entries = logfile::read_all(&s.args.log).unwrap();
    // (stderr's one line may have been rotated away: the two pipes are not ordered.)
    assert!(entries
        .iter()
        .all(|e| e.stream == "stdout" || (e.stream == "stderr" && e.log == "oops\n")));
    let stdout: Vec<&str> = entries
        .iter()
        .filter(|e| e.stream == "stdout")
        .map(|e| e.log.as_str())
        .collect();
    assert!(!stdout.is_empty() && stdout.len() < 30, "{stdout:?}");
    assert_eq!(stdout.last(), Some(&"line 30\n"));
    // Nothing left: runtime state deleted, socket removed.
    assert!(!s.runtime_state().exists());
    assert!(!socket_path(&s.args.state_dir).exists());
}

#[test]
fn a_failing_create_reports_the_runtime_error_and_leaves_nothing() {
    require_root!();
    let mut s = Setup::new(&["/no/such/program"], 0, 1);
    let first = s.spawn();
    let msg = first
        .strip_prefix("err ")
        .unwrap_or_else(|| panic!("shim answered {first:?}"));
    assert!(
        msg.contains("/no/such/program"),
        "message names the program: {msg}"
    );
    let status = s.shim.take().unwrap().wait().unwrap();
    assert_eq!(status.code(), Some(1));
    assert!(!s.runtime_state().exists());
    assert!(!socket_path(&s.args.state_dir).exists());
}
