//! A service → the `POST /containers/create` body, as Compose v2's `getCreateConfigs` builds
//! it: Config (with Compose's labels and the config hash), HostConfig (mounts, ports,
//! resources, restart policy, …) and the first network's endpoint (aliases: the container
//! name, the service name, the configured aliases).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::cli::COMPOSE_VERSION;
use crate::file::model::{Project, Service};
use crate::file::output::config_hash;

use super::labels::*;

/// What else a container needs to know about the project when it is created.
#[derive(Debug, Clone, Default)]
pub struct CreateContext {
    /// The project directory.
    pub working_dir: String,
    /// The compose files, comma-joined.
    pub config_files: String,
    /// The `.env` files used, comma-joined (may be empty).
    pub env_files: String,
    /// Container names of other services (for `network_mode: service:x`, `volumes_from`,
    /// links): service → names.
    pub containers_of: BTreeMap<String, Vec<String>>,
    /// Image id the service runs (for `com.docker.compose.image`).
    pub image_id: String,
}

/// The image a service runs (`<project>-<service>` when it is only built).
pub fn image_name(project: &str, svc: &Service) -> String {
    if svc.image.is_empty() {
        format!("{project}-{}", svc.name)
    } else {
        svc.image.clone()
    }
}

/// The networks of a service, primary first (priority, then name, as Compose sorts).
pub fn networks_by_priority(svc: &Service) -> Vec<String> {
    let mut v: Vec<(i64, String)> = svc
        .networks
        .iter()
        .map(|(k, n)| (n.as_ref().map_or(0, |n| n.priority), k.clone()))
        .collect();
    v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    v.into_iter().map(|(_, k)| k).collect()
}

/// The labels Compose puts on a service's container.
pub fn labels(
    p: &Project,
    svc: &Service,
    number: u32,
    oneoff: bool,
    ctx: &CreateContext,
) -> Map<String, Value> {
    let mut l = Map::new();
    for (k, v) in &svc.labels {
        l.insert(k.clone(), v.clone().into());
    }
    let deps: Vec<String> = svc
        .depends_on
        .iter()
        .map(|(k, d)| format!("{k}:{}:{}", d.condition, d.restart))
        .collect();
    let pairs = [
        (PROJECT, p.name.clone()),
        (SERVICE, svc.name.clone()),
        (NUMBER, number.to_string()),
        (ONEOFF, if oneoff { "True" } else { "False" }.to_string()),
        (CONFIG_HASH, config_hash(svc)),
        (WORKING_DIR, ctx.working_dir.clone()),
        (CONFIG_FILES, ctx.config_files.clone()),
        (DEPENDS_ON, deps.join(",")),
        (VERSION, COMPOSE_VERSION.to_string()),
        (IMAGE, ctx.image_id.clone()),
    ];
    for (k, v) in pairs {
        l.insert(k.into(), v.into());
    }
    if !ctx.env_files.is_empty() {
        l.insert(ENV_FILE.into(), ctx.env_files.clone().into());
    }
    l
}

fn secs(d: Option<crate::file::units::Duration>) -> Value {
    d.map_or(Value::Null, |d| d.0.into())
}

/// Restart policy from `restart:` or `deploy.restart_policy`.
fn restart_policy(svc: &Service) -> Value {
    if let Some(rp) = svc.deploy.as_ref().and_then(|d| d.restart_policy.as_ref()) {
        let name = match rp.condition.as_str() {
            "none" => "no",
            "on-failure" => "on-failure",
            _ => "always",
        };
        return json!({"Name": name, "MaximumRetryCount": rp.max_attempts.unwrap_or(0)});
    }
    let (name, count) = match svc.restart.split_once(':') {
        Some((n, c)) => (n, c.parse::<i64>().unwrap_or(0)),
        None => (svc.restart.as_str(), 0),
    };
    json!({"Name": name, "MaximumRetryCount": count})
}

