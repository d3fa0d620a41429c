//! End to end against berth's daemon: `scale`, `events --json`, `cp`, `attach`, `stats`,
//! `commit` and `export` through `berth compose`, on one busybox project; then the same
//! project driven with only `-p NAME` from a directory without a compose file.
#![cfg(test)]

mod support;

use std::io::{Read, Write};
use std::process::Stdio;

use berth_testkit::daemon::{stderr, stdout};
use support::{ok, ok_output, Setup};

const PROJECT: &str = r#"
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo hello > /greeting; trap 'exit 0' TERM; sleep 600 & wait"]
  echo:
    image: busybox
    stdin_open: true
    command: ["sh", "-c", "read line; echo got:$$line"]
"#;

#[test]
fn scale_events_cp_attach_stats_commit_export() {
    let Some(s) = Setup::start("scale_events_cp_attach_stats_commit_export", &[]) else {
        return;
    };
    let p = s.project("cmds", &[("compose.yaml", PROJECT)]);
    ok(s.compose(&p, &["up", "-d", "web"]));

    // events --json follows the project's container events
    let mut events = s
        .compose_cmd(&p, &["events", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));

    // scale up and down
    let err = stderr(&ok_output(s.compose(&p, &["scale", "web=3"])));
    assert!(err.contains(" Container cmds-web-3 Started"), "{err}");
    assert_eq!(
        ok(s.compose(&p, &["ps", "--format", "{{.Name}}"])),
        "cmds-web-1\ncmds-web-2\ncmds-web-3\n"
    );
    ok(s.compose(&p, &["scale", "web=1"]));
    assert_eq!(
        ok(s.compose(&p, &["ps", "--format", "{{.Name}}"])),
        "cmds-web-1\n"
    );
    let out = s.compose(&p, &["scale", "web=x"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("invalid scale specifier: can't parse replica value as int: web=x"),
        "{}",
        stderr(&out)
    );

    // cp both ways
    std::fs::write(p.join("local.txt"), "from the host\n").unwrap();
    let err = stderr(&ok_output(
        s.compose(&p, &["cp", "./local.txt", "web:/tmp/copied.txt"]),
    ));
    assert!(
        err.contains(" cmds-web-1 copy ./local.txt to cmds-web-1:/tmp/copied.txt Copied"),
        "{err}"
    );
    assert_eq!(
        ok(s.compose(&p, &["exec", "-T", "web", "cat", "/tmp/copied.txt"])),
        "from the host\n"
    );
    ok(s.compose(&p, &["cp", "web:/greeting", "./greeting.txt"]));
    assert_eq!(
        std::fs::read_to_string(p.join("greeting.txt")).unwrap(),
        "hello\n"
    );
    let out = s.compose(&p, &["cp", "nosuch:/x", "."]);
    assert!(
        stderr(&out).contains("no container found for service \"nosuch\""),
        "{}",
        stderr(&out)
    );

    // stats of the project's containers only
    let other = s.d.docker(&[
        "run",
        "-d",
        "--name",
        "not-in-project",
        "busybox",
        "sleep",
        "60",
    ]);
    ok(other);
    assert_eq!(
        ok(s.compose(&p, &["stats", "--no-stream", "--format", "{{.Name}}"])),
        "cmds-web-1\n"
    );

    // commit and export
    let err = stderr(&ok_output(
        s.compose(&p, &["commit", "web", "committed:v1"]),
    ));
    assert!(
        err.contains(" cmds-web-1 Commit cmds-web-1 Committed as sha256:"),
        "{err}"
    );
    ok(s.d.docker(&["image", "inspect", "committed:v1"]));
    ok(s.compose(&p, &["export", "web", "-o", "web.tar"]));
    let tar = std::fs::read(p.join("web.tar")).unwrap();
    assert!(
        tar.windows(8).any(|w| w == b"greeting"),
        "the export has /greeting"
    );
    let out = s.compose(&p, &["export", "--index", "2", "web"]);
    assert!(
        stderr(&out).contains("service \"web\" is not running container #2"),
        "{}",
        stderr(&out)
    );

    // attach: stdin reaches the container, its output comes back
    ok(s.compose(&p, &["up", "-d", "echo"]));
    let mut child = s
        .compose_cmd(&p, &["attach", "echo"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    child.stdin.take().unwrap().write_all(b"hi\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(stdout(&out).contains("got:hi"), "{}", stderr(&out));

    // with `-p` and no compose file, as Compose v2: the project is found by its labels
    let elsewhere = s.project("elsewhere", &[]);
    let by_name = |args: &[&str]| {
        let mut a = vec!["-p", "cmds"];
        a.extend_from_slice(args);
        s.compose(&elsewhere, &a)
    };
    assert_eq!(
        ok(by_name(&["exec", "-T", "web", "cat", "/greeting"])),
        "hello\n"
    );
    ok(by_name(&["cp", "web:/greeting", "./by-name.txt"]));
    assert_eq!(
        std::fs::read_to_string(elsewhere.join("by-name.txt")).unwrap(),
        "hello\n"
    );
    ok(by_name(&["commit", "web", "committed:v2"]));
    ok(s.d.docker(&["image", "inspect", "committed:v2"]));
    ok(by_name(&["export", "web", "-o", "by-name.tar"]));
    assert!(
        std::fs::metadata(elsewhere.join("by-name.tar"))
            .unwrap()
            .len()
            > 0
    );
    assert!(ok(by_name(&["top", "web"])).contains("sleep 600"));
    assert_eq!(
        ok(by_name(&["ps", "-a", "--format", "{{.Name}} {{.State}}"])),
        "cmds-echo-1 exited\ncmds-web-1 running\n"
    );
    ok(by_name(&["stop", "web"]));
    assert_eq!(ok(by_name(&["ps", "-q"])), "");
    ok(by_name(&["start", "web"]));
    assert_eq!(
        ok(by_name(&["ps", "--format", "{{.Name}}"])),
        "cmds-web-1\n"
    );
    assert!(ok(by_name(&["logs", "--no-log-prefix", "echo"])).contains("got:hi"));
    let out = by_name(&["exec", "-T", "nosuch", "true"]);
    assert!(
        stderr(&out).contains("service \"nosuch\" is not running"),
        "{}",
        stderr(&out)
    );
    let err = stderr(&ok_output(by_name(&["down"])));
    assert!(err.contains(" Container cmds-web-1 Removed"), "{err}");
    assert!(err.contains(" Network cmds_default Removed"), "{err}");
    assert_eq!(support::leftovers(&s.d, "cmds"), "");
    // a project that is not there: nothing to do, as v2
    ok(by_name(&["down"]));
    let _ = events.kill();
    let mut text = String::new();
    events
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let _ = events.wait();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let has = |action: &str, service: &str| {
        lines
            .iter()
            .any(|e| e["action"] == action && e["service"] == service && e["type"] == "container")
    };
    assert!(has("start", "web"), "{text}");
    assert!(has("destroy", "web"), "{text}");
    assert!(has("start", "echo"), "{text}");
    assert!(
        !text.contains("not-in-project"),
        "only the project's events: {text}"
    );
    assert!(!text.contains("com.docker.compose."), "{text}");
}
