//! Container models: config, create, inspect, list, wait, top, changes, prune.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::common::{is_default, EmptyObject, Labels, StrSlice};
use crate::host_config::{HostConfig, PortMap};
use crate::network::{EndpointSettings, NetworkingConfig};

/// A container health check (`HEALTHCHECK` / `--health-*`); durations in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthConfig {
    /// `["NONE"]`, `["CMD", args...]` or `["CMD-SHELL", command]`; empty = inherit.
    #[serde(rename = "Test", skip_serializing_if = "Option::is_none")]
    pub test: Option<Vec<String>>,
    /// Time between checks.
    #[serde(rename = "Interval", skip_serializing_if = "is_default")]
    pub interval: i64,
    /// Time before a check is considered hung.
    #[serde(rename = "Timeout", skip_serializing_if = "is_default")]
    pub timeout: i64,
    /// Failures before unhealthy.
    #[serde(rename = "Retries", skip_serializing_if = "is_default")]
    pub retries: i64,
    /// Start period.
    #[serde(rename = "StartPeriod", skip_serializing_if = "is_default")]
    pub start_period: i64,
    /// Check interval during the start period.
    #[serde(rename = "StartInterval", skip_serializing_if = "is_default")]
    pub start_interval: i64,
}

/// The portable configuration of a container (also an image's `Config`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerConfig {
    /// Hostname.
    #[serde(rename = "Hostname")]
    pub hostname: String,
    /// Domain name.
    #[serde(rename = "Domainname")]
    pub domainname: String,
    /// `user[:group]`.
    #[serde(rename = "User")]
    pub user: String,
    /// Attach stdin.
    #[serde(rename = "AttachStdin")]
    pub attach_stdin: bool,
    /// Attach stdout.
    #[serde(rename = "AttachStdout")]
    pub attach_stdout: bool,
    /// Attach stderr.
    #[serde(rename = "AttachStderr")]
    pub attach_stderr: bool,
    /// `"80/tcp": {}`.
    #[serde(rename = "ExposedPorts", skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, EmptyObject>>,
    /// Allocate a pty.
    #[serde(rename = "Tty")]
    pub tty: bool,
    /// Keep stdin open.
    #[serde(rename = "OpenStdin")]
    pub open_stdin: bool,
    /// Close stdin after the first attach disconnects.
    #[serde(rename = "StdinOnce")]
    pub stdin_once: bool,
    /// `KEY=value` list.
    #[serde(rename = "Env")]
    pub env: Option<Vec<String>>,
    /// Command.
    #[serde(rename = "Cmd")]
    pub cmd: Option<StrSlice>,
    /// Health check.
    #[serde(rename = "Healthcheck", skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    /// Windows only.
    #[serde(rename = "ArgsEscaped", skip_serializing_if = "is_default")]
    pub args_escaped: bool,
    /// Image reference as given.
    #[serde(rename = "Image")]
    pub image: String,
    /// `"/data": {}` anonymous volumes.
    #[serde(rename = "Volumes")]
    pub volumes: Option<BTreeMap<String, EmptyObject>>,
    /// Working directory.
    #[serde(rename = "WorkingDir")]
    pub working_dir: String,
    /// Entrypoint.
    #[serde(rename = "Entrypoint")]
    pub entrypoint: Option<StrSlice>,
    /// Disable networking.
    #[serde(rename = "NetworkDisabled", skip_serializing_if = "is_default")]
    pub network_disabled: bool,
    /// Deprecated MAC address.
    #[serde(rename = "MacAddress", skip_serializing_if = "String::is_empty")]
    pub mac_address: String,
    /// ONBUILD triggers.
    #[serde(rename = "OnBuild")]
    pub on_build: Option<Vec<String>>,
    /// Labels.
    #[serde(rename = "Labels")]
    pub labels: Option<Labels>,
    /// Stop signal ("SIGTERM").
    #[serde(rename = "StopSignal", skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Seconds to wait before killing on stop.
    #[serde(rename = "StopTimeout", skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// Shell for shell-form RUN/CMD/ENTRYPOINT.
    #[serde(rename = "Shell", skip_serializing_if = "Option::is_none")]
    pub shell: Option<StrSlice>,
}

