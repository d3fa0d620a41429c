//! `POST /containers/create`: the merged config, the mounts and networks decided, the snapshot and the record written in one step.

use std::sync::Arc;

use crate::error::{EngineError, Result};
use berth_api_types::query::ContainerCreateOptions;
use berth_api_types::*;

use super::{meta_err, Containers};
use crate::logfile;
use crate::record::{self, ContainerRecord, KIND, ZERO_TIME};

/// Merges the image config into the request as Docker does.
fn merge_config(req: &mut ContainerConfig, img: &berth_image::ContainerConfig) {
    let mut env: Vec<String> = img.env.clone().unwrap_or_default();
    for e in req.env.clone().unwrap_or_default() {
        let key = e.split('=').next().unwrap_or("").to_string();
        env.retain(|x| x.split('=').next() != Some(key.as_str()));
        env.push(e);
    }
    req.env = Some(env);
    let req_has_entry = req.entrypoint.as_ref().is_some_and(|e| !e.0.is_empty());
    let req_has_cmd = req.cmd.as_ref().is_some_and(|c| !c.0.is_empty());
    if !req_has_entry {
        if let Some(ep) = &img.entrypoint {
            req.entrypoint = Some(StrSlice(ep.clone()));
        }
        if !req_has_cmd {
            req.cmd = img.cmd.clone().map(StrSlice);
        }
    }
    if req.working_dir.is_empty() {
        req.working_dir = img.working_dir.clone().unwrap_or_default();
    }
    if req.user.is_empty() {
        req.user = img.user.clone().unwrap_or_default();
    }
    let mut labels = img.labels.clone().unwrap_or_default();
    labels.extend(req.labels.clone().unwrap_or_default());
    req.labels = Some(labels);
    // Docker: an empty StopSignal is unset, so the image's applies (and SIGTERM after that).
    if req.stop_signal.as_deref().is_none_or(str::is_empty) {
        req.stop_signal = img.stop_signal.clone().filter(|s| !s.is_empty());
    }
    if req.exposed_ports.is_none() {
        req.exposed_ports = img
            .exposed_ports
            .as_ref()
            .map(|m| m.keys().map(|k| (k.clone(), EmptyObject {})).collect());
    }
    if req.volumes.is_none() {
        req.volumes = img
            .volumes
            .as_ref()
            .map(|m| m.keys().map(|k| (k.clone(), EmptyObject {})).collect());
    }
    if req.healthcheck.is_none() {
        if let Some(h) = &img.healthcheck {
            req.healthcheck = serde_json::to_value(h)
                .ok()
                .and_then(|v| serde_json::from_value(v).ok());
        }
    }
}

