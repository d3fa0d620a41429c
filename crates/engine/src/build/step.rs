//! A RUN step's container: an OCI bundle over the step's root, run as a task of the build's
//! [`TaskRuntime`] (a `berth-shim`, as containers are: the fast path), but without a
//! container record: build steps are not containers `docker ps -a` shows. Networking as the build asks (`default` = the default
//! bridge, `none`, `host`, or a bridge network's name).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_api_types::{ContainerConfig, HostConfig, Resources};
use berth_build::{OutputSink, RunMountSource, RunSpec};
use berth_network::files;
use berth_network::ConnectRequest;
use oci_spec::runtime::{Mount, Spec};
use tokio::sync::{broadcast, oneshot};

use super::root::{Root, RUNTIME_TARGETS};
use super::BuildEnv;
use crate::containers::task::{Live, Output, Spawned};
#[cfg(doc)]
use crate::containers::tasks::TaskRuntime;
use crate::shim::ShimArgs;
use crate::spec;

/// The network a step joins.
enum StepNet {
    None,
    Host,
    Bridge { network_id: String },
}

fn resolve_net(env: &BuildEnv, name: &str) -> Result<StepNet, String> {
    match name {
        "none" => Ok(StepNet::None),
        "host" => Ok(StepNet::Host),
        "" | "default" | "bridge" => {
            if !env.networks.config().default_bridge_enabled() {
                return Ok(StepNet::None);
            }
            let rec = env.networks.resolve("bridge").map_err(|e| e.to_string())?;
            Ok(StepNet::Bridge { network_id: rec.id })
        }
        other => {
            let rec = env.networks.resolve(other).map_err(|e| e.to_string())?;
            if rec.driver != "bridge" {
                return Err(format!(
                    "network {other}: only bridge networks can be used by build steps"
                ));
            }
            Ok(StepNet::Bridge { network_id: rec.id })
        }
    }
}

/// Whether an in-root path exists (no symlink of the last element followed).
fn exists_in_root(root: &berth_inroot::Root, path: &str) -> bool {
    berth_inroot::locate(root, path).is_ok()
}

