//! `network ls`, `network inspect` (with the containers attached) and `network rm`
//! (refused while containers are attached).

use crate::error::{EngineError, Result};
use berth_api_types::{Filters, Network};
use berth_network::Endpoint;

use super::super::{network_container, NetworkRecord, Networks};
use super::*;

impl Networks {
    /// `GET /networks`.
    pub async fn network_list(&self, filters: &Filters) -> Result<Vec<Network>> {
        let net = self;
        let used = net.in_use().await;
        let mut out = Vec::new();
        for rec in net.records() {
            if net.matches(&rec, filters, &used)? {
                out.push(self.network_view(&rec).await);
            }
        }
        Ok(out)
    }

    async fn network_view(&self, rec: &NetworkRecord) -> Network {
        let net = self;
        let mut n = net.to_api(rec).await;
        for ep in net.all_attached() {
            if ep.network_id != rec.id {
                continue;
            }
            let name = self
                .containers
                .get(&ep.container_id)
                .map(|c| c.name)
                .unwrap_or_default();
            n.containers
                .insert(ep.container_id.clone(), network_container(&name, &ep));
        }
        n
    }

    /// `GET /networks/{id}`.
    pub async fn network_inspect(&self, reference: &str) -> Result<Network> {
        let rec = self.resolve(reference)?;
        Ok(self.network_view(&rec).await)
    }

    /// `DELETE /networks/{id}`: refused while running containers use it.
    pub async fn network_remove(&self, reference: &str) -> Result<()> {
        let net = self;
        let rec = net.resolve(reference)?;
        let users: Vec<Endpoint> = net
            .all_attached()
            .into_iter()
            .filter(|e| e.network_id == rec.id)
            .collect();
        if !users.is_empty() && !super::super::PREDEFINED.contains(&rec.name.as_str()) {
            let list: Vec<String> = users
                .iter()
                .map(|e| {
                    let name = self
                        .containers
                        .get(&e.container_id)
                        .map(|c| c.name.trim_start_matches('/').to_string())
                        .unwrap_or_default();
                    format!("name:{name:?} id:{:?}", short(&e.container_id))
                })
                .collect();
            return Err(EngineError::forbidden(format!(
                "error while removing network: network {} id {} has active endpoints ({})",
                rec.name,
                rec.id,
                list.join(", ")
            )));
        }
        net.remove(&rec).await
    }
}
