//! `HostConfig` and its parts: resources, restart policy, mounts, port bindings, logging.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::common::{is_default, Labels, StrSlice};

/// A host port binding of one container port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortBinding {
    /// Host IP to bind to ("" = all).
    #[serde(rename = "HostIp")]
    pub host_ip: String,
    /// Host port as a string ("" = ephemeral).
    #[serde(rename = "HostPort")]
    pub host_port: String,
}

/// `"80/tcp": [bindings]` (a `null` list means exposed but not published).
pub type PortMap = BTreeMap<String, Option<Vec<PortBinding>>>;

/// When to restart a container: `Name` is "", "no", "always", "unless-stopped", "on-failure".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RestartPolicy {
    /// Policy name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Retries for `on-failure` (0 = unlimited).
    #[serde(rename = "MaximumRetryCount")]
    pub maximum_retry_count: i64,
}

/// The log driver and its options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// Driver name ("json-file", "none", ...).
    #[serde(rename = "Type")]
    pub kind: String,
    /// Driver options (`max-size`, `max-file`, ...).
    #[serde(rename = "Config")]
    pub config: Labels,
}

/// A resource limit (`--ulimit nofile=1024:2048`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ulimit {
    /// Limit name without the RLIMIT_ prefix, lowercase ("nofile").
    #[serde(rename = "Name")]
    pub name: String,
    /// Soft limit.
    #[serde(rename = "Soft")]
    pub soft: i64,
    /// Hard limit.
    #[serde(rename = "Hard")]
    pub hard: i64,
}

/// A device made available in the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceMapping {
    /// Device path on the host.
    #[serde(rename = "PathOnHost")]
    pub path_on_host: String,
    /// Path inside the container.
    #[serde(rename = "PathInContainer")]
    pub path_in_container: String,
    /// Cgroup permissions ("rwm").
    #[serde(rename = "CgroupPermissions")]
    pub cgroup_permissions: String,
}

/// A per-device throttle (bps or iops).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ThrottleDevice {
    /// Device path.
    #[serde(rename = "Path")]
    pub path: String,
    /// Rate.
    #[serde(rename = "Rate")]
    pub rate: u64,
}

/// A per-device blkio weight.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WeightDevice {
    /// Device path.
    #[serde(rename = "Path")]
    pub path: String,
    /// Weight.
    #[serde(rename = "Weight")]
    pub weight: u16,
}

/// A request for devices from a driver (GPUs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceRequest {
    /// Driver name.
    #[serde(rename = "Driver")]
    pub driver: String,
    /// Device count (-1 = all).
    #[serde(rename = "Count")]
    pub count: i64,
    /// Device ids.
    #[serde(rename = "DeviceIDs")]
    pub device_ids: Vec<String>,
    /// Capability sets (OR of ANDs).
    #[serde(rename = "Capabilities")]
    pub capabilities: Vec<Vec<String>>,
    /// Driver options.
    #[serde(rename = "Options")]
    pub options: Labels,
}