/// The create body for container `number` of `svc` (`name` is its container name).
pub fn create_body(
    p: &Project,
    svc: &Service,
    number: u32,
    name: &str,
    oneoff: bool,
    ctx: &CreateContext,
) -> Value {
    let env: Vec<Value> = svc
        .environment
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}").into()))
        .collect();
    let mut exposed = Map::new();
    for port in &svc.ports {
        exposed.insert(format!("{}/{}", port.target, port.protocol), json!({}));
    }
    for e in &svc.expose {
        let (port, proto) = e.split_once('/').unwrap_or((e, "tcp"));
        exposed.insert(format!("{port}/{proto}"), json!({}));
    }
    let healthcheck = svc.healthcheck.as_ref().map(|h| {
        let test = if h.disable {
            vec!["NONE".to_string()]
        } else {
            h.test.clone()
        };
        json!({
            "Test": if test.is_empty() { Value::Null } else { test.into() },
            "Interval": secs(h.interval), "Timeout": secs(h.timeout),
            "StartPeriod": secs(h.start_period), "StartInterval": secs(h.start_interval),
            "Retries": h.retries.unwrap_or(0),
        })
    });
    let mut binds: Vec<Value> = Vec::new();
    let mut mounts: Vec<Value> = Vec::new();
    for v in &svc.volumes {
        match v.kind.as_str() {
            "bind" if v.bind.as_ref().is_some_and(|b| b.create_host_path) => {
                let mut opts = Vec::new();
                if v.read_only {
                    opts.push("ro".to_string());
                }
                if let Some(b) = &v.bind {
                    if !b.selinux.is_empty() {
                        opts.push(b.selinux.clone());
                    }
                    if !b.propagation.is_empty() {
                        opts.push(b.propagation.clone());
                    }
                }
                let suffix = if opts.is_empty() {
                    String::new()
                } else {
                    format!(":{}", opts.join(","))
                };
                binds.push(format!("{}:{}{suffix}", v.source, v.target).into());
            }
            "bind" => {
                let mut m = json!({"Type": "bind", "Source": v.source, "Target": v.target, "ReadOnly": v.read_only});
                if let Some(b) = &v.bind {
                    if !b.propagation.is_empty() {
                        m["BindOptions"] = json!({"Propagation": b.propagation});
                    }
                }
                mounts.push(m);
            }
            "volume" => {
                let source = p
                    .volumes
                    .get(&v.source)
                    .map(|vol| vol.name.clone())
                    .unwrap_or_else(|| v.source.clone());
                let mut m = json!({"Type": "volume", "Target": v.target, "ReadOnly": v.read_only});
                if !source.is_empty() {
                    m["Source"] = source.into();
                }
                if let Some(o) = &v.volume {
                    if o.nocopy || !o.subpath.is_empty() {
                        m["VolumeOptions"] = json!({"NoCopy": o.nocopy, "Subpath": o.subpath});
                    }
                }
                mounts.push(m);
            }
            "tmpfs" => {
                let mut m = json!({"Type": "tmpfs", "Target": v.target, "ReadOnly": v.read_only});
                if let Some(t) = &v.tmpfs {
                    m["TmpfsOptions"] = json!({"SizeBytes": t.size.0, "Mode": t.mode});
                }
                mounts.push(m);
            }
            other => mounts.push(json!({"Type": other, "Source": v.source, "Target": v.target})),
        }
    }
    for (refs, defs, default_dir) in [
        (&svc.secrets, &p.secrets, "/run/secrets/"),
        (&svc.configs, &p.configs, "/"),
    ] {
        for r in refs.iter() {
            let Some(def) = defs.get(&r.source) else {
                continue;
            };
            if def.file.is_empty() {
                continue;
            }
            let target = if r.target.is_empty() {
                format!("{default_dir}{}", r.source)
            } else if r.target.starts_with('/') {
                r.target.clone()
            } else {
                format!("{default_dir}{}", r.target)
            };
            mounts.push(
                json!({"Type": "bind", "Source": def.file, "Target": target, "ReadOnly": true}),
            );
        }
    }
    let mut port_bindings = Map::new();
    for port in &svc.ports {
        let key = format!("{}/{}", port.target, port.protocol);
        let entry = port_bindings.entry(key).or_insert_with(|| json!([]));
        if let Some(a) = entry.as_array_mut() {
            a.push(json!({"HostIp": port.host_ip, "HostPort": port.published}));
        }
    }
    let nets = networks_by_priority(svc);
    // `service:x` (network, ipc, pid) is the first container of x
    let shared_with = |m: &str| match m.strip_prefix("service:") {
        Some(s) => ctx
            .containers_of
            .get(s)
            .and_then(|c| c.first())
            .map(|c| format!("container:{c}"))
            .unwrap_or_else(|| m.to_string()),
        None => m.to_string(),
    };
    let network_mode = match svc.network_mode.as_str() {
        "" => nets
            .first()
            .and_then(|k| p.networks.get(k))
            .map(|n| n.name.clone())
            .unwrap_or_else(|| "none".into()),
        m => shared_with(m),
    };
    let limits = svc
        .deploy
        .as_ref()
        .and_then(|d| d.resources.limits.clone())
        .unwrap_or_default();
    let reservations = svc
        .deploy
        .as_ref()
        .and_then(|d| d.resources.reservations.clone())
        .unwrap_or_default();
    let memory = if svc.mem_limit.0 != 0 {
        svc.mem_limit.0
    } else {
        limits.memory.0
    };
    let cpus = if svc.cpus != 0.0 {
        svc.cpus
    } else {
        limits.cpus
    };
    let pids = if svc.pids_limit != 0 {
        svc.pids_limit
    } else {
        limits.pids
    };
    let ulimits: Vec<Value> = svc
        .ulimits
        .iter()
        .map(|(k, u)| {
            let (soft, hard) = if u.single != 0 {
                (u.single, u.single)
            } else {
                (u.soft, u.hard)
            };
            json!({"Name": k, "Soft": soft, "Hard": hard})
        })
        .collect();
    let devices: Vec<Value> = svc
        .devices
        .iter()
        .map(|d| json!({"PathOnHost": d.source, "PathInContainer": d.target, "CgroupPermissions": d.permissions}))
        .collect();
    let mut tmpfs = Map::new();
    for t in &svc.tmpfs {
        let (path, opts) = t.split_once(':').unwrap_or((t, ""));
        tmpfs.insert(path.to_string(), opts.into());
    }
    let links: Vec<Value> = svc
        .links
        .iter()
        .flat_map(|l| {
            let (s, alias) = l.split_once(':').unwrap_or((l, l));
            ctx.containers_of
                .get(s)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |c| Value::from(format!("{c}:{alias}")))
        })
        .chain(svc.external_links.iter().map(|l| {
            let (c, alias) = l.split_once(':').unwrap_or((l, l));
            Value::from(format!("{c}:{alias}"))
        }))
        .collect();
    let volumes_from: Vec<Value> = svc
        .volumes_from
        .iter()
        .flat_map(|v| {
            if let Some(c) = v.strip_prefix("container:") {
                return vec![Value::from(c.to_string())];
            }
            let (s, mode) = match v.split_once(':') {
                Some((s, m)) => (s, format!(":{m}")),
                None => (v.as_str(), String::new()),
            };
            ctx.containers_of
                .get(s)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|c| Value::from(format!("{c}{mode}")))
                .collect()
        })
        .collect();
    let extra_hosts: Vec<Value> = svc
        .extra_hosts
        .iter()
        .map(|h| Value::from(h.replacen('=', ":", 1)))
        .collect();
    let log_config = svc
        .logging
        .as_ref()
        .map(|l| json!({"Type": l.driver, "Config": l.options}))
        .unwrap_or(json!({"Type": "", "Config": {}}));
    let host_config = json!({
        "Binds": binds,
        "Mounts": mounts,
        "NetworkMode": network_mode,
        "PortBindings": port_bindings,
        "RestartPolicy": restart_policy(svc),
        "CapAdd": svc.cap_add,
        "CapDrop": svc.cap_drop,
        "Privileged": svc.privileged,
        "ReadonlyRootfs": svc.read_only,
        "SecurityOpt": svc.security_opt,
        "Dns": svc.dns,
        "DnsSearch": svc.dns_search,
        "DnsOptions": svc.dns_opt,
        "ExtraHosts": extra_hosts,
        "GroupAdd": svc.group_add,
        "IpcMode": shared_with(&svc.ipc),
        "PidMode": shared_with(&svc.pid),
        "UTSMode": svc.uts,
        "UsernsMode": svc.userns_mode,
        "CgroupParent": svc.cgroup_parent,
        "CgroupnsMode": svc.cgroup,
        "ShmSize": svc.shm_size.0,
        "Sysctls": svc.sysctls,
        "Tmpfs": tmpfs,
        "Init": svc.init,
        "LogConfig": log_config,
        "Links": links,
        "VolumesFrom": volumes_from,
        "OomScoreAdj": svc.oom_score_adj,
        "Runtime": svc.runtime,
        "StorageOpt": svc.storage_opt,
        "Memory": memory,
        "MemoryReservation": if svc.mem_reservation.0 != 0 { svc.mem_reservation.0 } else { reservations.memory.0 },
        "MemorySwap": svc.memswap_limit.0,
        "NanoCpus": nano_cpus(cpus),
        "CpuShares": svc.cpu_shares,
        "CpuPeriod": svc.cpu_period,
        "CpuQuota": svc.cpu_quota,
        "CpusetCpus": svc.cpuset,
        "PidsLimit": if pids == 0 { Value::Null } else { pids.into() },
        "Ulimits": ulimits,
        "Devices": devices,
        "DeviceCgroupRules": svc.device_cgroup_rules,
        "OomKillDisable": svc.oom_kill_disable,
    });
    let mut endpoints = Map::new();
    if svc.network_mode.is_empty() {
        if let Some(first) = nets.first() {
            endpoints.insert(
                p.networks[first].name.clone(),
                endpoint(svc, first, name, oneoff),
            );
        }
    }
    let mut config = json!({
        "Hostname": svc.hostname,
        "Domainname": svc.domainname,
        "User": svc.user,
        "AttachStdin": false,
        "AttachStdout": true,
        "AttachStderr": true,
        "ExposedPorts": exposed,
        "Tty": svc.tty,
        "OpenStdin": svc.stdin_open,
        "StdinOnce": false,
        "Env": env,
        "Cmd": svc.command,
        "Entrypoint": svc.entrypoint,
        "Image": image_name(&p.name, svc),
        "WorkingDir": svc.working_dir,
        "Labels": labels(p, svc, number, oneoff, ctx),
        "StopSignal": svc.stop_signal,
        "HostConfig": host_config,
        "NetworkingConfig": {"EndpointsConfig": endpoints},
    });
    if let Some(h) = healthcheck {
        config["Healthcheck"] = h;
    }
    if let Some(g) = svc.stop_grace_period {
        config["StopTimeout"] = (g.0 / 1_000_000_000).into();
    }
    strip_nulls(&mut config);
    config
}

