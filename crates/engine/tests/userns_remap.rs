//! `userns-remap` (issue 12): containers run in a user namespace mapped through
//! /etc/subuid and /etc/subgid; layers look root-owned inside, volumes belong to the
//! remapped root, `--userns=host` opts out. The same commands run on a private dockerd
//! (Debian's 20.10) with the same remapping where it is installed.
//!
//! Each test makes its own system user with a subordinate range of its own (removed on drop,
//! also on failure); `default` (`dockremap`) is tested only when the host has no
//! `dockremap` yet, and removed again afterwards.
#![cfg(test)]

use std::path::Path;
use std::process::{Command, Output};

use berth_testkit::daemon::{stderr, stdout, DaemonOptions};
use berth_testkit::dockerd::Dockerd;

/// A system user with 65536 subordinate uids and gids, both removed on drop.
struct RemapUser {
    name: String,
    start: u32,
}

/// Serialises edits of /etc/subuid and /etc/subgid within this test binary.
static SUBID_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl RemapUser {
    fn new() -> RemapUser {
        let name = berth_testkit::unique_name("bru");
        let ok = Command::new("useradd")
            .args(["-r", "-M", "-s", "/bin/false", &name])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "useradd {name}");
        // A range far above what useradd hands out, unique to this process.
        let start = 1_000_000_000 + (std::process::id() % 10_000) * 65_536 * 2;
        let user = RemapUser { name, start };
        let _g = SUBID_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        for file in ["/etc/subuid", "/etc/subgid"] {
            let mut text = std::fs::read_to_string(file).unwrap_or_default();
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("{}:{}:65536\n", user.name, user.start));
            std::fs::write(file, text).unwrap();
        }
        user
    }
}

/// Removes every line of `name` from the subordinate-id files.
fn remove_subids(name: &str) {
    let _g = SUBID_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    for file in ["/etc/subuid", "/etc/subgid"] {
        if let Ok(text) = std::fs::read_to_string(file) {
            let kept: String = text
                .lines()
                .filter(|l| l.split(':').next() != Some(name))
                .map(|l| format!("{l}\n"))
                .collect();
            let _ = std::fs::write(file, kept);
        }
    }
}

impl Drop for RemapUser {
    fn drop(&mut self) {
        remove_subids(&self.name);
        let _ = Command::new("userdel").arg(&self.name).status();
    }
}

/// Lets the remapped root traverse the test daemon's private directory to its roots (as
/// it traverses /var/lib/berth, 0710 with its group, in production).
fn traversable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711)).unwrap();
}

fn ok(what: &str, o: &Output) -> String {
    assert!(o.status.success(), "{what}: {}{}", stdout(o), stderr(o));
    stdout(o)
}

