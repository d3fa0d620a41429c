//! The OCI runtime spec (`config.json`) of a container, a typed [`oci_spec::runtime::Spec`]
//! built the way Docker builds it. Each part is a small pure function of the container's
//! config and a few host facts, in its own module (as containerd's `pkg/oci/spec_opts.go`):
//!
//! - [`user`]: uid, gid and additional gids from the image's `/etc/passwd` and `/etc/group`;
//! - [`env`]: the process environment (`PATH`, `HOSTNAME`, `TERM` defaults);
//! - [`mounts`]: the default mounts, `/etc` files, the user's mounts, `/dev/shm`;
//! - [`init`]: `--init` (docker-init in front of the command);
//! - [`capabilities`]: Docker's default set, `--cap-add` / `--cap-drop`, `--privileged`;
//! - [`seccomp`] and [`security`]: Docker's seccomp profiles as `linux.seccomp`, `--security-opt`;
//! - [`paths`]: masked and read-only paths;
//! - [`resources`]: `linux.resources` and `linux.cgroupsPath`;
//! - [`namespaces`]: the namespaces, joined or dropped by the modes, user namespace mappings;
//! - [`devices`]: `--device`, `--device-cgroup-rule`, `--privileged`'s host devices;
//! - [`sysctls`] and [`rlimits`]: `--sysctl` and `--ulimit`, with runc's / go-units' checks.
//!
//! [`build`] puts them together. The steps that need the daemon's state (the network mode,
//! the IPC/PID modes, the user namespace, volumes) adjust the built spec through the
//! functions of these modules.

pub mod capabilities;
pub mod devices;
pub mod env;
pub mod init;
pub mod mounts;
pub mod namespaces;
pub mod paths;
pub mod resources;
pub mod rlimits;
pub mod seccomp;
pub mod security;
pub mod sysctls;
pub mod user;

use std::path::Path;

use berth_api_types::{ContainerConfig, HostConfig};
use oci_spec::runtime::{Linux, Process, Root, Spec};

pub use capabilities::{all_caps, DEFAULT_CAPS};
pub use env::DEFAULT_PATH;
pub use user::{group_id, parse_user, resolve_user};

/// The OCI version berth writes.
pub const OCI_VERSION: &str = "1.0.2";

/// Inputs of [`build`].
pub struct SpecInput<'a> {
    /// Container id (hostname = first 12 characters).
    pub id: &'a str,
    /// Merged config.
    pub config: &'a ContainerConfig,
    /// Host config.
    pub host: &'a HostConfig,
    /// Process args (entrypoint + cmd).
    pub args: &'a [String],
    /// The mounted root filesystem.
    pub rootfs: &'a Path,
    /// Files to bind into /etc (hostname, hosts, resolv.conf).
    pub etc_files: &'a [(String, String)],
}

/// What [`build`] needs to know about the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostFacts {
    /// A pure cgroup v2 host (containers get a cgroup namespace).
    pub cgroup_v2: bool,
    /// The host accounts swap (a swap limit can be set).
    pub swap_accounting: bool,
}

impl HostFacts {
    /// This host's facts.
    pub fn probe() -> HostFacts {
        HostFacts {
            cgroup_v2: crate::hostinfo::cgroup_v2(),
            swap_accounting: crate::hostinfo::swap_accounting(),
        }
    }
}

/// Builds `config.json` for this host.
pub fn build(input: &SpecInput<'_>) -> Result<Spec, String> {
    build_for(input, HostFacts::probe())
}

