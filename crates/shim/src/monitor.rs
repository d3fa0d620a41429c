//! The monitor loop: create the container through the runtime, then serve the daemon and
//! the container's stdio with `poll(2)` until the container exits.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use rustix::event::{poll, PollFd, PollFlags};
use rustix::process::{Pid, WaitOptions};

use crate::oom::OomCounter;
use crate::{exit_path, protocol, short_path, socket_path, ExitRecord, ShimArgs};
use berth_logdriver::{LogDriver, Message, Stream};

pub(crate) struct Shim {
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
    log: Box<dyn LogDriver>,
    started: bool,
    oom: OomCounter,
}

/// The runtime invocation every runtime call starts from (`--root`, json log in the state
/// dir so that failures can be reported with the runtime's own message).
fn runtime_cmd(args: &ShimArgs) -> Command {
    let mut c = runtime_cmd_unlogged(args);
    c.arg("--log")
        .arg(args.state_dir.join("runtime.log"))
        .arg("--log-format")
        .arg("json");
    c
}

/// The runtime invocation without the log in the state dir (for `delete`, which may run
/// while the daemon removes that directory).
fn runtime_cmd_unlogged(args: &ShimArgs) -> Command {
    let program = if args.runtime.as_os_str().is_empty() {
        default_runtime()
    } else {
        args.runtime.clone()
    };
    let mut c = Command::new(program);
    c.args(&args.runtime_args)
        .arg("--root")
        .arg(&args.runtime_root);
    c
}

/// `berth-runtime` next to the shim's own executable (how the daemon lays them out).
fn default_runtime() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|e| Some(e.parent()?.join("berth-runtime")))
        .unwrap_or_else(|| PathBuf::from("berth-runtime"))
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
    /// The container's init pid.
    pub(crate) fn pid(&self) -> i32 {
        self.pid.as_raw_nonzero().get()
    }

    pub(crate) fn create(args: &ShimArgs) -> Result<Shim, String> {
        let sock = socket_path(&args.state_dir);
        let _ = std::fs::remove_file(&sock);
        let _ = std::fs::remove_file(exit_path(&args.state_dir));
        let _ = std::fs::remove_file(args.state_dir.join("runtime.log"));
        let listener =
            UnixListener::bind(&sock).map_err(|e| format!("bind {}: {e}", sock.display()))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let log = crate::logging::open(args)?;
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
            let err = if args.merge_output {
                // `2>&1`: both ends are the one pipe, so the order of writes is kept.
                let err_w = out_w.try_clone().map_err(|e| format!("dup pipe: {e}"))?;
                cmd.stderr(Stdio::from(err_w));
                None
            } else {
                let (err_r, err_w) = pipe()?;
                cmd.stderr(Stdio::from(err_w));
                Some(err_r)
            };
            cmd.stdout(Stdio::from(out_w));
            if args.stdin {
                let (in_r, in_w) = pipe()?;
                cmd.stdin(Stdio::from(in_r));
                stdin = Some(in_w);
            } else {
                cmd.stdin(Stdio::null());
            }
            outputs.push((out_r, "stdout", Vec::new()));
            if let Some(err_r) = err {
                outputs.push((err_r, "stderr", Vec::new()));
            }
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
            oom: OomCounter::of_pid(pid.as_raw_nonzero().get()),
        })
    }

    pub(crate) fn run(mut self) {
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
        let stream = Stream::parse(stream);
        let msg = Message::from_output(stream, data, berth_units::Timestamp::now());
        let _ = self.log.log(&msg);
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
                protocol::KILL => {
                    let answer = self.kill(&payload);
                    self.send(protocol::KILLED, answer.as_bytes());
                }
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

    /// Sends the signal `payload` names to the container's init through its pidfd (a
    /// reaped init refuses it: ESRCH); the error's text, empty when sent.
    fn kill(&self, payload: &[u8]) -> String {
        let signal = std::str::from_utf8(payload)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        let Some(sig) = signal.and_then(rustix::process::Signal::from_named_raw) else {
            return format!("invalid signal {}", String::from_utf8_lossy(payload));
        };
        match rustix::process::pidfd_send_signal(&self.pidfd, sig) {
            Ok(()) => String::new(),
            Err(e) => format!("kill {}: {e}", self.pid.as_raw_nonzero()),
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
                    i64::from(c)
                } else if let Some(sig) = status.terminating_signal() {
                    128 + i64::from(sig)
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
        // Read before `runtime delete` below removes the cgroup.
        let record = ExitRecord {
            exit_code: code,
            finished_at: berth_units::time::now_rfc3339_nanos(),
            oom_killed: self.oom.kills() > 0,
        };
        let json = serde_json::to_vec(&record).unwrap_or_default();
        // Renamed into place, so that a reader sees all of it or nothing; not fsync'd: it
        // lives in the exec root (per boot state, a tmpfs where Docker's is), where a host
        // crash ends the container and its record alike, and the daemon learns of the exit
        // from the frame below (the record is for a daemon that is away).
        let path = exit_path(&self.args.state_dir);
        let tmp = path.with_extension("tmp");
        if std::fs::write(&tmp, &json).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
        // The daemon learns of the exit first: deleting the runtime state is the shim's job
        // and needs nobody to wait for it. The socket goes last, so a daemon starting the
        // same container again waits for this shim to be done (`task::wait_shim_gone`).
        self.send(protocol::EXITED, &json);
        let _ = runtime_cmd_unlogged(&self.args)
            .arg("delete")
            .arg("--force")
            .arg(&self.args.id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
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
