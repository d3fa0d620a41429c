//! The `network` events of `docker events` on berth and on Docker's own daemon (Debian's
//! dockerd on a private socket): `create`, `connect` when a container starts (on a user
//! network or the host's) and on `network connect`, `disconnect` on `network disconnect`
//! and when it stops, `destroy`, `prune`; and the `type=network` and `network=` filters
//! (a prefix of the network's name or id). Needs root, the docker CLI and dockerd. (A
//! stopped container leaving a network logs nothing in moby today, one event in dockerd
//! 20.10: the unit tests check berth's, moby's.)
#![cfg(test)]

use std::time::{SystemTime, UNIX_EPOCH};

use berth_testkit::daemon::{self, stderr, stdout};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

type Docker<'a> = &'a dyn Fn(&[&str]) -> std::process::Output;

/// `docker events` since `since` with `filters`, one line per event: action, network name
/// (`p` removed), type, and the container as `web`/`host` (its id replaced).
fn events(
    docker: Docker,
    since: u64,
    filters: &[&str],
    p: &str,
    ids: &[(&str, &str)],
) -> Vec<String> {
    let (since, until) = (since.to_string(), (now() + 1).to_string());
    let mut args = vec!["events", "--since", &since, "--until", &until];
    for f in filters {
        args.extend(["--filter", f]);
    }
    let format = "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.type}} \
                  {{.Actor.Attributes.container}}";
    args.extend(["--format", format]);
    let o = docker(&args);
    assert!(o.status.success(), "events: {}", stderr(&o));
    let mut lines: Vec<String> = stdout(&o)
        .lines()
        .map(|l| {
            let mut l = l.trim().replace(p, "");
            for (id, name) in ids {
                l = l.replace(id, name);
            }
            l
        })
        .collect();
    // dockerd 20.10 logs `network disconnect` of a running container twice (from
    // `disconnectFromNetwork` and again from `DisconnectFromNetwork`); moby has since
    // logged it once, as berth does.
    lines.dedup();
    lines
}

/// The scenario on one daemon: its events (all network events; `network=<name of a>`;
/// `network=<id prefix of b>` with `type=network`).
fn scenario(docker: Docker, p: &str) -> [Vec<String>; 3] {
    let out = |args: &[&str]| {
        let o = docker(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        stdout(&o).trim().to_string()
    };
    let (a, b) = (format!("{p}a"), format!("{p}b"));
    let (web, host) = (format!("{p}web"), format!("{p}host"));
    let since = now().saturating_sub(1);
    out(&["network", "create", &a]);
    let b_id = out(&["network", "create", &b]);
    let web_id = out(&[
        "run",
        "-d",
        "--name",
        &web,
        "--network",
        &a,
        "busybox",
        "sleep",
        "300",
    ]);
    out(&["network", "connect", &b, &web]);
    out(&["network", "disconnect", &a, &web]);
    out(&["stop", "-t", "0", &web]);
    out(&["rm", &web]);
    let host_id = out(&[
        "run",
        "-d",
        "--name",
        &host,
        "--network",
        "host",
        "busybox",
        "sleep",
        "300",
    ]);
    out(&["stop", "-t", "0", &host]);
    out(&["rm", &host]);
    out(&["network", "rm", &a]);
    out(&["network", "prune", "-f"]);
    let ids = [(web_id.as_str(), "web"), (host_id.as_str(), "host-c")];
    let by_id = format!("network={}", &b_id[..12]);
    [
        events(docker, since, &["type=network"], p, &ids),
        events(docker, since, &[&format!("network={a}")], p, &ids),
        events(docker, since, &["type=network", &by_id], p, &ids),
    ]
}

#[test]
fn peer_network_events_and_filters_as_docker() {
    if !daemon::need_peer_docker_py("peer_network_events_and_filters_as_docker") {
        return;
    }
    let (berth, docker) = daemon::with_dockerd();
    let p = berth_testkit::unique_name("nev");
    let b = scenario(&|a| berth.docker(a), &p);
    let d = scenario(&|a| docker.docker(a), &p);
    assert_eq!(b, d, "berth vs dockerd");
    assert_eq!(
        b[1],
        [
            "network create a bridge <no value>",
            "network connect a bridge web",
            "network disconnect a bridge web",
            "network destroy a bridge <no value>",
        ],
        "{b:?}"
    );
}