/// Builds `config.json` for a host with `facts`: everything but the user and devices
/// (which read the image's files and the host's `/dev`) is a pure function of the input.
pub fn build_for(input: &SpecInput<'_>, facts: HostFacts) -> Result<Spec, String> {
    let host = input.host;
    let cfg = input.config;
    let (uid, gid, mut extra) = resolve_user(input.rootfs, &cfg.user)?;
    let group = std::fs::read_to_string(input.rootfs.join("etc/group")).unwrap_or_default();
    user::add_groups(&group, host.group_add.iter().flatten(), &mut extra)?;
    let hostname = hostname(input.id, &cfg.hostname);
    let caps = capabilities::effective(host);
    let mut mounts = mounts::defaults();
    mounts.extend(mounts::etc_files(input.etc_files, host.readonly_rootfs));
    // Binds, volumes and tmpfs mounts are added by `crate::volumes::mounts`.
    let args = if host.init == Some(true) {
        let (args, init_mount) = init::init(input.args)?;
        mounts.push(init_mount);
        args
    } else {
        input.args.to_vec()
    };
    let devices = devices::devices(host)?;
    let mut res = resources::resources(&host.resources, facts.swap_accounting);
    res.set_devices(Some(resources::device_rules(devices.rules)));
    let security = security::security(host);
    let mut linux = Linux::default();
    linux
        .set_namespaces(Some(namespaces::defaults(
            host.network_mode == "host",
            facts.cgroup_v2,
        )))
        .set_masked_paths(Some(paths::masked(host.privileged)))
        .set_readonly_paths(Some(paths::readonly(host.privileged)))
        .set_resources(Some(res))
        .set_cgroups_path(Some(
            resources::cgroups_path(&host.resources.cgroup_parent, input.id).into(),
        ))
        .set_devices((!devices.nodes.is_empty()).then_some(devices.nodes))
        .set_sysctl(sysctls::sysctls(host)?)
        .set_seccomp(seccomp::section(&security.seccomp, host.privileged, &caps)?)
        .set_uid_mappings(None)
        .set_gid_mappings(None);
    let mut process = Process::default();
    process
        .set_terminal(Some(cfg.tty))
        .set_user(user::user(uid, gid, extra))
        .set_args(Some(args))
        .set_env(Some(env::env(cfg, &hostname)))
        .set_cwd(if cfg.working_dir.is_empty() {
            "/".into()
        } else {
            cfg.working_dir.clone().into()
        })
        .set_capabilities(Some(capabilities::to_oci(&caps)?))
        .set_no_new_privileges(Some(security.no_new_privileges))
        .set_oom_score_adj(Some(oom_score_adj(host.oom_score_adj)))
        .set_rlimits(rlimits::rlimits(host)?);
    let mut root = Root::default();
    root.set_path(input.rootfs.to_path_buf())
        .set_readonly(Some(host.readonly_rootfs));
    let mut spec = Spec::default();
    spec.set_version(OCI_VERSION.into())
        .set_process(Some(process))
        .set_root(Some(root))
        .set_hostname(Some(hostname))
        .set_mounts(Some(mounts))
        .set_annotations(None)
        .set_linux(Some(linux));
    Ok(spec)
}

/// The container's hostname: its own, else the first 12 characters of its id.
pub fn hostname(id: &str, own: &str) -> String {
    if own.is_empty() {
        id.chars().take(12).collect()
    } else {
        own.to_string()
    }
}

/// `OomScoreAdj` (checked to -1000..=1000 at create) as the OCI `i32`.
fn oom_score_adj(v: i64) -> i32 {
    i32::try_from(v.clamp(-1000, 1000)).unwrap_or_default()
}

/// The capabilities of `spec`'s process (its bounding set), as `CAP_*` names.
pub fn process_caps(spec: &Spec) -> Vec<String> {
    spec.process()
        .as_ref()
        .and_then(|p| p.capabilities().as_ref())
        .and_then(|c| c.bounding().as_ref())
        .map(capabilities::names)
        .unwrap_or_default()
}

/// The `linux` section of `spec`, made if missing.
pub fn linux_mut(spec: &mut Spec) -> &mut Linux {
    spec.linux_mut().get_or_insert_with(Linux::default)
}

/// An OCI enum value (or any value) by its JSON name (`SCMP_ACT_ERRNO`, `RLIMIT_NOFILE`, …).
pub fn parse_name<T: serde::de::DeserializeOwned>(name: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .map_err(|_| format!("unknown value {name:?}"))
}

#[cfg(test)]
mod tests;
