//! Container links with the docker CLI, side by side with Debian's dockerd (20.10) on a
//! private socket: legacy links on the default bridge (environment variables, `/etc/hosts`,
//! inspect's `HostConfig.Links`, ps names, `rm --link`, the errors), and `--link` /
//! `network connect --link` on user networks (aliases through the embedded DNS).
#![cfg(test)]

use std::process::Output;

use berth_testkit::daemon::{self, stderr, stdout, Daemon};
use berth_testkit::dockerd::Dockerd;

fn need() -> bool {
    daemon::need("network_links", &["/usr/sbin/nft", "dockerd"])
}

fn ok(out: Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {}", stderr(&out));
    stdout(&out).trim().to_string()
}

fn err(out: Output, what: &str) -> String {
    assert!(!out.status.success(), "{what} succeeded: {}", stdout(&out));
    stderr(&out)
        .lines()
        .find(|l| l.contains("Error response from daemon"))
        .unwrap_or_default()
        .trim_start_matches("docker: ")
        .to_string()
}

fn inspect(cli: &dyn Fn(&[&str]) -> Output, what: &str, c: &str) -> String {
    ok(cli(&["inspect", "-f", what, c]), "inspect")
}

/// What an engine shows of legacy links (the linked container's address replaced by `IP`).
#[derive(Debug, PartialEq, Eq)]
struct Legacy {
    env: Vec<String>,
    hosts: Vec<String>,
    exec_env: Vec<String>,
    inspect_links: String,
    child_links: String,
    ps_names: String,
    rm_link: String,
    links_after_rm: String,
    hosts_after_rm: String,
    rm_default_name: String,
    rm_unknown: String,
    unknown_target: String,
    host_mode: String,
    host_target: String,
    not_running: String,
}

