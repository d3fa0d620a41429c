//! The project against the daemon: networks and volumes made, containers converged to the
//! file (created, recreated when the config hash changed, scaled, started in dependency
//! order with `depends_on` conditions waited for), as Compose v2's `convergence.go` does.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use berth_client::transport::{query, seg};
use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::cli::COMPOSE_VERSION;
use crate::file::model::Service;
use crate::file::Loaded;

use super::api::Api;
use super::convert::{self, CreateContext};
use super::labels::*;
use super::progress::{Progress, Status};
use super::state::{self, Container};
use super::Failure;

/// A loaded project and the daemon.
pub struct Runner {
    /// The API.
    pub api: Api,
    /// The project.
    pub loaded: Loaded,
    /// False when the project was found on the daemon by its name alone (`-p` without a
    /// file): its services are those that have containers.
    pub from_file: bool,
}

/// How `up`/`create` converge.
#[derive(Debug, Clone, Default)]
pub struct Converge {
    /// `--force-recreate`.
    pub force_recreate: bool,
    /// `--no-recreate`.
    pub no_recreate: bool,
    /// `--scale svc=n`.
    pub scale: BTreeMap<String, u32>,
    /// `-V`: recreate anonymous volumes.
    pub renew_anon_volumes: bool,
    /// `--pull` policy (`always`, `missing`, `never`, or empty for the service's).
    pub pull: String,
    /// Stop timeout for recreations.
    pub timeout: Option<i64>,
}

/// How often a container's state is polled while waiting for a dependency's condition or
/// for `--wait` (an inspect costs well under a millisecond; Compose v2 polls every 500 ms,
/// which would cost `up` a quarter second per healthcheck on average).
const POLL: Duration = Duration::from_millis(20);

fn fail(e: impl std::fmt::Display) -> Failure {
    Failure::msg(e)
}

impl Runner {
    /// The project name.
    pub fn name(&self) -> &str {
        &self.loaded.project.name
    }

    /// The project's containers (one-off or not; all states).
    pub async fn containers(&self, oneoff: Option<bool>) -> Result<Vec<Container>, Failure> {
        let mut v: Vec<Container> = self
            .api
            .containers(self.name(), oneoff, true)
            .await?
            .iter()
            .map(Container::from_summary)
            .collect();
        v.sort_by(|a, b| a.service.cmp(&b.service).then(a.number.cmp(&b.number)));
        Ok(v)
    }

    /// Creates the project's networks (an external one must exist).
    pub async fn ensure_networks(&self, progress: &Progress) -> Result<(), Failure> {
        let p = &self.loaded.project;
        let jobs = p
            .networks
            .iter()
            .map(|(key, n)| self.ensure_network(key, n, progress));
        join_all(jobs)
            .await
            .into_iter()
            .collect::<Result<Vec<()>, Failure>>()?;
        Ok(())
    }

    async fn ensure_network(
        &self,
        key: &str,
        n: &crate::file::model::Network,
        progress: &Progress,
    ) -> Result<(), Failure> {
        let p = &self.loaded.project;
        {
            if self.api.network(&n.name).await?.is_some() {
                return Ok(());
            }
            if n.external {
                return Err(fail(format!(
                    "network {} declared as external, but could not be found",
                    n.name
                )));
            }
            let id = format!("Network {}", n.name);
            progress.event(&id, Status::Working, "Creating");
            let mut labels = serde_json::Map::new();
            for (k, v) in &n.labels {
                labels.insert(k.clone(), v.clone().into());
            }
            labels.insert(PROJECT.into(), p.name.clone().into());
            labels.insert(NETWORK.into(), key.into());
            labels.insert(
                RESOURCE_HASH.into(),
                crate::file::output::network_hash(n).into(),
            );
            labels.insert(VERSION.into(), COMPOSE_VERSION.into());
            let config: Vec<Value> = n
                .ipam
                .config
                .iter()
                .map(|c| {
                    json!({"Subnet": c.subnet, "Gateway": c.gateway, "IPRange": c.ip_range,
                           "AuxiliaryAddresses": c.aux_addresses})
                })
                .collect();
            let mut body = json!({
                "Name": n.name,
                "CheckDuplicate": true,
                "Driver": if n.driver.is_empty() { "bridge" } else { n.driver.as_str() },
                "Options": n.driver_opts,
                "Internal": n.internal,
                "Attachable": n.attachable,
                "Labels": labels,
            });
            if !n.ipam.driver.is_empty() || !config.is_empty() {
                body["IPAM"] = json!({"Driver": if n.ipam.driver.is_empty() { "default" } else { n.ipam.driver.as_str() }, "Config": config});
            }
            if let Some(v6) = n.enable_ipv6 {
                body["EnableIPv6"] = v6.into();
            }
            match self.api.post("/networks/create", &body).await {
                Ok(_) => progress.event(&id, Status::Done, "Created"),
                Err(e) => {
                    progress.event_detail(&id, Status::Error, "Error", &e.to_string());
                    return Err(fail(format!("failed to create network {}: {e}", n.name)));
                }
            }
        }
        Ok(())
    }

