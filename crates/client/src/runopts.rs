//! `run`/`create` flags → the API's `ContainerCreateRequest` (config + HostConfig).

use std::collections::BTreeMap;

use berth_api_types::{
    ContainerConfig, ContainerCreateRequest, EmptyObject, EndpointIpamConfig, EndpointSettings,
    HostConfig, Mount, NetworkingConfig, PortBinding, RestartPolicy, StrSlice,
};

use crate::cli::CreateOpts;
use crate::error::{CliError, CliResult};

/// Parses a size like docker's `RAMInBytes` ("512m", "1g", "1024").
pub fn parse_bytes(s: &str) -> CliResult<i64> {
    berth_units::ram_in_bytes(s).map_err(CliError::msg)
}

/// Parses `--cpus` into NanoCpus.
pub fn parse_cpus(s: &str) -> CliResult<i64> {
    let f: f64 = s
        .parse()
        .map_err(|_| CliError::msg(format!("invalid argument \"{s}\" for \"--cpus\" flag")))?;
    Ok(nano_cpus(f))
}

/// CPUs as nano-CPUs: fractions of a nano-CPU are dropped, out-of-range values saturate.
#[allow(
    clippy::cast_possible_truncation,
    reason = "dropping fractions of a nano-CPU is the point; `as` saturates"
)]
fn nano_cpus(cpus: f64) -> i64 {
    (cpus * 1e9) as i64
}

/// Parses `--restart` ("no", "always", "unless-stopped", "on-failure[:N]").
pub fn parse_restart(s: &str) -> CliResult<RestartPolicy> {
    let (name, count) = match s.split_once(':') {
        Some((n, c)) => (
            n,
            c.parse().map_err(|_| {
                CliError::msg(format!(
                    "invalid restart policy format: maximum retry count must be an integer: {c}"
                ))
            })?,
        ),
        None => (s, 0),
    };
    match name {
        "" | "no" | "always" | "unless-stopped" | "on-failure" => Ok(RestartPolicy {
            name: if name.is_empty() { "no".into() } else { name.into() },
            maximum_retry_count: count,
        }),
        _ => Err(CliError::msg(format!("invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"))),
    }
}

/// Reads `--env-file` files (KEY=value lines; bare KEY takes the value from our env).
pub fn read_env_files(files: &[String]) -> CliResult<Vec<String>> {
    let mut env = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(f).map_err(|e| CliError::msg(format!("open {f}: {e}")))?;
        for line in text.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            env.push(expand_env(line));
        }
    }
    Ok(env)
}

/// `-e KEY` (no `=`) takes the value from the client's environment, or is dropped.
fn expand_env(e: &str) -> String {
    if e.contains('=') {
        e.to_string()
    } else {
        match std::env::var(e) {
            Ok(v) => format!("{e}={v}"),
            Err(_) => e.to_string(),
        }
    }
}

fn kv_map(items: &[String]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

fn port_range(s: &str, what: &str) -> CliResult<(u16, u16)> {
    let bad = || CliError::msg(format!("invalid {what}: {s}"));
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if b < a {
        return Err(bad());
    }
    Ok((a, b))
}

/// `-p [ip:][hostPort:]containerPort[/proto]` → (exposed port key, binding) pairs; ranges
/// are expanded one container port at a time like docker's `nat.ParsePortSpecs`.
pub fn parse_publish(p: &str) -> CliResult<Vec<(String, PortBinding)>> {
    let (spec, proto) = match p.rsplit_once('/') {
        Some((s, pr)) => (s, pr),
        None => (p, "tcp"),
    };
    if !matches!(proto, "tcp" | "udp" | "sctp") {
        return Err(CliError::msg(format!("invalid proto: {proto}")));
    }
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [c] => ("", "", *c),
        [c, h] => ("", *h, *c),
        [c, h, ip] => (*ip, *h, *c),
        _ => return Err(CliError::msg(format!("invalid port format: {p}"))),
    };
    if container.is_empty() {
        return Err(CliError::msg(format!("no port specified: {p}<empty>")));
    }
    let (c0, c1) = port_range(container, "containerPort")?;
    let host_ip = ip.trim_matches(['[', ']']).to_string();
    let count = c1 - c0 + 1;
    let mut out = Vec::new();
    let hosts = if host.is_empty() {
        None
    } else {
        Some(port_range(host, "hostPort")?)
    };
    if let Some((h0, h1)) = hosts {
        if count > 1 && h1 - h0 + 1 != count {
            return Err(CliError::msg(format!(
                "invalid ranges specified for container and host Ports: {container} and {host}"
            )));
        }
    }
    for i in 0..count {
        let host_port = match hosts {
            None => String::new(),
            Some((h0, h1)) if count == 1 && h1 != h0 => format!("{h0}-{h1}"),
            Some((h0, _)) => (h0 + i).to_string(),
        };
        out.push((
            format!("{}/{proto}", c0 + i),
            PortBinding {
                host_ip: host_ip.clone(),
                host_port,
            },
        ));
    }
    Ok(out)
}

