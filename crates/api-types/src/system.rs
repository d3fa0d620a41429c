//! System models: version, info, disk usage, events, auth.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::common::Labels;
use crate::container::ContainerSummary;
use crate::image::ImageSummary;
use crate::volume::Volume;

/// `{"Name": ...}` platform of the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlatformName {
    /// Product name shown by `docker version` ("Server: <Name>").
    #[serde(rename = "Name")]
    pub name: String,
}

/// One component of `Version.Components`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ComponentVersion {
    /// Component name ("Engine").
    #[serde(rename = "Name")]
    pub name: String,
    /// Its version.
    #[serde(rename = "Version")]
    pub version: String,
    /// Free-form details (ApiVersion, GitCommit, ...).
    #[serde(rename = "Details", skip_serializing_if = "Option::is_none")]
    pub details: Option<Labels>,
}

/// Response of `GET /version`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SystemVersion {
    /// Platform.
    #[serde(rename = "Platform")]
    pub platform: PlatformName,
    /// Components.
    #[serde(rename = "Components")]
    pub components: Vec<ComponentVersion>,
    /// Engine version.
    #[serde(rename = "Version")]
    pub version: String,
    /// Max API version.
    #[serde(rename = "ApiVersion")]
    pub api_version: String,
    /// Min API version.
    #[serde(rename = "MinAPIVersion")]
    pub min_api_version: String,
    /// Source commit.
    #[serde(rename = "GitCommit")]
    pub git_commit: String,
    /// Toolchain (Docker: Go version; berth: rustc version).
    #[serde(rename = "GoVersion")]
    pub go_version: String,
    /// "linux".
    #[serde(rename = "Os")]
    pub os: String,
    /// "amd64".
    #[serde(rename = "Arch")]
    pub arch: String,
    /// Kernel release.
    #[serde(rename = "KernelVersion")]
    pub kernel_version: String,
    /// Experimental features.
    #[serde(rename = "Experimental", skip_serializing_if = "std::ops::Not::not")]
    pub experimental: bool,
    /// Build time (RFC 3339).
    #[serde(rename = "BuildTime")]
    pub build_time: String,
}

/// Plugins per kind (`Info.Plugins`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PluginsInfo {
    /// Volume drivers.
    #[serde(rename = "Volume")]
    pub volume: Option<Vec<String>>,
    /// Network drivers.
    #[serde(rename = "Network")]
    pub network: Option<Vec<String>>,
    /// Authorization plugins.
    #[serde(rename = "Authorization")]
    pub authorization: Option<Vec<String>>,
    /// Log drivers.
    #[serde(rename = "Log")]
    pub log: Option<Vec<String>>,
}

/// One registry index (`RegistryConfig.IndexConfigs`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IndexInfo {
    /// Registry host.
    #[serde(rename = "Name")]
    pub name: String,
    /// Mirrors.
    #[serde(rename = "Mirrors")]
    pub mirrors: Vec<String>,
    /// TLS verified.
    #[serde(rename = "Secure")]
    pub secure: bool,
    /// Docker Hub.
    #[serde(rename = "Official")]
    pub official: bool,
}

/// Registry settings (`Info.RegistryConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegistryServiceConfig {
    /// Insecure CIDRs.
    #[serde(rename = "InsecureRegistryCIDRs")]
    pub insecure_registry_cidrs: Vec<String>,
    /// Per-index settings.
    #[serde(rename = "IndexConfigs")]
    pub index_configs: BTreeMap<String, IndexInfo>,
    /// Mirrors.
    #[serde(rename = "Mirrors")]
    pub mirrors: Vec<String>,
    /// Deprecated; shown (empty) below API 1.47 only.
    #[serde(
        rename = "AllowNondistributableArtifactsCIDRs",
        skip_serializing_if = "Option::is_none"
    )]
    pub allow_nondistributable_artifacts_cidrs: Option<Vec<String>>,
    /// Deprecated; shown (empty) below API 1.47 only.
    #[serde(
        rename = "AllowNondistributableArtifactsHostnames",
        skip_serializing_if = "Option::is_none"
    )]
    pub allow_nondistributable_artifacts_hostnames: Option<Vec<String>>,
}

/// An OCI runtime (`Info.Runtimes`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuntimeInfo {
    /// Executable.
    pub path: String,
    /// Extra arguments.
    #[serde(rename = "runtimeArgs", skip_serializing_if = "Option::is_none")]
    pub runtime_args: Option<Vec<String>>,
}

