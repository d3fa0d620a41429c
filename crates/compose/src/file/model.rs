//! The Compose Specification's typed model, field for field as compose-go's `types` (same
//! order, same names, same omit-when-empty rules), so that its JSON is what Compose v2's
//! `json.Marshal` writes: `config --format json` and the `com.docker.compose.config-hash`.
//! Values arrive here in long syntax (see `canonical`), paths resolved.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::units::{Duration, FileMode, UnitBytes};

/// `map[string]string` (labels, options, sysctls…).
pub type Mapping = BTreeMap<String, String>;
/// `map[string]*string` (environment, build args): `None` is a key without a value.
pub type MappingWithEquals = BTreeMap<String, Option<String>>;
/// `x-` keys.
pub type Extensions = BTreeMap<String, Json>;

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}
fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}
fn is_zero_f32(v: &f32) -> bool {
    *v == 0.0
}
fn is_zero_bytes(v: &UnitBytes) -> bool {
    v.0 == 0
}

/// A whole project.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Project {
    /// The project name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Services by name.
    pub services: BTreeMap<String, Service>,
    /// Networks by key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, Network>,
    /// Volumes by key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, Volume>,
    /// Secrets by key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, FileObject>,
    /// Configs by key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub configs: BTreeMap<String, FileObject>,
    /// Models (passed through).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<String, Json>,
    /// Top-level `x-` keys.
    #[serde(rename = "#extensions", skip_serializing)]
    pub extensions: Extensions,
}

/// One service.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct Service {
    #[serde(skip)]
    pub name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: Mapping,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attach: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<Build>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub develop: Option<Develop>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blkio_config: Option<Json>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cgroup_parent: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cgroup: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub cpu_count: i64,
    #[serde(skip_serializing_if = "is_zero_f32")]
    pub cpu_percent: f32,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub cpu_period: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub cpu_quota: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub cpu_rt_period: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub cpu_rt_runtime: i64,
    #[serde(skip_serializing_if = "is_zero_f32")]
    pub cpus: f32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cpuset: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub cpu_shares: i64,
    pub command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<FileRef>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub container_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_spec: Option<Json>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub depends_on: BTreeMap<String, Dependency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_cgroup_rules: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceMapping>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_opt: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dockerfile: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domainname: String,
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<Json>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: MappingWithEquals,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env_file: Vec<EnvFile>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expose: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extends: Option<Json>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external_links: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpus: Option<Json>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ipc: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub isolation: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Mapping,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub label_file: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    #[serde(skip_serializing_if = "is_zero_bytes")]
    pub mem_limit: UnitBytes,
    #[serde(skip_serializing_if = "is_zero_bytes")]
    pub mem_reservation: UnitBytes,
    #[serde(skip_serializing_if = "is_zero_bytes")]
    pub memswap_limit: UnitBytes,
    #[serde(skip_serializing_if = "is_zero_bytes")]
    pub mem_swappiness: UnitBytes,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mac_address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<Json>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub network_mode: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, Option<ServiceNetwork>>,
    #[serde(skip_serializing_if = "is_false")]
    pub oom_kill_disable: bool,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub oom_score_adj: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pid: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub pids_limit: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub platform: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    #[serde(skip_serializing_if = "is_false")]
    pub privileged: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pull_policy: String,
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub restart: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub runtime: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<FileRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    #[serde(skip_serializing_if = "is_zero_bytes")]
    pub shm_size: UnitBytes,
    #[serde(skip_serializing_if = "is_false")]
    pub stdin_open: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_grace_period: Option<Duration>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub storage_opt: Mapping,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: Mapping,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub tty: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, Ulimit>,
    #[serde(skip_serializing_if = "is_false")]
    pub use_api_socket: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub userns_mode: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uts: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub volume_driver: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeMount>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes_from: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pre_start: Vec<Hook>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub post_start: Vec<Hook>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pre_stop: Vec<Hook>,
    #[serde(rename = "#extensions", skip_serializing)]
    pub extensions: Extensions,
}

/// `build:`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct Build {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub context: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dockerfile: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dockerfile_inline: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entitlements: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub args: MappingWithEquals,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub provenance: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sbom: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ssh: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Mapping,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cache_from: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cache_to: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub no_cache: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub additional_contexts: Mapping,
    #[serde(skip_serializing_if = "is_false")]
    pub pull: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub isolation: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub network: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<FileRef>,
    #[serde(skip_serializing_if = "is_zero_bytes")]
    pub shm_size: UnitBytes,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, Ulimit>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub privileged: bool,
}

/// One `depends_on` entry (long syntax).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
#[allow(missing_docs)]
pub struct Dependency {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub condition: String,
    #[serde(skip_serializing_if = "is_false")]
    pub restart: bool,
    pub required: bool,
}

/// `deploy:`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct Deploy {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Mapping,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_config: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_config: Option<Json>,
    pub resources: Resources,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    pub placement: Json,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub endpoint_mode: String,
}

