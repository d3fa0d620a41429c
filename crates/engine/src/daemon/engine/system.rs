//! The system endpoints of the [`Engine`](berth_api_server::Engine) impl: version, info,
//! disk usage and the event stream.

use berth_api_server::*;
use berth_api_types::*;
use tokio::sync::broadcast;

use super::super::config::DaemonConfig;
use super::Berth;
use crate::events;

impl Berth {
    /// `GET /version`.
    pub(super) fn version_info(&self) -> ApiResult<SystemVersion> {
        let v = env!("CARGO_PKG_VERSION").to_string();
        Ok(SystemVersion {
            platform: PlatformName {
                name: "berth".into(),
            },
            components: vec![ComponentVersion {
                name: "Engine".into(),
                version: v.clone(),
                ..Default::default()
            }],
            version: v,
            go_version: "rust".into(),
            os: "linux".into(),
            arch: berth_units::arch::go_arch().into(),
            kernel_version: kernel(),
            ..Default::default()
        })
    }

    /// `GET /info`.
    pub(super) fn system_info(&self) -> ApiResult<SystemInfo> {
        let all = self.containers.list(&ContainerListOptions {
            all: true,
            ..Default::default()
        })?;
        let count = |s: &str| count_i64(all.iter().filter(|c| c.state == s).count());
        let cfg = self.cfg.read().unwrap_or_else(|e| e.into_inner()).clone();
        let images = self
            .images
            .images()
            .store
            .list()
            .map(|l| l.len())
            .unwrap_or(0);
        let info = SystemInfo {
            id: "berth".into(),
            containers: count_i64(all.len()),
            containers_running: count("running"),
            containers_paused: count("paused"),
            containers_stopped: count_i64(all.len()) - count("running") - count("paused"),
            images: count_i64(images),
            driver: "overlay2".into(),
            debug: cfg.debug,
            logging_driver: cfg.log.driver.clone(),
            cgroup_driver: cfg.cgroup_driver.clone(),
            cgroup_version: if crate::hostinfo::cgroup_v2() {
                "2"
            } else {
                "1"
            }
            .into(),
            kernel_version: kernel(),
            operating_system: crate::hostinfo::os_release("PRETTY_NAME")
                .unwrap_or_else(|| "Linux".into()),
            os_version: crate::hostinfo::os_release("VERSION_ID").unwrap_or_default(),
            os_type: "linux".into(),
            architecture: std::env::consts::ARCH.into(),
            ncpu: std::thread::available_parallelism()
                .map(|n| count_i64(n.get()))
                .unwrap_or(1),
            name: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .unwrap_or_default()
                .trim()
                .to_string(),
            server_version: env!("CARGO_PKG_VERSION").into(),
            default_runtime: "berth".into(),
            live_restore_enabled: cfg.live_restore,
            index_server_address: "https://index.docker.io/v1/".into(),
            mem_total: i64::try_from(crate::hostinfo::mem_total()).unwrap_or(i64::MAX),
            docker_root_dir: cfg.data_root.display().to_string(),
            plugins: PluginsInfo {
                volume: Some(vec!["local".into()]),
                network: Some(vec!["bridge".into(), "host".into(), "null".into()]),
                authorization: None,
                log: Some(
                    ["journald", "json-file", "local", "syslog"]
                        .map(String::from)
                        .to_vec(),
                ),
            },
            swarm: SwarmInfo {
                local_node_state: "inactive".into(),
                ..Default::default()
            },
            runtimes: [(
                "berth".to_string(),
                RuntimeInfo {
                    path: "berth-runtime".into(),
                    runtime_args: None,
                },
            )]
            .into(),
            init_binary: "docker-init".into(),
            registry_config: Some(registry_config(&cfg)),
            security_options: security_options(&cfg),
            memory_limit: true,
            swap_limit: true,
            cpu_cfs_period: true,
            cpu_cfs_quota: true,
            cpu_shares: true,
            cpu_set: true,
            pids_limit: true,
            oom_kill_disable: true,
            system_time: crate::logfile::now(),
            nfd: std::fs::read_dir("/proc/self/fd").map_or(0, |d| count_i64(d.count())),
            ..Default::default()
        };
        Ok(info)
    }