/// A commit of a bundled component.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Commit {
    /// Actual commit.
    #[serde(rename = "ID")]
    pub id: String,
}

/// Swarm status (berth: always inactive).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SwarmInfo {
    /// Node id.
    #[serde(rename = "NodeID")]
    pub node_id: String,
    /// Node address.
    #[serde(rename = "NodeAddr")]
    pub node_addr: String,
    /// "inactive".
    #[serde(rename = "LocalNodeState")]
    pub local_node_state: String,
    /// Manager.
    #[serde(rename = "ControlAvailable")]
    pub control_available: bool,
    /// Error.
    #[serde(rename = "Error")]
    pub error: String,
    /// Managers.
    #[serde(rename = "RemoteManagers")]
    pub remote_managers: Option<Vec<serde_json::Value>>,
}

/// Response of `GET /info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SystemInfo {
    /// Engine id.
    #[serde(rename = "ID")]
    pub id: String,
    /// Containers.
    #[serde(rename = "Containers")]
    pub containers: i64,
    /// Running.
    #[serde(rename = "ContainersRunning")]
    pub containers_running: i64,
    /// Paused.
    #[serde(rename = "ContainersPaused")]
    pub containers_paused: i64,
    /// Stopped.
    #[serde(rename = "ContainersStopped")]
    pub containers_stopped: i64,
    /// Images.
    #[serde(rename = "Images")]
    pub images: i64,
    /// Storage driver.
    #[serde(rename = "Driver")]
    pub driver: String,
    /// `[["Backing Filesystem","extfs"], ...]`.
    #[serde(rename = "DriverStatus")]
    pub driver_status: Vec<[String; 2]>,
    /// Plugins.
    #[serde(rename = "Plugins")]
    pub plugins: PluginsInfo,
    /// Memory limit support.
    #[serde(rename = "MemoryLimit")]
    pub memory_limit: bool,
    /// Swap limit support.
    #[serde(rename = "SwapLimit")]
    pub swap_limit: bool,
    /// CFS period support.
    #[serde(rename = "CpuCfsPeriod")]
    pub cpu_cfs_period: bool,
    /// CFS quota support.
    #[serde(rename = "CpuCfsQuota")]
    pub cpu_cfs_quota: bool,
    /// CPU shares support.
    #[serde(rename = "CPUShares")]
    pub cpu_shares: bool,
    /// Cpuset support.
    #[serde(rename = "CPUSet")]
    pub cpu_set: bool,
    /// Pids limit support.
    #[serde(rename = "PidsLimit")]
    pub pids_limit: bool,
    /// OOM kill disable support.
    #[serde(rename = "OomKillDisable")]
    pub oom_kill_disable: bool,
    /// IPv4 forwarding.
    #[serde(rename = "IPv4Forwarding")]
    pub ipv4_forwarding: bool,
    /// Debug mode.
    #[serde(rename = "Debug")]
    pub debug: bool,
    /// Open fds of the daemon.
    #[serde(rename = "NFd")]
    pub nfd: i64,
    /// Tasks of the daemon (Docker: goroutines).
    #[serde(rename = "NGoroutines")]
    pub ngoroutines: i64,
    /// Current time (RFC 3339 nano).
    #[serde(rename = "SystemTime")]
    pub system_time: String,
    /// Default log driver.
    #[serde(rename = "LoggingDriver")]
    pub logging_driver: String,
    /// "cgroupfs" or "systemd".
    #[serde(rename = "CgroupDriver")]
    pub cgroup_driver: String,
    /// "1" or "2".
    #[serde(rename = "CgroupVersion")]
    pub cgroup_version: String,
    /// Event listeners.
    #[serde(rename = "NEventsListener")]
    pub nevents_listener: i64,
    /// Kernel release.
    #[serde(rename = "KernelVersion")]
    pub kernel_version: String,
    /// OS pretty name.
    #[serde(rename = "OperatingSystem")]
    pub operating_system: String,
    /// OS version.
    #[serde(rename = "OSVersion")]
    pub os_version: String,
    /// "linux".
    #[serde(rename = "OSType")]
    pub os_type: String,
    /// "x86_64".
    #[serde(rename = "Architecture")]
    pub architecture: String,
    /// CPUs.
    #[serde(rename = "NCPU")]
    pub ncpu: i64,
    /// Total memory in bytes.
    #[serde(rename = "MemTotal")]
    pub mem_total: i64,
    /// The daemon's data root.
    #[serde(rename = "DockerRootDir")]
    pub docker_root_dir: String,
    /// Default registry ("https://index.docker.io/v1/").
    #[serde(rename = "IndexServerAddress")]
    pub index_server_address: String,
    /// Registry settings.
    #[serde(rename = "RegistryConfig")]
    pub registry_config: Option<RegistryServiceConfig>,
    /// HTTP proxy.
    #[serde(rename = "HttpProxy")]
    pub http_proxy: String,
    /// HTTPS proxy.
    #[serde(rename = "HttpsProxy")]
    pub https_proxy: String,
    /// No proxy.
    #[serde(rename = "NoProxy")]
    pub no_proxy: String,
    /// Host name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Engine labels.
    #[serde(rename = "Labels")]
    pub labels: Vec<String>,
    /// Experimental build.
    #[serde(rename = "ExperimentalBuild")]
    pub experimental_build: bool,
    /// Engine version.
    #[serde(rename = "ServerVersion")]
    pub server_version: String,
    /// Runtimes.
    #[serde(rename = "Runtimes")]
    pub runtimes: BTreeMap<String, RuntimeInfo>,
    /// Default runtime.
    #[serde(rename = "DefaultRuntime")]
    pub default_runtime: String,
    /// Swarm.
    #[serde(rename = "Swarm")]
    pub swarm: SwarmInfo,
    /// Live restore.
    #[serde(rename = "LiveRestoreEnabled")]
    pub live_restore_enabled: bool,
    /// Isolation ("" on Linux).
    #[serde(rename = "Isolation")]
    pub isolation: String,
    /// Init binary name.
    #[serde(rename = "InitBinary")]
    pub init_binary: String,
    /// containerd commit.
    #[serde(rename = "ContainerdCommit")]
    pub containerd_commit: Commit,
    /// runc commit.
    #[serde(rename = "RuncCommit")]
    pub runc_commit: Commit,
    /// init commit.
    #[serde(rename = "InitCommit")]
    pub init_commit: Commit,
    /// `name=seccomp,profile=builtin`, `name=cgroupns`, ...
    #[serde(rename = "SecurityOptions")]
    pub security_options: Vec<String>,
    /// Warnings printed by `docker info`.
    #[serde(rename = "Warnings")]
    pub warnings: Vec<String>,
}