/// What both engines must show for the same remapping (`base` = first subordinate id).
fn check_engine(name: &str, docker: &dyn Fn(&[&str]) -> Output, base: u32, data_root: &Path) {
    let map = format!("0 {base} 65536");
    let got = ok(
        "uid_map",
        &docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "cat",
            "/proc/self/uid_map",
            "/proc/self/gid_map",
        ]),
    );
    let lines: Vec<String> = got
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        lines,
        vec![map.clone(), map.clone()],
        "{name}: uid_map/gid_map"
    );
    // Image files look root-owned inside; container root owns `/`.
    let got = ok(
        "stat",
        &docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "stat",
            "-c",
            "%u:%g",
            "/bin/busybox",
            "/",
            "/etc",
        ]),
    );
    assert_eq!(
        got.split_whitespace().collect::<Vec<_>>(),
        ["0:0"; 3],
        "{name}: stat"
    );
    // Container root can write anywhere in its own filesystem, and a missing workdir is
    // made for it.
    ok(
        "write",
        &docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            "-w",
            "/new/dir",
            "busybox",
            "sh",
            "-c",
            "touch /etc/x /bin/y ./z && id -u",
        ]),
    );
    // The container's process belongs to the subordinate base on the host.
    let cname = berth_testkit::unique_name("urm");
    ok(
        "run -d",
        &docker(&[
            "run",
            "-d",
            "--name",
            &cname,
            "--network",
            "none",
            "-v",
            "urmvol:/vol",
            "busybox",
            "sh",
            "-c",
            "echo hi > /vol/f; sleep 1000",
        ]),
    );
    let pid = ok(
        "inspect",
        &docker(&["inspect", "-f", "{{.State.Pid}}", &cname]),
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(
        uid_line.split_whitespace().nth(1),
        Some(base.to_string().as_str()),
        "{name}: host uid of the container's process"
    );
    // A file written to a named volume is owned by the remapped root on the host.
    let mountpoint = ok(
        "volume",
        &docker(&["volume", "inspect", "-f", "{{.Mountpoint}}", "urmvol"]),
    );
    let f = Path::new(mountpoint.trim()).join("f");
    for _ in 0..100 {
        if f.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(&f).unwrap_or_else(|e| panic!("{name}: {}: {e}", f.display()));
    assert_eq!(
        (md.uid(), md.gid()),
        (base, base),
        "{name}: volume file owner"
    );
    assert!(
        mountpoint.trim().starts_with(
            &data_root
                .join(format!("{base}.{base}"))
                .display()
                .to_string()
        ),
        "{name}: {mountpoint}"
    );
    // What leaves the container speaks its ids; what enters it is stored in the remapped
    // ones: cp both ways, diff, export, commit.
    ok(
        "exec",
        &docker(&["exec", &cname, "sh", "-c", "echo made > /etc/made"]),
    );
    let numeric_owner = |tar: &[u8], path: &str| -> String {
        let dir = berth_testkit::TempDir::new("urm-tar-");
        let file = dir.path().join("t.tar");
        std::fs::write(&file, tar).unwrap();
        let out = Command::new("tar")
            .args(["-tvf", file.to_str().unwrap(), "--numeric-owner"])
            .output()
            .unwrap();
        stdout(&out)
            .lines()
            .find(|l| l.trim_end().ends_with(path))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or_else(|| panic!("{name}: {path} in {}", stdout(&out)))
            .to_string()
    };
    let cp_out = docker(&["cp", &format!("{cname}:/etc/made"), "-"]);
    // dockerd 20.10 streams the host's ids here (its `cp` out takes no mapping); berth
    // gives the container's, as its own `export` does.
    let expected_cp_out = if name == "berth" {
        "0/0".to_string()
    } else {
        format!("{base}/{base}")
    };
    assert_eq!(
        numeric_owner(&cp_out.stdout, "made"),
        expected_cp_out,
        "{name}: cp out"
    );
    let src = berth_testkit::TempDir::new("urm-cp-");
    std::fs::write(src.path().join("in"), "in").unwrap();
    ok(
        "cp in",
        &docker(&[
            "cp",
            src.path().join("in").to_str().unwrap(),
            &format!("{cname}:/tmp/"),
        ]),
    );
    let got = ok(
        "stat in",
        &docker(&["exec", &cname, "stat", "-c", "%u:%g", "/tmp/in"]),
    );
    assert_eq!(got.trim(), "0:0", "{name}: cp in");
    let diff = ok("diff", &docker(&["diff", &cname]));
    assert!(diff.contains("A /etc/made"), "{name}: {diff}");
    let export = docker(&["export", &cname]);
    assert!(
        export.status.success(),
        "{name}: export {}",
        stderr(&export)
    );
    assert_eq!(
        numeric_owner(&export.stdout, "etc/made"),
        "0/0",
        "{name}: export"
    );
    assert_eq!(
        numeric_owner(&export.stdout, "bin/busybox"),
        "0/0",
        "{name}: export"
    );
    let image = berth_testkit::unique_name("urmimg");
    ok("commit", &docker(&["commit", &cname, &image]));
    // dockerd's image store is itself shifted: a `--userns=host` container sees its
    // layers in the remapped ids. berth's layers are stored as pulled (idmapped only for
    // remapped containers), so both see root's files as root's.
    let host_view = if name == "berth" {
        "0:0".to_string()
    } else {
        format!("{base}:{base}")
    };
    for (userns, expected) in [
        ("--userns=", "0:0".to_string()),
        ("--userns=host", host_view),
    ] {
        let got = ok(
            "run committed",
            &docker(&[
                "run",
                "--rm",
                "--network",
                "none",
                userns,
                &image,
                "stat",
                "-c",
                "%u:%g",
                "/etc/made",
                "/tmp/in",
            ]),
        );
        assert_eq!(
            got.split_whitespace().collect::<Vec<_>>(),
            [expected.as_str(); 2],
            "{name}: committed {userns}"
        );
    }
    ok("rmi", &docker(&["rmi", &image]));
    ok("rm", &docker(&["rm", "-f", &cname]));
    ok("volume rm", &docker(&["volume", "rm", "urmvol"]));
    // `--userns=host` opts out.
    let got = ok(
        "userns=host",
        &docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--userns=host",
            "busybox",
            "cat",
            "/proc/self/uid_map",
        ]),
    );
    assert_eq!(
        got.split_whitespace().collect::<Vec<_>>(),
        ["0", "0", "4294967295"],
        "{name}"
    );
    // dockerd's conflicts.
    let out = docker(&["run", "--rm", "--privileged", "busybox", "true"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode"),
        "{name}: {}",
        stderr(&out)
    );
    let out = docker(&["run", "--rm", "--network", "host", "busybox", "true"]);
    assert!(
        stderr(&out)
            .contains("cannot share the host's network namespace when user namespaces are enabled"),
        "{name}: {}",
        stderr(&out)
    );
    let out = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--pid",
        "host",
        "busybox",
        "true",
    ]);
    assert!(
        stderr(&out)
            .contains("cannot share the host PID namespace when user namespaces are enabled"),
        "{name}: {}",
        stderr(&out)
    );
    ok(
        "privileged userns=host",
        &docker(&[
            "run",
            "--rm",
            "--network",
            "host",
            "--pid",
            "host",
            "--userns=host",
            "busybox",
            "true",
        ]),
    );
    let info = ok(
        "info",
        &docker(&["info", "-f", "{{json .SecurityOptions}}"]),
    );
    assert!(info.contains("name=userns"), "{name}: {info}");
}