/// Cgroup resource limits (embedded in `HostConfig`, and the body of `/containers/{id}/update`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// Relative CPU weight.
    #[serde(rename = "CpuShares")]
    pub cpu_shares: i64,
    /// Memory limit in bytes (0 = unlimited).
    #[serde(rename = "Memory")]
    pub memory: i64,
    /// CPU quota in units of 1e-9 CPUs.
    #[serde(rename = "NanoCpus")]
    pub nano_cpus: i64,
    /// Parent cgroup path.
    #[serde(rename = "CgroupParent")]
    pub cgroup_parent: String,
    /// Block IO weight (10-1000).
    #[serde(rename = "BlkioWeight")]
    pub blkio_weight: u16,
    /// Per-device block IO weight.
    #[serde(rename = "BlkioWeightDevice")]
    pub blkio_weight_device: Option<Vec<WeightDevice>>,
    /// Per-device read bps limit.
    #[serde(rename = "BlkioDeviceReadBps")]
    pub blkio_device_read_bps: Option<Vec<ThrottleDevice>>,
    /// Per-device write bps limit.
    #[serde(rename = "BlkioDeviceWriteBps")]
    pub blkio_device_write_bps: Option<Vec<ThrottleDevice>>,
    /// Per-device read iops limit.
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Option<Vec<ThrottleDevice>>,
    /// Per-device write iops limit.
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Option<Vec<ThrottleDevice>>,
    /// CFS period in microseconds.
    #[serde(rename = "CpuPeriod")]
    pub cpu_period: i64,
    /// CFS quota in microseconds.
    #[serde(rename = "CpuQuota")]
    pub cpu_quota: i64,
    /// Realtime period.
    #[serde(rename = "CpuRealtimePeriod")]
    pub cpu_realtime_period: i64,
    /// Realtime runtime.
    #[serde(rename = "CpuRealtimeRuntime")]
    pub cpu_realtime_runtime: i64,
    /// CPUs allowed ("0-3", "0,1").
    #[serde(rename = "CpusetCpus")]
    pub cpuset_cpus: String,
    /// Memory nodes allowed.
    #[serde(rename = "CpusetMems")]
    pub cpuset_mems: String,
    /// Devices to add.
    #[serde(rename = "Devices")]
    pub devices: Option<Vec<DeviceMapping>>,
    /// Extra device cgroup rules.
    #[serde(rename = "DeviceCgroupRules")]
    pub device_cgroup_rules: Option<Vec<String>>,
    /// Device requests.
    #[serde(rename = "DeviceRequests")]
    pub device_requests: Option<Vec<DeviceRequest>>,
    /// Soft memory limit.
    #[serde(rename = "MemoryReservation")]
    pub memory_reservation: i64,
    /// Memory + swap limit (-1 = unlimited swap).
    #[serde(rename = "MemorySwap")]
    pub memory_swap: i64,
    /// Swappiness 0-100 (null = inherit).
    #[serde(rename = "MemorySwappiness")]
    pub memory_swappiness: Option<i64>,
    /// Disable the OOM killer.
    #[serde(rename = "OomKillDisable")]
    pub oom_kill_disable: Option<bool>,
    /// Pids limit (0 or -1 = unlimited, null = unchanged).
    #[serde(rename = "PidsLimit")]
    pub pids_limit: Option<i64>,
    /// Resource limits.
    #[serde(rename = "Ulimits")]
    pub ulimits: Option<Vec<Ulimit>>,
    /// Windows only.
    #[serde(rename = "CpuCount")]
    pub cpu_count: i64,
    /// Windows only.
    #[serde(rename = "CpuPercent")]
    pub cpu_percent: i64,
    /// Windows only.
    #[serde(rename = "IOMaximumIOps")]
    pub io_maximum_iops: u64,
    /// Windows only.
    #[serde(rename = "IOMaximumBandwidth")]
    pub io_maximum_bandwidth: u64,
}

/// Options of a bind mount.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BindOptions {
    /// Propagation mode ("rprivate", "shared", ...).
    #[serde(rename = "Propagation", skip_serializing_if = "String::is_empty")]
    pub propagation: String,
    /// Do not bind submounts.
    #[serde(rename = "NonRecursive", skip_serializing_if = "is_default")]
    pub non_recursive: bool,
    /// Create the source path when missing.
    #[serde(rename = "CreateMountpoint", skip_serializing_if = "is_default")]
    pub create_mountpoint: bool,
    /// Read-only only at the top level.
    #[serde(rename = "ReadOnlyNonRecursive", skip_serializing_if = "is_default")]
    pub read_only_non_recursive: bool,
    /// Fail when recursive read-only is not possible.
    #[serde(rename = "ReadOnlyForceRecursive", skip_serializing_if = "is_default")]
    pub read_only_force_recursive: bool,
}

/// A volume driver and its options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DriverConfig {
    /// Driver name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Driver options.
    #[serde(rename = "Options")]
    pub options: Labels,
}