/// Body of `POST /containers/create`: the config with host and networking configs beside it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, remote = "Self")]
pub struct ContainerCreateRequest {
    /// Portable config (top-level fields; decoded by [`crate::json::decode_embedding`]).
    #[serde(flatten, skip_deserializing)]
    pub config: ContainerConfig,
    /// Host config.
    #[serde(rename = "HostConfig", skip_serializing_if = "Option::is_none")]
    pub host_config: Option<HostConfig>,
    /// Networks to join.
    #[serde(rename = "NetworkingConfig", skip_serializing_if = "Option::is_none")]
    pub networking_config: Option<NetworkingConfig>,
}

impl Serialize for ContainerCreateRequest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ContainerCreateRequest::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for ContainerCreateRequest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::json::decode_embedding(d, ContainerCreateRequest::deserialize, |r, c| r.config = c)
    }
}

/// Response of `POST /containers/create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerCreateResponse {
    /// The new container's id.
    #[serde(rename = "Id")]
    pub id: String,
    /// Warnings (always a list, possibly empty).
    #[serde(rename = "Warnings")]
    pub warnings: Vec<String>,
}

/// One health-check probe result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthcheckResult {
    /// Start time (RFC 3339).
    #[serde(rename = "Start")]
    pub start: String,
    /// End time (RFC 3339).
    #[serde(rename = "End")]
    pub end: String,
    /// Exit code of the probe.
    #[serde(rename = "ExitCode")]
    pub exit_code: i64,
    /// Output (truncated).
    #[serde(rename = "Output")]
    pub output: String,
}

/// Health of a container with a health check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Health {
    /// "none", "starting", "healthy", "unhealthy".
    #[serde(rename = "Status")]
    pub status: String,
    /// Consecutive failures.
    #[serde(rename = "FailingStreak")]
    pub failing_streak: i64,
    /// Last results.
    #[serde(rename = "Log")]
    pub log: Vec<HealthcheckResult>,
}

/// `State` of an inspected container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerState {
    /// "created", "running", "paused", "restarting", "removing", "exited", "dead".
    #[serde(rename = "Status")]
    pub status: String,
    /// Running (also true while paused).
    #[serde(rename = "Running")]
    pub running: bool,
    /// Paused.
    #[serde(rename = "Paused")]
    pub paused: bool,
    /// Restarting.
    #[serde(rename = "Restarting")]
    pub restarting: bool,
    /// Killed by the OOM killer.
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    /// Dead.
    #[serde(rename = "Dead")]
    pub dead: bool,
    /// Host pid of the main process (0 when not running).
    #[serde(rename = "Pid")]
    pub pid: i64,
    /// Last exit code.
    #[serde(rename = "ExitCode")]
    pub exit_code: i64,
    /// Last start error.
    #[serde(rename = "Error")]
    pub error: String,
    /// RFC 3339 start time ("0001-01-01T00:00:00Z" when never started).
    #[serde(rename = "StartedAt")]
    pub started_at: String,
    /// RFC 3339 exit time.
    #[serde(rename = "FinishedAt")]
    pub finished_at: String,
    /// Health (only with a health check).
    #[serde(rename = "Health", skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

