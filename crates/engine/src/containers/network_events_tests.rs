//! The `network` events over the fakes (no root): `create` and `destroy` of a network,
//! `connect` when a container starts (the default bridge and the host's network too) and
//! on `network connect`, `disconnect` on `network disconnect` and when it stops, `prune`.

use berth_api_types::{
    EventMessage, Filters, NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest,
};
use serde_json::json;
use tokio::sync::broadcast;

use super::test_harness::{Harness, IMAGE};

/// The network events so far, as `action name type container` (`-`: no container), each
/// checked to name its network by id.
fn network_events(h: &Harness, rx: &mut broadcast::Receiver<EventMessage>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        if ev.kind != "network" {
            continue;
        }
        let attr = |k: &str| ev.actor.attributes.get(k).cloned();
        let name = attr("name").unwrap_or_default();
        if ev.action != "prune" {
            let net = h.containers.networks.resolve(&name).ok();
            let id = net.map_or_else(|| ev.actor.id.clone(), |n| n.id);
            assert_eq!(ev.actor.id, id, "{ev:?}");
            assert_eq!(ev.actor.id.len(), 64, "{ev:?}");
        }
        assert_eq!(ev.scope, "local");
        assert!(ev.status.is_none() && ev.id.is_none(), "{ev:?}");
        let container = attr("container").map_or("-".to_string(), |c| c[..12].to_string());
        let kind = attr("type").unwrap_or_else(|| "-".into());
        out.push(format!("{} {name} {kind} {container}", ev.action));
    }
    out
}

#[tokio::test]
async fn a_containers_life_on_its_networks_sends_docker_s_network_events() {
    let h = Harness::new().await;
    let (_, mut rx) = h.containers.events.subscribe(None);
    h.containers
        .networks
        .create(NetworkCreateRequest {
            name: "backend".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let id = h.create("web", IMAGE, json!({})).await.unwrap();
    let c = &id[..12];
    h.containers.start("web").await.unwrap();
    // The fakes have no netns for the embedded DNS of a user network: the running
    // container leaves and joins the default bridge (the end-to-end test does the rest).
    let disconnect = || NetworkDisconnectRequest {
        container: "web".into(),
        force: false,
    };
    h.containers
        .network_disconnect("bridge", disconnect())
        .await
        .unwrap();
    h.containers
        .network_connect(
            "bridge",
            NetworkConnectRequest {
                container: "web".into(),
                endpoint_config: None,
            },
        )
        .await
        .unwrap();
    h.containers.stop("web", None, None).await.unwrap();
    assert_eq!(
        network_events(&h, &mut rx),
        [
            "create backend bridge -".to_string(),
            format!("connect bridge bridge {c}"),
            format!("disconnect bridge bridge {c}"),
            format!("connect bridge bridge {c}"),
            format!("disconnect bridge bridge {c}"),
        ]
    );
    // A stopped container joins and leaves without events (nothing is attached).
    h.containers
        .network_disconnect("bridge", disconnect())
        .await
        .unwrap();
    h.containers.remove("web", false, false).await.unwrap();
    assert!(network_events(&h, &mut rx).is_empty());

    h.containers
        .networks
        .network_remove("backend")
        .await
        .unwrap();
    for name in ["spare", "kept"] {
        h.containers
            .networks
            .create(NetworkCreateRequest {
                name: name.into(),
                labels: Some([("keep".to_string(), "no".to_string())].into()),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let filters = Filters([("label!".to_string(), vec!["keep=yes".to_string()])].into());
    h.containers.networks.prune(&filters).await.unwrap();
    let mut seen = network_events(&h, &mut rx);
    seen[3..5].sort();
    assert_eq!(
        seen,
        [
            "destroy backend bridge -",
            "create spare bridge -",
            "create kept bridge -",
            "destroy kept bridge -",
            "destroy spare bridge -",
            "prune  - -",
        ]
    );
}

#[tokio::test]
async fn host_and_none_modes_connect_to_their_networks_and_a_failed_start_leaves_them() {
    let h = Harness::new().await;
    let (_, mut rx) = h.containers.events.subscribe(None);
    let host = h
        .create("onhost", IMAGE, json!({"NetworkMode": "host"}))
        .await
        .unwrap();
    let none = h
        .create("alone", IMAGE, json!({"NetworkMode": "none"}))
        .await
        .unwrap();
    h.containers.start("onhost").await.unwrap();
    h.containers.start("alone").await.unwrap();
    h.containers.stop("onhost", None, None).await.unwrap();
    h.containers.stop("alone", None, None).await.unwrap();
    let (a, b) = (&host[..12], &none[..12]);
    assert_eq!(
        network_events(&h, &mut rx),
        [
            format!("connect host host {a}"),
            format!("connect none null {b}"),
            format!("disconnect host host {a}"),
            format!("disconnect none null {b}"),
        ]
    );
    // A start that fails after the networks were connected leaves them again.
    h.tasks.fail_start("exec format error");
    h.containers.start("onhost").await.unwrap_err();
    assert_eq!(
        network_events(&h, &mut rx),
        [
            format!("connect host host {a}"),
            format!("disconnect host host {a}"),
        ]
    );
}