#[test]
fn peer_userns_remap_maps_containers_layers_and_volumes() {
    berth_testkit::require_root!();
    if !berth_testkit::daemon::need("userns_remap", &[]) {
        return;
    }
    let user = RemapUser::new();
    let mut berth = DaemonOptions::new()
        .args(&["--userns-remap", &user.name])
        .start();
    traversable(berth.root());
    berth.load_busybox();
    check_engine(
        "berth",
        &|a| berth.docker(a),
        user.start,
        &berth.root().join("data"),
    );
    // The store is `<data-root>/<uid>.<gid>`, 0710 with the remapped root's group.
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let store = berth
        .root()
        .join("data")
        .join(format!("{0}.{0}", user.start));
    let md = std::fs::metadata(&store).unwrap();
    assert_eq!(
        (md.permissions().mode() & 0o7777, md.gid()),
        (0o710, user.start)
    );
    // A container made before a restart runs after it, still remapped.
    let cname = berth_testkit::unique_name("urr");
    ok(
        "create",
        &berth.docker(&[
            "create",
            "--name",
            &cname,
            "--network",
            "none",
            "busybox",
            "cat",
            "/proc/self/uid_map",
        ]),
    );
    berth.kill9();
    berth.spawn_with(&[], &["--userns-remap", &user.name]);
    let got = ok("start -a", &berth.docker(&["start", "-a", &cname]));
    assert_eq!(
        got.split_whitespace().collect::<Vec<_>>(),
        ["0", &user.start.to_string(), "65536"]
    );
    ok("rm", &berth.docker(&["rm", &cname]));
    drop(berth);

    if berth_testkit::which("dockerd").is_some() {
        let dockerd = Dockerd::start_with(&["--userns-remap", &user.name]);
        traversable(dockerd.root());
        dockerd.load_busybox();
        check_engine(
            "dockerd",
            &|a| dockerd.docker(a),
            user.start,
            &dockerd.root().join("data"),
        );
    }
}

#[test]
fn peer_userns_remap_refuses_users_without_ranges_and_default_makes_dockremap() {
    berth_testkit::require_root!();
    if !berth_testkit::daemon::need("userns_remap", &[]) {
        return;
    }
    // A user without subordinate ranges: the start fails with dockerd's message.
    let name = berth_testkit::unique_name("brn");
    assert!(Command::new("useradd")
        .args(["-r", "-M", "-s", "/bin/false", &name])
        .status()
        .is_ok_and(|s| s.success()));
    struct Gone(String);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = Command::new("userdel").arg(&self.0).status();
        }
    }
    let _gone = Gone(name.clone());
    let dir = berth_testkit::TempDir::new("berth-remap-");
    let out = Command::new(berth_testkit::berth_bin())
        .args([
            "daemon",
            "--userns-remap",
            &name,
            "--config-file",
            "/nonexistent/daemon.json",
            "-H",
        ])
        .arg(format!("unix://{}", dir.path().join("s.sock").display()))
        .arg("--data-root")
        .arg(dir.path().join("data"))
        .arg("--exec-root")
        .arg(dir.path().join("exec"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!(
            "Can't create ID mappings: No subuid ranges found for user \"{name}\""
        )),
        "{}",
        stderr(&out)
    );

    // `default` makes the user and group dockremap with 65536 ids each (only checked where
    // the host has no dockremap: the test removes what it made).
    let had_dockremap = Command::new("getent")
        .args(["passwd", "dockremap"])
        .output()
        .is_ok_and(|o| o.status.success());
    if had_dockremap {
        return berth_testkit::skip("userns-remap default", "the host already has dockremap");
    }
    struct Dockremap;
    impl Drop for Dockremap {
        fn drop(&mut self) {
            remove_subids("dockremap");
            let _ = Command::new("userdel").arg("dockremap").status();
            let _ = Command::new("groupdel").arg("dockremap").status();
        }
    }
    let _dockremap = Dockremap;
    let mut berth = DaemonOptions::new()
        .args(&["--userns-remap", "default"])
        .start();
    traversable(berth.root());
    let line = std::fs::read_to_string("/etc/subuid")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("dockremap:"))
        .map(str::to_string)
        .expect("a dockremap range");
    let start: u32 = line.split(':').nth(1).unwrap().parse().unwrap();
    assert!(line.ends_with(":65536") && start >= 100_000, "{line}");
    assert!(std::fs::read_to_string("/etc/subgid")
        .unwrap()
        .contains(&line));
    berth.load_busybox();
    let got = ok(
        "uid_map",
        &berth.docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "cat",
            "/proc/self/uid_map",
        ]),
    );
    assert_eq!(
        got.split_whitespace().collect::<Vec<_>>(),
        ["0", &start.to_string(), "65536"]
    );
    berth.kill9();
    drop(berth);
}
