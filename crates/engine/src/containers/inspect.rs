//! `GET /containers/{id}/json`: inspect, with its `Mounts`.

use crate::error::Result;
use berth_api_types::*;

use super::Containers;
use crate::record::ContainerRecord;

impl Containers {
    /// `GET /containers/{id}/json`.
    pub fn inspect(&self, reference: &str) -> Result<ContainerInspect> {
        let rec = self.lookup(reference)?;
        let dir = self.data_dir(&rec.id);
        let mut config = rec.config.clone();
        if config.hostname.is_empty() {
            config.hostname = rec.id[..12].to_string();
        }
        let mut st = rec.state.clone();
        if st.status == "restarting" {
            st.restarting = true;
        }
        st.health = self.health_of(&rec.id).or(st.health);
        Ok(ContainerInspect {
            id: rec.id.clone(),
            created: rec.created.clone(),
            path: rec.path.clone(),
            args: rec.args.clone(),
            state: st,
            image: rec.image.clone(),
            resolv_conf_path: dir.join("resolv.conf").display().to_string(),
            hostname_path: dir.join("hostname").display().to_string(),
            hosts_path: dir.join("hosts").display().to_string(),
            // Docker shows the path of json-file logs only.
            log_path: if rec.host_config.log_config.kind == "json-file" {
                rec.log_path.clone()
            } else {
                String::new()
            },
            name: rec.name.clone(),
            restart_count: rec.restart_count,
            driver: "overlay2".into(),
            platform: "linux".into(),
            host_config: HostConfig {
                links: self.networks.inspect_links(&rec),
                ..rec.host_config.clone()
            },
            network_settings: self.networks.network_settings(&rec),
            mounts: self.mount_points(&rec),
            config,
            ..Default::default()
        })
    }

    /// `Mounts` of inspect and list.
    pub(super) fn mount_points(&self, rec: &ContainerRecord) -> Vec<MountPoint> {
        rec.mounts
            .iter()
            .map(|m| m.to_api(&self.volumes.store))
            .collect()
    }
}