impl Containers {
    /// `POST /containers/create`: validates, resolves the image, prepares the snapshot, mounts
    /// and network config, and stores the record (all undone if a step fails).
    pub async fn create(
        self: &Arc<Self>,
        opts: ContainerCreateOptions,
        body: ContainerCreateRequest,
    ) -> Result<ContainerCreateResponse> {
        let mut config = body.config;
        let mut host = body.host_config.unwrap_or_default();
        if let Some(n) = &opts.name {
            if !record::valid_name(n) {
                return Err(EngineError::invalid(format!(
                    "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )));
            }
        }
        if config.image.is_empty() {
            return Err(EngineError::invalid("No image specified"));
        }
        super::validate::create(&config, &host).map_err(EngineError::invalid)?;
        super::userns::check(&host, self.records.remap().is_some())
            .map_err(EngineError::invalid)?;
        let rp = &host.restart_policy;
        if !matches!(
            rp.name.as_str(),
            "" | "no" | "always" | "unless-stopped" | "on-failure"
        ) {
            return Err(EngineError::invalid(format!(
                "invalid restart policy '{}'",
                rp.name
            )));
        }
        if host.auto_remove && !matches!(rp.name.as_str(), "" | "no") {
            return Err(EngineError::invalid(
                "can't create 'AutoRemove' container with restart policy",
            ));
        }
        let warnings = super::resources::validate(&host.resources, false)?;
        super::resources::check_cgroup_parent(&self.cgroup_driver, &host.resources.cgroup_parent)
            .map_err(EngineError::invalid)?;
        super::resources::adapt_on_create(&mut host);
        let image = self.images.resolve(&config.image)?;
        merge_config(
            &mut config,
            &image.config.config.clone().unwrap_or_default(),
        );
        let mut argv: Vec<String> = config.entrypoint.clone().map(|e| e.0).unwrap_or_default();
        argv.extend(config.cmd.clone().map(|c| c.0).unwrap_or_default());
        if argv.is_empty() {
            return Err(EngineError::invalid("no command specified"));
        }
        if host.ipc_mode.is_empty() {
            host.ipc_mode = super::namespaces::DEFAULT_IPC_MODE.into();
        }
        if host.network_mode.is_empty() || host.network_mode == "default" {
            host.network_mode = "bridge".into();
        }
        if !config.mac_address.is_empty() {
            berth_network::link::parse_mac(&config.mac_address)
                .map_err(crate::error::EngineError::from)?;
        }
        let endpoints_config = self
            .networks
            .prepare_network_create(&mut host, body.networking_config)?;
        let links = self.networks.prepare_links(&host)?;
        super::options::check_create_options(&mut host, &self.log)?;
        let plan = crate::volumes::mounts::plan(&self.records, &config, &host)?;
        let id = record::new_id();
        let name = match &opts.name {
            Some(n) => format!("/{}", n.trim_start_matches('/')),
            None => {
                let mut attempt = 0;
                loop {
                    let n = record::random_name(attempt);
                    if self.store.name_owner(KIND, &n).is_none() {
                        break format!("/{n}");
                    }
                    attempt += 1;
                }
            }
        };
        if let Some(owner) = self.store.name_owner(KIND, &name) {
            return Err(EngineError::conflict(format!(
                "Conflict. The container name \"{name}\" is already in use by container \"{owner}\". You have to remove (or rename) that container to be able to reuse that name."
            )));
        }
        let data_dir = self.data_dir(&id);
        let rec = ContainerRecord {
            id: id.clone(),
            name: name.clone(),
            created: logfile::now(),
            path: argv[0].clone(),
            args: argv[1..].to_vec(),
            config,
            host_config: host,
            image: image.id.as_str().to_string(),
            state: ContainerState {
                status: "created".into(),
                started_at: ZERO_TIME.into(),
                finished_at: ZERO_TIME.into(),
                ..Default::default()
            },
            restart_count: 0,
            log_path: data_dir
                .join(format!("{id}-json.log"))
                .display()
                .to_string(),
            manually_stopped: false,
            endpoints_config,
            links,
            mounts: plan.mounts.clone(),
            removing: None,
        };
        let parent = image.top_chain_id().map(|d| d.as_str().to_string());
        let this = self.clone();
        let rec2 = rec.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            this.layout
                .traversable_dir(&data_dir)
                .map_err(EngineError::internal)?;
            let vols = this.volumes.commit(&plan, &rec2.id).inspect_err(|_| {
                let _ = std::fs::remove_dir_all(&data_dir);
            })?;
            let snaps = &this.images.images().snapshots;
            let prepared = snaps.prepare(&rec2.id, parent.as_deref()).and_then(|_| {
                // A remapped container's `/` is its upper dir: the remapped root owns it.
                let Some(map) = this.remap_for(&rec2.host_config) else {
                    return Ok(());
                };
                let upper = snaps.active(&rec2.id)?.upper;
                std::os::unix::fs::chown(&upper, Some(map.root_uid()), Some(map.root_gid()))
                    .map_err(|e| berth_snapshot::Error::Io {
                        op: "chown",
                        path: upper,
                        source: e,
                    })
            });
            if let Err(e) = prepared {
                this.volumes.rollback(&plan, &rec2.id, &vols);
                let _ = std::fs::remove_dir_all(&data_dir);
                return Err(EngineError::internal(e));
            }
            crate::crash::point("create-before-commit");
            let mut tx = this.store.transaction();
            let res = tx
                .put(KIND, &rec2.id, &rec2)
                .and_then(|t| t.claim_name(KIND, &rec2.name, &rec2.id))
                .map(|_| ())
                .and_then(|_| tx.commit().map(|_| ()));
            if let Err(e) = res {
                this.volumes.rollback(&plan, &rec2.id, &vols);
                let _ = snaps.remove(&rec2.id);
                let _ = std::fs::remove_dir_all(&data_dir);
                return Err(meta_err(e));
            }
            Ok(())
        })
        .await
        .map_err(EngineError::internal)??;
        self.event("create", &rec, &[]);
        Ok(ContainerCreateResponse { id, warnings })
    }
}
