//! End to end on a private daemon, with the real docker CLI v28 and the berth CLI driven
//! through a pty pair the test opens: `run -it`, `exec -it` (a real tty, resizes), detach
//! keys (the container keeps running, re-attach works), `update` reaching the cgroup, and the
//! signal proxy of a non-tty `run`.
#![cfg(test)]

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_testkit::daemon::{self, stderr, stdout, Daemon};

fn need() -> bool {
    daemon::need("daemon_tty", &[])
}

/// Generous: the machine is shared and loaded.
const PATIENCE: Duration = Duration::from_secs(90);

/// A CLI process whose stdin/stdout/stderr are the slave of a pty this test holds the
/// master of. Killed on drop.
struct PtySession {
    master: File,
    child: Child,
    output: Arc<Mutex<Vec<u8>>>,
}

impl PtySession {
    fn spawn(program: &std::path::Path, d: &Daemon, args: &[&str], rows: u16, cols: u16) -> Self {
        use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
        let master: OwnedFd =
            openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).expect("openpt");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let name = ptsname(&master, Vec::new()).expect("ptsname");
        set_size(&master, rows, cols);
        let slave = File::options()
            .read(true)
            .write(true)
            .open(name.to_str().expect("pts name"))
            .expect("open pts");
        let child = Command::new(program)
            .arg("-H")
            .arg(format!("unix://{}", d.sock().display()))
            .args(args)
            .env("DOCKER_CONFIG", d.root().join("docker-config"))
            .stdin(Stdio::from(slave.try_clone().expect("dup")))
            .stdout(Stdio::from(slave.try_clone().expect("dup")))
            .stderr(Stdio::from(slave))
            .spawn()
            .expect("spawn cli");
        let master = File::from(master);
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().expect("dup master");
        let sink = output.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once the last slave holder is gone.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        PtySession {
            master,
            child,
            output,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Waits until the output contains `needle` (after `from` bytes of output).
    fn wait_for(&self, needle: &str, from: usize) -> usize {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let out = self.output.lock().unwrap().clone();
            let tail = String::from_utf8_lossy(&out[from.min(out.len())..]).into_owned();
            if let Some(pos) = tail.find(needle) {
                return from + pos + needle.len();
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in the session output: {:?}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn len(&self) -> usize {
        self.output.lock().unwrap().len()
    }

    /// The output after the first `from` bytes.
    fn since(&self, from: usize) -> String {
        let out = self.output.lock().unwrap();
        String::from_utf8_lossy(&out[from.min(out.len())..]).into_owned()
    }

    /// Sends `line` until the output after it contains `want` (a resize reaches the
    /// container asynchronously).
    fn ask_until(&mut self, line: &[u8], want: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let mark = self.len();
            self.send(line);
            let one = Instant::now() + Duration::from_secs(3);
            while Instant::now() < one {
                if self.since(mark).contains(want) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            assert!(
                Instant::now() < deadline,
                "no {want:?} after {line:?}: {:?}",
                self.text()
            );
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).expect("write to pty");
    }

    /// Resizes the terminal and tells the CLI (it is no session leader, so the kernel's
    /// SIGWINCH goes nowhere).
    fn resize(&mut self, rows: u16, cols: u16) {
        set_size(&self.master, rows, cols);
        let pid =
            rustix::process::Pid::from_raw(i32::try_from(self.child.id()).expect("pid fits i32"))
                .expect("pid");
        rustix::process::kill_process(pid, rustix::process::Signal::WINCH).expect("SIGWINCH");
    }

    fn wait_exit(&mut self) -> i32 {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                return st.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "the CLI did not exit: {:?}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for PtySession {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn set_size(fd: impl std::os::fd::AsFd, rows: u16, cols: u16) {
    let ws = rustix::termios::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(fd, ws).expect("set window size");
}

fn docker_bin() -> std::path::PathBuf {
    "/usr/local/bin/docker".into()
}

fn inspect(d: &Daemon, format: &str, name: &str) -> String {
    stdout(&d.docker(&["inspect", "-f", format, name]))
        .trim()
        .to_string()
}

/// `run -it`, a resize, detach with ctrl-p ctrl-q (the container keeps running), then
/// re-attach with the other CLI and detach again ("read escape sequence", exit 1).
fn run_it_detach_reattach(d: &Daemon, runner: &std::path::Path, attacher: &std::path::Path) {
    let name = berth_testkit::unique_name("tty");
    let mut s = PtySession::spawn(
        runner,
        d,
        &[
            "run", "-it", "--pull", "never", "--name", &name, "busybox", "sh",
        ],
        24,
        80,
    );
    // Type only once the shell prompts (input typed earlier raced the shell's start-up:
    // `stty: standard input: No child processes`, seen once on a loaded machine).
    let at = s.wait_for("# ", 0);
    s.send(b"tty; stty size\n");
    let at = s.wait_for("/dev/pts/", at);
    s.wait_for("24 80", at);
    s.resize(40, 120);
    s.ask_until(b"stty size\n", "40 120");
    s.send(&[16, 17]);
    assert_eq!(s.wait_exit(), 0, "run -it after detach: {:?}", s.text());
    assert_eq!(inspect(d, "{{.State.Running}}", &name), "true");

    let mut a = PtySession::spawn(attacher, d, &["attach", &name], 24, 80);
    // Keep typing until the shell answers (the attach may not be in place yet).
    a.ask_until(b"echo back-$((6*7))\n", "back-42");
    a.send(&[16, 17]);
    assert_eq!(a.wait_exit(), 1, "attach after detach: {:?}", a.text());
    assert!(
        a.text().contains("read escape sequence"),
        "attach: {:?}",
        a.text()
    );
    assert_eq!(inspect(d, "{{.State.Running}}", &name), "true");
    assert!(d.docker(&["rm", "-f", &name]).status.success());
}

/// `exec -it` gets a real tty that follows resizes; custom detach keys end the session and
/// leave the process running; exit codes come back.
fn exec_it(d: &Daemon, cli: &std::path::Path) {
    let name = berth_testkit::unique_name("ex");
    let o = d.docker(&[
        "run", "-d", "--pull", "never", "--name", &name, "busybox", "sleep", "1000",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut s = PtySession::spawn(cli, d, &["exec", "-it", &name, "sh"], 30, 100);
    let at = s.wait_for("# ", 0);
    s.send(b"tty; stty size\n");
    let at = s.wait_for("/dev/pts/", at);
    s.wait_for("30 100", at);
    s.resize(50, 132);
    s.ask_until(b"stty size\n", "50 132");
    s.send(b"exit 4\n");
    assert_eq!(s.wait_exit(), 4, "exec -it exit code: {:?}", s.text());

    let mut s = PtySession::spawn(
        cli,
        d,
        &["exec", "-it", "--detach-keys", "ctrl-x,x", &name, "sh"],
        24,
        80,
    );
    s.send(b"echo in-$((2+3))\n");
    s.wait_for("in-5", 0);
    s.send(&[24, b'x']);
    assert_eq!(s.wait_exit(), 1, "exec detach: {:?}", s.text());
    assert!(s.text().contains("read escape sequence"), "{:?}", s.text());
    // The detached shell still runs in the container.
    let ps = stdout(&d.docker(&["top", &name]));
    assert!(ps.lines().any(|l| l.ends_with(" sh")), "top: {ps}");

    // Without -i: output only, still a tty.
    let o = d.docker(&["exec", "-t", &name, "tty"]);
    assert!(stdout(&o).starts_with("/dev/pts/"), "{}", stdout(&o));
    let o = d.docker(&["exec", &name, "tty"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(d.docker(&["rm", "-f", &name]).status.success());
}

#[test]
fn peer_tty_run_exec_detach_with_docker_and_berth() {
    if !need() {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let berth = berth_testkit::berth_bin();
    run_it_detach_reattach(&d, &docker_bin(), &berth);
    run_it_detach_reattach(&d, &berth, &docker_bin());
    exec_it(&d, &docker_bin());
    exec_it(&d, &berth);

    // A bad detach key sequence is refused by the daemon (docker passes it through).
    let name = berth_testkit::unique_name("dk");
    let o = d.docker(&[
        "run", "-d", "-it", "--pull", "never", "--name", &name, "busybox", "sh",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = d.berth(&["attach", "--detach-keys", "ctrl-1", &name]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("invalid detach keys (ctrl-1)"),
        "{}",
        stderr(&o)
    );
    // detachKeys from config.json.
    let cfg = d.root().join("docker-config");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(cfg.join("config.json"), r#"{"detachKeys":"ctrl-a,q"}"#).unwrap();
    for cli in [docker_bin(), berth.clone()] {
        let mut a = PtySession::spawn(&cli, &d, &["attach", &name], 24, 80);
        a.ask_until(b"echo cfg-$((1+1))\n", "cfg-2");
        // The default keys are now plain input; the configured ones detach.
        a.send(&[16, 17]);
        a.send(&[1, b'q']);
        assert_eq!(a.wait_exit(), 1, "{:?}", a.text());
    }
    std::fs::remove_file(cfg.join("config.json")).unwrap();
    assert_eq!(inspect(&d, "{{.State.Running}}", &name), "true");
}

/// The container's cgroup file for `file` (v1: `<controller>/berth/<id>/<file>`, v2:
/// `berth/<id>/<file>` in the unified tree).
fn cgroup_file(id: &str, controller: &str, v1_file: &str, v2_file: &str) -> String {
    let v1 = format!("/sys/fs/cgroup/{controller}/berth/{id}/{v1_file}");
    if std::path::Path::new(&v1).exists() {
        return std::fs::read_to_string(&v1).unwrap().trim().to_string();
    }
    let v2 = format!("/sys/fs/cgroup/berth/{id}/{v2_file}");
    std::fs::read_to_string(&v2)
        .unwrap_or_else(|e| panic!("{v1} or {v2}: {e}"))
        .trim()
        .to_string()
}

#[test]
fn peer_update_reaches_the_cgroup_and_the_record() {
    if !need() {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let name = berth_testkit::unique_name("up");
    let o = d.docker(&[
        "run", "-d", "--pull", "never", "--name", &name, "busybox", "sleep", "1000",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let id = inspect(&d, "{{.Id}}", &name);

    // Docker's rule: a memory limit above the current swap limit needs --memory-swap too.
    let o = d.docker(&["update", "--memory", "64m", &name]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("Memory limit should be smaller than already set memoryswap limit"),
        "{}",
        stderr(&o)
    );
    let o = d.docker(&[
        "update",
        "--memory",
        "64m",
        "--memory-swap",
        "128m",
        "--pids-limit",
        "77",
        "--cpu-shares",
        "512",
        "--cpus",
        "0.5",
        &name,
    ]);
    assert_eq!(stdout(&o), format!("{name}\n"), "{}", stderr(&o));
    assert_eq!(
        cgroup_file(&id, "memory", "memory.limit_in_bytes", "memory.max"),
        "67108864"
    );
    assert_eq!(cgroup_file(&id, "pids", "pids.max", "pids.max"), "77");
    let quota = cgroup_file(&id, "cpu", "cpu.cfs_quota_us", "cpu.max");
    assert!(quota == "50000" || quota == "50000 100000", "{quota}");
    assert_eq!(
        inspect(
            &d,
            "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.PidsLimit}} {{.HostConfig.CpuShares}} {{.HostConfig.NanoCpus}}",
            &name
        ),
        "67108864 134217728 77 512 500000000"
    );

    // The berth CLI, and validation errors as Docker words them.
    let o = d.berth(&["update", "--memory", "96m", "--memory-swap", "-1", &name]);
    assert_eq!(stdout(&o), format!("{name}\n"), "{}", stderr(&o));
    assert_eq!(
        cgroup_file(&id, "memory", "memory.limit_in_bytes", "memory.max"),
        "100663296"
    );
    assert_eq!(inspect(&d, "{{.HostConfig.Memory}}", &name), "100663296");
    let o = d.berth(&["update", "--blkio-weight", "5", &name]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("Range of blkio weight is from 10 to 1000"),
        "{}",
        stderr(&o)
    );
    let o = d.docker(&["update", "--memory", "1k", &name]);
    assert!(
        stderr(&o).contains("Minimum memory limit allowed is 6MB"),
        "{}",
        stderr(&o)
    );
    let o = d.berth(&["update", &name]);
    assert!(
        stderr(&o).contains("you must provide one or more flags"),
        "{}",
        stderr(&o)
    );
    let o = d.berth(&["update", "--restart", "on-failure:3", &name]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        inspect(
            &d,
            "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}",
            &name
        ),
        "on-failure:3"
    );

    // A stopped container's new limits apply when it starts again; create-time limits too.
    assert!(d.docker(&["stop", "-t", "0", &name]).status.success());
    // (With an unlimited swap, -1, Docker again wants the swap limit given too.)
    let o = d.docker(&["update", "--memory", "48m", &name]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = d.docker(&["update", "--memory", "48m", "--memory-swap", "96m", &name]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(d.docker(&["start", &name]).status.success());
    assert_eq!(
        cgroup_file(&id, "memory", "memory.limit_in_bytes", "memory.max"),
        "50331648"
    );
    let created = berth_testkit::unique_name("lim");
    let o = d.docker(&[
        "run", "-d", "--pull", "never", "--name", &created, "-m", "32m", "busybox", "sleep", "1000",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cid = inspect(&d, "{{.Id}}", &created);
    assert_eq!(
        cgroup_file(&cid, "memory", "memory.limit_in_bytes", "memory.max"),
        "33554432"
    );
    assert_eq!(
        inspect(&d, "{{.HostConfig.MemorySwap}}", &created),
        "67108864"
    );
}

#[test]
fn peer_run_proxies_signals_without_a_tty() {
    if !need() {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    for (cli, proxy) in [
        (docker_bin(), true),
        (berth_testkit::berth_bin(), true),
        (berth_testkit::berth_bin(), false),
    ] {
        let name = berth_testkit::unique_name("sig");
        let mut args = vec!["run", "--name", &name, "--pull", "never"];
        if !proxy {
            args.push("--sig-proxy=false");
        }
        args.extend([
            "busybox",
            "sh",
            "-c",
            "trap 'echo got-term; exit 3' TERM; echo ready; while true; do sleep 0.1; done",
        ]);
        let mut child = Command::new(&cli)
            .arg("-H")
            .arg(format!("unix://{}", d.sock().display()))
            .args(&args)
            .env("DOCKER_CONFIG", d.root().join("docker-config"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn run");
        let mut out = child.stdout.take().expect("stdout");
        let mut seen = Vec::new();
        let mut buf = [0u8; 256];
        while !String::from_utf8_lossy(&seen).contains("ready") {
            let n = out.read(&mut buf).expect("read run output");
            assert!(n > 0, "run ended early: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&buf[..n]);
        }
        let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).expect("pid fits i32"))
            .expect("pid");
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
        let status = child.wait().expect("wait run");
        out.read_to_end(&mut seen).expect("rest of output");
        if proxy {
            assert_eq!(status.code(), Some(3), "{}", String::from_utf8_lossy(&seen));
            assert!(String::from_utf8_lossy(&seen).contains("got-term"));
        } else {
            // The CLI itself died of the signal; the container never saw it.
            assert_eq!(status.code(), None);
            assert_eq!(inspect(&d, "{{.State.Running}}", &name), "true");
        }
        assert!(d.docker(&["rm", "-f", &name]).status.success());
    }
}
