//! `berth shim`: one small single-threaded monitor per running container.
//!
//! The daemon starts it with the container's bundle; it
//! 1. becomes a session leader and child subreaper (it survives the daemon),
//! 2. binds `<state>/shim.sock` (a path, never abstract),
//! 3. runs `berth runtime create` with the container's stdio as pipes, or a pty received
//!    through `--console-socket`, and prints `ok <pid>` or `err <message>` on stdout,
//! 4. serves one daemon connection at a time: `START` runs `berth runtime start`; stdin,
//!    resize and close-stdin frames go to the container; output frames and `EXITED` go out,
//! 5. writes every output line to the json-file log, reaps the container (pidfd), records the
//!    exit code in `<state>/exit.json`, deletes the runtime state and exits.
//!
//! No async runtime, no threads: `poll(2)` over a handful of descriptors.

pub mod protocol;

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rustix::event::{poll, PollFd, PollFlags};
use rustix::process::{Pid, WaitOptions};
use serde::{Deserialize, Serialize};

use crate::logfile::{self, LogWriter};

/// What the shim records when the container exits (`<state>/exit.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// Exit status (128 + signal when killed).
    pub exit_code: i64,
    /// RFC 3339 time of the exit.
    pub finished_at: String,
}

/// The shim's command line.
#[derive(Debug, Clone, Default)]
pub struct ShimArgs {
    /// Container id.
    pub id: String,
    /// OCI bundle directory.
    pub bundle: PathBuf,
    /// `berth runtime --root`.
    pub runtime_root: PathBuf,
    /// Directory for the socket, pid file and exit record.
    pub state_dir: PathBuf,
    /// json-file log path.
    pub log: PathBuf,
    /// Allocate a pty.
    pub tty: bool,
    /// Keep a stdin pipe.
    pub stdin: bool,
    /// Log rotation size (0 = none).
    pub max_size: u64,
    /// Log files kept.
    pub max_file: u32,
}

impl ShimArgs {
    /// The argv (after `berth shim`) that parses back into `self`.
    pub fn to_args(&self) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec![
            "--id".into(),
            self.id.clone().into(),
            "--bundle".into(),
            self.bundle.clone().into(),
            "--runtime-root".into(),
            self.runtime_root.clone().into(),
            "--state-dir".into(),
            self.state_dir.clone().into(),
            "--log".into(),
            self.log.clone().into(),
            "--max-size".into(),
            self.max_size.to_string().into(),
            "--max-file".into(),
            self.max_file.to_string().into(),
        ];
        if self.tty {
            v.push("--tty".into());
        }
        if self.stdin {
            v.push("--stdin".into());
        }
        v
    }

    fn parse(args: &[OsString]) -> Result<Self, String> {
        let mut a = ShimArgs {
            max_file: 1,
            ..Default::default()
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let flag = flag.to_string_lossy();
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match flag.as_ref() {
                "--id" => a.id = value()?.to_string_lossy().into_owned(),
                "--bundle" => a.bundle = value()?.into(),
                "--runtime-root" => a.runtime_root = value()?.into(),
                "--state-dir" => a.state_dir = value()?.into(),
                "--log" => a.log = value()?.into(),
                "--max-size" => {
                    a.max_size = value()?
                        .to_string_lossy()
                        .parse()
                        .map_err(|_| "bad --max-size")?
                }
                "--max-file" => {
                    a.max_file = value()?
                        .to_string_lossy()
                        .parse()
                        .map_err(|_| "bad --max-file")?
                }
                "--tty" => a.tty = true,
                "--stdin" => a.stdin = true,
                other => return Err(format!("unknown flag {other}")),
            }
        }
        if a.id.is_empty() || a.state_dir.as_os_str().is_empty() {
            return Err("--id and --state-dir are required".into());
        }
        Ok(a)
    }
}

/// Socket path of the shim whose state dir is `<exec-root>/containers/<id>`:
/// `<exec-root>/s/<id[..12]>.sock`, short enough for `sun_path` (108 bytes) even under deep
/// exec roots.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    short_path(state_dir, "sock")
}

fn short_path(state_dir: &Path, ext: &str) -> PathBuf {
    let id = state_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let short: String = id.chars().take(12).collect();
    let root = state_dir
        .parent()
        .and_then(Path::parent)
        .unwrap_or(state_dir);
    let dir = root.join("s");
    let _ = std::fs::create_dir_all(&dir);
    dir.join(format!("{short}.{ext}"))
}

/// Exit record path in `state_dir`.
pub fn exit_path(state_dir: &Path) -> PathBuf {
    state_dir.join("exit.json")
}