    /// `GET /system/df`.
    pub(super) async fn disk_usage(&self) -> ApiResult<SystemDf> {
        let images = self
            .images
            .image_list(ImageListOptions {
                all: true,
                shared_size: true,
                ..Default::default()
            })
            .await?;
        let containers = self.containers.list(&ContainerListOptions {
            all: true,
            size: true,
            ..Default::default()
        })?;
        let images = images
            .into_iter()
            .map(|mut i| {
                i.containers = count_i64(containers.iter().filter(|c| c.image_id == i.id).count());
                i
            })
            .collect::<Vec<_>>();
        Ok(SystemDf {
            layers_size: images.iter().map(|i| i.size).sum(),
            images,
            containers,
            volumes: self.containers.volumes.usage().await?,
            build_cache: self.builds.df(),
        })
    }

    /// `GET /events`: the past events since `since`, then the new ones until `until`.
    pub(super) fn event_stream(&self, opts: EventsOptions) -> ApiResult<JsonStream<EventMessage>> {
        let since = opts.since.as_deref().and_then(crate::logfile::parse_time);
        let until = opts.until.as_deref().and_then(crate::logfile::parse_time);
        let (replay, mut rx) = self.events.subscribe(since);
        let (tx, out) = tokio::sync::mpsc::channel(256);
        let filters = opts.filters.clone();
        tokio::spawn(async move {
            let past_until = |e: &EventMessage| until.is_some_and(|u| i128::from(e.time_nano) > u);
            for e in replay {
                if past_until(&e) {
                    return;
                }
                if events::matches(&filters, &e) && tx.send(e).await.is_err() {
                    return;
                }
            }
            let deadline = until.map(|u| {
                let now = berth_units::Timestamp::now().as_nanos();
                std::time::Duration::from_nanos(u64::try_from(u - now).unwrap_or(0))
            });
            let sleep = tokio::time::sleep(
                deadline.unwrap_or(std::time::Duration::from_secs(u64::from(u32::MAX))),
            );
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = &mut sleep => return,
                    _ = tx.closed() => return,
                    m = rx.recv() => match m {
                        Ok(e) => {
                            if events::matches(&filters, &e) && tx.send(e).await.is_err() { return; }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => return,
                    }
                }
            }
        });
        Ok(out)
    }
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// `RegistryConfig` of /info: the insecure registries (CIDRs apart, as Docker lists them),
/// the mirrors, and docker.io as the official index.
fn registry_config(cfg: &DaemonConfig) -> RegistryServiceConfig {
    let mut cidrs = vec!["127.0.0.0/8".to_string(), "::1/128".to_string()];
    let mut index_configs = std::collections::BTreeMap::new();
    index_configs.insert(
        "docker.io".to_string(),
        IndexInfo {
            name: "docker.io".into(),
            mirrors: cfg.registry_mirrors.clone(),
            secure: true,
            official: true,
        },
    );
    for r in &cfg.insecure_registries {
        if r.contains('/') {
            cidrs.push(r.clone());
        } else {
            index_configs.insert(
                r.clone(),
                IndexInfo {
                    name: r.clone(),
                    mirrors: Vec::new(),
                    secure: false,
                    official: false,
                },
            );
        }
    }
    RegistryServiceConfig {
        insecure_registry_cidrs: cidrs,
        index_configs,
        mirrors: cfg.registry_mirrors.clone(),
        ..Default::default()
    }
}

/// `SecurityOptions` of `docker info`: seccomp, and `name=userns` with `userns-remap` (as
/// dockerd).
fn security_options(cfg: &DaemonConfig) -> Vec<String> {
    let mut opts = vec!["name=seccomp,profile=builtin".to_string()];
    if cfg.remap.is_some() {
        opts.push("name=userns".into());
    }
    opts
}

/// A count as the API's `int64`.
fn count_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