    /// Creates the project's volumes (an external one must exist).
    pub async fn ensure_volumes(&self, progress: &Progress) -> Result<(), Failure> {
        let p = &self.loaded.project;
        for (key, v) in &p.volumes {
            if let Some(existing) = self.api.volume(&v.name).await? {
                let ours = existing
                    .pointer(&format!("/Labels/{}", PROJECT.replace('/', "~1")))
                    .and_then(Value::as_str)
                    == Some(p.name.as_str());
                if !ours && !v.external {
                    eprintln!(
                        "WARN[0000] volume \"{}\" already exists but was not created by Docker Compose. Use `external: true` to use an existing volume",
                        v.name
                    );
                }
                continue;
            }
            if v.external {
                return Err(fail(format!("external volume \"{}\" not found", v.name)));
            }
            let id = format!("Volume \"{}\"", v.name);
            progress.event(&id, Status::Working, "Creating");
            let mut labels = serde_json::Map::new();
            for (k, val) in &v.labels {
                labels.insert(k.clone(), val.clone().into());
            }
            labels.insert(PROJECT.into(), p.name.clone().into());
            labels.insert(VOLUME.into(), key.clone().into());
            labels.insert(
                RESOURCE_HASH.into(),
                crate::file::output::volume_hash(v).into(),
            );
            labels.insert(VERSION.into(), COMPOSE_VERSION.into());
            let body = json!({
                "Name": v.name,
                "Driver": if v.driver.is_empty() { "local" } else { v.driver.as_str() },
                "DriverOpts": v.driver_opts,
                "Labels": labels,
            });
            match self.api.post("/volumes/create", &body).await {
                Ok(_) => progress.event(&id, Status::Done, "Created"),
                Err(e) => {
                    progress.event_detail(&id, Status::Error, "Error", &e.to_string());
                    return Err(fail(e));
                }
            }
        }
        Ok(())
    }

    /// Pulls images that are missing (or always, per policy), in parallel.
    pub async fn pull_missing(
        &self,
        services: &BTreeSet<String>,
        policy: &str,
        progress: &Progress,
    ) -> Result<(), Failure> {
        let p = &self.loaded.project;
        let mut jobs = Vec::new();
        let mut seen = BTreeSet::new();
        for name in services {
            let s = &p.services[name];
            if s.image.is_empty() || !seen.insert(s.image.clone()) {
                continue;
            }
            let pol = if policy.is_empty() {
                s.pull_policy.as_str()
            } else {
                policy
            };
            let pol = if pol.is_empty() {
                if s.build.is_some() {
                    "build"
                } else {
                    "missing"
                }
            } else {
                pol
            };
            jobs.push(async move {
                let present = self.api.image(&s.image).await?.is_some();
                let must = match pol {
                    "always" => true,
                    "never" | "build" => false,
                    _ => !present,
                };
                if !must {
                    if !present && pol == "never" {
                        return Err(fail(format!("No such image: {}", s.image)));
                    }
                    return Ok(());
                }
                let id = format!("Image {}", s.image);
                progress.event(&id, Status::Working, "Pulling");
                match self.api.pull(&s.image, &s.platform).await {
                    Ok(()) => {
                        progress.event(&id, Status::Done, "Pulled");
                        Ok(())
                    }
                    Err(e) => {
                        progress.event_detail(&id, Status::Error, "Error", &e.to_string());
                        Err(fail(e))
                    }
                }
            });
        }
        for r in join_all(jobs).await {
            r?;
        }
        Ok(())
    }