/// Entry point of `berth shim`.
pub fn main(args: Vec<OsString>) -> i32 {
    let args = match ShimArgs::parse(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("berth shim: {e}");
            return 2;
        }
    };
    let _ = rustix::process::setsid();
    let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
    match Shim::create(&args) {
        Ok(shim) => {
            println!("ok {}", shim.pid.as_raw_nonzero());
            let _ = std::io::stdout().flush();
            // Detach from the daemon's pipes so a dead daemon never blocks us.
            if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
                let _ = rustix::stdio::dup2_stdout(&null);
                let _ = rustix::stdio::dup2_stderr(&null);
                let _ = rustix::stdio::dup2_stdin(&null);
            }
            shim.run();
            0
        }
        Err(msg) => {
            println!("err {}", msg.replace('\n', " "));
            let _ = std::io::stdout().flush();
            1
        }
    }
}

struct Shim {
    args: ShimArgs,
    pid: Pid,
    pidfd: OwnedFd,
    listener: UnixListener,
    conn: Option<UnixStream>,
    decoder: protocol::Decoder,
    stdin: Option<File>,
    /// (reader, stream name, pending partial line)
    outputs: Vec<(File, &'static str, Vec<u8>)>,
    pty: Option<OwnedFd>,
    log: Option<LogWriter>,
    started: bool,
}

fn runtime_cmd(args: &ShimArgs) -> Command {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
    let mut c = Command::new(exe);
    c.arg("runtime")
        .arg("--root")
        .arg(&args.runtime_root)
        .arg("--log")
        .arg(args.state_dir.join("runtime.log"))
        .arg("--log-format")
        .arg("json");
    c
}

/// The last error message the runtime logged, or `fallback`.
fn runtime_error(args: &ShimArgs, fallback: &str) -> String {
    let text = std::fs::read_to_string(args.state_dir.join("runtime.log")).unwrap_or_default();
    text.lines()
        .rev()
        .find_map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()?
                .get("msg")?
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_else(|| fallback.to_string())
}

fn pipe() -> Result<(File, File), String> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| format!("pipe: {e}"))?;
    Ok((File::from(r), File::from(w)))
}

impl Shim {
    fn create(args: &ShimArgs) -> Result<Shim, String> {
        let sock = socket_path(&args.state_dir);
        let _ = std::fs::remove_file(&sock);
        let _ = std::fs::remove_file(exit_path(&args.state_dir));
        let _ = std::fs::remove_file(args.state_dir.join("runtime.log"));
        let listener =
            UnixListener::bind(&sock).map_err(|e| format!("bind {}: {e}", sock.display()))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let pid_file = args.state_dir.join("init.pid");
        let mut cmd = runtime_cmd(args);
        cmd.arg("create")
            .arg("--bundle")
            .arg(&args.bundle)
            .arg("--pid-file")
            .arg(&pid_file);
        let mut outputs = Vec::new();
        let mut stdin = None;
        let mut console = None;
        if args.tty {
            let csock = short_path(&args.state_dir, "console");
            let _ = std::fs::remove_file(&csock);
            let l = UnixListener::bind(&csock).map_err(|e| format!("bind console socket: {e}"))?;
            cmd.arg("--console-socket").arg(&csock);
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            console = Some((l, csock));
        } else {
            let (out_r, out_w) = pipe()?;
            let (err_r, err_w) = pipe()?;
            cmd.stdout(Stdio::from(out_w)).stderr(Stdio::from(err_w));
            if args.stdin {
                let (in_r, in_w) = pipe()?;
                cmd.stdin(Stdio::from(in_r));
                stdin = Some(in_w);
            } else {
                cmd.stdin(Stdio::null());
            }
            outputs.push((out_r, "stdout", Vec::new()));
            outputs.push((err_r, "stderr", Vec::new()));
        }
        cmd.arg(&args.id);
        let mut child = cmd.spawn().map_err(|e| format!("spawn runtime: {e}"))?;
        drop(cmd); // closes our copies of the child's pipe ends
        let mut pty = None;
        if let Some((l, path)) = console {
            let got = receive_pty(&l, &mut child);
            let _ = std::fs::remove_file(path);
            match got {
                Ok(fd) => pty = Some(fd),
                Err(e) => {
                    let _ = child.wait();
                    return Err(runtime_error(args, &e));
                }
            }
        }
        let status = child.wait().map_err(|e| format!("wait runtime: {e}"))?;
        if !status.success() {
            return Err(runtime_error(
                args,
                &format!("runtime create failed: {status}"),
            ));
        }
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .map_err(|e| format!("read {}: {e}", pid_file.display()))?
            .trim()
            .parse()
            .map_err(|_| "bad pid file".to_string())?;
        let pid = Pid::from_raw(pid).ok_or("pid 0")?;
        let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
            .map_err(|e| format!("pidfd_open: {e}"))?;
        if let Some(p) = &pty {
            outputs.push((
                File::from(p.try_clone().map_err(|e| e.to_string())?),
                "stdout",
                Vec::new(),
            ));
            if args.stdin {
                stdin = Some(File::from(p.try_clone().map_err(|e| e.to_string())?));
            }
        }
        let log = LogWriter::open(&args.log, args.max_size, args.max_file).ok();
        Ok(Shim {
            args: args.clone(),
            pid,
            pidfd,
            listener,
            conn: None,
            decoder: protocol::Decoder::default(),
            stdin,
            outputs,
            pty,
            log,
            started: false,
        })
    }

