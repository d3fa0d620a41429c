//! `docker ps --filter` on berth and on Docker's own daemon (Debian's dockerd on a private
//! socket), same docker CLI calls, same output: `name`/`id` as regular expressions, `before`
//! and `since`, `publish`/`expose` with ports, ranges and protocols, `network`, `is-task`,
//! and the errors for impossible values. Needs root, the docker CLI and dockerd.
#![cfg(test)]

use berth_testkit::daemon::{self, stderr, stdout, Daemon};
use berth_testkit::dockerd::Dockerd;

/// Makes the same containers and networks on a daemon, oldest first: `a` (running, on
/// net1, exposes 53/udp), `b` (running, on net1, publishes 80/tcp on a loopback port), `c`
/// (running, on net2), `d` (created only, on net1).
fn make(docker: &dyn Fn(&[&str]) -> std::process::Output, p: &str) {
    let ok = |args: &[&str]| {
        let o = docker(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    };
    let (net1, net2) = (format!("{p}net1"), format!("{p}net2"));
    ok(&["network", "create", &net1]);
    ok(&["network", "create", &net2]);
    let idle = ["sh", "-c", "trap 'exit 0' TERM; sleep 300 & wait"];
    let run = |name: &str, extra: &[&str]| {
        let name = format!("{p}{name}");
        let mut args = vec!["run", "-d", "--name", &name];
        args.extend_from_slice(extra);
        args.push("busybox");
        args.extend_from_slice(&idle);
        ok(&args);
    };
    run("a", &["--network", &net1, "--expose", "53/udp"]);
    run("b", &["--network", &net1, "-p", "127.0.0.1::80"]);
    run("c", &["--network", &net2]);
    ok(&[
        "create",
        "--name",
        &format!("{p}d"),
        "--network",
        &net1,
        "busybox",
        "true",
    ]);
}

#[test]
fn peer_ps_filters_as_docker() {
    if !daemon::need_peer_docker_py("peer_ps_filters_as_docker") {
        return;
    }
    let (berth, docker): (Daemon, Dockerd) = daemon::with_dockerd();
    let p = berth_testkit::unique_name("psf");
    make(&|a| berth.docker(a), &p);
    make(&|a| docker.docker(a), &p);
    let cases: Vec<Vec<String>> = [
        vec!["name=b".to_string()],
        vec![format!("name={p}b")],
        vec![format!("name=^{p}b$")],
        vec![format!("name=^/{p}b$")],
        vec![format!("name={p}[ac]")],
        vec![format!("name={p}a"), format!("name={p}d")],
        vec![format!("before={p}b")],
        vec![format!("since={p}b")],
        vec![format!("since={p}a"), format!("before={p}d")],
        vec!["publish=80".into()],
        vec!["publish=1-65535".into()],
        vec!["publish=1-65535/udp".into()],
        vec!["expose=80".into()],
        vec!["expose=80/tcp".into()],
        vec!["expose=79-81".into()],
        vec!["expose=53/udp".into()],
        vec!["expose=53".into()],
        vec!["expose=53/udp".into(), "expose=80".into()],
        vec![format!("network={p}net1")],
        vec![format!("network={p}net2")],
        vec![format!("network={p}net1"), format!("network={p}net2")],
        vec![format!("network={p}net3")],
        vec!["is-task=true".into()],
        vec!["is-task=false".into()],
        vec!["status=created".into()],
        vec!["status=running".into(), format!("name={p}[cd]")],
        // Errors: same message and status.
        vec!["status=sleeping".into()],
        vec!["health=ok".into()],
        vec!["is-task=maybe".into()],
        vec!["publish=8080:80".into()],
        vec![format!("before={p}nope")],
        vec!["colour=red".into()],
    ]
    .into_iter()
    .collect();
    for filters in &cases {
        let mut args = vec!["ps", "-a", "--format", "{{.Names}}"];
        for f in filters {
            args.push("--filter");
            args.push(f);
        }
        let (b, d) = (berth.docker(&args), docker.docker(&args));
        assert_eq!(
            b.status.code(),
            d.status.code(),
            "{filters:?}: berth {} / docker {}",
            stderr(&b),
            stderr(&d)
        );
        assert_eq!(stdout(&b), stdout(&d), "{filters:?}");
        // dockerd 20.10 capitalises "Invalid filter"; Docker 23 and later (the API berth
        // speaks) do not.
        assert_eq!(
            stderr(&b),
            stderr(&d).replace("Invalid filter", "invalid filter"),
            "{filters:?}"
        );
    }
    // The cleanup of both daemons removes the containers and the networks.
}