/// Options of a volume mount.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeOptions {
    /// Do not copy the image's content into a new volume.
    #[serde(rename = "NoCopy", skip_serializing_if = "is_default")]
    pub no_copy: bool,
    /// Labels for a new volume.
    #[serde(rename = "Labels", skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
    /// Driver for a new volume.
    #[serde(rename = "DriverConfig", skip_serializing_if = "Option::is_none")]
    pub driver_config: Option<DriverConfig>,
    /// Mount a sub-path of the volume.
    #[serde(rename = "Subpath", skip_serializing_if = "String::is_empty")]
    pub subpath: String,
}

/// Options of a tmpfs mount.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TmpfsOptions {
    /// Size in bytes (0 = unlimited).
    #[serde(rename = "SizeBytes", skip_serializing_if = "is_default")]
    pub size_bytes: i64,
    /// File mode of the root.
    #[serde(rename = "Mode", skip_serializing_if = "is_default")]
    pub mode: u32,
    /// Raw mount options (`[["noexec"]]`).
    #[serde(rename = "Options", skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<Vec<String>>>,
}

/// A mount requested with `--mount` (`HostConfig.Mounts`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Mount {
    /// Path in the container.
    #[serde(rename = "Target", skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// Host path or volume name.
    #[serde(rename = "Source", skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// "bind", "volume", "tmpfs", "npipe", "cluster", "image".
    #[serde(rename = "Type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Mount read-only.
    #[serde(rename = "ReadOnly", skip_serializing_if = "is_default")]
    pub read_only: bool,
    /// Consistency (ignored on Linux).
    #[serde(rename = "Consistency", skip_serializing_if = "String::is_empty")]
    pub consistency: String,
    /// Bind options.
    #[serde(rename = "BindOptions", skip_serializing_if = "Option::is_none")]
    pub bind_options: Option<BindOptions>,
    /// Volume options.
    #[serde(rename = "VolumeOptions", skip_serializing_if = "Option::is_none")]
    pub volume_options: Option<VolumeOptions>,
    /// Tmpfs options.
    #[serde(rename = "TmpfsOptions", skip_serializing_if = "Option::is_none")]
    pub tmpfs_options: Option<TmpfsOptions>,
}

/// Docker's message for a mount of type `kind` that is wrong:
/// `invalid mount config for type "<kind>": <why>` (daemon and CLI word it the same).
pub fn invalid_mount_config(kind: &str, why: impl std::fmt::Display) -> String {
    format!("invalid mount config for type \"{kind}\": {why}")
}

/// Checks a mount's target (`--mount target=…`, a `HostConfig.Mounts` entry, the target of
/// a `-v` spec) as Docker does: not empty, absolute, not `/`. The error is Docker's message.
pub fn check_mount_target(kind: &str, target: &str) -> Result<(), String> {
    if target.is_empty() {
        return Err(invalid_mount_config(kind, "field Target must not be empty"));
    }
    if !target.starts_with('/') {
        return Err(invalid_mount_config(
            kind,
            format!("invalid mount path: '{target}' mount path must be absolute"),
        ));
    }
    if target == "/" {
        return Err(invalid_mount_config(
            kind,
            "invalid specification: destination can't be '/'",
        ));
    }
    Ok(())
}