/// Writes the bundle's files and `config.json`; returns the binds of `/etc` files.
fn write_bundle(
    root: &Root,
    spec_in: &RunSpec,
    net: &StepNet,
    hostname: &str,
    cache_mounts: &Path,
) -> Result<Spec, String> {
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
    let rootfs = root.rootfs();
    let fd = berth_inroot::Root::open(&rootfs).map_err(|e| io("open the step's root", e))?;
    // Mount points the runtime will have to create: remembered, removed before the commit.
    let mut targets: Vec<String> = RUNTIME_TARGETS.iter().map(|s| s.to_string()).collect();
    targets.extend(spec_in.mounts.iter().map(|m| m.target.clone()));
    targets.extend(spec_in.files.iter().map(|f| f.0.clone()));
    {
        let mut created = root.created.lock().unwrap_or_else(|e| e.into_inner());
        for t in targets {
            let rel = berth_inroot::clean(&t)
                .iter()
                .map(|c| c.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            if !rel.is_empty() && !exists_in_root(&fd, &rel) {
                created.push(rel);
            }
        }
    }
    // /etc/hostname, /etc/hosts, /etc/resolv.conf
    let extra: Vec<(String, IpAddr)> = spec_in
        .extra_hosts
        .iter()
        .map(|h| files::parse_add_host(h, None).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let (hosts, resolv) = match net {
        StepNet::Host => (
            std::fs::read_to_string("/etc/hosts").unwrap_or_default(),
            std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        ),
        _ => (
            files::hosts_file(hostname, &[], &extra),
            files::container_resolv_conf(
                &files::host_resolv_conf(),
                &files::DnsSettings::default(),
                false,
            )
            .content,
        ),
    };
    let write = |name: &str, text: &str| {
        let p = root.dir.join(name);
        std::fs::write(&p, text).map_err(|e| io(&format!("write {}", p.display()), e))?;
        Ok::<_, String>((format!("/etc/{name}"), p.display().to_string()))
    };
    let etc = vec![
        write("hostname", &files::hostname_file(hostname))?,
        write("hosts", &hosts)?,
        write("resolv.conf", &resolv)?,
    ];
    let config = ContainerConfig {
        env: Some(spec_in.env.clone()),
        user: spec_in.user.clone(),
        working_dir: spec_in.workdir.clone(),
        hostname: hostname.to_string(),
        ..Default::default()
    };
    let host = HostConfig {
        network_mode: match net {
            StepNet::Host => "host".into(),
            _ => "default".into(),
        },
        resources: Resources {
            memory: spec_in.memory.unwrap_or(0),
            cpuset_cpus: spec_in.cpuset_cpus.clone().unwrap_or_default(),
            ..Default::default()
        },
        ..Default::default()
    };
    // The user is looked up in the image's files, through the root descriptor.
    let passwd = fd.read_text("/etc/passwd").unwrap_or_default();
    let group = fd.read_text("/etc/group").unwrap_or_default();
    let user = spec::parse_user(&passwd, &group, &spec_in.user)?;
    let mut oci = spec::build(&spec::SpecInput {
        id: &root.key,
        config: &ContainerConfig {
            user: String::new(),
            ..config
        },
        host: &host,
        args: &spec_in.args,
        rootfs: &rootfs,
        etc_files: &etc,
    })?;
    if let Some(process) = oci.process_mut() {
        let mut u = spec::user::user(user.0, user.1, Vec::new());
        u.set_additional_gids(Some(user.2));
        process.set_user(u);
    }
    let mounts = oci.mounts_mut().get_or_insert_with(Vec::new);
    if let Some(size) = spec_in.shm_size.filter(|s| *s > 0) {
        for m in mounts
            .iter_mut()
            .filter(|m| m.destination() == Path::new("/dev/shm"))
        {
            m.set_options(Some(
                ["nosuid", "noexec", "nodev", "mode=1777"]
                    .map(String::from)
                    .into_iter()
                    .chain([format!("size={size}")])
                    .collect(),
            ));
        }
    }
    mounts.extend(step_mounts(root, spec_in, cache_mounts)?);
    Ok(oci)
}

/// The OCI mounts of RUN `--mount`s and of the step's files (heredoc scripts).
fn step_mounts(root: &Root, spec_in: &RunSpec, cache_mounts: &Path) -> Result<Vec<Mount>, String> {
    let mut out = Vec::new();
    let bind = |dest: &str, src: &Path, ro: bool| {
        spec::mounts::bind(dest, src, &["rprivate", if ro { "ro" } else { "rw" }])
    };
    for (i, (path, data, mode)) in spec_in.files.iter().enumerate() {
        let p = root.dir.join(format!("file-{i}"));
        std::fs::write(&p, data).map_err(|e| format!("write {}: {e}", p.display()))?;
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(*mode))
            .map_err(|e| e.to_string())?;
        out.push(bind(path, &p, true));
    }
    for (i, m) in spec_in.mounts.iter().enumerate() {
        match &m.source {
            RunMountSource::HostPath(p) => out.push(bind(&m.target, p, m.read_only)),
            RunMountSource::Cache { id, .. } => {
                let p = cache_mount_dir(cache_mounts, id)?;
                out.push(bind(&m.target, &p, m.read_only));
            }
            RunMountSource::Tmpfs { size } => {
                let mut opts = vec!["nosuid".to_string(), "nodev".to_string()];
                if *size > 0 {
                    opts.push(format!("size={size}"));
                }
                out.push(spec::mounts::tmpfs(&m.target, opts));
            }
            RunMountSource::Secret(data) => {
                let p = root.dir.join(format!("secret-{i}"));
                std::fs::write(&p, data).map_err(|e| format!("write secret: {e}"))?;
                let mode = m.mode.unwrap_or(0o400);
                std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(mode))
                    .map_err(|e| e.to_string())?;
                let _ = std::os::unix::fs::chown(&p, m.uid, m.gid);
                out.push(bind(&m.target, &p, true));
            }
            RunMountSource::Ssh(sock) => out.push(bind(&m.target, sock, false)),
            RunMountSource::Layers { .. } => {
                let p = root.dir.join(format!("bind-{i}"));
                out.push(bind(&m.target, &p, m.read_only));
            }
        }
    }
    Ok(out)
}

