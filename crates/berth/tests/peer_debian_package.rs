//! The Debian package, in CI: scripts/build-deb.sh packs the binaries this test run built,
//! scripts/test-deb.sh installs it into the machine with `dpkg -i`, starts it as the
//! machine's engine (the socket unit where systemd is PID 1, else the unit's ExecStart line
//! under systemd-socket-activate), runs a container as a `berth` group member, checks a
//! non-member is refused, restarts with live-restore and a running container, then removes
//! and purges the package (docs/install.md). A `peer_` test: it owns /run/berth and
//! /var/lib/berth while it runs, so nextest runs it alone.
#![cfg(test)]

use std::path::Path;
use std::process::Command;

use berth_testkit::{require_program, require_root, TempDir};

#[allow(dead_code)] // its `main` is the example's
#[path = "../examples/gen_docs.rs"]
mod gen_docs;

#[test]
fn peer_debian_package_installs_serves_the_berth_group_restarts_and_purges() {
    require_root!();
    for p in [
        "dpkg-buildpackage",
        "fakeroot",
        "systemd-analyze",
        "systemd-socket-activate",
        "busybox",
        "useradd",
        "runuser",
    ] {
        require_program!(p);
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bin = berth_testkit::berth_bin();
    // target/release/berth → target
    let target = bin.parent().and_then(Path::parent).expect("target dir");
    // Man pages and completions from the clap definitions, by the packaging example's own
    // code (nextest builds no examples).
    let docs = TempDir::new("berth-deb-docs");
    gen_docs::generate(docs.path()).expect("generate man pages and completions");
    let run = |script: &str| {
        let o = Command::new("bash")
            .arg(repo.join("scripts").join(script))
            .env("BERTH_DEB_NO_BUILD", "1")
            .env("BERTH_DOCS_DIR", docs.path())
            .env("CARGO_TARGET_DIR", target)
            .output()
            .expect("bash");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success(), "{script} failed:\n{text}");
        text
    };
    run("build-deb.sh");
    let out = run("test-deb.sh");
    assert!(out.contains("package ok: berth_"), "{out}");
}