    fn create_context(&self, containers: &[Container], image_id: String) -> CreateContext {
        let mut containers_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for c in containers {
            if c.labels.get(ONEOFF).map(String::as_str) != Some("True") {
                containers_of
                    .entry(c.service.clone())
                    .or_default()
                    .push(c.name.clone());
            }
        }
        let env_file = self.loaded.working_dir.join(".env");
        CreateContext {
            working_dir: self.loaded.working_dir.display().to_string(),
            config_files: self
                .loaded
                .files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(","),
            env_files: if env_file.is_file() {
                env_file.display().to_string()
            } else {
                String::new()
            },
            containers_of,
            image_id,
        }
    }

    /// Creates one container (and connects its other networks); returns its id.
    pub async fn create_container(
        &self,
        svc: &Service,
        number: u32,
        name: &str,
        oneoff: bool,
        tweak: &dyn Fn(&mut Value),
    ) -> Result<String, Failure> {
        let p = &self.loaded.project;
        let all = self.containers(None).await?;
        let image = convert::image_name(&p.name, svc);
        let image_id = self
            .api
            .image(&image)
            .await?
            .and_then(|i| i.get("Id").and_then(Value::as_str).map(String::from))
            .unwrap_or_default();
        let ctx = self.create_context(&all, image_id);
        let mut body = convert::create_body(p, svc, number, name, oneoff, &ctx);
        tweak(&mut body);
        let resp = self
            .api
            .post(
                &format!("/containers/create{}", query(&[("name", name.to_string())])),
                &body,
            )
            .await?;
        let id = resp
            .get("Id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if svc.network_mode.is_empty() {
            for key in convert::networks_by_priority(svc).iter().skip(1) {
                let net = &p.networks[key].name;
                let body = json!({"Container": id, "EndpointConfig": convert::endpoint(svc, key, name, oneoff)});
                if let Err(e) = self
                    .api
                    .post(&format!("/networks/{}/connect", seg(net)), &body)
                    .await
                {
                    let _ = self
                        .api
                        .delete(&format!("/containers/{id}?force=true&v=true"))
                        .await;
                    return Err(fail(e));
                }
            }
        }
        Ok(id)
    }

    /// The name of container `n` of a service.
    pub fn container_name(&self, svc: &Service, n: u32) -> String {
        if svc.container_name.is_empty() {
            container_name(self.name(), &svc.name, n)
        } else {
            svc.container_name.clone()
        }
    }