/// One build cache record (`SystemDf.BuildCache`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BuildCache {
    /// Id.
    #[serde(rename = "ID")]
    pub id: String,
    /// Parents.
    #[serde(rename = "Parents")]
    pub parents: Option<Vec<String>>,
    /// "regular", "source.local", ...
    #[serde(rename = "Type")]
    pub kind: String,
    /// Description.
    #[serde(rename = "Description")]
    pub description: String,
    /// In use.
    #[serde(rename = "InUse")]
    pub in_use: bool,
    /// Shared.
    #[serde(rename = "Shared")]
    pub shared: bool,
    /// Bytes.
    #[serde(rename = "Size")]
    pub size: i64,
    /// Creation time.
    #[serde(rename = "CreatedAt")]
    pub created_at: String,
    /// Last use.
    #[serde(rename = "LastUsedAt")]
    pub last_used_at: Option<String>,
    /// Uses.
    #[serde(rename = "UsageCount")]
    pub usage_count: i64,
}

/// Response of `POST /build/prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BuildCachePruneResponse {
    /// Ids of the removed records.
    #[serde(rename = "CachesDeleted")]
    pub caches_deleted: Vec<String>,
    /// Bytes freed.
    #[serde(rename = "SpaceReclaimed")]
    pub space_reclaimed: u64,
}

/// Response of `GET /system/df`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SystemDf {
    /// Total size of all layers.
    #[serde(rename = "LayersSize")]
    pub layers_size: i64,
    /// Images (with `Containers` and `SharedSize` computed).
    #[serde(rename = "Images")]
    pub images: Vec<ImageSummary>,
    /// Containers (with `SizeRw`/`SizeRootFs`).
    #[serde(rename = "Containers")]
    pub containers: Vec<ContainerSummary>,
    /// Volumes (with `UsageData`).
    #[serde(rename = "Volumes")]
    pub volumes: Vec<Volume>,
    /// Build cache.
    #[serde(rename = "BuildCache")]
    pub build_cache: Vec<BuildCache>,
}

/// The object an event is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventActor {
    /// Object id.
    #[serde(rename = "ID")]
    pub id: String,
    /// Attributes (name, image, exitCode, labels...).
    #[serde(rename = "Attributes")]
    pub attributes: Labels,
}

