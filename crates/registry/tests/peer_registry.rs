//! Round trips against a real `docker-registry` (Debian's distribution v2) on 127.0.0.1.
#![cfg(test)]

mod common;

use std::sync::{Arc, Mutex};

use berth_content::{ContentStore, Digest};
use berth_registry::{
    Client, Credentials, ProgressFn, ProgressStatus, PushedBlob, Reference, RegistryConfig,
};
use berth_testkit::registry::{DockerRegistry, RegistryOptions, REGISTRY_BIN};
use berth_testkit::{require_program, TempDir};
use common::*;

fn stores() -> (TempDir, ContentStore, ContentStore) {
    let dir = TempDir::new("regtest");
    let a = ContentStore::open(&dir.path().join("a")).unwrap();
    let b = ContentStore::open(&dir.path().join("b")).unwrap();
    (dir, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_push_pull_round_trip() {
    require_program!(REGISTRY_BIN);
    let reg = DockerRegistry::start(&RegistryOptions::default());
    let (_dir, src, dst) = stores();
    let img = make_image(&src, "plain", 2_000_000);
    let client = Client::new(fast_config()).unwrap();
    let r = Reference::parse(&format!("{}/berth/plain:v1", reg.host())).unwrap();
    let pushed = push_image(&client, &r, &src, &img).await;
    assert_eq!(pushed, img.manifest_digest);

    // Second push: every blob already exists.
    for d in img.blobs() {
        assert_eq!(
            client.push_blob(&r, &d, &src, None, None).await.unwrap(),
            PushedBlob::Existed
        );
    }
    assert_eq!(client.tags(&r).await.unwrap(), vec!["v1".to_owned()]);
    assert!(client
        .catalog(&reg.host())
        .await
        .unwrap()
        .contains(&"berth/plain".to_owned()));

    let events: Arc<Mutex<Vec<berth_registry::Progress>>> = Arc::default();
    let ev = events.clone();
    let progress: ProgressFn = Arc::new(move |p| ev.lock().unwrap().push(p.clone()));
    let m = client.resolve(&r).await.unwrap();
    assert_eq!(m.digest, img.manifest_digest);
    assert_eq!(m.bytes, img.manifest);
    client
        .pull_blobs(&r, &img.blobs(), &dst, 2, Some(progress))
        .await
        .unwrap();
    for d in img.blobs() {
        assert_eq!(
            dst.read_blob(&d.digest).unwrap(),
            src.read_blob(&d.digest).unwrap()
        );
    }
    let events = events.lock().unwrap().clone();
    for l in &img.layers {
        assert!(events.iter().any(|e| e.digest == l.digest
            && e.status == ProgressStatus::Done
            && e.current == l.size));
        assert!(events.iter().any(|e| e.digest == l.digest
            && e.status == ProgressStatus::Transferring
            && e.current < e.total));
    }
    // By digest, too.
    let by_digest = r.with_digest(img.manifest_digest.clone());
    assert_eq!(
        client.resolve(&by_digest).await.unwrap().bytes,
        img.manifest
    );
    // Unknown tag: a clear not-found.
    let err = client
        .resolve(&r.with_tag("nope").unwrap())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_chunked_upload_and_cross_repository_mount() {
    require_program!(REGISTRY_BIN);
    let reg = DockerRegistry::start(&RegistryOptions::default());
    let (_dir, src, dst) = stores();
    let img = make_image(&src, "chunked", 200_000);
    let client = Client::new(RegistryConfig {
        upload_chunk_size: 64 * 1024,
        ..fast_config()
    })
    .unwrap();
    let a = Reference::parse(&format!("{}/berth/a:1", reg.host())).unwrap();
    let b = Reference::parse(&format!("{}/berth/b:1", reg.host())).unwrap();
    assert_eq!(
        push_image(&client, &a, &src, &img).await,
        img.manifest_digest
    );
    for d in img.blobs() {
        let how = client
            .push_blob(&b, &d, &src, Some(&a), None)
            .await
            .unwrap();
        assert_eq!(how, PushedBlob::Mounted, "{}", d.digest);
        assert_eq!(
            client.blob_exists(&b, &d.digest).await.unwrap(),
            Some(d.size)
        );
    }
    client
        .push_manifest(&b, berth_content::media_types::OCI_MANIFEST, &img.manifest)
        .await
        .unwrap();
    assert_eq!(pull_image(&client, &b, &dst).await, img.manifest_digest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_basic_auth_round_trip() {
    require_program!(REGISTRY_BIN);
    require_program!("htpasswd");
    let reg = DockerRegistry::start(&RegistryOptions {
        htpasswd: Some(("berth".into(), "s3cret".into())),
        ..Default::default()
    });
    let (_dir, src, dst) = stores();
    let img = make_image(&src, "basic", 50_000);
    let r = Reference::parse(&format!("{}/berth/basic:v1", reg.host())).unwrap();

    let anonymous = Client::new(fast_config()).unwrap();
    let err = anonymous.resolve(&r).await.unwrap_err();
    assert!(err.is_unauthorized(), "{err}");
    let err = anonymous
        .login(&reg.host(), Credentials::basic("berth", "wrong"))
        .await
        .unwrap_err();
    assert!(err.is_unauthorized(), "{err}");
    anonymous
        .login(&reg.host(), Credentials::basic("berth", "s3cret"))
        .await
        .unwrap();

    // Credentials from a docker config.json with base64 `auth`.
    let cfg_dir = TempDir::new("dockercfg");
    let cfg_path = cfg_dir.path().join("config.json");
    std::fs::write(
        &cfg_path,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"YmVydGg6czNjcmV0"}}}}}}"#,
            reg.host()
        ),
    )
    .unwrap();
    let creds = berth_registry::DockerConfig::load(&cfg_path).unwrap();
    let client = Client::with_credentials(fast_config(), Arc::new(creds)).unwrap();
    assert_eq!(
        push_image(&client, &r, &src, &img).await,
        img.manifest_digest
    );
    assert_eq!(pull_image(&client, &r, &dst).await, img.manifest_digest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_mirror_falls_back_to_origin_and_serving_mirror_is_used() {
    require_program!(REGISTRY_BIN);
    let origin = DockerRegistry::start(&RegistryOptions::default());
    let mirror = DockerRegistry::start(&RegistryOptions::default());
    let (_dir, src, dst) = stores();
    let img = make_image(&src, "mirror", 20_000);
    let plain = Client::new(fast_config()).unwrap();
    // The origin (standing in for Docker Hub) has library/mirrored:1; the mirror has
    // library/only-mirror:1.
    let on_origin = Reference::parse(&format!("{}/library/mirrored:1", origin.host())).unwrap();
    push_image(&plain, &on_origin, &src, &img).await;
    let on_mirror = Reference::parse(&format!("{}/library/only-mirror:1", mirror.host())).unwrap();
    push_image(&plain, &on_mirror, &src, &img).await;

    // A failing mirror (500s) and a dead one: the origin serves.
    let failing = StandIn::start(Arc::new(|_| Reply::new(500, &[], b"broken"))).await;
    let dead = format!("http://127.0.0.1:{}", berth_testkit::registry::free_port());
    let client = Client::new(RegistryConfig {
        mirrors: vec![failing.url(), dead],
        docker_hub_endpoint: origin.url(),
        ..fast_config()
    })
    .unwrap();
    let hub_ref = Reference::parse("mirrored:1").unwrap();
    assert_eq!(hub_ref.registry(), "docker.io");
    assert_eq!(
        pull_image(&client, &hub_ref, &dst).await,
        img.manifest_digest
    );
    assert!(!failing.requests().is_empty(), "the mirror was tried first");

    // A serving mirror is used: the origin is dead, the image only exists on the mirror.
    let dst2 = ContentStore::open(&_dir.path().join("c")).unwrap();
    let client = Client::new(RegistryConfig {
        mirrors: vec![mirror.url()],
        docker_hub_endpoint: format!("http://127.0.0.1:{}", berth_testkit::registry::free_port()),
        ..fast_config()
    })
    .unwrap();
    let only = Reference::parse("only-mirror:1").unwrap();
    assert_eq!(pull_image(&client, &only, &dst2).await, img.manifest_digest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_skopeo_interop() {
    require_program!(REGISTRY_BIN);
    require_program!("skopeo");
    let reg = DockerRegistry::start(&RegistryOptions::default());
    let (dir, src, dst) = stores();
    let img = make_image(&src, "skopeo", 30_000);
    let client = Client::new(fast_config()).unwrap();

    // berth pushes, skopeo copies out.
    let r = Reference::parse(&format!("{}/berth/out:v1", reg.host())).unwrap();
    push_image(&client, &r, &src, &img).await;
    let out = dir.path().join("skopeo-out");
    let status = std::process::Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{}/berth/out:v1", reg.host()))
        .arg(format!("dir:{}", out.display()))
        .status()
        .unwrap();
    assert!(status.success());
    let copied = std::fs::read(out.join("manifest.json")).unwrap();
    assert_eq!(Digest::of(&copied), img.manifest_digest);
    for l in &img.layers {
        let blob = std::fs::read(out.join(l.digest.hex())).unwrap();
        assert_eq!(Digest::of(&blob), l.digest);
    }

    // skopeo pushes (from an OCI layout: our content store plus an index.json), berth pulls.
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": berth_content::media_types::OCI_MANIFEST,
            "digest": img.manifest_digest,
            "size": img.manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": "v2"}
        }]
    });
    std::fs::write(src.root().join("index.json"), index.to_string()).unwrap();
    let status = std::process::Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:v2", src.root().display()))
        .arg(format!("docker://{}/skopeo/in:v2", reg.host()))
        .status()
        .unwrap();
    assert!(status.success());
    let r = Reference::parse(&format!("{}/skopeo/in:v2", reg.host())).unwrap();
    assert_eq!(pull_image(&client, &r, &dst).await, img.manifest_digest);
}