/// The host-side configuration of a container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, remote = "Self")]
pub struct HostConfig {
    /// `-v src:dst[:opts]` bind and volume specs.
    #[serde(rename = "Binds")]
    pub binds: Option<Vec<String>>,
    /// File the CLI writes the id to (client side).
    #[serde(rename = "ContainerIDFile")]
    pub container_id_file: String,
    /// Log driver.
    #[serde(rename = "LogConfig")]
    pub log_config: LogConfig,
    /// "bridge", "host", "none", "container:<id>", or a network name.
    #[serde(rename = "NetworkMode")]
    pub network_mode: String,
    /// Published ports.
    #[serde(rename = "PortBindings")]
    pub port_bindings: PortMap,
    /// Restart policy.
    #[serde(rename = "RestartPolicy")]
    pub restart_policy: RestartPolicy,
    /// Remove the container when it exits (`--rm`).
    #[serde(rename = "AutoRemove")]
    pub auto_remove: bool,
    /// Volume driver for `Binds` volumes.
    #[serde(rename = "VolumeDriver")]
    pub volume_driver: String,
    /// Containers whose volumes to mount (`name[:ro|rw]`).
    #[serde(rename = "VolumesFrom")]
    pub volumes_from: Option<Vec<String>>,
    /// Initial console size `[height, width]`.
    #[serde(rename = "ConsoleSize")]
    pub console_size: [u32; 2],
    /// OCI annotations.
    #[serde(rename = "Annotations", skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Labels>,
    /// Capabilities to add.
    #[serde(rename = "CapAdd")]
    pub cap_add: Option<StrSlice>,
    /// Capabilities to drop.
    #[serde(rename = "CapDrop")]
    pub cap_drop: Option<StrSlice>,
    /// "private" or "host".
    #[serde(rename = "CgroupnsMode")]
    pub cgroupns_mode: String,
    /// DNS servers.
    #[serde(rename = "Dns")]
    pub dns: Option<Vec<String>>,
    /// DNS options.
    #[serde(rename = "DnsOptions")]
    pub dns_options: Option<Vec<String>>,
    /// DNS search domains.
    #[serde(rename = "DnsSearch")]
    pub dns_search: Option<Vec<String>>,
    /// `host:ip` lines for /etc/hosts.
    #[serde(rename = "ExtraHosts")]
    pub extra_hosts: Option<Vec<String>>,
    /// Additional groups.
    #[serde(rename = "GroupAdd")]
    pub group_add: Option<Vec<String>>,
    /// "private", "shareable", "host", "container:<id>", "none".
    #[serde(rename = "IpcMode")]
    pub ipc_mode: String,
    /// Cgroup to use (`container:<id>`).
    #[serde(rename = "Cgroup")]
    pub cgroup: String,
    /// Legacy links.
    #[serde(rename = "Links")]
    pub links: Option<Vec<String>>,
    /// OOM score adjustment.
    #[serde(rename = "OomScoreAdj")]
    pub oom_score_adj: i64,
    /// "host" or "container:<id>".
    #[serde(rename = "PidMode")]
    pub pid_mode: String,
    /// Full privileges.
    #[serde(rename = "Privileged")]
    pub privileged: bool,
    /// Publish all exposed ports (`-P`).
    #[serde(rename = "PublishAllPorts")]
    pub publish_all_ports: bool,
    /// Read-only root filesystem.
    #[serde(rename = "ReadonlyRootfs")]
    pub readonly_rootfs: bool,
    /// `seccomp=...`, `no-new-privileges`, `apparmor=...`.
    #[serde(rename = "SecurityOpt")]
    pub security_opt: Option<Vec<String>>,
    /// Storage driver options.
    #[serde(rename = "StorageOpt", skip_serializing_if = "Option::is_none")]
    pub storage_opt: Option<Labels>,
    /// tmpfs mounts: path → options.
    #[serde(rename = "Tmpfs", skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<Labels>,
    /// "host" or "".
    #[serde(rename = "UTSMode")]
    pub uts_mode: String,
    /// "host" or "".
    #[serde(rename = "UsernsMode")]
    pub userns_mode: String,
    /// /dev/shm size in bytes.
    #[serde(rename = "ShmSize")]
    pub shm_size: i64,
    /// Namespaced sysctls.
    #[serde(rename = "Sysctls", skip_serializing_if = "Option::is_none")]
    pub sysctls: Option<Labels>,
    /// OCI runtime name.
    #[serde(rename = "Runtime", skip_serializing_if = "String::is_empty")]
    pub runtime: String,
    /// Windows isolation ("" on Linux).
    #[serde(rename = "Isolation")]
    pub isolation: String,
    /// Cgroup limits (embedded; decoded by [`crate::json::decode_embedding`]).
    #[serde(flatten, skip_deserializing)]
    pub resources: Resources,
    /// `--mount` specs.
    #[serde(rename = "Mounts", skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Vec<Mount>>,
    /// Paths masked in the container (null = default set).
    #[serde(rename = "MaskedPaths")]
    pub masked_paths: Option<Vec<String>>,
    /// Paths made read-only (null = default set).
    #[serde(rename = "ReadonlyPaths")]
    pub readonly_paths: Option<Vec<String>>,
    /// Run an init process as pid 1 (`--init`).
    #[serde(rename = "Init", skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
}