/// One message of `GET /events`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventMessage {
    /// Deprecated: `Action` for container events.
    #[serde(rename = "status", skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Deprecated: `Actor.ID` for container events.
    #[serde(rename = "id", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Deprecated: image of a container event.
    #[serde(rename = "from", skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// "container", "image", "volume", "network", "daemon", ...
    #[serde(rename = "Type")]
    pub kind: String,
    /// "create", "start", "die", "pull", "exec_start: sh", ...
    #[serde(rename = "Action")]
    pub action: String,
    /// The object.
    #[serde(rename = "Actor")]
    pub actor: EventActor,
    /// "local".
    pub scope: String,
    /// Unix seconds.
    pub time: i64,
    /// Unix nanoseconds.
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

/// Body of `POST /auth` (also the JSON inside the `X-Registry-Auth` header).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// User name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// Password or token.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// Base64 `user:password` (alternative to the two fields above).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auth: String,
    /// Deprecated.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub email: String,
    /// Registry address.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub serveraddress: String,
    /// Identity token from a previous login.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub identitytoken: String,
    /// Registry bearer token.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub registrytoken: String,
}

/// Response of `POST /auth`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthResponse {
    /// "Login Succeeded".
    #[serde(rename = "Status")]
    pub status: String,
    /// Token to use instead of the password.
    #[serde(rename = "IdentityToken", skip_serializing_if = "String::is_empty")]
    pub identity_token: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names() {
        let v = SystemVersion {
            version: "0.1.0".into(),
            api_version: "1.47".into(),
            min_api_version: "1.24".into(),
            ..Default::default()
        };
        let j = serde_json::to_value(&v).unwrap();
        for k in [
            "Platform",
            "Components",
            "Version",
            "ApiVersion",
            "MinAPIVersion",
            "GitCommit",
            "GoVersion",
            "Os",
            "Arch",
            "KernelVersion",
            "BuildTime",
        ] {
            assert!(j.get(k).is_some(), "{k}");
        }
        assert_eq!(j["MinAPIVersion"], "1.24");
    }

    #[test]
    fn info_from_spec_subset() {
        let j = r#"{"ID":"7TRN:IPZB","Containers":14,"ContainersRunning":3,"Images":508,
          "Driver":"overlay2","DriverStatus":[["Backing Filesystem","extfs"],["Supports d_type","true"]],
          "Plugins":{"Volume":["local"],"Network":["bridge","host"],"Log":["json-file"]},
          "NCPU":4,"MemTotal":2095882240,"CgroupVersion":"2","SecurityOptions":["name=seccomp,profile=default"],
          "Runtimes":{"runc":{"path":"runc"}},"Swarm":{"LocalNodeState":"inactive","RemoteManagers":null},
          "RegistryConfig":{"IndexConfigs":{"docker.io":{"Name":"docker.io","Mirrors":[],"Secure":true,"Official":true}}}}"#;
        let i: SystemInfo = crate::json::from_str(j).unwrap();
        assert_eq!(i.driver_status[1][0], "Supports d_type");
        assert_eq!(i.runtimes["runc"].path, "runc");
        assert_eq!(i.swarm.local_node_state, "inactive");
        assert!(i.registry_config.unwrap().index_configs["docker.io"].official);
        let v = serde_json::to_value(SystemInfo::default()).unwrap();
        assert!(
            v.get("NCPU").is_some() && v.get("OSType").is_some() && v.get("CPUShares").is_some()
        );
    }

    #[test]
    fn event_shape() {
        let j = r#"{"status":"start","id":"abc","from":"busybox","Type":"container","Action":"start",
          "Actor":{"ID":"abc","Attributes":{"image":"busybox","name":"x"}},"scope":"local",
          "time":1461943101,"timeNano":1461943101381709551}"#;
        let e: EventMessage = crate::json::from_str(j).unwrap();
        assert_eq!(e.actor.attributes["name"], "x");
        assert_eq!(e.time_nano, 1461943101381709551);
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            crate::json::from_str::<serde_json::Value>(j).unwrap()
        );
    }

    #[test]
    fn auth_config_lowercase() {
        let a: AuthConfig = crate::json::from_str(
            r#"{"username":"u","password":"p","serveraddress":"localhost:5000"}"#,
        )
        .unwrap();
        assert_eq!(a.serveraddress, "localhost:5000");
        assert_eq!(
            serde_json::to_string(&AuthResponse {
                status: "Login Succeeded".into(),
                ..Default::default()
            })
            .unwrap(),
            r#"{"Status":"Login Succeeded"}"#
        );
    }
}
