//! The socket between the runtime (`create`/`exec`) and the container's init: length-prefixed
//! JSON messages in both directions.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use oci_spec::runtime::Spec;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::error::{Error, Result};

/// Environment variable carrying the init end's descriptor number across execve.
pub const INIT_FD_ENV: &str = "_BERTH_INIT_FD";

/// What the init must build: sent once, first.
#[derive(Debug, Serialize, Deserialize)]
pub struct InitConfig {
    /// Create a container, or start a process in an existing one.
    pub exec: bool,
    /// The container spec; for exec its `process` is the process to start.
    pub spec: Spec,
    /// Container id.
    pub id: String,
    /// Absolute bundle path (relative bind sources resolve against it).
    pub bundle: PathBuf,
    /// Absolute rootfs path (create only).
    pub rootfs: PathBuf,
    /// The exec fifo to block on until `start` (create only).
    pub fifo: Option<PathBuf>,
    /// Namespaces to join: (CLONE_NEW* flag, path), user namespace first.
    pub join: Vec<(i32, PathBuf)>,
    /// Namespaces to create (CLONE_NEW* flags, without CLONE_NEWUSER).
    pub unshare: i32,
    /// Create a new user namespace (the parent writes the id maps).
    pub new_userns: bool,
    /// The container needs a pid-namespace fork (new or joined pid namespace).
    pub fork: bool,
    /// Descriptor of the connected console socket, if the process wants a terminal.
    pub console_fd: Option<i32>,
    /// Descriptors 3..3+n are passed to the container process.
    pub preserve_fds: u32,
    /// Use MS_MOVE + chroot instead of pivot_root.
    pub no_pivot: bool,
    /// cgroup v2 (unified) host: mount cgroup2 for "cgroup" mounts.
    pub cgroup_v2: bool,
    /// The cgroup whose v1 directories the init joins first thing (set by `launch`).
    #[serde(default)]
    pub cgroup: Option<crate::cgroup::Cgroup>,
    /// CLONE_NEW* flags the init was created with (set by `launch`): it is then the
    /// container process already and neither unshares those nor forks.
    #[serde(default)]
    pub born_in: i32,
    /// `linux.seccomp` compiled by the runtime (`seccomp::cached_program`); without it the
    /// init compiles the profile itself.
    #[serde(default)]
    pub seccomp_program: Option<Vec<u8>>,
}

/// Messages on the channel.
#[derive(Debug, Serialize, Deserialize)]
pub enum Msg {
    /// runtime → init: the configuration.
    Config(Box<InitConfig>),
    /// init → runtime: unshared the user namespace; please write /proc/<pid>/{uid,gid}_map.
    NeedIdMaps,
    /// runtime → init: go on (maps written, hooks run).
    Continue,
    /// init → runtime: host pid of the container process (after the pid-namespace fork).
    Pid(i32),
    /// init → runtime: mounts done, about to pivot_root; run prestart/createRuntime hooks.
    BeforePivot,
    /// runtime → init: hooks done; the state document for createContainer/startContainer.
    HookState(String),
    /// init → runtime: everything set up; waiting for `start` (create) or exec'ing (exec).
    Ready,
    /// init → runtime: setup failed.
    Error(String),
}

/// Sends one message.
pub fn send(sock: &mut UnixStream, msg: &Msg) -> Result<()> {
    write_frame(sock, msg)
}

fn write_frame<T: Serialize>(sock: &mut UnixStream, value: &T) -> Result<()> {
    let body = serde_json::to_vec(value).map_err(|e| Error::Other(e.to_string()))?;
    let mut buf = Vec::with_capacity(body.len() + 4);
    let len = u32::try_from(body.len())
        .map_err(|_| Error::Other("init channel: message over 4 GiB".into()))?;
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&body);
    sock.write_all(&buf)
        .map_err(|e| Error::Other(format!("init channel: send: {e}")))
}

/// Receives one message; `None` when the peer closed the socket.
pub fn recv(sock: &mut UnixStream) -> Result<Option<Msg>> {
    read_frame(sock)
}

fn read_frame<T: DeserializeOwned>(sock: &mut UnixStream) -> Result<Option<T>> {
    let mut len = [0u8; 4];
    match sock.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(Error::Other(format!("init channel: receive: {e}"))),
    }
    let mut body = vec![0u8; u32::from_le_bytes(len) as usize];
    sock.read_exact(&mut body)
        .map_err(|e| Error::Other(format!("init channel: receive: {e}")))?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| Error::Other(format!("init channel: bad message: {e}")))
}
