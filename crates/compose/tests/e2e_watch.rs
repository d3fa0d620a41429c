//! `berth compose watch` against berth's daemon: `develop.watch` rules with the `sync`,
//! `sync+restart`, `sync+exec` and `rebuild` actions, `ignore` patterns, deletions and `initial_sync`, on a
//! busybox service built from `build: .`.
#![cfg(test)]

mod support;

use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_testkit::daemon::stdout;
use support::{ok, Setup};

const PROJECT: &str = r#"
services:
  web:
    build: .
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    develop:
      watch:
        - path: ./src
          action: sync
          target: /app/src
          ignore: ["*.tmp"]
          initial_sync: true
        - path: ./conf
          action: sync+restart
          target: /etc/app
        - path: ./hooks
          action: sync+exec
          target: /hooks
          exec:
            command: ["sh", "-c", "cat /hooks/h > /hooks/ran"]
        - path: ./version
          action: rebuild
"#;

fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never happened: {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn cat(s: &Setup, p: &Path, file: &str) -> Option<String> {
    let o = s.compose(p, &["exec", "-T", "web", "cat", file]);
    o.status.success().then(|| stdout(&o))
}

#[test]
fn watch_syncs_restarts_execs_and_rebuilds() {
    let Some(s) = Setup::start("watch_syncs_restarts_execs_and_rebuilds", &[]) else {
        return;
    };
    let p = s.project(
        "watched",
        &[
            ("compose.yaml", PROJECT),
            (
                "Dockerfile",
                "FROM busybox\nCOPY version /version\nRUN mkdir -p /app/src /etc/app /hooks\n",
            ),
            ("version", "v1\n"),
            ("src/pre.txt", "early\n"),
            ("conf/.keep", ""),
            ("hooks/.keep", ""),
        ],
    );
    let mut child = s
        .compose_cmd(&p, &["watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn watch");
    let text = Arc::new(Mutex::new(String::new()));
    let mut pipe = child.stdout.take().unwrap();
    let sink = text.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let said = |what: &str| text.lock().unwrap().contains(what);
    eventually("Watch enabled", || said("Watch enabled\n"));
    assert_eq!(cat(&s, &p, "/version").as_deref(), Some("v1\n"));
    // initial_sync copied what was there before
    assert_eq!(cat(&s, &p, "/app/src/pre.txt").as_deref(), Some("early\n"));

    // sync: a new file reaches the container; an ignored one does not; a deletion does
    std::fs::write(p.join("src/skip.tmp"), "no\n").unwrap();
    std::fs::write(p.join("src/a.txt"), "one\n").unwrap();
    eventually("a.txt synced", || {
        cat(&s, &p, "/app/src/a.txt").as_deref() == Some("one\n")
    });
    assert!(
        said("Syncing service \"web\" after "),
        "{}",
        text.lock().unwrap()
    );
    assert_eq!(cat(&s, &p, "/app/src/skip.tmp"), None);
    std::fs::remove_file(p.join("src/a.txt")).unwrap();
    eventually("a.txt removed", || cat(&s, &p, "/app/src/a.txt").is_none());

    // sync+restart
    let started = |s: &Setup| {
        ok(s.d.docker(&["inspect", "-f", "{{.State.StartedAt}}", "watched-web-1"]))
    };
    let before = started(&s);
    std::fs::write(p.join("conf/app.conf"), "level=debug\n").unwrap();
    eventually("restarted", || said("service(s) [\"web\"] restarted\n"));
    assert_eq!(
        cat(&s, &p, "/etc/app/app.conf").as_deref(),
        Some("level=debug\n")
    );
    assert_ne!(started(&s), before);

    // sync+exec: the hook runs after the files are in
    std::fs::write(p.join("hooks/h"), "hooked\n").unwrap();
    eventually("hook ran", || {
        cat(&s, &p, "/hooks/ran").as_deref() == Some("hooked\n")
    });

    // rebuild: a new image, the container recreated from it
    let id = ok(s.d.docker(&["inspect", "-f", "{{.Id}}", "watched-web-1"]));
    std::fs::write(p.join("version"), "v2\n").unwrap();
    eventually("rebuilt", || {
        said("service(s) [\"web\"] successfully built\n")
            && cat(&s, &p, "/version").as_deref() == Some("v2\n")
    });
    assert!(said(
        "Rebuilding service(s) [\"web\"] after changes were detected...\n"
    ));
    assert_ne!(
        ok(s.d.docker(&["inspect", "-f", "{{.Id}}", "watched-web-1"])),
        id
    );

    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let mut err = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    assert_eq!(
        status.code(),
        Some(130),
        "{status:?} {}\n{err}",
        text.lock().unwrap()
    );
    ok(s.compose(&p, &["down"]));
}