    fn run(mut self) {
        let mut exited: Option<i64> = None;
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            if let Some(code) = exited {
                if self.outputs.is_empty() {
                    self.finish(code);
                    return;
                }
            }
            let mut out_ev = vec![false; self.outputs.len()];
            let (listen_ev, conn_ev, pid_ev) = {
                let mut fds = vec![
                    PollFd::new(&self.listener, PollFlags::IN),
                    PollFd::new(&self.pidfd, PollFlags::IN),
                ];
                for (f, _, _) in &self.outputs {
                    fds.push(PollFd::new(f, PollFlags::IN));
                }
                if let Some(c) = &self.conn {
                    fds.push(PollFd::new(c, PollFlags::IN));
                }
                let timeout = exited.map(|_| rustix::event::Timespec {
                    tv_sec: 2,
                    tv_nsec: 0,
                });
                match poll(&mut fds, timeout.as_ref()) {
                    Ok(0) => {
                        // Exited and output did not reach EOF in time (a leaked writer).
                        self.outputs.clear();
                        continue;
                    }
                    Ok(_) => {}
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(_) => return,
                }
                let hit = |f: &PollFd| !f.revents().is_empty();
                for (i, ev) in out_ev.iter_mut().enumerate() {
                    *ev = hit(&fds[2 + i]);
                }
                let conn_ev = self.conn.is_some() && hit(&fds[2 + self.outputs.len()]);
                (hit(&fds[0]), conn_ev, hit(&fds[1]))
            };
            if listen_ev {
                if let Ok((c, _)) = self.listener.accept() {
                    let _ = c.set_nonblocking(false);
                    self.conn = Some(c);
                    self.decoder = protocol::Decoder::default();
                    if self.started {
                        let pid = self.pid.as_raw_nonzero().to_string();
                        self.send(protocol::STARTED, pid.as_bytes());
                    }
                }
            }
            for i in (0..out_ev.len()).rev() {
                if out_ev[i] {
                    self.read_output(i, &mut buf);
                }
            }
            if conn_ev {
                self.read_conn(&mut buf);
            }
            if pid_ev && exited.is_none() {
                exited = self.reap();
            }
        }
    }

    fn send(&mut self, kind: u8, payload: &[u8]) {
        if let Some(c) = &mut self.conn {
            if protocol::write_frame(c, kind, payload).is_err() {
                self.conn = None;
            }
        }
    }

    fn read_output(&mut self, i: usize, buf: &mut [u8]) {
        let n = match self.outputs[i].0.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return,
            Err(_) => 0, // EIO on a pty whose other side closed
        };
        let stream = self.outputs[i].1;
        if n == 0 {
            let (_, _, pending) = self.outputs.remove(i);
            if !pending.is_empty() {
                self.log_line(stream, &pending);
            }
            return;
        }
        let kind = if stream == "stderr" {
            protocol::STDERR
        } else {
            protocol::STDOUT
        };
        self.send(kind, &buf[..n]);
        let mut pending = std::mem::take(&mut self.outputs[i].2);
        pending.extend_from_slice(&buf[..n]);
        let mut start = 0;
        while let Some(pos) = pending[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos + 1;
            self.log_line(stream, &pending[start..end]);
            start = end;
        }
        pending.drain(..start);
        if pending.len() >= 16 * 1024 {
            self.log_line(stream, &pending);
            pending.clear();
        }
        self.outputs[i].2 = pending;
    }

    fn log_line(&mut self, stream: &str, data: &[u8]) {
        if let Some(log) = &mut self.log {
            let _ = log.write(stream, data, &logfile::now());
        }
    }

    fn read_conn(&mut self, buf: &mut [u8]) {
        let n = match self.conn.as_mut().map(|c| c.read(buf)) {
            Some(Ok(n)) if n > 0 => n,
            _ => {
                self.conn = None;
                return;
            }
        };
        self.decoder.push(&buf[..n]);
        while let Some((kind, payload)) = self.decoder.next_frame() {
            match kind {
                protocol::START => self.start(),
                protocol::STDIN => {
                    if let Some(s) = &mut self.stdin {
                        if s.write_all(&payload).is_err() {
                            self.stdin = None;
                        }
                    }
                }
                protocol::CLOSE_STDIN => {
                    if self.pty.is_none() {
                        self.stdin = None;
                    } else if let Some(s) = &mut self.stdin {
                        let _ = s.write_all(&[4]); // ^D on a tty
                    }
                }
                protocol::RESIZE => {
                    let text = String::from_utf8_lossy(&payload).into_owned();
                    let mut it = text
                        .split_whitespace()
                        .filter_map(|v| v.parse::<u16>().ok());
                    if let (Some(h), Some(w), Some(p)) = (it.next(), it.next(), &self.pty) {
                        let ws = rustix::termios::Winsize {
                            ws_row: h,
                            ws_col: w,
                            ws_xpixel: 0,
                            ws_ypixel: 0,
                        };
                        let _ = rustix::termios::tcsetwinsize(p, ws);
                    }
                }
                _ => {}
            }
        }
    }

    fn start(&mut self) {
        if self.started {
            let pid = self.pid.as_raw_nonzero().to_string();
            self.send(protocol::STARTED, pid.as_bytes());
            return;
        }
        let out = runtime_cmd(&self.args)
            .arg("start")
            .arg(&self.args.id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        match out {
            Ok(s) if s.success() => {
                self.started = true;
                let pid = self.pid.as_raw_nonzero().to_string();
                self.send(protocol::STARTED, pid.as_bytes());
            }
            Ok(s) => {
                let msg = runtime_error(&self.args, &format!("runtime start failed: {s}"));
                self.send(protocol::START_FAILED, msg.as_bytes());
            }
            Err(e) => self.send(protocol::START_FAILED, e.to_string().as_bytes()),
        }
    }

    /// Reaps children; returns the container's exit code once it is gone.
    fn reap(&mut self) -> Option<i64> {
        let mut code = None;
        // `wait` is waitpid(-1): any child, whatever its process group.
        while let Ok(Some((pid, status))) = rustix::process::wait(WaitOptions::NOHANG) {
            if pid == self.pid {
                code = Some(if let Some(c) = status.exit_status() {
                    c as i64
                } else if let Some(sig) = status.terminating_signal() {
                    128 + sig as i64
                } else {
                    255
                });
            }
        }
        if code.is_none() && rustix::process::test_kill_process(self.pid).is_err() {
            code = Some(255); // not our child and gone
        }
        code
    }

    fn finish(mut self, code: i64) {
        let record = ExitRecord {
            exit_code: code,
            finished_at: logfile::now(),
        };
        let json = serde_json::to_vec(&record).unwrap_or_default();
        let path = exit_path(&self.args.state_dir);
        let tmp = path.with_extension("tmp");
        if std::fs::write(&tmp, &json).is_ok() {
            let _ = File::open(&tmp).and_then(|f| f.sync_all());
            let _ = std::fs::rename(&tmp, &path);
        }
        let _ = runtime_cmd(&self.args)
            .arg("delete")
            .arg("--force")
            .arg(&self.args.id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        self.send(protocol::EXITED, &json);
        let _ = std::fs::remove_file(socket_path(&self.args.state_dir));
        if let Some(c) = self.conn.take() {
            let _ = c.shutdown(std::net::Shutdown::Write);
            // Give the daemon a moment to read the last frames before the socket closes.
            let mut sink = [0u8; 64];
            let _ = c.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            let _ = (&c).read(&mut sink);
        }
    }
}

/// Accepts the runtime's connection on the console socket and receives the pty master.
fn receive_pty(l: &UnixListener, child: &mut std::process::Child) -> Result<OwnedFd, String> {
    use rustix::net::{recvmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    use std::mem::MaybeUninit;
    l.set_nonblocking(true).map_err(|e| e.to_string())?;
    let conn = loop {
        match l.accept() {
            Ok((c, _)) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Ok(Some(s)) = child.try_wait() {
                    return Err(format!("runtime exited before sending the console: {s}"));
                }
                let mut fds = [PollFd::new(l, PollFlags::IN)];
                let t = rustix::event::Timespec {
                    tv_sec: 0,
                    tv_nsec: 50_000_000,
                };
                let _ = poll(&mut fds, Some(&t));
            }
            Err(e) => return Err(format!("accept console socket: {e}")),
        }
    };
    let _ = conn.set_nonblocking(false);
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut cmsg = RecvAncillaryBuffer::new(&mut space);
    let mut data = [0u8; 256];
    let mut iov = [std::io::IoSliceMut::new(&mut data)];
    recvmsg(conn.as_fd(), &mut iov, &mut cmsg, RecvFlags::CMSG_CLOEXEC)
        .map_err(|e| format!("recvmsg console: {e}"))?;
    for msg in cmsg.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = msg {
            if let Some(fd) = fds.next() {
                return Ok(fd);
            }
        }
    }
    Err("no pty received on the console socket".into())
}