/// Body of `POST /containers/{id}/update`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, remote = "Self")]
pub struct UpdateConfig {
    /// New limits (embedded; decoded by [`crate::json::decode_embedding`]).
    #[serde(flatten, skip_deserializing)]
    pub resources: Resources,
    /// New restart policy.
    #[serde(rename = "RestartPolicy")]
    pub restart_policy: RestartPolicy,
}

/// `Serialize`/`Deserialize` of a `remote = "Self"` struct embedding `Resources`.
macro_rules! embeds_resources {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                <$t>::serialize(self, s)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                crate::json::decode_embedding(d, <$t>::deserialize, |c, r| c.resources = r)
            }
        }
    };
}

embeds_resources!(HostConfig);
embeds_resources!(UpdateConfig);

/// Response of `POST /containers/{id}/update`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateResponse {
    /// Warnings.
    #[serde(rename = "Warnings")]
    pub warnings: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_config_from_docker_cli_json() {
        // What docker CLI v28 sends for `run --rm --init -m 64m -p 8080:80 -v /a:/b:ro`.
        let j = r#"{"Binds":["/a:/b:ro"],"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},
          "NetworkMode":"bridge","PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}]},
          "RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":true,"VolumeDriver":"",
          "VolumesFrom":null,"ConsoleSize":[24,80],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"",
          "Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"",
          "Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,
          "PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"",
          "UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":67108864,"NanoCpus":0,
          "CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],
          "BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,
          "CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"",
          "Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,
          "MemorySwap":0,"MemorySwappiness":null,"OomKillDisable":false,"PidsLimit":null,
          "Ulimits":[{"Name":"nofile","Hard":2048,"Soft":1024}],"CpuCount":0,"CpuPercent":0,
          "IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null,"Init":true,
          "CapAdd":["NET_ADMIN"]}"#;
        // (duplicate key CapAdd: serde keeps the last one, as Go does)
        let j = j.replacen("\"CapAdd\":null,", "", 1);
        let hc: HostConfig = crate::json::from_str(&j).unwrap();
        assert_eq!(hc.binds.as_deref(), Some(&["/a:/b:ro".to_string()][..]));
        assert!(hc.auto_remove);
        assert_eq!(hc.init, Some(true));
        assert_eq!(hc.resources.memory, 64 << 20);
        assert_eq!(hc.resources.ulimits.as_ref().unwrap()[0].soft, 1024);
        assert_eq!(
            hc.port_bindings["80/tcp"].as_ref().unwrap()[0].host_port,
            "8080"
        );
        assert_eq!(hc.restart_policy.name, "no");
        assert_eq!(hc.cap_add.as_ref().unwrap().0, vec!["NET_ADMIN"]);
        assert_eq!(hc.console_size, [24, 80]);
        // Round trip keeps Docker's names (flattened resources at top level).
        let v = serde_json::to_value(&hc).unwrap();
        assert_eq!(v["Memory"], 67108864);
        assert_eq!(v["PortBindings"]["80/tcp"][0]["HostPort"], "8080");
        assert_eq!(v["Init"], true);
        assert!(v.get("Tmpfs").is_none(), "omitempty field must be omitted");
        let back: HostConfig = serde_json::from_value(v).unwrap();
        assert_eq!(back, hc);
    }

    #[test]
    fn wrong_type_is_an_error() {
        assert!(crate::json::from_str::<HostConfig>(r#"{"Memory":"lots"}"#).is_err());
        assert!(crate::json::from_str::<HostConfig>(r#"{"AutoRemove":"yes"}"#).is_err());
    }

    #[test]
    fn mount_round_trip() {
        let j = r#"{"Target":"/data","Source":"vol1","Type":"volume","ReadOnly":true,
            "VolumeOptions":{"NoCopy":true,"Labels":{"a":"b"}}}"#;
        let m: Mount = crate::json::from_str(j).unwrap();
        assert_eq!(m.kind, "volume");
        assert!(m.volume_options.as_ref().unwrap().no_copy);
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v, crate::json::from_str::<serde_json::Value>(j).unwrap());
    }
}
