//! What real clients trip on (issue 11), side by side: the docker CLI v28 and docker-py
//! against a private `berth daemon` and against Docker's own daemon (Debian's dockerd 20.10
//! on a private socket), expecting the same answers: null request fields, case-insensitive
//! keys, version-gated response fields, swarm endpoints outside a swarm, `docker version`.
#![cfg(test)]

use std::path::Path;
use std::process::Output;

use berth_testkit::daemon::{self, stderr, stdout, Daemon};
use berth_testkit::dockerd::Dockerd;

/// Runs one case of tests/docker_py/fidelity.py against both daemons.
fn docker_py_case(case: &str, berth: &Daemon, docker: &Dockerd) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/docker_py/fidelity.py");
    daemon::docker_py_case(&script, case, berth, docker);
}

#[test]
fn peer_null_fields_and_case_insensitive_keys_as_docker() {
    if !daemon::need_peer_docker_py("peer_null_fields_and_case_insensitive_keys_as_docker") {
        return;
    }
    let (berth, docker) = daemon::with_dockerd();
    docker_py_case("keys", &berth, &docker);
}

#[test]
fn peer_responses_follow_the_requested_api_version() {
    if !daemon::need_peer_docker_py("peer_responses_follow_the_requested_api_version") {
        return;
    }
    let (berth, docker) = daemon::with_dockerd();
    docker_py_case("versions", &berth, &docker);
}

#[test]
fn peer_swarm_endpoints_outside_a_swarm_as_docker() {
    if !daemon::need_peer_docker_py("peer_swarm_endpoints_outside_a_swarm_as_docker") {
        return;
    }
    let (berth, docker) = daemon::with_dockerd();
    docker_py_case("swarm", &berth, &docker);
    // The docker CLI prints the daemon's message the same way for both.
    let b = berth.docker(&["node", "ls"]);
    let d = docker.docker(&["node", "ls"]);
    assert_eq!(b.status.code(), d.status.code());
    assert_eq!(stderr(&b), stderr(&d));
}

/// The `Server:` block of `docker version`: its labels, and the values that must not be
/// blank.
fn server_block(o: &Output) -> Vec<(String, String)> {
    stdout(o)
        .split("\nServer:")
        .nth(1)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with("containerd:") && !l.trim().is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[test]
fn peer_docker_version_prints_every_server_field() {
    if !daemon::need_peer_docker_py("peer_docker_version_prints_every_server_field") {
        return;
    }
    let berth = Daemon::start();
    let docker = Dockerd::start();
    let b = berth.docker(&["version"]);
    let d = docker.docker(&["version"]);
    assert!(b.status.success(), "{}", stderr(&b));
    let (bs, ds) = (server_block(&b), server_block(&d));
    let labels = |s: &[(String, String)]| s.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    assert_eq!(
        labels(&bs),
        labels(&ds),
        "berth:\n{}\ndocker:\n{}",
        stdout(&b),
        stdout(&d)
    );
    let get = |k: &str| {
        bs.iter()
            .find(|(l, _)| l == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(get("API version"), "1.47 (minimum version 1.24)");
    assert_eq!(
        get("OS/Arch"),
        format!("linux/{}", berth_units::arch::go_arch())
    );
    assert!(get("Go version").starts_with("rust"), "{}", stdout(&b));
    assert_eq!(get("Experimental"), "false");
    assert!(get("Git commit").len() >= 7, "{}", stdout(&b));
    assert!(!get("Built").is_empty(), "{}", stdout(&b));
    // The JSON the docker CLI reads: Components[0].Details.
    let f = berth.docker(&["version", "--format", "{{json .Server.Components}}"]);
    let comps: serde_json::Value = serde_json::from_str(stdout(&f).trim()).expect("json");
    let details = &comps[0]["Details"];
    for k in [
        "ApiVersion",
        "MinAPIVersion",
        "GitCommit",
        "GoVersion",
        "Os",
        "Arch",
        "KernelVersion",
        "BuildTime",
        "Experimental",
    ] {
        assert!(details[k].is_string(), "{k} missing: {comps}");
    }
}