/// `deploy.resources`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct Resources {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<Resource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservations: Option<Resource>,
}

/// Limits or reservations.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct Resource {
    #[serde(skip_serializing_if = "is_zero_f32")]
    pub cpus: f32,
    #[serde(skip_serializing_if = "is_zero_bytes")]
    pub memory: UnitBytes,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub pids: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub devices: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generic_resources: Option<Json>,
}

/// `deploy.restart_policy`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct RestartPolicy {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub condition: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<Duration>,
}

/// `healthcheck:`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct Healthcheck {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_period: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<Duration>,
    #[serde(skip_serializing_if = "is_false")]
    pub disable: bool,
}

/// `logging:`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct Logging {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub driver: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub options: Mapping,
}

/// A service's attachment to a network.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct ServiceNetwork {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: Mapping,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub gw_priority: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub interface_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ipv4_address: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ipv6_address: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub link_local_ips: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mac_address: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub priority: i64,
}

/// A published or exposed port (long syntax).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
#[allow(missing_docs)]
pub struct Port {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mode: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host_ip: String,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub target: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub published: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub app_protocol: String,
}

/// A mount (long syntax).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
#[allow(missing_docs)]
pub struct VolumeMount {
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub consistency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<BindOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<TmpfsOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<Json>,
}

/// `bind:` options of a mount.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
#[allow(missing_docs)]
pub struct BindOptions {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub selinux: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub propagation: String,
    #[serde(skip_serializing_if = "is_false")]
    pub create_host_path: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub recursive: String,
}

/// `volume:` options of a mount.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
#[allow(missing_docs)]
pub struct VolumeOptions {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Mapping,
    #[serde(skip_serializing_if = "is_false")]
    pub nocopy: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subpath: String,
}

/// `tmpfs:` options of a mount.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
#[allow(missing_docs)]
pub struct TmpfsOptions {
    #[serde(skip_serializing_if = "is_zero_bytes")]
    pub size: UnitBytes,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub mode: u32,
}

/// A secret or config given to a service.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
#[allow(missing_docs)]
pub struct FileRef {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<FileMode>,
}

/// `ulimits.<name>`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct Ulimit {
    pub single: i64,
    pub soft: i64,
    pub hard: i64,
}

impl Serialize for Ulimit {
    /// A single value is written as that number, as compose-go does.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        if self.single != 0 {
            return s.serialize_i64(self.single);
        }
        let mut m = s.serialize_map(None)?;
        if self.soft != 0 {
            m.serialize_entry("soft", &self.soft)?;
        }
        if self.hard != 0 {
            m.serialize_entry("hard", &self.hard)?;
        }
        m.end()
    }
}

/// One `env_file` entry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct EnvFile {
    pub path: String,
    pub required: bool,
    pub format: String,
}

impl Serialize for EnvFile {
    /// A required file is written as its path, as compose-go does.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        if self.required {
            return s.serialize_str(&self.path);
        }
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("path", &self.path)?;
        m.serialize_entry("required", &self.required)?;
        if !self.format.is_empty() {
            m.serialize_entry("format", &self.format)?;
        }
        m.end()
    }
}

/// `devices:` entry (long syntax).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct DeviceMapping {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub permissions: String,
}

/// `develop:` (what `watch` does on file changes).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct Develop {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub watch: Vec<Trigger>,
    #[serde(rename = "#extensions", skip_serializing)]
    pub extensions: Extensions,
}

/// One `develop.watch` rule.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct Trigger {
    pub path: String,
    pub action: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// Always in JSON (Go's `omitempty` leaves structs in), dropped from YAML when empty.
    pub exec: Hook,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub initial_sync: bool,
    #[serde(rename = "#extensions", skip_serializing)]
    pub extensions: Extensions,
}

/// `post_start` / `pre_stop` hook.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct Hook {
    pub command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "is_false")]
    pub privileged: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: MappingWithEquals,
}

/// A top-level network.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct Network {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub driver: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: Mapping,
    pub ipam: Ipam,
    #[serde(skip_serializing_if = "is_false")]
    pub external: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub internal: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub attachable: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Mapping,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_ipv4: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_ipv6: Option<bool>,
    #[serde(rename = "#extensions", skip_serializing)]
    pub extensions: Extensions,
}

/// A network's `ipam:`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct Ipam {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub driver: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub config: Vec<IpamPool>,
}

/// One `ipam.config` entry.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct IpamPool {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subnet: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ip_range: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aux_addresses: Mapping,
}

/// A top-level volume.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct Volume {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub driver: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: Mapping,
    #[serde(skip_serializing_if = "is_false")]
    pub external: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Mapping,
    #[serde(rename = "#extensions", skip_serializing)]
    pub extensions: Extensions,
}

/// A top-level secret or config.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct FileObject {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub file: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub environment: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub content: String,
    #[serde(skip_serializing_if = "is_false")]
    pub external: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Mapping,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub driver: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: Mapping,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub template_driver: String,
}
