//! Volumes end to end: a private `berth daemon` driven by the real docker CLI v28 and by
//! the berth CLI (named, anonymous, bind, tmpfs, --volumes-from, copy-up, rm -v, prune,
//! in-use refusal, daemon restart, bad input leaving nothing behind).
#![cfg(test)]

use std::process::{Command, Output};

use berth_testkit::daemon::{self, stderr, stdout, Daemon};

fn need() -> bool {
    daemon::need("volumes_cli", &[])
}

/// The berth CLI against the test daemon.
fn berth(d: &Daemon, args: &[&str]) -> Output {
    Command::new(berth_testkit::berth_bin())
        .arg("-H")
        .arg(format!("unix://{}", d.sock().display()))
        .args(args)
        .env("DOCKER_CONFIG", d.root().join("docker-config"))
        .output()
        .expect("run berth")
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}{}",
        o.status.code(),
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

fn volume_dirs(d: &Daemon) -> Vec<String> {
    std::fs::read_dir(d.root().join("data/volumes"))
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn peer_volumes_with_docker_cli() {
    if !need() {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let dk = |args: &[&str]| d.docker(args);

    // A named volume written by one container is read by another after the first is gone.
    assert_eq!(ok(dk(&["volume", "create", "data1"])), "data1\n");
    ok(dk(&[
        "run",
        "--name",
        "writer",
        "-v",
        "data1:/data",
        "busybox",
        "sh",
        "-c",
        "echo hello > /data/f",
    ]));
    assert_eq!(
        ok(dk(&[
            "inspect", "-f",
            "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.Mode}} {{.RW}} {{.Driver}}{{end}}",
            "writer"
        ])),
        "volume data1 /data z true local\n"
    );
    // In use by a stopped container: refused with Docker's 409 text.
    let o = dk(&["volume", "rm", "data1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("remove data1: volume is in use - ["),
        "{}",
        stderr(&o)
    );
    ok(dk(&["rm", "writer"]));
    assert_eq!(
        ok(dk(&[
            "run",
            "--rm",
            "-v",
            "data1:/data:ro",
            "busybox",
            "cat",
            "/data/f"
        ])),
        "hello\n"
    );
    let o = dk(&[
        "run",
        "--rm",
        "-v",
        "data1:/data:ro",
        "busybox",
        "touch",
        "/data/x",
    ]);
    assert_ne!(o.status.code(), Some(0), "read-only volume was writable");

    // A bind mount shows a change made on the host.
    let host = d.root().join("hostdir");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("f"), "one").unwrap();
    let bind = format!("{}:/h", host.display());
    ok(dk(&[
        "run",
        "-d",
        "--name",
        "binder",
        "-v",
        &bind,
        "--mount",
        &format!("type=bind,source={},target=/m,readonly", host.display()),
        "busybox",
        "sleep",
        "1000",
    ]));
    assert_eq!(ok(dk(&["exec", "binder", "cat", "/h/f"])), "one");
    std::fs::write(host.join("f"), "two").unwrap();
    assert_eq!(ok(dk(&["exec", "binder", "cat", "/h/f"])), "two");
    assert_eq!(ok(dk(&["exec", "binder", "cat", "/m/f"])), "two");
    assert!(!dk(&["exec", "binder", "touch", "/m/new"]).status.success());
    assert_eq!(
        ok(dk(&[
            "inspect", "-f",
            "{{range .Mounts}}{{.Type}} {{.Source}} {{.Destination}} {{.RW}} {{.Propagation}};{{end}}",
            "binder"
        ])),
        format!(
            "bind {0} /h true rprivate;bind {0} /m false rprivate;\n",
            host.display()
        )
    );
    ok(dk(&["rm", "-f", "binder"]));
    // `-v` creates a missing bind source directory, as Docker does.
    let fresh = d.root().join("made-by-v");
    ok(dk(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/x", fresh.display()),
        "busybox",
        "true",
    ]));
    assert!(fresh.is_dir());

    // Copy-up: an empty named volume over /bin gets the image's content.
    assert_eq!(
        ok(dk(&[
            "run",
            "--rm",
            "-v",
            "cu:/bin",
            "busybox",
            "ls",
            "/bin/busybox"
        ])),
        "/bin/busybox\n"
    );

    // tmpfs (flag and --mount).
    let o = ok(dk(&[
        "run",
        "--rm",
        "--tmpfs",
        "/t:size=1m",
        "--mount",
        "type=tmpfs,dst=/t2",
        "busybox",
        "sh",
        "-c",
        "grep -E ' /t2? ' /proc/mounts | cut -d' ' -f1,2,3 | sort",
    ]));
    assert_eq!(o, "tmpfs /t tmpfs\ntmpfs /t2 tmpfs\n");

    // --volumes-from, read-only.
    ok(dk(&[
        "run",
        "--name",
        "src",
        "-v",
        "vf:/vf",
        "busybox",
        "sh",
        "-c",
        "echo x > /vf/x",
    ]));
    assert_eq!(
        ok(dk(&[
            "run",
            "--rm",
            "--volumes-from",
            "src",
            "busybox",
            "cat",
            "/vf/x"
        ])),
        "x\n"
    );
    let o = dk(&[
        "run",
        "--rm",
        "--volumes-from",
        "src:ro",
        "busybox",
        "touch",
        "/vf/y",
    ]);
    assert_ne!(o.status.code(), Some(0));
    ok(dk(&["rm", "src"]));

    // rm -v drops anonymous volumes only.
    ok(dk(&[
        "create",
        "--name",
        "c2",
        "-v",
        "keep:/k",
        "-v",
        "/anon",
        "--mount",
        "type=volume,dst=/anon2",
        "busybox",
    ]));
    let anon: Vec<String> = ok(dk(&[
        "inspect",
        "-f",
        "{{range .Mounts}}{{if ne .Name \"keep\"}}{{.Name}} {{end}}{{end}}",
        "c2",
    ]))
    .split_whitespace()
    .map(String::from)
    .collect();
    assert_eq!(anon.len(), 2);
    for a in &anon {
        assert_eq!(a.len(), 64);
        assert!(ok(dk(&["volume", "ls", "-q"])).contains(a.as_str()));
    }
    ok(dk(&["rm", "-v", "c2"]));
    let left = ok(dk(&["volume", "ls", "-q"]));
    assert!(left.contains("keep\n"), "{left}");
    for a in &anon {
        assert!(!left.contains(a.as_str()), "{a} survived rm -v");
    }

    // Prune: anonymous only by default, named with --all; labels and filters.
    ok(dk(&["create", "--name", "c3", "-v", "/anon3", "busybox"]));
    ok(dk(&["rm", "c3"]));
    ok(dk(&["volume", "create", "--label", "team=a", "lab"]));
    assert_eq!(
        ok(dk(&["volume", "ls", "-q", "--filter", "label=team=a"])),
        "lab\n"
    );
    assert_eq!(
        ok(dk(&[
            "volume",
            "inspect",
            "-f",
            "{{.Driver}} {{.Scope}} {{.Labels}}",
            "lab"
        ])),
        "local local map[team:a]\n"
    );
    let o = ok(dk(&["volume", "prune", "-f"]));
    assert!(o.starts_with("Deleted Volumes:\n"), "{o}");
    assert_eq!(o.lines().count(), 4, "one anonymous volume: {o}");
    assert!(ok(dk(&["volume", "ls", "-q"])).contains("lab\n"));
    ok(dk(&["volume", "prune", "-af", "--filter", "label=team=a"]));
    assert!(!ok(dk(&["volume", "ls", "-q"])).contains("lab\n"));
    let o = dk(&["volume", "inspect", "nosuch"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no such volume"), "{}", stderr(&o));
}

#[test]
fn peer_volumes_bad_input_leaves_nothing() {
    if !need() {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    for cli in ["docker", "berth"] {
        let run = |args: &[&str]| {
            if cli == "docker" {
                d.docker(args)
            } else {
                berth(&d, args)
            }
        };
        let o = run(&["volume", "create", "bad/name"]);
        assert_ne!(o.status.code(), Some(0));
        assert!(
            stderr(&o).contains("includes invalid characters for a local volume name"),
            "{cli}: {}",
            stderr(&o)
        );
        let o = run(&[
            "run",
            "--rm",
            "-v",
            "/anon",
            "--mount",
            "type=bind,source=/berth-no-such-dir,target=/x",
            "busybox",
            "true",
        ]);
        assert_eq!(o.status.code(), Some(125), "{cli}");
        assert!(
            stderr(&o).contains(
                "invalid mount config for type \"bind\": bind source path does not exist: /berth-no-such-dir"
            ),
            "{cli}: {}",
            stderr(&o)
        );
        let o = run(&["run", "--rm", "-v", "a:/b:c:d", "busybox", "true"]);
        assert_eq!(o.status.code(), Some(125), "{cli}");
        assert!(
            stderr(&o).contains("too many colons"),
            "{cli}: {}",
            stderr(&o)
        );
        let o = run(&["create", "-v", "/anon", "-v", "bad!name:/x", "busybox"]);
        assert_ne!(o.status.code(), Some(0));
        assert!(
            stderr(&o).contains("includes invalid characters"),
            "{cli}: {}",
            stderr(&o)
        );
        let o = run(&["create", "-v", "v1:/x", "-v", "v2:/x", "busybox"]);
        assert!(
            stderr(&o).contains("Duplicate mount point: /x"),
            "{cli}: {}",
            stderr(&o)
        );
        assert_eq!(
            stdout(&d.docker(&["ps", "-aq"])),
            "",
            "{cli}: a container was left"
        );
        assert_eq!(stdout(&d.docker(&["volume", "ls", "-q"])), "", "{cli}");
        assert!(volume_dirs(&d).is_empty(), "{cli}: {:?}", volume_dirs(&d));
    }
}

#[test]
fn peer_volume_data_and_refs_survive_daemon_restart() {
    if !need() {
        return;
    }
    let mut d = Daemon::start();
    d.load_busybox();
    ok(d.docker(&[
        "run",
        "--name",
        "keeper",
        "-v",
        "persist:/p",
        "busybox",
        "sh",
        "-c",
        "echo kept > /p/f",
    ]));
    d.kill9();
    d.spawn();
    // The stopped container still references the volume after the restart.
    let o = d.docker(&["volume", "rm", "persist"]);
    assert!(stderr(&o).contains("volume is in use"), "{}", stderr(&o));
    assert_eq!(
        ok(d.docker(&["run", "--rm", "-v", "persist:/p", "busybox", "cat", "/p/f"])),
        "kept\n"
    );
    ok(d.docker(&["rm", "keeper"]));
    assert_eq!(ok(d.docker(&["volume", "rm", "persist"])), "persist\n");
}

#[test]
fn peer_volumes_with_berth_cli() {
    if !need() {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let b = |args: &[&str]| berth(&d, args);
    assert_eq!(ok(b(&["volume", "create", "v10"])), "v10\n");
    assert_eq!(ok(b(&["volume", "create", "--label", "x=y", "v2"])), "v2\n");
    // Same output as docker's CLI.
    let ls = ok(b(&["volume", "ls"]));
    assert_eq!(ls, "DRIVER    VOLUME NAME\nlocal     v2\nlocal     v10\n");
    assert_eq!(ls, ok(d.docker(&["volume", "ls"])));
    assert_eq!(
        ok(b(&["volume", "inspect", "v2"])),
        ok(d.docker(&["volume", "inspect", "v2"]))
    );
    assert_eq!(
        ok(b(&["volume", "ls", "--format", "json", "-f", "name=v2"])),
        ok(d.docker(&["volume", "ls", "--format", "json", "-f", "name=v2"]))
    );

    ok(b(&[
        "run",
        "--name",
        "writer",
        "-v",
        "v10:/d",
        "busybox",
        "sh",
        "-c",
        "echo hi > /d/f",
    ]));
    let o = b(&["volume", "rm", "v10"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("remove v10: volume is in use - ["),
        "{}",
        stderr(&o)
    );
    ok(b(&["rm", "writer"]));
    assert_eq!(
        ok(b(&[
            "run",
            "--rm",
            "--mount",
            "type=volume,src=v10,dst=/d",
            "busybox",
            "cat",
            "/d/f"
        ])),
        "hi\n"
    );

    let host = d.root().join("bhost");
    std::fs::create_dir_all(&host).unwrap();
    ok(b(&[
        "run",
        "-d",
        "--name",
        "bb",
        "-v",
        &format!("{}:/h", host.display()),
        "busybox",
        "sleep",
        "1000",
    ]));
    std::fs::write(host.join("f"), "from host").unwrap();
    assert_eq!(ok(b(&["exec", "bb", "cat", "/h/f"])), "from host");
    ok(b(&["rm", "-f", "bb"]));

    ok(b(&[
        "create", "--name", "cc", "-v", "v2:/n", "-v", "/anon", "busybox",
    ]));
    assert_eq!(ok(b(&["volume", "ls", "-q"])).lines().count(), 3);
    ok(b(&["rm", "-v", "cc"]));
    assert_eq!(ok(b(&["volume", "ls", "-q"])), "v2\nv10\n");
    assert_eq!(ok(b(&["volume", "rm", "v2", "v10"])), "v2\nv10\n");
    assert_eq!(
        ok(b(&["volume", "prune", "-f"])),
        "Total reclaimed space: 0B\n"
    );
    let o = b(&["volume", "rm", "nosuch"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "Error response from daemon: get nosuch: no such volume\n"
    );
}