/// A mount as reported by inspect and list (`Mounts`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MountPoint {
    /// "bind", "volume", "tmpfs", ...
    #[serde(rename = "Type")]
    pub kind: String,
    /// Volume name.
    #[serde(rename = "Name", skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Host source.
    #[serde(rename = "Source")]
    pub source: String,
    /// Path in the container.
    #[serde(rename = "Destination")]
    pub destination: String,
    /// Volume driver.
    #[serde(rename = "Driver", skip_serializing_if = "String::is_empty")]
    pub driver: String,
    /// Mode string ("ro", "z", ...).
    #[serde(rename = "Mode")]
    pub mode: String,
    /// Writable.
    #[serde(rename = "RW")]
    pub rw: bool,
    /// Propagation.
    #[serde(rename = "Propagation")]
    pub propagation: String,
}

/// Storage driver data (`GraphDriver`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DriverData {
    /// Driver name ("overlay2").
    #[serde(rename = "Name")]
    pub name: String,
    /// Driver data (LowerDir, UpperDir, MergedDir, WorkDir).
    #[serde(rename = "Data")]
    pub data: Labels,
}

/// An IP address with prefix length.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Address {
    /// Address.
    #[serde(rename = "Addr")]
    pub addr: String,
    /// Prefix length.
    #[serde(rename = "PrefixLen")]
    pub prefix_len: i64,
}

/// `NetworkSettings` of an inspected container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkSettings {
    /// Deprecated.
    #[serde(rename = "Bridge")]
    pub bridge: String,
    /// Sandbox id.
    #[serde(rename = "SandboxID")]
    pub sandbox_id: String,
    /// Sandbox key (netns path).
    #[serde(rename = "SandboxKey")]
    pub sandbox_key: String,
    /// Port mappings.
    #[serde(rename = "Ports")]
    pub ports: PortMap,
    /// Deprecated.
    #[serde(rename = "HairpinMode")]
    pub hairpin_mode: bool,
    /// Deprecated.
    #[serde(rename = "LinkLocalIPv6Address")]
    pub link_local_ipv6_address: String,
    /// Deprecated.
    #[serde(rename = "LinkLocalIPv6PrefixLen")]
    pub link_local_ipv6_prefix_len: i64,
    /// Deprecated.
    #[serde(rename = "SecondaryIPAddresses")]
    pub secondary_ip_addresses: Option<Vec<Address>>,
    /// Deprecated.
    #[serde(rename = "SecondaryIPv6Addresses")]
    pub secondary_ipv6_addresses: Option<Vec<Address>>,
    /// Default network's endpoint id.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// Default network's gateway.
    #[serde(rename = "Gateway")]
    pub gateway: String,
    /// Default network's global IPv6 address.
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    /// Its prefix length.
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: i64,
    /// Default network's IPv4 address.
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    /// Its prefix length.
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: i64,
    /// IPv6 gateway.
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    /// MAC address.
    #[serde(rename = "MacAddress")]
    pub mac_address: String,
    /// Per-network endpoint settings.
    #[serde(rename = "Networks")]
    pub networks: BTreeMap<String, EndpointSettings>,
}