fn legacy(cli: &dyn Fn(&[&str]) -> Output) -> Legacy {
    ok(
        cli(&[
            "run",
            "-d",
            "--name",
            "web",
            "--hostname",
            "webhost",
            "-e",
            "FOO=bar",
            "-e",
            "A_B=x=y",
            "--expose",
            "80",
            "--expose",
            "53/udp",
            "--expose",
            "8000-8002",
            "busybox",
            "sleep",
            "300",
        ]),
        "run web",
    );
    let ip = inspect(cli, "{{.NetworkSettings.IPAddress}}", "web");
    assert!(!ip.is_empty(), "web has an address on the default bridge");
    let masked = |s: String| -> Vec<String> {
        let mut v: Vec<String> = s.lines().map(|l| l.replace(&ip, "IP")).collect();
        v.sort();
        v
    };
    let env = ok(
        cli(&[
            "run", "--rm", "--name", "app", "--link", "web:db-1", "--link", "web", "busybox", "env",
        ]),
        "run --link",
    );
    let env = masked(
        env.lines()
            .filter(|l| l.starts_with("DB_1_") || l.starts_with("WEB_"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let hosts = ok(
        cli(&[
            "run",
            "--rm",
            "--link",
            "web:db",
            "busybox",
            "cat",
            "/etc/hosts",
        ]),
        "hosts",
    );
    let hosts = masked(
        hosts
            .lines()
            .filter(|l| l.contains("web"))
            .collect::<Vec<_>>()
            .join("\n"),
    );

    ok(
        cli(&[
            "run", "-d", "--name", "p1", "--link", "web:w1", "busybox", "sleep", "300",
        ]),
        "run p1",
    );
    let exec_env = masked(ok(
        cli(&["exec", "p1", "sh", "-c", "env | grep ^W1_NAME"]),
        "exec env",
    ));
    let inspect_links = inspect(cli, "{{json .HostConfig.Links}}", "p1");
    let child_links = inspect(cli, "{{json .HostConfig.Links}}", "web");
    let ps_names = ok(
        cli(&[
            "ps",
            "--no-trunc",
            "--filter",
            "name=web",
            "--format",
            "{{.Names}}",
        ]),
        "ps",
    );
    let rm_link = ok(cli(&["rm", "--link", "p1/w1"]), "rm --link");
    let links_after_rm = inspect(cli, "{{json .HostConfig.Links}}", "p1");
    let hosts_after_rm = ok(
        cli(&["exec", "p1", "sh", "-c", "grep -c w1 /etc/hosts || true"]),
        "hosts after rm --link",
    );
    let rm_default_name = err(cli(&["rm", "--link", "web"]), "rm --link web");
    let rm_unknown = err(cli(&["rm", "--link", "p1/nope"]), "rm --link p1/nope");
    assert!(
        cli(&["inspect", "web"]).status.success(),
        "rm --link never removes a container"
    );

    let unknown_target = err(
        cli(&["run", "--rm", "--link", "nope:x", "busybox", "true"]),
        "link to a missing container",
    );
    let host_mode = err(
        cli(&[
            "run",
            "--rm",
            "--network",
            "host",
            "--link",
            "web:x",
            "busybox",
            "true",
        ]),
        "links in host mode",
    );
    ok(
        cli(&[
            "run",
            "-d",
            "--name",
            "hostc",
            "--network",
            "host",
            "busybox",
            "sleep",
            "300",
        ]),
        "run hostc",
    );
    let host_target = err(
        cli(&["run", "--rm", "--link", "hostc:x", "busybox", "true"]),
        "link to a host-mode container",
    );
    ok(
        cli(&[
            "create", "--name", "app3", "--link", "web:db", "busybox", "sleep", "300",
        ]),
        "create app3",
    );
    ok(cli(&["stop", "-t", "0", "web"]), "stop web");
    let not_running = err(cli(&["start", "app3"]), "start with a stopped link target");
    Legacy {
        env,
        hosts,
        exec_env,
        inspect_links,
        child_links,
        ps_names,
        rm_link,
        links_after_rm,
        hosts_after_rm,
        rm_default_name,
        rm_unknown,
        unknown_target,
        host_mode,
        host_target,
        not_running,
    }
}

#[test]
fn peer_net_legacy_links_on_the_default_bridge() {
    if !need() {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let berth = legacy(&|a| d.docker(a));

    assert_eq!(berth.inspect_links, r#"["/web:/p1/w1"]"#);
    assert_eq!(berth.child_links, "null");
    assert_eq!(berth.ps_names, "p1/w1,web");
    assert!(
        berth.env.contains(&"DB_1_NAME=/app/db-1".to_string()),
        "{:?}",
        berth.env
    );
    assert!(berth.env.contains(&"DB_1_ENV_A_B=x=y".to_string()));
    assert!(berth.env.contains(&"WEB_PORT_80_TCP_ADDR=IP".to_string()));
    assert!(berth
        .env
        .contains(&"WEB_PORT_8000_TCP_PORT_END=8002".to_string()));
    assert_eq!(berth.hosts, vec!["IP\tdb webhost web"]);
    assert_eq!(berth.exec_env, vec!["W1_NAME=/p1/w1"]);
    assert_eq!(berth.hosts_after_rm, "0");
    assert_eq!(
        berth.not_running,
        "Error response from daemon: Cannot link to a non running container: /web AS /app3/db"
    );

    let docker = Dockerd::start_with_default_bridge();
    docker.load_busybox();
    let reference = legacy(&|a| docker.docker(a));
    assert_eq!(berth, reference);
}

/// What an engine shows of links on user networks.
#[derive(Debug, PartialEq, Eq)]
struct UserNet {
    resolved: bool,
    endpoint_links: String,
    host_config_links: String,
    connect_resolved: bool,
    connect_links: String,
}

/// The address `name` resolves to through the embedded DNS inside container `c`.
fn resolve(cli: &dyn Fn(&[&str]) -> Output, c: &str, name: &str) -> Option<String> {
    let out = cli(&["exec", c, "nslookup", name, "127.0.0.11"]);
    let text = stdout(&out);
    let answer = text.split_once(&format!("Name:\t{name}"))?.1;
    answer
        .lines()
        .find_map(|l| l.strip_prefix("Address: "))
        .map(|a| a.trim().to_string())
}

fn user_networks(cli: &dyn Fn(&[&str]) -> Output) -> UserNet {
    ok(cli(&["network", "create", "un1"]), "network create un1");
    ok(cli(&["network", "create", "un2"]), "network create un2");
    ok(
        cli(&[
            "run",
            "-d",
            "--name",
            "uweb",
            "--network",
            "un1",
            "busybox",
            "sleep",
            "300",
        ]),
        "run uweb",
    );
    ok(cli(&["network", "connect", "un2", "uweb"]), "connect uweb");
    ok(
        cli(&[
            "run",
            "-d",
            "--name",
            "uapp",
            "--network",
            "un1",
            "--link",
            "uweb:ualias",
            "busybox",
            "sleep",
            "300",
        ]),
        "run uapp",
    );
    let ip1 = inspect(cli, "{{.NetworkSettings.Networks.un1.IPAddress}}", "uweb");
    let ip2 = inspect(cli, "{{.NetworkSettings.Networks.un2.IPAddress}}", "uweb");
    let resolved = resolve(cli, "uapp", "ualias") == Some(ip1);
    let endpoint_links = inspect(cli, "{{json .NetworkSettings.Networks.un1.Links}}", "uapp");
    let host_config_links = inspect(cli, "{{json .HostConfig.Links}}", "uapp");
    ok(
        cli(&[
            "run",
            "-d",
            "--name",
            "other",
            "--network",
            "un1",
            "busybox",
            "sleep",
            "300",
        ]),
        "run other",
    );
    ok(
        cli(&["network", "connect", "--link", "uweb:cl", "un2", "other"]),
        "network connect --link",
    );
    let connect_resolved = resolve(cli, "other", "cl") == Some(ip2);
    let connect_links = inspect(cli, "{{json .NetworkSettings.Networks.un2.Links}}", "other");
    UserNet {
        resolved,
        endpoint_links,
        host_config_links,
        connect_resolved,
        connect_links,
    }
}

#[test]
fn peer_net_links_on_user_networks_resolve_through_dns() {
    if !need() {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let cli = |a: &[&str]| d.docker(a);
    let berth = user_networks(&cli);
    assert_eq!(
        berth,
        UserNet {
            resolved: true,
            endpoint_links: r#"["uweb:ualias"]"#.into(),
            host_config_links: "null".into(),
            connect_resolved: true,
            connect_links: r#"["uweb:cl"]"#.into(),
        }
    );
    // Only the linking container knows the alias.
    ok(
        cli(&[
            "run",
            "-d",
            "--name",
            "peer",
            "--network",
            "un1",
            "busybox",
            "sleep",
            "300",
        ]),
        "run peer",
    );
    assert_eq!(resolve(&cli, "peer", "ualias"), None);
    assert!(resolve(&cli, "peer", "uweb").is_some());

    let docker = Dockerd::start();
    docker.load_busybox();
    assert_eq!(berth, user_networks(&|a| docker.docker(a)));
}