/// `--mount type=bind,source=/a,target=/b,readonly` (the syntax, docker's CLI messages;
/// the daemon checks the rest, e.g. that a bind source exists).
pub fn parse_mount(spec: &str) -> CliResult<Mount> {
    let bad = |why: String| {
        CliError::msg(format!(
            "invalid argument \"{spec}\" for \"--mount\" flag: {why}"
        ))
    };
    let has_target = spec.split(',').any(|f| {
        matches!(
            f.split_once('=')
                .map(|(k, _)| k.trim().to_ascii_lowercase())
                .as_deref(),
            Some("target" | "destination" | "dst")
        )
    });
    if !has_target {
        return Err(bad("target is required".into()));
    }
    crate::mount_flag::parse(spec).map_err(bad)
}

/// `-v` values the CLI itself refuses (docker's compose-style parser: too many colons,
/// empty); everything else is the daemon's to judge.
fn check_volume_flag(v: &str) -> CliResult<()> {
    if v.split(':').count() > 3 {
        return Err(CliError::msg(format!("invalid spec: {v}: too many colons")));
    }
    Ok(())
}

/// The streams a `run`/`create` attaches (docker's `parse`): `-a` names them, `-i` adds
/// stdin; without `-a`, stdout and stderr.
pub fn attached_streams(o: &CreateOpts, attach_std: bool) -> (bool, bool, bool) {
    if !attach_std {
        return (false, false, false);
    }
    let has = |s: &str| o.attach.iter().any(|a| a.eq_ignore_ascii_case(s));
    if o.attach.is_empty() {
        (o.interactive, true, true)
    } else {
        (has("stdin") || o.interactive, has("stdout"), has("stderr"))
    }
}

