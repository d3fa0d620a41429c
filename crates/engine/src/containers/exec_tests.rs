//! Exec instances over the fakes (no root, milliseconds): Docker's errors for a container
//! that is not running or paused and for an unknown exec, the exit code, pid and running
//! flag through inspect, a program that could not start (126), the session's output.

use std::time::Duration;

use async_trait::async_trait;
use berth_api_types::{ExecConfig, ExecStartConfig};
use serde_json::json;

use super::test_harness::{until, Harness, IMAGE};
use crate::error::ErrorKind;
use crate::processes::fake::Outcome;
use crate::processes::Stdio;
use crate::session::{OutputWriter, SessionStreams};
use crate::stream::StdStream;

/// Waits (bounded) until `f` holds; exits are recorded on spawned tasks.
fn exec(cmd: &[&str], v: serde_json::Value) -> ExecConfig {
    let mut v = v;
    v["Cmd"] = json!(cmd);
    serde_json::from_value(v).expect("exec config")
}

fn detached() -> ExecStartConfig {
    serde_json::from_value(json!({"Detach": true})).expect("start config")
}

async fn running(h: &Harness, name: &str) -> String {
    let config = json!({"Image": IMAGE, "Cmd": ["sleep", "1000"], "Env": ["FROM_IMAGE=1"]});
    let id = h.create_with(name, config, json!({})).await.unwrap();
    h.containers.start(name).await.unwrap();
    id
}