    /// Brings one service's containers to the file: scale, recreate on a changed hash (or
    /// when `recreated` says a dependency it shares a namespace with was), create missing.
    /// Returns true when any container was (re)created.
    pub async fn converge_service(
        &self,
        name: &str,
        opts: &Converge,
        recreated: &BTreeSet<String>,
        progress: &Progress,
    ) -> Result<bool, Failure> {
        let p = &self.loaded.project;
        let svc = &p.services[name];
        let want = state::replicas(p, name, &opts.scale);
        let hash = crate::file::output::config_hash(svc);
        let mine: Vec<Container> = self
            .containers(Some(false))
            .await?
            .into_iter()
            .filter(|c| c.service == name)
            .collect();
        let mut changed = false;
        let shares_namespace = svc
            .network_mode
            .strip_prefix("service:")
            .into_iter()
            .chain(
                svc.volumes_from
                    .iter()
                    .map(|v| v.split(':').next().unwrap_or(v)),
            )
            .any(|d| recreated.contains(d));
        // excess containers, highest numbers first
        for c in mine
            .iter()
            .rev()
            .filter(|c| c.number > want || c.number == 0)
        {
            let id = format!("Container {}", c.name);
            progress.event(&id, Status::Working, "Stopping");
            let _ = self
                .api
                .post_empty(&format!("/containers/{}/stop", c.id))
                .await;
            progress.event(&id, Status::Working, "Removing");
            self.api
                .delete(&format!("/containers/{}?v=false&force=true", c.id))
                .await?;
            progress.event(&id, Status::Done, "Removed");
        }
        let mut have: BTreeSet<u32> = BTreeSet::new();
        for c in mine.iter().filter(|c| c.number >= 1 && c.number <= want) {
            have.insert(c.number);
            let stale = c.hash != hash || shares_namespace;
            let must = opts.force_recreate || (stale && !opts.no_recreate);
            if !must {
                continue;
            }
            let cname = self.container_name(svc, c.number);
            let id = format!("Container {cname}");
            progress.event(&id, Status::Working, "Recreate");
            let tmp = format!("{}_{cname}", &c.id[..12.min(c.id.len())]);
            let new_id = self
                .create_container(svc, c.number, &tmp, false, &|_| {})
                .await?;
            let t = opts
                .timeout
                .or(svc.stop_grace_period.map(|d| d.0 / 1_000_000_000))
                .map(|t| format!("?t={t}"))
                .unwrap_or_default();
            let _ = self
                .api
                .post_empty(&format!("/containers/{}/stop{t}", c.id))
                .await;
            self.api
                .delete(&format!(
                    "/containers/{}?v={}&force=true",
                    c.id, opts.renew_anon_volumes
                ))
                .await?;
            self.api
                .post_empty(&format!(
                    "/containers/{new_id}/rename{}",
                    query(&[("name", cname.clone())])
                ))
                .await?;
            progress.event(&id, Status::Done, "Recreated");
            changed = true;
        }
        for n in 1..=want {
            if have.contains(&n) {
                continue;
            }
            let cname = self.container_name(svc, n);
            let id = format!("Container {cname}");
            progress.event(&id, Status::Working, "Creating");
            match self.create_container(svc, n, &cname, false, &|_| {}).await {
                Ok(_) => progress.event(&id, Status::Done, "Created"),
                Err(e) => {
                    progress.event_detail(&id, Status::Error, "Error", &e.message);
                    return Err(e);
                }
            }
            changed = true;
        }
        Ok(changed)
    }

    /// Waits for a dependency's condition (`service_started`, `service_healthy`,
    /// `service_completed_successfully`), printing Compose's Waiting/Healthy/Exited events.
    pub async fn wait_dependency(
        &self,
        dep: &str,
        condition: &str,
        progress: &Progress,
    ) -> Result<(), Failure> {
        if condition == "service_started" || condition.is_empty() {
            return Ok(());
        }
        let containers: Vec<Container> = self
            .containers(Some(false))
            .await?
            .into_iter()
            .filter(|c| c.service == dep)
            .collect();
        for c in containers {
            let id = format!("Container {}", c.name);
            progress.event(&id, Status::Working, "Waiting");
            loop {
                let info = self.api.inspect(&c.id).await?;
                let st = &info["State"];
                match condition {
                    "service_healthy" => {
                        match st.pointer("/Health/Status").and_then(Value::as_str) {
                            Some("healthy") => {
                                progress.event(&id, Status::Done, "Healthy");
                                break;
                            }
                            Some("unhealthy") => {
                                progress.event(&id, Status::Error, "Error");
                                return Err(fail(format!(
                                    "dependency failed to start: container {} is unhealthy",
                                    c.name
                                )));
                            }
                            None => {
                                return Err(fail(format!("dependency failed to start: container {} has no healthcheck configured", c.name)));
                            }
                            _ => {}
                        }
                        if st["Running"] != Value::Bool(true) {
                            progress.event(&id, Status::Error, "Error");
                            return Err(fail(format!(
                                "dependency failed to start: container {} exited ({})",
                                c.name, st["ExitCode"]
                            )));
                        }
                    }
                    _ => {
                        if st["Status"] == "exited" || st["Status"] == "dead" {
                            let code = st["ExitCode"].as_i64().unwrap_or(-1);
                            if code == 0 {
                                progress.event(&id, Status::Done, "Exited");
                                break;
                            }
                            progress.event(&id, Status::Error, "Error");
                            return Err(fail(format!(
                                "service \"{dep}\" didn't complete successfully: exit {code}"
                            )));
                        }
                    }
                }
                tokio::time::sleep(POLL).await;
            }
        }
        Ok(())
    }