/// Response of `GET /containers/{id}/json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerInspect {
    /// Full 64-hex id.
    #[serde(rename = "Id")]
    pub id: String,
    /// Creation time (RFC 3339 with nanoseconds).
    #[serde(rename = "Created")]
    pub created: String,
    /// Executable of the main process.
    #[serde(rename = "Path")]
    pub path: String,
    /// Its arguments.
    #[serde(rename = "Args")]
    pub args: Vec<String>,
    /// Run state.
    #[serde(rename = "State")]
    pub state: ContainerState,
    /// Image id ("sha256:...").
    #[serde(rename = "Image")]
    pub image: String,
    /// Host path of resolv.conf.
    #[serde(rename = "ResolvConfPath")]
    pub resolv_conf_path: String,
    /// Host path of hostname.
    #[serde(rename = "HostnamePath")]
    pub hostname_path: String,
    /// Host path of hosts.
    #[serde(rename = "HostsPath")]
    pub hosts_path: String,
    /// Host path of the json-file log.
    #[serde(rename = "LogPath")]
    pub log_path: String,
    /// Name with its leading slash ("/web").
    #[serde(rename = "Name")]
    pub name: String,
    /// Restarts by the restart policy.
    #[serde(rename = "RestartCount")]
    pub restart_count: i64,
    /// Storage driver.
    #[serde(rename = "Driver")]
    pub driver: String,
    /// "linux".
    #[serde(rename = "Platform")]
    pub platform: String,
    /// SELinux mount label.
    #[serde(rename = "MountLabel")]
    pub mount_label: String,
    /// SELinux process label.
    #[serde(rename = "ProcessLabel")]
    pub process_label: String,
    /// AppArmor profile.
    #[serde(rename = "AppArmorProfile")]
    pub app_armor_profile: String,
    /// Exec instances.
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    /// Host config.
    #[serde(rename = "HostConfig")]
    pub host_config: HostConfig,
    /// Storage driver data.
    #[serde(rename = "GraphDriver")]
    pub graph_driver: DriverData,
    /// Size of the writable layer (with `size=1`).
    #[serde(rename = "SizeRw", skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    /// Size of the whole root filesystem (with `size=1`).
    #[serde(rename = "SizeRootFs", skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
    /// Mounts.
    #[serde(rename = "Mounts")]
    pub mounts: Vec<MountPoint>,
    /// Config.
    #[serde(rename = "Config")]
    pub config: ContainerConfig,
    /// Network settings.
    #[serde(rename = "NetworkSettings")]
    pub network_settings: NetworkSettings,
}

/// A port of a listed container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Port {
    /// Host IP.
    #[serde(rename = "IP", skip_serializing_if = "String::is_empty")]
    pub ip: String,
    /// Container port.
    #[serde(rename = "PrivatePort")]
    pub private_port: u16,
    /// Host port.
    #[serde(rename = "PublicPort", skip_serializing_if = "is_default")]
    pub public_port: u16,
    /// "tcp", "udp", "sctp".
    #[serde(rename = "Type")]
    pub kind: String,
}

/// `HostConfig` summary in a container list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SummaryHostConfig {
    /// Network mode.
    #[serde(rename = "NetworkMode")]
    pub network_mode: String,
    /// Annotations.
    #[serde(rename = "Annotations", skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Labels>,
}

/// `NetworkSettings` summary in a container list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SummaryNetworkSettings {
    /// Per-network endpoint settings.
    #[serde(rename = "Networks")]
    pub networks: BTreeMap<String, EndpointSettings>,
}

/// One item of `GET /containers/json` (`docker ps`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerSummary {
    /// Full id.
    #[serde(rename = "Id")]
    pub id: String,
    /// Names with leading slash (also link names "/a/b").
    #[serde(rename = "Names")]
    pub names: Vec<String>,
    /// Image as given at create.
    #[serde(rename = "Image")]
    pub image: String,
    /// Image id.
    #[serde(rename = "ImageID")]
    pub image_id: String,
    /// Command line (quoted like Docker: `"echo hi"` is shown by the CLI).
    #[serde(rename = "Command")]
    pub command: String,
    /// Creation time, unix seconds.
    #[serde(rename = "Created")]
    pub created: i64,
    /// Ports.
    #[serde(rename = "Ports")]
    pub ports: Vec<Port>,
    /// Writable layer size (with `size=1`).
    #[serde(rename = "SizeRw", skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    /// Root filesystem size (with `size=1`).
    #[serde(rename = "SizeRootFs", skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
    /// Labels.
    #[serde(rename = "Labels")]
    pub labels: Labels,
    /// "created", "running", "paused", "restarting", "removing", "exited", "dead".
    #[serde(rename = "State")]
    pub state: String,
    /// Human status ("Up 5 minutes", "Exited (0) 2 hours ago").
    #[serde(rename = "Status")]
    pub status: String,
    /// Host config summary.
    #[serde(rename = "HostConfig")]
    pub host_config: SummaryHostConfig,
    /// Network summary.
    #[serde(rename = "NetworkSettings")]
    pub network_settings: SummaryNetworkSettings,
    /// Mounts.
    #[serde(rename = "Mounts")]
    pub mounts: Vec<MountPoint>,
}

