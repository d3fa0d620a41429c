//! `--pid`, `--ipc` and `--uts` with the docker CLI: `host` shares the host's namespace,
//! `container:<name>` a running container's, `--ipc none` has no `/dev/shm`, and what
//! Docker refuses is refused with its messages (issue 12: these modes were ignored).
#![cfg(test)]

use std::process::Command;

use berth_testkit::daemon::{self as daemon_support, stderr, stdout, Daemon};

fn ns_link(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn peer_pid_ipc_and_uts_modes_are_applied_as_docker_does() {
    if !daemon_support::need("peer_pid_ipc_and_uts_modes_are_applied_as_docker_does", &[]) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let run = |flags: &[&str], script: &str| {
        let mut args = vec!["run", "--rm", "--network", "none"];
        args.extend(flags);
        args.extend(["busybox", "sh", "-c", script]);
        let out = d.docker(&args);
        (out.status.code(), stdout(&out), stderr(&out))
    };
    let mut failures = Vec::new();
    let expect =
        |failures: &mut Vec<String>, what: &str, got: (Option<i32>, String, String), want: &str| {
            if got.0 != Some(0) || got.1 != want {
                failures.push(format!("{what}: {got:?}, want {want:?}"));
            }
        };

    // --pid host: this test's own process is visible.
    let me = std::process::id();
    expect(
        &mut failures,
        "--pid host",
        run(
            &["--pid", "host"],
            &format!("test -d /proc/{me} && echo seen"),
        ),
        "seen\n",
    );
    expect(
        &mut failures,
        "private pid namespace",
        run(&[], "cat /proc/1/comm; true"),
        "sh\n",
    );
    // --uts host: the host's name, not the container id.
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    expect(
        &mut failures,
        "--uts host",
        run(&["--uts", "host"], "hostname"),
        &host_name,
    );
    // --ipc host: the host's IPC namespace.
    expect(
        &mut failures,
        "--ipc host",
        run(&["--ipc", "host"], "readlink /proc/self/ns/ipc"),
        &format!("{}\n", ns_link("ipc")),
    );
    // --ipc none: no /dev/shm.
    expect(
        &mut failures,
        "--ipc none",
        run(
            &["--ipc", "none"],
            "grep -c ' /dev/shm ' /proc/mounts; true",
        ),
        "0\n",
    );

    // container:<name> modes, with running donors.
    let out = d.docker(&[
        "run",
        "-d",
        "--name",
        "donor",
        "--network",
        "none",
        "--ipc",
        "shareable",
        "busybox",
        "sh",
        "-c",
        "echo shared > /dev/shm/x; exec sleep 1000",
    ]);
    assert!(out.status.success(), "donor: {}", stderr(&out));
    let out = d.docker(&[
        "run",
        "-d",
        "--name",
        "private",
        "--network",
        "none",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert!(out.status.success(), "private: {}", stderr(&out));
    let donor_ipc = stdout(&d.docker(&["exec", "donor", "readlink", "/proc/self/ns/ipc"]));
    expect(
        &mut failures,
        "--pid container:donor",
        run(&["--pid", "container:donor"], "cat /proc/1/comm"),
        "sleep\n",
    );
    expect(
        &mut failures,
        "--ipc container:donor",
        run(
            &["--ipc", "container:donor"],
            "readlink /proc/self/ns/ipc; cat /dev/shm/x",
        ),
        &format!("{donor_ipc}shared\n"),
    );
    let inspect = stdout(&d.docker(&[
        "inspect",
        "-f",
        "{{.HostConfig.IpcMode}} {{.HostConfig.PidMode}}",
        "private",
    ]));
    if inspect != "private \n" {
        failures.push(format!("inspect of a default container: {inspect:?}"));
    }

    // What Docker refuses.
    let out = run(&["--ipc", "container:private"], "true");
    if out.0 == Some(0)
        || !out
            .2
            .contains("non-shareable IPC (hint: use IpcMode:shareable for the donor container)")
    {
        failures.push(format!("joining a private IPC namespace: {out:?}"));
    }
    let out = d.docker(&["stop", "-t", "0", "private"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&["--pid", "container:private"], "true");
    if out.0 == Some(0) || !out.2.contains("cannot join PID of a non running container") {
        failures.push(format!("joining a stopped container's PIDs: {out:?}"));
    }
    for (host_config, message) in [
        (r#"{"IpcMode":"bogus"}"#, "invalid IPC mode: bogus"),
        (r#"{"PidMode":"private"}"#, "invalid PID mode: private"),
        (
            r#"{"UTSMode":"container:x"}"#,
            "invalid UTS mode: container:x",
        ),
    ] {
        let body = format!(r#"{{"Image":"busybox","HostConfig":{host_config}}}"#);
        let out = Command::new("curl")
            .args(["-sS", "-o", "-", "-w", "\n%{http_code}", "--unix-socket"])
            .arg(d.sock())
            .args(["-H", "Content-Type: application/json", "-d", &body])
            .arg("http://d/v1.47/containers/create")
            .output()
            .unwrap();
        let text = stdout(&out);
        if !text.ends_with("\n400") || !text.contains(message) {
            failures.push(format!("create {host_config}: {text}"));
        }
    }
    let _ = d.docker(&["rm", "-f", "donor", "private"]);
    let left = stdout(&d.docker(&["ps", "-aq"]));
    if !left.trim().is_empty() {
        failures.push(format!("containers left behind: {left}"));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