/// Drops `null` members (an unset field is left to the daemon's default, as Go's
/// `omitempty` does, and strict daemons refuse `null` for numbers).
pub fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            for x in m.values_mut() {
                strip_nulls(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// The endpoint settings on network `key` (aliases, static addresses).
pub fn endpoint(svc: &Service, key: &str, container: &str, oneoff: bool) -> Value {
    let cfg = svc.networks.get(key).cloned().flatten().unwrap_or_default();
    let mut aliases = vec![container.to_string()];
    if !oneoff {
        aliases.push(svc.name.clone());
        aliases.extend(cfg.aliases.iter().cloned());
    }
    let mut e = json!({"Aliases": aliases});
    if !cfg.ipv4_address.is_empty() || !cfg.ipv6_address.is_empty() {
        e["IPAMConfig"] = json!({"IPv4Address": cfg.ipv4_address, "IPv6Address": cfg.ipv6_address});
    }
    if !cfg.mac_address.is_empty() {
        e["MacAddress"] = cfg.mac_address.into();
    }
    if !cfg.driver_opts.is_empty() {
        e["DriverOpts"] = json!(cfg.driver_opts);
    }
    e
}

/// `cpus: 1.5` as the API's NanoCpus.
#[allow(
    clippy::cast_possible_truncation,
    reason = "a float-to-integer `as` saturates, which is the right answer for an absurd value"
)]
fn nano_cpus(cpus: f32) -> i64 {
    (f64::from(cpus) * 1e9).round() as i64
}