/// Builds the create request from the flags.
pub fn build(o: &CreateOpts, attach_std: bool) -> CliResult<ContainerCreateRequest> {
    let mut env = read_env_files(&o.env_file)?;
    env.extend(o.env.iter().map(|e| expand_env(e)));
    let mut hc = HostConfig {
        restart_policy: parse_restart(&o.restart)?,
        privileged: o.privileged,
        readonly_rootfs: o.read_only,
        publish_all_ports: o.publish_all,
        network_mode: o.network.clone().unwrap_or_else(|| "default".into()),
        ..Default::default()
    };
    if o.init {
        hc.init = Some(true);
    }
    let mut binds = Vec::new();
    let mut volumes = BTreeMap::new();
    for v in &o.volume {
        check_volume_flag(v)?;
        // "/ctr" alone is an anonymous volume; "src:dst[:opts]" is a bind or named volume.
        if v.contains(':') {
            binds.push(v.clone());
        } else {
            volumes.insert(v.clone(), EmptyObject {});
        }
    }
    if !binds.is_empty() {
        hc.binds = Some(binds);
    }
    if !o.mount.is_empty() {
        hc.mounts = Some(
            o.mount
                .iter()
                .map(|m| parse_mount(m))
                .collect::<CliResult<_>>()?,
        );
    }
    if !o.volumes_from.is_empty() {
        hc.volumes_from = Some(o.volumes_from.clone());
    }
    if !o.tmpfs.is_empty() {
        hc.tmpfs = Some(
            o.tmpfs
                .iter()
                .map(|t| match t.split_once(':') {
                    Some((p, opts)) => (p.to_string(), opts.to_string()),
                    None => (t.clone(), String::new()),
                })
                .collect(),
        );
    }
    let mut exposed = BTreeMap::new();
    for p in &o.publish {
        for (key, binding) in parse_publish(p)? {
            exposed.insert(key.clone(), EmptyObject {});
            hc.port_bindings
                .entry(key)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(binding);
        }
    }
    for e in &o.expose {
        let key = if e.contains('/') {
            e.clone()
        } else {
            format!("{e}/tcp")
        };
        exposed.insert(key, EmptyObject {});
    }
    if let Some(m) = &o.memory {
        hc.resources.memory = parse_bytes(m)?;
    }
    if let Some(c) = &o.cpus {
        hc.resources.nano_cpus = parse_cpus(c)?;
    }
    if let Some(s) = o.cpu_shares {
        hc.resources.cpu_shares = s;
    }
    if let Some(p) = o.pids_limit {
        hc.resources.pids_limit = Some(p);
    }
    if !o.cap_add.is_empty() {
        hc.cap_add = Some(StrSlice(o.cap_add.clone()));
    }
    if !o.cap_drop.is_empty() {
        hc.cap_drop = Some(StrSlice(o.cap_drop.clone()));
    }
    if !o.security_opt.is_empty() {
        hc.security_opt = Some(o.security_opt.clone());
    }
    if !o.add_host.is_empty() {
        hc.extra_hosts = Some(o.add_host.clone());
    }
    if !o.dns.is_empty() {
        hc.dns = Some(o.dns.clone());
    }
    if !o.dns_search.is_empty() {
        hc.dns_search = Some(o.dns_search.clone());
    }
    if !o.dns_option.is_empty() {
        hc.dns_options = Some(o.dns_option.clone());
    }
    let networking_config = networking(o);
    if let Some(d) = &o.log_driver {
        hc.log_config.kind = d.clone();
    }
    hc.log_config.config = kv_map(&o.log_opt);

    for a in &o.attach {
        if !["stdin", "stdout", "stderr"].contains(&a.to_ascii_lowercase().as_str()) {
            return Err(CliError::msg(format!(
                "invalid argument \"{a}\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"
            )));
        }
    }
    let (a_in, a_out, a_err) = attached_streams(o, attach_std);
    let config = ContainerConfig {
        hostname: o.hostname.clone().unwrap_or_default(),
        user: o.user.clone().unwrap_or_default(),
        attach_stdin: a_in,
        attach_stdout: a_out,
        attach_stderr: a_err,
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        tty: o.tty,
        open_stdin: o.interactive,
        stdin_once: o.interactive && a_in,
        env: Some(env),
        cmd: (!o.command.is_empty()).then(|| StrSlice(o.command.clone())),
        image: o.image.clone(),
        volumes: (!volumes.is_empty()).then_some(volumes),
        working_dir: o.workdir.clone().unwrap_or_default(),
        entrypoint: o.entrypoint.as_ref().map(|e| {
            if e.is_empty() {
                StrSlice(vec![String::new()])
            } else {
                StrSlice(vec![e.clone()])
            }
        }),
        labels: Some(kv_map(&o.label)),
        stop_signal: o.stop_signal.clone(),
        stop_timeout: o.stop_timeout,
        healthcheck: crate::health_flags::config(o)?,
        ..Default::default()
    };
    Ok(ContainerCreateRequest {
        config,
        host_config: Some(hc),
        networking_config,
    })
}

