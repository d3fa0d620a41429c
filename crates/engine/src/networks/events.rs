//! Docker's `network` events: `create` and `destroy` of a network, `connect` and
//! `disconnect` of a running container (at its start and exit too, the default bridge
//! included), `prune`. As moby's `LogNetworkEventWithAttributes`: the actor is the network
//! id with its `name` and `type` (the driver), plus `container` for connect and disconnect.

use std::collections::BTreeMap;

use berth_api_types::{EventActor, EventMessage};

use super::{NetworkRecord, Networks};
use crate::record::ContainerRecord;

/// A network a running container is connected to, as its disconnect event names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// Network id.
    pub id: String,
    /// Network name.
    pub name: String,
    /// Driver ("bridge", "host", "null").
    pub driver: String,
}

impl Joined {
    /// The network of `rec`.
    pub fn of(rec: &NetworkRecord) -> Joined {
        Joined {
            id: rec.id.clone(),
            name: rec.name.clone(),
            driver: rec.driver.clone(),
        }
    }
}

impl Networks {
    /// Publishes the `action` event of network `net`, about `container` when given.
    pub(super) fn network_event(&self, action: &str, net: &Joined, container: Option<&str>) {
        let mut attributes = BTreeMap::from([
            ("name".to_string(), net.name.clone()),
            ("type".to_string(), net.driver.clone()),
        ]);
        if let Some(c) = container {
            attributes.insert("container".into(), c.to_string());
        }
        self.events.publish(EventMessage {
            kind: "network".into(),
            action: action.into(),
            actor: EventActor {
                id: net.id.clone(),
                attributes,
            },
            ..Default::default()
        });
    }

    /// `prune` (after a `POST /networks/prune`), as moby's: no actor id, `reclaimed` 0.
    pub(super) fn prune_event(&self) {
        self.events.publish(EventMessage {
            kind: "network".into(),
            action: "prune".into(),
            actor: EventActor {
                id: String::new(),
                attributes: BTreeMap::from([("reclaimed".to_string(), "0".to_string())]),
            },
            ..Default::default()
        });
    }

    /// The networks a starting container joins, its primary first: none in `container:`
    /// mode (it has no network of its own); `host` and `none` count, as in Docker.
    pub(super) fn networks_joined(&self, rec: &ContainerRecord) -> Vec<Joined> {
        if matches!(
            berth_network::NetworkMode::parse(&rec.host_config.network_mode),
            berth_network::NetworkMode::Container(_)
        ) {
            return Vec::new();
        }
        self.endpoint_order(rec)
            .into_iter()
            .filter_map(|(key, _)| self.resolve(&key).ok())
            .map(|n| Joined::of(&n))
            .collect()
    }

    /// `connect` events of container `id` on `joined`.
    pub(super) fn connected(&self, id: &str, joined: &[Joined]) {
        for net in joined {
            self.network_event("connect", net, Some(id));
        }
    }

    /// Takes container `id` out of the live attachments; its `disconnect` events when it
    /// was attached (once however often it is called).
    pub(super) fn take_attached(&self, id: &str) -> Option<super::Attached> {
        let att = self.with_attached(|m| m.remove(id));
        for net in att.iter().flat_map(|a| a.joined.iter()) {
            self.network_event("disconnect", net, Some(id));
        }
        att
    }
}
