//! The fake's fixed answers: version, info, container summaries, what a start does.

use std::collections::BTreeMap;

use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use super::FakeContainer;
use crate::types::*;
use crate::{ApiError, ApiResult, EventsOptions, JsonStream, LogChunk, RequestBody, StdStream};

pub(super) fn chunk(stream: StdStream, data: &'static [u8]) -> LogChunk {
    LogChunk {
        stream,
        data: Bytes::from_static(data),
    }
}

pub(super) fn system_version() -> SystemVersion {
    let details: BTreeMap<String, String> = [
        ("ApiVersion", "1.47"),
        ("MinAPIVersion", "1.24"),
        ("GoVersion", "rust1.85"),
        ("GitCommit", "deadbee"),
        ("BuildTime", "2026-01-01T00:00:00Z"),
        ("Os", "linux"),
        ("Arch", "amd64"),
        ("Experimental", "false"),
        ("KernelVersion", "6.1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    SystemVersion {
        platform: PlatformName {
            name: "berth".into(),
        },
        components: vec![
            ComponentVersion {
                name: "Engine".into(),
                version: "0.1.0".into(),
                details: Some(details),
            },
            ComponentVersion {
                name: "berth-runtime".into(),
                version: "0.1.0".into(),
                details: Some(
                    [("GitCommit".to_string(), "abc".to_string())]
                        .into_iter()
                        .collect(),
                ),
            },
        ],
        version: "0.1.0".into(),
        api_version: "1.47".into(),
        min_api_version: "1.24".into(),
        git_commit: "deadbee".into(),
        go_version: "rust1.85".into(),
        os: "linux".into(),
        arch: "amd64".into(),
        kernel_version: "6.1".into(),
        build_time: "2026-01-01T00:00:00Z".into(),
        ..Default::default()
    }
}

pub(super) fn summary(c: &FakeContainer) -> ContainerSummary {
    ContainerSummary {
        id: c.id.clone(),
        names: vec![format!("/{}", c.name)],
        image: c.image.clone(),
        command: c.cmd.join(" "),
        created: 1_600_000_000,
        state: if c.running { "running" } else { "exited" }.into(),
        status: if c.running {
            "Up 5 minutes"
        } else {
            "Exited (0) 2 hours ago"
        }
        .into(),
        ports: if c.running {
            vec![Port {
                ip: "0.0.0.0".into(),
                private_port: 80,
                public_port: 8080,
                kind: "tcp".into(),
            }]
        } else {
            vec![]
        },
        ..Default::default()
    }
}

/// What starting a container with this command does: an error, or its exit code.
pub(super) fn start_outcome(cmd: &[String]) -> ApiResult<i64> {
    match cmd.first().map(String::as_str) {
        Some("nope") => Err(ApiError::invalid(
            "failed to create task for container: exec: \"nope\": executable file not found in $PATH",
        )),
        Some("noperm") => Err(ApiError::invalid("exec /noperm: permission denied")),
        Some("exit3") => Ok(3),
        Some("false") => Ok(1),
        _ => Ok(0),
    }
}

pub(super) async fn read_body(mut body: RequestBody) -> ApiResult<Vec<u8>> {
    let mut data = Vec::new();
    body.read_to_end(&mut data)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(data)
}

/// `docker info` of a host named `fakehost` holding `containers` containers.
pub(super) fn info(containers: usize) -> SystemInfo {
    SystemInfo {
        id: "FAKE".into(),
        containers: i64::try_from(containers).unwrap_or(i64::MAX),
        images: 1,
        driver: "overlay2".into(),
        server_version: "0.1.0".into(),
        os_type: "linux".into(),
        operating_system: "FakeOS".into(),
        architecture: "x86_64".into(),
        ncpu: 2,
        mem_total: 1 << 30,
        name: "fakehost".into(),
        cgroup_driver: "cgroupfs".into(),
        cgroup_version: "2".into(),
        logging_driver: "json-file".into(),
        default_runtime: "berth".into(),
        swarm: SwarmInfo {
            local_node_state: "inactive".into(),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// `create` then `start`, of the first `type` filter (default `container`).
pub(super) fn events(opts: EventsOptions) -> JsonStream<EventMessage> {
    let (tx, rx) = mpsc::channel(4);
    let kind = opts
        .filters
        .get("type")
        .first()
        .cloned()
        .unwrap_or("container".into());
    tokio::spawn(async move {
        for action in ["create", "start"] {
            let ev = EventMessage {
                kind: kind.clone(),
                action: action.into(),
                scope: "local".into(),
                time: 1,
                time_nano: 1_000_000_000,
                ..Default::default()
            };
            if tx.send(ev).await.is_err() {
                return;
            }
        }
    });
    rx
}

/// A tar of one file `name` holding `hello\n`.
pub(super) fn hello_tar(name: &str) -> ApiResult<Bytes> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(6);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, name, &b"hello\n"[..])
        .and_then(|()| b.into_inner())
        .map(Bytes::from)
        .map_err(|e| ApiError::internal(e.to_string()))
}