/// `<cache mounts dir>/<id>-<hash>`: the persistent directory of a `type=cache` mount.
fn cache_mount_dir(base: &Path, id: &str) -> Result<PathBuf, String> {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let p = base.join(format!(
        "{safe}-{}",
        &super::sha256_hex(id.as_bytes())[..12]
    ));
    std::fs::create_dir_all(&p).map_err(|e| format!("create {}: {e}", p.display()))?;
    Ok(p)
}

/// Removes every cache mount directory under `base`; their names and sizes (`builder prune`).
pub(super) fn remove_cache_mounts(base: &Path) -> Vec<(String, u64)> {
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(base).into_iter().flatten().flatten() {
        let size = tree_size(&entry.path());
        if std::fs::remove_dir_all(entry.path()).is_ok() {
            removed.push((entry.file_name().to_string_lossy().into_owned(), size));
        }
    }
    removed
}

/// Bytes of the regular files under `dir` (symlinks not followed).
fn tree_size(dir: &Path) -> u64 {
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) if m.is_file() => {
                    total = total.saturating_add(m.len());
                }
                _ => {}
            }
        }
    }
    total
}

/// Runs the step; returns its exit code. Output goes to `output` as it comes.
pub(super) async fn run(
    env: &Arc<BuildEnv>,
    root: &Root,
    spec_in: &RunSpec,
    output: OutputSink<'_>,
) -> Result<i64, String> {
    let net = resolve_net(env, &spec_in.network)?;
    let hostname: String = root.key.chars().take(12).collect();
    // RUN --mount=type=bind,from=…: views mounted for the run, unmounted after it.
    let mut views = Vec::new();
    let mut binds = Vec::new();
    let mut prepared = Ok(());
    for (i, m) in spec_in.mounts.iter().enumerate() {
        if let RunMountSource::Layers { layers, path } = &m.source {
            let target = root.dir.join(format!("bind-{i}"));
            let bound = super::view::View::mount(env, layers, &root.dir.join(format!("view-{i}")))
                .and_then(|view| {
                    views.push(view);
                    views[views.len() - 1].bind_to(path, &target)
                });
            if let Err(e) = bound {
                prepared = Err(e);
                break;
            }
            binds.push(target);
        }
    }
    let result = match prepared {
        Ok(()) => run_container(env, root, spec_in, &net, &hostname, output).await,
        Err(e) => Err(e),
    };
    for target in binds {
        let _ = berth_snapshot::unmount(&target);
    }
    drop(views);
    result
}