/// Error detail of a wait response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerWaitExitError {
    /// Message.
    #[serde(rename = "Message")]
    pub message: String,
}

/// Response of `POST /containers/{id}/wait`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerWaitResponse {
    /// Exit code.
    #[serde(rename = "StatusCode")]
    pub status_code: i64,
    /// Set when waiting failed.
    #[serde(rename = "Error", skip_serializing_if = "Option::is_none")]
    pub error: Option<ContainerWaitExitError>,
}

/// Response of `GET /containers/{id}/top`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerTopResponse {
    /// Column titles (from ps).
    #[serde(rename = "Titles")]
    pub titles: Vec<String>,
    /// Rows.
    #[serde(rename = "Processes")]
    pub processes: Vec<Vec<String>>,
}

/// One change of `GET /containers/{id}/changes`; `Kind` 0 = modified, 1 = added, 2 = deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FilesystemChange {
    /// Path in the container.
    #[serde(rename = "Path")]
    pub path: String,
    /// 0 modified, 1 added, 2 deleted.
    #[serde(rename = "Kind")]
    pub kind: u8,
}

impl FilesystemChange {
    /// Kind "modified".
    pub const MODIFIED: u8 = 0;
    /// Kind "added".
    pub const ADDED: u8 = 1;
    /// Kind "deleted".
    pub const DELETED: u8 = 2;
}

/// Response of `POST /containers/prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerPruneResponse {
    /// Deleted ids.
    #[serde(rename = "ContainersDeleted")]
    pub containers_deleted: Option<Vec<String>>,
    /// Bytes freed.
    #[serde(rename = "SpaceReclaimed")]
    pub space_reclaimed: u64,
}