/// `--network-alias` and `--ip` go to the endpoint of the `--network` network.
fn networking(o: &CreateOpts) -> Option<NetworkingConfig> {
    if o.network_alias.is_empty() && o.ip.is_none() {
        return None;
    }
    let net = o
        .network
        .clone()
        .filter(|n| !n.is_empty() && n != "default")
        .unwrap_or_else(|| "bridge".into());
    let es = EndpointSettings {
        aliases: (!o.network_alias.is_empty()).then(|| o.network_alias.clone()),
        ipam_config: o.ip.as_ref().map(|ip| EndpointIpamConfig {
            ipv4_address: ip.clone(),
            ..Default::default()
        }),
        ..Default::default()
    };
    Some(NetworkingConfig {
        endpoints_config: [(net, es)].into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Cmd};
    use clap::Parser;

    #[test]
    fn run_flags_fill_host_config() {
        let cli = Cli::try_parse_from([
            "berth",
            "run",
            "--memory",
            "512m",
            "--cpus",
            "1.5",
            "--pids-limit",
            "10",
            "--cap-add",
            "NET_ADMIN",
            "--read-only",
            "--tmpfs",
            "/run:size=1m",
            "-p",
            "127.0.0.1:8080:80",
            "-v",
            "/data",
            "-v",
            "/h:/c:ro",
            "--restart",
            "on-failure:3",
            "--init",
            "-l",
            "a=b",
            "--mount",
            "type=bind,src=/x,dst=/y,readonly",
            "-w",
            "/w",
            "-u",
            "1:2",
            "--entrypoint",
            "sh",
            "busybox",
            "-c",
            "true",
        ])
        .unwrap();
        let Cmd::Run { mut opts, .. } = cli.cmd else {
            panic!()
        };
        opts.split_args();
        let req = build(&opts, true).unwrap();
        let hc = req.host_config.unwrap();
        assert_eq!(hc.resources.memory, 512 << 20);
        assert_eq!(hc.resources.nano_cpus, 1_500_000_000);
        assert_eq!(hc.resources.pids_limit, Some(10));
        assert!(hc.readonly_rootfs);
        assert_eq!(hc.init, Some(true));
        assert_eq!(hc.restart_policy.name, "on-failure");
        assert_eq!(hc.restart_policy.maximum_retry_count, 3);
        assert_eq!(hc.binds.unwrap(), ["/h:/c:ro"]);
        assert_eq!(hc.tmpfs.unwrap()["/run"], "size=1m");
        let pb = hc.port_bindings["80/tcp"].as_ref().unwrap();
        assert_eq!(
            (pb[0].host_ip.as_str(), pb[0].host_port.as_str()),
            ("127.0.0.1", "8080")
        );
        let m = &hc.mounts.unwrap()[0];
        assert_eq!(
            (
                m.kind.as_str(),
                m.source.as_str(),
                m.target.as_str(),
                m.read_only
            ),
            ("bind", "/x", "/y", true)
        );
        assert!(req.config.volumes.unwrap().contains_key("/data"));
        assert_eq!(req.config.entrypoint.unwrap().0, ["sh"]);
        assert_eq!(req.config.cmd.unwrap().0, ["-c", "true"]);
        assert_eq!(req.config.user, "1:2");
        assert!(req.config.attach_stdout && !req.config.attach_stdin);
    }

    #[test]
    fn publish_ranges_expand() {
        let v = parse_publish("8000-8002:80-82/udp").unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[2].0, "82/udp");
        assert_eq!(v[2].1.host_port, "8002");
        let v = parse_publish("127.0.0.1:8000-8010:80").unwrap();
        assert_eq!(v[0].1.host_port, "8000-8010");
        assert_eq!(v[0].1.host_ip, "127.0.0.1");
        assert_eq!(parse_publish("80").unwrap()[0].1.host_port, "");
        assert!(parse_publish("8000-8001:80-82").is_err());
        assert!(parse_publish("x:80").is_err());
        assert!(parse_publish("80/bad").is_err());
    }
}