async fn run_container(
    env: &Arc<BuildEnv>,
    root: &Root,
    spec_in: &RunSpec,
    net: &StepNet,
    hostname: &str,
    output: OutputSink<'_>,
) -> Result<i64, String> {
    let oci = write_bundle(root, spec_in, net, hostname, &env.cache_mounts_dir)?;
    std::fs::write(
        root.dir.join("config.json"),
        serde_json::to_vec(&oci).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("write config.json: {e}"))?;
    let args = ShimArgs {
        id: root.key.clone(),
        bundle: root.dir.clone(),
        runtime: env.helpers.runtime.program.clone(),
        runtime_args: env.helpers.runtime.args.clone(),
        runtime_root: env.exec_root.join("runtime"),
        state_dir: root.dir.clone(),
        log: root.dir.join("log.json"),
        log_config: None,
        tty: false,
        stdin: false,
        merge_output: true,
        max_size: 0,
        max_file: 1,
    };
    let tasks = &env.tasks;
    let pid = match tasks
        .create(&args)
        .await
        .map_err(|e| format!("start the step's shim: {e}"))?
    {
        Spawned::Created(pid) => pid,
        Spawned::Failed(msg) => return Err(msg),
    };
    let live = Arc::new(Live::default());
    let mut out_rx = live.output.subscribe();
    let (started_tx, started_rx) = oneshot::channel();
    let (exit_tx, exit_rx) = oneshot::channel();
    let on_exit = Box::new(move |exit: crate::shim::ExitRecord| {
        let _ = exit_tx.send(exit.exit_code);
    });
    let connected = tasks
        .connect(&root.key, live.clone(), Some(started_tx), on_exit)
        .await;
    let kill = || async {
        let _ = tasks.kill(&root.key, &live, 9).await;
    };
    if let Err(e) = connected {
        kill().await;
        return Err(format!("connect to the step's shim: {e}"));
    }
    let netns = PathBuf::from(format!("/proc/{pid}/ns/net"));
    let net_up = match net {
        StepNet::Host => Ok(()),
        StepNet::None => env
            .networks
            .mgr
            .loopback_up(&netns)
            .await
            .map_err(|e| e.to_string()),
        StepNet::Bridge { network_id } => env
            .networks
            .mgr
            .connect(ConnectRequest {
                network_id,
                container_id: &root.key,
                netns: &netns,
                container_ifname: "eth0",
                requested: None,
                requested6: None,
                requested_mac: None,
                dns_names: Vec::new(),
                default_route: true,
            })
            .await
            .map(|ep| {
                let extra: Vec<(String, IpAddr)> = spec_in
                    .extra_hosts
                    .iter()
                    .filter_map(|h| files::parse_add_host(h, Some(ep.gateway.into())).ok())
                    .collect();
                let _ = std::fs::write(
                    root.dir.join("hosts"),
                    files::hosts_file(
                        hostname,
                        &std::iter::once(IpAddr::V4(ep.ip))
                            .chain(ep.ip6.map(IpAddr::V6))
                            .collect::<Vec<_>>(),
                        &extra,
                    ),
                );
            })
            .map_err(|e| e.to_string()),
    };
    let code = match net_up {
        Ok(()) => {
            tasks.start(&root.key, &live);
            match started_rx.await {
                Ok(Ok(_)) => Ok(forward_output(&mut out_rx, exit_rx, output).await),
                Ok(Err(msg)) => Err(msg),
                Err(_) => Err("the step's shim went away".to_string()),
            }
        }
        Err(e) => {
            kill().await;
            Err(format!("connect the step to its network: {e}"))
        }
    };
    if let StepNet::Bridge { network_id } = net {
        let _ = env.networks.mgr.disconnect(network_id, &root.key).await;
    }
    // The shim deletes the runtime state (and the cgroup) after reporting the exit.
    tasks.wait_shim_gone(&root.key).await;
    code
}

async fn forward_output(
    rx: &mut broadcast::Receiver<Output>,
    mut exit: oneshot::Receiver<i64>,
    output: OutputSink<'_>,
) -> i64 {
    let code = loop {
        tokio::select! {
            biased;
            m = rx.recv() => match m {
                Ok(Output::Data(_, data)) => output(&data),
                Ok(Output::Exit(code)) => break code,
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break (&mut exit).await.unwrap_or(255),
            },
            code = &mut exit => break code.unwrap_or(255),
        }
    };
    // Output sent before the exit is already in the channel.
    while let Ok(m) = rx.try_recv() {
        if let Output::Data(_, data) = m {
            output(&data);
        }
    }
    code
}
