//! SIGHUP: the daemon.json keys that can change at run time.

use berth_api_types::*;

use super::Berth;

impl Berth {
    /// SIGHUP: re-reads daemon.json and applies its reloadable keys (`debug`,
    /// `insecure-registries`, `registry-mirrors`; flags still win as at start). A file that
    /// does not parse changes nothing. Publishes a `daemon reload` event on success.
    pub fn reload(&self) {
        let mut cfg = self.cfg.write().unwrap_or_else(|e| e.into_inner());
        let fresh = match super::super::config::resolve(&cfg.flags) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("berth daemon: Error reloading configuration: {e}");
                return;
            }
        };
        cfg.debug = fresh.debug;
        cfg.registry_mirrors = fresh.registry_mirrors;
        cfg.insecure_registries = fresh.insecure_registries;
        self.images.set_registries(
            cfg.insecure_registries.clone(),
            cfg.registry_mirrors.clone(),
        );
        let reloaded = serde_json::json!({
            "debug": cfg.debug,
            "insecure-registries": cfg.insecure_registries,
            "registry-mirrors": cfg.registry_mirrors,
        });
        eprintln!("berth daemon: Reloaded configuration: {reloaded}");
        let mut attributes = std::collections::BTreeMap::new();
        attributes.insert("debug".to_string(), cfg.debug.to_string());
        attributes.insert(
            "insecure-registries".to_string(),
            serde_json::to_string(&cfg.insecure_registries).unwrap_or_default(),
        );
        attributes.insert(
            "registry-mirrors".to_string(),
            serde_json::to_string(&cfg.registry_mirrors).unwrap_or_default(),
        );
        // Published under the lock: whoever sees the new settings can see the event.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        self.events.publish(EventMessage {
            kind: "daemon".into(),
            action: "reload".into(),
            actor: EventActor {
                id: "berth".into(),
                attributes,
            },
            scope: "local".into(),
            time: now.as_secs() as i64,
            time_nano: now.as_nanos() as i64,
            ..Default::default()
        });
    }
}
