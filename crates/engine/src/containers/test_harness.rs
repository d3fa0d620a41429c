//! `Containers` built for unit tests, without root: the real services (records, images,
//! volumes, networks, events, health, execs) on a temporary directory, over the fake tasks
//! of [`super::fake_tasks`], the fake processes of [`crate::processes::fake`] and the network
//! crate's in-memory links and firewall.

use std::sync::Arc;

use berth_api_types::query::ContainerCreateOptions;
use berth_api_types::{ContainerCreateRequest, ContainerState};
use berth_network::fake::{FakeFirewall, FakeNetlink};
use berth_testkit::TempDir;
use serde_json::json;

use super::fake_tasks::FakeTasks;
use super::{Containers, ContainersDeps};
use crate::events::EventBus;
use crate::execs::Execs;
use crate::health::Health;
use crate::images::ImageService;
use crate::networks::{NetConfig, Networks};
use crate::processes::fake::FakeProcesses;
use crate::record::ContainerStore;
use crate::volumes::Volumes;

/// An image with no layers (its containers get an empty root filesystem).
pub const IMAGE: &str = "sha256:5e3a1b0b5c4d8a5d6b1f0e2c3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b";
/// An image whose only layer is missing from the snapshotter: creating a container fails
/// after its volumes are made, and must undo them.
pub const BROKEN_IMAGE: &str =
    "sha256:0badc0de5c4d8a5d6b1f0e2c3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b";

/// The services and their fakes.
pub struct Harness {
    /// Containers over the fakes.
    pub containers: Arc<Containers>,
    /// The fake tasks.
    pub tasks: Arc<FakeTasks>,
    /// The fake links.
    pub netlink: Arc<FakeNetlink>,
    /// The fake firewall.
    pub firewall: Arc<FakeFirewall>,
    /// The health checks, over the fake processes.
    pub health: Arc<Health>,
    /// Exec instances, over the fake processes.
    pub execs: Arc<Execs>,
    /// The fake processes (exec and health probes).
    pub processes: Arc<FakeProcesses>,
    /// The event bus.
    pub events: Arc<EventBus>,
    /// Data and exec roots live here (kept by the harness).
    pub dir: Arc<TempDir>,
}

impl Harness {
    /// Fresh services on a new temporary directory.
    pub async fn new() -> Harness {
        Harness::over(Arc::new(TempDir::new("berth-engine-unit-")), false).await
    }

    /// Services on `dir` as a daemon restarted there finds them (new fakes: no task
    /// survived unless the test adds it to `tasks` before [`Containers::restore`]).
    pub async fn over(dir: Arc<TempDir>, live_restore: bool) -> Harness {
        let data = dir.path().join("data");
        let exec = dir.path().join("exec");
        let store = Arc::new(berth_metadata::Store::open(data.join("metadata")).expect("store"));
        let records = ContainerStore::new(store, exec, data.clone())
            .with_traverse_gid(rustix::process::getegid().as_raw());
        let events = Arc::new(EventBus::default());
        let bus = events.clone();
        let images = Arc::new(
            ImageService::new(
                &data,
                berth_registry::RegistryConfig::default(),
                Arc::new(move |e| bus.publish(e)),
                Arc::new(records.clone()),
            )
            .expect("images"),
        );
        put_image(&images, IMAGE, &[]);
        put_image(&images, BROKEN_IMAGE, &[missing_layer()]);
        let volumes = Volumes::new(&data, events.clone(), None);
        let netlink = Arc::new(FakeNetlink::new());
        let firewall = Arc::new(FakeFirewall::new());
        let cfg = NetConfig {
            nft_table: "berth_unit".into(),
            ..NetConfig::default()
        };
        let networks = Networks::open_with_backends(
            &data,
            cfg,
            records.clone(),
            events.clone(),
            netlink.clone(),
            firewall.clone(),
        )
        .await
        .expect("networks");
        let tasks = Arc::new(FakeTasks::default());
        let processes = Arc::new(FakeProcesses::default());
        let health = Health::new(records.clone(), events.clone(), processes.clone());
        let execs = Execs::new(
            records.clone(),
            networks.clone(),
            events.clone(),
            processes.clone(),
        );
        let containers = Containers::new(ContainersDeps {
            records,
            images,
            events: events.clone(),
            networks,
            volumes,
            log: Default::default(),
            security_defaults: Default::default(),
            live_restore,
            cgroup_driver: "cgroupfs".into(),
            tasks: tasks.clone(),
            health: health.clone(),
            helpers: crate::helpers::Helpers::next_to(std::path::Path::new("/nonexistent/berth")),
        });
        let (nl, fw) = (netlink.clone(), firewall.clone());
        tasks.set_probe(Box::new(move || {
            format!(
                "veths={} ports={}",
                nl.veths().len(),
                fw.current().map_or(0, |r| r.ports.len())
            )
        }));
        Harness {
            containers,
            tasks,
            netlink,
            firewall,
            health,
            execs,
            processes,
            events,
            dir,
        }
    }

    /// `POST /containers/create` of `image` with the Docker JSON `host` as HostConfig.
    pub async fn create(
        &self,
        name: &str,
        image: &str,
        host: serde_json::Value,
    ) -> crate::error::Result<String> {
        let config = json!({"Image": image, "Cmd": ["sleep", "1000"]});
        self.create_with(name, config, host).await
    }

    /// `POST /containers/create` with the Docker JSON `config` and `host` (HostConfig).
    pub async fn create_with(
        &self,
        name: &str,
        config: serde_json::Value,
        host: serde_json::Value,
    ) -> crate::error::Result<String> {
        let body = ContainerCreateRequest {
            config: serde_json::from_value(config).expect("config"),
            host_config: Some(serde_json::from_value(host).expect("host config")),
            networking_config: None,
        };
        let opts = ContainerCreateOptions {
            name: Some(name.into()),
            platform: None,
        };
        Ok(self.containers.create(opts, body).await?.id)
    }

    /// The record's state.
    pub fn state(&self, id: &str) -> ContainerState {
        self.containers.get(id).expect("record").state
    }

    /// Published ports in the firewall's ruleset.
    pub fn port_rules(&self) -> usize {
        self.firewall.current().map_or(0, |r| r.ports.len())
    }

    /// Container snapshots (active layers) on disk.
    pub fn snapshots(&self) -> usize {
        let images = self.containers.images.images();
        images.snapshots.actives().map(|l| l.len()).unwrap_or(0)
    }

    /// Volumes on disk.
    pub fn volumes(&self) -> usize {
        let list = self
            .containers
            .volumes
            .list(&Default::default())
            .expect("volume list");
        list.volumes.len()
    }
}

fn missing_layer() -> serde_json::Value {
    let d = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    json!({"digest": d, "media_type": "application/vnd.oci.image.layer.v1.tar",
           "size": 1, "diff_id": d, "chain_id": d, "uncompressed_size": 1})
}

fn put_image(images: &ImageService, id: &str, layers: &[serde_json::Value]) {
    let record = json!({
        "id": id,
        "manifest_digest": id,
        "manifest_media_type": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "architecture": "amd64", "os": "linux",
            "config": {"Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": []}
        },
        "layers": layers,
    });
    let record = serde_json::from_value(record).expect("image record");
    images.images().store.put(&record).expect("put image");
}

/// Polls `f` every 2 ms until it holds; panics after 5 s naming `what`.
pub async fn until(what: &str, f: impl Fn() -> bool) {
    for _ in 0..2500 {
        if f() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    panic!("timed out waiting for {what}");
}