    /// Starts a service's stopped containers after its dependencies' conditions hold.
    pub async fn start_service(
        &self,
        name: &str,
        services: &BTreeSet<String>,
        progress: &Progress,
    ) -> Result<(), Failure> {
        let svc = &self.loaded.project.services[name];
        for (dep, d) in &svc.depends_on {
            if services.contains(dep) {
                self.wait_dependency(dep, &d.condition, progress).await?;
            }
        }
        let containers: Vec<Container> = self
            .containers(Some(false))
            .await?
            .into_iter()
            .filter(|c| c.service == name)
            .collect();
        for c in containers {
            if c.is_running() {
                continue;
            }
            let id = format!("Container {}", c.name);
            progress.event(&id, Status::Working, "Starting");
            match self
                .api
                .post_empty(&format!("/containers/{}/start", c.id))
                .await
            {
                Ok(()) => progress.event(&id, Status::Done, "Started"),
                Err(e) => {
                    progress.event_detail(&id, Status::Error, "Error", &e.to_string());
                    return Err(fail(e));
                }
            }
        }
        Ok(())
    }

    /// `--wait`: every container running (and healthy when it has a healthcheck), or
    /// completed successfully when a dependent asks for that; fails on an exit.
    pub async fn wait_running(
        &self,
        services: &BTreeSet<String>,
        timeout: Option<Duration>,
        progress: &Progress,
    ) -> Result<(), Failure> {
        let started = Instant::now();
        let p = &self.loaded.project;
        let completes: BTreeSet<String> = p
            .services
            .values()
            .flat_map(|s| s.depends_on.iter())
            .filter(|(_, d)| d.condition == "service_completed_successfully")
            .map(|(k, _)| k.clone())
            .collect();
        let containers: Vec<Container> = self
            .containers(Some(false))
            .await?
            .into_iter()
            .filter(|c| services.contains(&c.service))
            .collect();
        for c in containers {
            let id = format!("Container {}", c.name);
            progress.event(&id, Status::Working, "Waiting");
            loop {
                if timeout.is_some_and(|t| started.elapsed() > t) {
                    return Err(fail("application not healthy after timeout"));
                }
                let info = self.api.inspect(&c.id).await?;
                let st = &info["State"];
                let running = st["Running"] == Value::Bool(true);
                if !running {
                    let code = st["ExitCode"].as_i64().unwrap_or(-1);
                    if completes.contains(&c.service) && code == 0 {
                        progress.event(&id, Status::Done, "Exited");
                        break;
                    }
                    progress.event(&id, Status::Error, "Error");
                    return Err(fail(format!("container {} exited ({code})", c.name)));
                }
                match st.pointer("/Health/Status").and_then(Value::as_str) {
                    None => {
                        progress.event(&id, Status::Done, "Healthy");
                        break;
                    }
                    Some("healthy") => {
                        progress.event(&id, Status::Done, "Healthy");
                        break;
                    }
                    Some("unhealthy") => {
                        progress.event(&id, Status::Error, "Error");
                        return Err(fail(format!("container {} is unhealthy", c.name)));
                    }
                    _ => {}
                }
                tokio::time::sleep(POLL).await;
            }
        }
        Ok(())
    }

    /// Containers that belong to no service of the file (or a disabled one).
    pub async fn orphans(&self) -> Result<Vec<Container>, Failure> {
        let p = &self.loaded.project;
        Ok(self
            .containers(Some(false))
            .await?
            .into_iter()
            .filter(|c| {
                !p.services.contains_key(&c.service)
                    && !self.loaded.disabled.contains_key(&c.service)
            })
            .collect())
    }
}