#[tokio::test]
async fn exec_create_needs_a_running_unpaused_container() {
    let h = Harness::new().await;
    let id = h.create("idle", IMAGE, json!({})).await.unwrap();
    let err = h
        .execs
        .exec_create("idle", exec(&["true"], json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.to_string(), format!("container {id} is not running"));

    h.containers.start("idle").await.unwrap();
    h.containers.pause("idle", true).await.unwrap();
    let err = h
        .execs
        .exec_create("idle", exec(&["true"], json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(
        err.to_string(),
        format!("container {id} is paused, unpause the container before exec")
    );

    h.containers.pause("idle", false).await.unwrap();
    let err = h
        .execs
        .exec_create("idle", exec(&[], json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(err.to_string(), "No exec command specified");
    let err = h
        .execs
        .exec_create("nosuch", exec(&["true"], json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(h.processes.launches().is_empty(), "nothing started");
}

#[tokio::test]
async fn exec_start_reports_pid_running_and_exit_code_through_inspect() {
    let h = Harness::new().await;
    let cid = running(&h, "web").await;
    h.processes.script(|_| Outcome::Run);
    let config = exec(
        &["sh", "-c", "work"],
        json!({"Env": ["EXTRA=2"], "WorkingDir": "/srv"}),
    );
    let (_, mut events) = h.events.subscribe(None);
    let id = h.execs.exec_create("web", config).await.unwrap().id;
    let before = h.execs.exec_inspect(&id).unwrap();
    assert!(!before.running && before.exit_code.is_none() && before.pid == 0);
    let ev = events.try_recv().expect("an event");
    assert_eq!(ev.action, "exec_create: sh -c work");
    assert_eq!(ev.actor.id, cid);
    assert_eq!(ev.actor.attributes.get("execID"), Some(&id));

    assert!(h.execs.exec_start(&id, detached()).await.unwrap().is_none());
    let ev = events.try_recv().expect("an event");
    assert_eq!(ev.action, "exec_start: sh -c work");
    assert_eq!(ev.actor.id, cid);
    assert_eq!(ev.actor.attributes.get("execID"), Some(&id));
    let launch = h.processes.launches().pop().expect("launched");
    assert_eq!(
        (launch.container.as_str(), launch.id.as_str()),
        (&*cid, &*id)
    );
    assert_eq!(launch.stdio, Stdio::Pipes { stdin: false });
    let p = &launch.process;
    assert_eq!(p.args().as_deref().unwrap(), ["sh", "-c", "work"]);
    assert_eq!(p.cwd(), &std::path::PathBuf::from("/srv"));
    let env = p.env().clone().unwrap_or_default();
    for var in ["FROM_IMAGE=1", "EXTRA=2"] {
        assert!(env.iter().any(|v| v == var), "{var} in {env:?}");
    }
    assert!(env.iter().any(|v| v.starts_with("PATH=")), "{env:?}");
    assert!(
        !env.iter().any(|v| v.starts_with("TERM=")),
        "no tty: {env:?}"
    );

    let live = h.execs.exec_inspect(&id).unwrap();
    assert!(live.running);
    assert_eq!(live.pid, launch.pid);
    assert_eq!(live.exit_code, None);
    assert_eq!(live.container_id, cid);
    let err = h.execs.exec_start(&id, detached()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(
        err.to_string(),
        format!("Error: Exec command {id} has already run")
    );

    assert!(h.processes.finish(launch.pid, 3));
    until("the exit code", || {
        h.execs.exec_inspect(&id).unwrap().exit_code == Some(3)
    })
    .await;
    assert!(!h.execs.exec_inspect(&id).unwrap().running);
    // The refused start emitted nothing: the next event is the exit's.
    let mut next = None;
    for _ in 0..2500 {
        if let Ok(ev) = events.try_recv() {
            next = Some(ev);
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let ev = next.expect("exec_die");
    assert_eq!(ev.action, "exec_die");
    assert_eq!(ev.actor.attributes.get("execID"), Some(&id));
    assert_eq!(
        ev.actor.attributes.get("exitCode").map(String::as_str),
        Some("3")
    );
}

#[tokio::test]
async fn a_program_that_cannot_start_exits_126() {
    let h = Harness::new().await;
    running(&h, "box").await;
    h.processes.script(|_| Outcome::NotStarted);
    let id = h
        .execs
        .exec_create("box", exec(&["nosuch"], json!({})))
        .await
        .unwrap()
        .id;
    h.execs.exec_start(&id, detached()).await.unwrap();
    until("exit 126", || {
        h.execs.exec_inspect(&id).unwrap().exit_code == Some(126)
    })
    .await;

    // A launch the runtime refuses: the start fails with its message, the exec exits 126.
    h.processes
        .script(|_| Outcome::Fail("runtime: no such container".into()));
    let id = h
        .execs
        .exec_create("box", exec(&["true"], json!({})))
        .await
        .unwrap()
        .id;
    let err = h.execs.exec_start(&id, detached()).await.unwrap_err();
    assert_eq!(err.to_string(), "runtime: no such container");
    let e = h.execs.exec_inspect(&id).unwrap();
    assert_eq!((e.running, e.exit_code), (false, Some(126)));
}

#[tokio::test]
async fn exec_resize_of_an_unknown_exec_is_not_found() {
    let h = Harness::new().await;
    let err = h.execs.exec_resize("nosuch", 24, 80).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.to_string(), "No such exec instance: nosuch");
    let err = h.execs.exec_inspect("nosuch").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn a_tty_exec_gets_term_and_its_pty_is_resized() {
    let h = Harness::new().await;
    running(&h, "term").await;
    h.processes.script(|_| Outcome::Run);
    let config = exec(&["sh"], json!({"Tty": true, "ConsoleSize": [10, 40]}));
    let id = h.execs.exec_create("term", config).await.unwrap().id;
    h.execs.exec_start(&id, detached()).await.unwrap();
    let launch = h.processes.launches().pop().expect("launched");
    assert_eq!(launch.stdio, Stdio::Tty);
    let env = launch.process.env().clone().unwrap_or_default();
    assert!(env.iter().any(|v| v == "TERM=xterm"), "{env:?}");
    assert_eq!(launch.process.terminal(), Some(true));
    let pty = h.execs.exec_record(&id).unwrap().pty.expect("pty");
    let size = |fd: &std::os::fd::OwnedFd| {
        let ws = rustix::termios::tcgetwinsize(fd).unwrap();
        (ws.ws_row, ws.ws_col)
    };
    assert_eq!(size(&pty), (10, 40), "the create's ConsoleSize");
    h.execs.exec_resize(&id, 50, 132).await.unwrap();
    assert_eq!(size(&pty), (50, 132));
    h.processes.finish(launch.pid, 0);
}

/// Collects a session's output.
struct Collect(tokio::sync::mpsc::UnboundedSender<(StdStream, Vec<u8>)>);

#[async_trait]
impl OutputWriter for Collect {
    async fn write(&mut self, stream: StdStream, data: &[u8]) -> std::io::Result<()> {
        let _ = self.0.send((stream, data.to_vec()));
        Ok(())
    }
    async fn shutdown(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn an_attached_exec_streams_stdout_and_stderr_then_ends() {
    let h = Harness::new().await;
    running(&h, "chat").await;
    h.processes.script(|_| Outcome::Exit {
        code: 7,
        stdout: b"out".to_vec(),
        stderr: b"err".to_vec(),
    });
    let config = exec(&["x"], json!({"AttachStdout": true, "AttachStderr": true}));
    let id = h.execs.exec_create("chat", config).await.unwrap().id;
    let start = serde_json::from_value(json!({})).unwrap();
    let session = h
        .execs
        .exec_start(&id, start)
        .await
        .unwrap()
        .expect("session");
    assert!(!session.tty);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    session
        .run(SessionStreams {
            stdin: Box::new(tokio::io::empty()),
            output: Box::new(Collect(tx)),
        })
        .await;
    let mut got = Vec::new();
    while let Ok(chunk) = rx.try_recv() {
        got.push(chunk);
    }
    got.sort_by_key(|(stream, _)| *stream == StdStream::Stderr);
    assert_eq!(
        got,
        [
            (StdStream::Stdout, b"out".to_vec()),
            (StdStream::Stderr, b"err".to_vec())
        ]
    );
    // The session ends once the process has exited.
    assert_eq!(h.execs.exec_inspect(&id).unwrap().exit_code, Some(7));
}
