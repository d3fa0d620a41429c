use berth_api_types::{
    ContainerConfig, EndpointSettings, HealthConfig, HostConfig, Mount, NetworkingConfig,
    VolumeOptions,
};

use super::*;

fn v(minor: u16) -> ApiVersion {
    ApiVersion::new(1, minor)
}

#[test]
fn image_inspect_has_container_config_below_1_45_and_virtual_size_below_1_44() {
    let i = ImageInspect {
        size: 42,
        container: Some("abc".into()),
        container_config: Some(ContainerConfig::default()),
        ..Default::default()
    };
    let old = serde_json::to_value(image_inspect(i.clone(), v(41))).unwrap();
    assert_eq!(old["VirtualSize"], 42);
    assert_eq!(old["Container"], "abc");
    assert!(old["ContainerConfig"].is_object());
    assert_eq!(old["ContainerConfig"]["Volumes"], serde_json::Value::Null);
    assert_eq!(old["Created"], "0001-01-01T00:00:00Z");
    let at44 = serde_json::to_value(image_inspect(i.clone(), v(44))).unwrap();
    assert!(at44.get("VirtualSize").is_none());
    assert!(at44.get("ContainerConfig").is_some());
    assert!(at44.get("Created").is_none());
    let new = serde_json::to_value(image_inspect(i, v(47))).unwrap();
    assert!(new.get("ContainerConfig").is_none() && new.get("Container").is_none());
    // An engine that does not know the fields still gives old clients both.
    let bare = image_inspect(ImageInspect::default(), v(44));
    assert_eq!(bare.container.as_deref(), Some(""));
    assert!(bare.container_config.is_some());
}

#[test]
fn image_list_none_tags_below_1_43() {
    let list = vec![ImageSummary {
        size: 7,
        ..Default::default()
    }];
    let old = image_list(list.clone(), v(41));
    assert_eq!(old[0].repo_tags, ["<none>:<none>"]);
    assert_eq!(old[0].repo_digests, ["<none>@<none>"]);
    assert_eq!(old[0].virtual_size, Some(7));
    let new = image_list(list, v(47));
    assert!(new[0].repo_tags.is_empty());
    assert_eq!(new[0].virtual_size, None);
}

#[test]
fn aliases_list_short_id_and_hostname_below_1_45_on_user_networks() {
    let mut c = ContainerInspect {
        id: "0123456789abcdef".repeat(4),
        ..Default::default()
    };
    c.config.hostname = "0123456789ab".into();
    for net in ["bridge", "proj_default"] {
        c.network_settings.networks.insert(
            net.into(),
            EndpointSettings {
                aliases: Some(vec!["web".into()]),
                ..Default::default()
            },
        );
    }
    let old = container_inspect(c.clone(), v(44));
    assert_eq!(
        old.network_settings.networks["proj_default"].aliases,
        Some(vec!["web".into(), "0123456789ab".into()])
    );
    assert_eq!(
        old.network_settings.networks["bridge"].aliases,
        Some(vec!["web".into()])
    );
    let new = container_inspect(c, v(45));
    assert_eq!(
        new.network_settings.networks["proj_default"].aliases,
        Some(vec!["web".into()])
    );
}

fn create_with(mount: Mount) -> ContainerCreateRequest {
    ContainerCreateRequest {
        host_config: Some(HostConfig {
            mounts: Some(vec![mount]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn create_gates() {
    let sub = Mount {
        kind: "volume".into(),
        source: "v".into(),
        target: "/v".into(),
        volume_options: Some(VolumeOptions {
            subpath: "a/b".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let e = container_create(&mut create_with(sub.clone()), v(44)).unwrap_err();
    assert_eq!(e.message, "VolumeOptions.Subpath needs API v1.45 or newer");
    container_create(&mut create_with(sub), v(45)).unwrap();

    let wrong = Mount {
        kind: "bind".into(),
        source: "/a".into(),
        target: "/b".into(),
        tmpfs_options: Some(Default::default()),
        ..Default::default()
    };
    let e = container_create(&mut create_with(wrong.clone()), v(47)).unwrap_err();
    assert_eq!(
        e.message,
        "TmpfsOptions must not be specified on mount type \"bind\""
    );
    let mut old = create_with(wrong);
    container_create(&mut old, v(41)).unwrap();
    assert!(old.host_config.unwrap().mounts.unwrap()[0]
        .tmpfs_options
        .is_none());

    let mut two = ContainerCreateRequest {
        networking_config: Some(NetworkingConfig {
            endpoints_config: [("a", ()), ("b", ())]
                .into_iter()
                .map(|(k, _)| (k.to_string(), EndpointSettings::default()))
                .collect(),
        }),
        ..Default::default()
    };
    two.config.healthcheck = Some(HealthConfig {
        start_interval: 5,
        ..Default::default()
    });
    let e = container_create(&mut two.clone(), v(43)).unwrap_err();
    assert_eq!(
        e.message,
        "Container cannot be created with multiple network endpoints: a, b"
    );
    container_create(&mut two, v(44)).unwrap();
    assert_eq!(two.config.healthcheck.unwrap().start_interval, 5);
}
