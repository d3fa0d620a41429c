//! End to end against berth's daemon: `scale`, `events --json`, `cp`, `attach`, `stats`,
//! `commit` and `export` through `berth compose`, on one busybox project.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use berth_testkit::daemon::{self, stderr, stdout, Daemon};
use berth_testkit::TempDir;

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

fn compose_cmd(d: &Daemon, dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(&d.bin);
    c.arg("compose")
        .args(["--progress", "plain"])
        .args(args)
        .current_dir(dir)
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", d.root().join("docker-config"))
        .env_remove("COMPOSE_PROJECT_NAME")
        .env_remove("COMPOSE_FILE");
    c
}

fn compose(d: &Daemon, dir: &Path, args: &[&str]) -> Output {
    compose_cmd(d, dir, args)
        .stdin(Stdio::null())
        .output()
        .expect("run berth compose")
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

#[test]
fn scale_events_cp_attach_stats_commit_export() {
    if !daemon::need("scale_events_cp_attach_stats_commit_export", &[]) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let dir = TempDir::new("compose-cmds");
    let p = dir.path().join("cmds");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("compose.yaml"), PROJECT).unwrap();
    ok(compose(&d, &p, &["up", "-d", "web"]));

    // events --json follows the project's container events
    let mut events = compose_cmd(&d, &p, &["events", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));

    // scale up and down
    let err = stderr(&ok_output(compose(&d, &p, &["scale", "web=3"])));
    assert!(err.contains(" Container cmds-web-3 Started"), "{err}");
    assert_eq!(
        ok(compose(&d, &p, &["ps", "--format", "{{.Name}}"])),
        "cmds-web-1\ncmds-web-2\ncmds-web-3\n"
    );
    ok(compose(&d, &p, &["scale", "web=1"]));
    assert_eq!(
        ok(compose(&d, &p, &["ps", "--format", "{{.Name}}"])),
        "cmds-web-1\n"
    );
    let out = compose(&d, &p, &["scale", "web=x"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("invalid scale specifier: can't parse replica value as int: web=x"),
        "{}",
        stderr(&out)
    );

    // cp both ways
    std::fs::write(p.join("local.txt"), "from the host\n").unwrap();
    let err = stderr(&ok_output(compose(
        &d,
        &p,
        &["cp", "./local.txt", "web:/tmp/copied.txt"],
    )));
    assert!(
        err.contains(" cmds-web-1 copy ./local.txt to cmds-web-1:/tmp/copied.txt Copied"),
        "{err}"
    );
    assert_eq!(
        ok(compose(
            &d,
            &p,
            &["exec", "-T", "web", "cat", "/tmp/copied.txt"]
        )),
        "from the host\n"
    );
    ok(compose(&d, &p, &["cp", "web:/greeting", "./greeting.txt"]));
    assert_eq!(
        std::fs::read_to_string(p.join("greeting.txt")).unwrap(),
        "hello\n"
    );
    let out = compose(&d, &p, &["cp", "nosuch:/x", "."]);
    assert!(
        stderr(&out).contains("no container found for service \"nosuch\""),
        "{}",
        stderr(&out)
    );

    // stats of the project's containers only
    let other = d.docker(&[
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
        ok(compose(
            &d,
            &p,
            &["stats", "--no-stream", "--format", "{{.Name}}"]
        )),
        "cmds-web-1\n"
    );

    // commit and export
    let err = stderr(&ok_output(compose(
        &d,
        &p,
        &["commit", "web", "committed:v1"],
    )));
    assert!(
        err.contains(" cmds-web-1 Commit cmds-web-1 Committed as sha256:"),
        "{err}"
    );
    ok(d.docker(&["image", "inspect", "committed:v1"]));
    ok(compose(&d, &p, &["export", "web", "-o", "web.tar"]));
    let tar = std::fs::read(p.join("web.tar")).unwrap();
    assert!(
        tar.windows(8).any(|w| w == b"greeting"),
        "the export has /greeting"
    );
    let out = compose(&d, &p, &["export", "--index", "2", "web"]);
    assert!(
        stderr(&out).contains("service \"web\" is not running container #2"),
        "{}",
        stderr(&out)
    );

    // attach: stdin reaches the container, its output comes back
    ok(compose(&d, &p, &["up", "-d", "echo"]));
    let mut child = compose_cmd(&d, &p, &["attach", "echo"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    child.stdin.take().unwrap().write_all(b"hi\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(stdout(&out).contains("got:hi"), "{}", stderr(&out));

    ok(compose(&d, &p, &["down"]));
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

fn ok_output(o: Output) -> Output {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    o
}