/// `X-Docker-Container-Path-Stat` header payload of the archive endpoints (base64 JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerPathStat {
    /// Base name.
    pub name: String,
    /// Size.
    pub size: i64,
    /// Go `os.FileMode` bits.
    pub mode: u32,
    /// Modification time (RFC 3339).
    pub mtime: String,
    /// Symlink target.
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_request_from_docker_cli() {
        let j = r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,
          "AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,
          "Cmd":["echo","Ciao","!"],"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,
          "OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,"NetworkMode":"default",
          "RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,"Memory":0},
          "NetworkingConfig":{"EndpointsConfig":{}}}"#;
        let req: ContainerCreateRequest = crate::json::from_str(j).unwrap();
        assert_eq!(req.config.image, "busybox");
        assert_eq!(
            req.config.cmd.as_ref().unwrap().0,
            vec!["echo", "Ciao", "!"]
        );
        assert!(req.config.attach_stdout);
        assert!(req.config.entrypoint.is_none());
        let hc = req.host_config.as_ref().unwrap();
        assert_eq!(hc.network_mode, "default");
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(v["Cmd"][0], "echo");
        assert_eq!(v["HostConfig"]["NetworkMode"], "default");
        // string Cmd (docker-py) and wrong types
        let r: ContainerCreateRequest =
            crate::json::from_str(r#"{"Image":"busybox","Cmd":"echo hi"}"#).unwrap();
        assert_eq!(r.config.cmd.unwrap().0, vec!["echo hi"]);
        assert!(crate::json::from_str::<ContainerCreateRequest>(r#"{"Tty":"yes"}"#).is_err());
        assert!(crate::json::from_str::<ContainerCreateRequest>(r#"{"Cmd":[1]}"#).is_err());
    }

    #[test]
    fn container_summary_matches_spec_example() {
        let j = r#"{"Id":"8dfafdbc3a40","Names":["/boring_feynman"],"Image":"ubuntu:latest",
          "ImageID":"d74508fb6632491cea586a1fd7d748dfc5274cd6fdfedee309ecdcbc2bf5cb82",
          "Command":"echo 1","Created":1367854155,"State":"Exited","Status":"Exit 0",
          "Ports":[{"PrivatePort":2222,"PublicPort":3333,"Type":"tcp"}],
          "Labels":{"com.example.vendor":"Acme"},"SizeRw":12288,"SizeRootFs":0,
          "HostConfig":{"NetworkMode":"default"},
          "NetworkSettings":{"Networks":{"bridge":{"NetworkID":"7ea29fc1412292a2d7bba362f9253545fecdfa8ce9a6e37dd10ba8bee7129812",
            "EndpointID":"2cdc4edb1ded3631c81f57966563e5c8525b81121bb3706a9a9a3ae102711f3f",
            "Gateway":"172.17.0.1","IPAddress":"172.17.0.2","IPPrefixLen":16,"IPv6Gateway":"",
            "GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"MacAddress":"02:42:ac:11:00:02"}}},
          "Mounts":[{"Name":"fac362","Source":"/data","Destination":"/data","Driver":"local",
            "Mode":"ro,Z","RW":false,"Propagation":""}]}"#;
        let s: ContainerSummary = crate::json::from_str(j).unwrap();
        assert_eq!(s.names, vec!["/boring_feynman"]);
        assert_eq!(s.ports[0].public_port, 3333);
        assert_eq!(s.size_rw, Some(12288));
        assert_eq!(
            s.network_settings.networks["bridge"].ip_address,
            "172.17.0.2"
        );
        assert_eq!(s.mounts[0].destination, "/data");
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["ImageID"], s.image_id);
        assert_eq!(v["Ports"][0]["PrivatePort"], 2222);
        assert!(v["Ports"][0].get("IP").is_none());
    }

    #[test]
    fn inspect_round_trip_keeps_names() {
        let mut c = ContainerInspect {
            id: "a".repeat(64),
            name: "/web".into(),
            ..Default::default()
        };
        c.state.status = "running".into();
        c.state.running = true;
        c.state.health = Some(Health {
            status: "healthy".into(),
            ..Default::default()
        });
        c.config.cmd = Some(StrSlice::of(["sh"]));
        let v = serde_json::to_value(&c).unwrap();
        for k in [
            "Id",
            "Created",
            "Path",
            "Args",
            "State",
            "Image",
            "HostConfig",
            "GraphDriver",
            "Mounts",
            "Config",
            "NetworkSettings",
            "RestartCount",
            "ExecIDs",
            "LogPath",
        ] {
            assert!(v.get(k).is_some(), "missing {k}");
        }
        assert!(v.get("SizeRw").is_none());
        assert_eq!(v["State"]["Health"]["Status"], "healthy");
        assert_eq!(v["State"]["OOMKilled"], false);
        assert_eq!(v["Config"]["Cmd"][0], "sh");
        assert_eq!(v["Config"]["Entrypoint"], serde_json::Value::Null);
        let back: ContainerInspect = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn wait_and_top() {
        let w: ContainerWaitResponse = crate::json::from_str(r#"{"StatusCode":3}"#).unwrap();
        assert_eq!(w.status_code, 3);
        assert_eq!(serde_json::to_string(&w).unwrap(), r#"{"StatusCode":3}"#);
        let t: ContainerTopResponse = crate::json::from_str(
            r#"{"Titles":["UID","PID","CMD"],"Processes":[["root","13642","sleep 10"]]}"#,
        )
        .unwrap();
        assert_eq!(t.processes[0][2], "sleep 10");
        let c: Vec<FilesystemChange> =
            crate::json::from_str(r#"[{"Path":"/dev","Kind":0},{"Path":"/tmp/x","Kind":1}]"#)
                .unwrap();
        assert_eq!(c[1].kind, FilesystemChange::ADDED);
    }
}
