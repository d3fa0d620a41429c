//! Pull from a real local registry (Debian's docker-registry) into a runnable state.
#![cfg(test)]

mod common;

use std::fs;
use std::io::Write;
use std::process::Command;
use std::sync::{Arc, Mutex};

use berth_content::media_types as mt;
use berth_image::oci_layout::OciLayoutWriter;
use berth_image::{pull, ContainerConfig, ImageConfig, Images, LayerStatus, PullOptions, RootFs};
use berth_registry::{Client, Reference, RegistryConfig};
use berth_testkit::{require_program, require_root, TempDir};

fn layer_tar(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, name, data.as_bytes()).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Pushes a 3-layer image (one layer whiting out a file) with skopeo.
fn push_image(tmp: &std::path::Path, registry: &str, name: &str) {
    let layout = tmp.join("layout");
    let mut w = OciLayoutWriter::create(&layout).unwrap();
    let layers = [
        layer_tar(&[
            ("bin/app", "#!/bin/sh\n"),
            ("etc/old", "x"),
            ("etc/conf", "1"),
        ]),
        layer_tar(&[("etc/conf", "2"), ("etc/.wh.old", "")]),
        layer_tar(&[("srv/data", "data")]),
    ];
    let descs = layers
        .iter()
        .map(|l| w.add_blob(mt::OCI_LAYER_GZIP, &gzip(l)).unwrap())
        .collect();
    let config = ImageConfig {
        architecture: "amd64".into(),
        os: "linux".into(),
        config: Some(ContainerConfig {
            entrypoint: Some(vec!["/bin/app".into()]),
            working_dir: Some("/srv".into()),
            ..ContainerConfig::default()
        }),
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: layers
                .iter()
                .map(|l| berth_content::Digest::of(l))
                .collect(),
        },
        ..ImageConfig::default()
    };
    w.add_image(&config, descs, "v1").unwrap();
    w.finish().unwrap();
    let out = Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:v1", layout.display()))
        .arg(format!("docker://{registry}/{name}:v1"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_pull_from_local_registry_mounts_and_runs_files() {
    require_root!();
    require_program!("docker-registry");
    require_program!("skopeo");
    let tmp = TempDir::new("pull");
    let registry = common::LocalRegistry::start(tmp.path());
    push_image(tmp.path(), &registry.addr, "test/app");

    let images = Arc::new(Images::open(tmp.path().join("root")).unwrap());
    let client = Client::new(RegistryConfig {
        insecure_registries: vec![registry.addr.clone()],
        ..RegistryConfig::default()
    })
    .unwrap();
    let reference = Reference::parse(&format!("{}/test/app:v1", registry.addr)).unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let progress: berth_image::PullProgress =
        Arc::new(move |e: &berth_image::PullEvent| sink.lock().unwrap().push(e.clone()));
    let result = pull(
        &images,
        &client,
        &reference,
        &PullOptions::default(),
        Some(progress),
    )
    .await
    .unwrap();
    assert!(result.downloaded);
    let rec = &result.record;
    assert_eq!(rec.layers.len(), 3);
    assert_eq!(
        images
            .store
            .resolve(&format!("{}/test/app:v1", registry.addr))
            .unwrap(),
        rec.id
    );
    assert_eq!(
        rec.repo_digests,
        [format!("{}/test/app@{}", registry.addr, result.digest)]
    );
    let complete = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.status == LayerStatus::PullComplete)
        .count();
    assert_eq!(complete, 3);

    // Runnable: an overlay mount of a container snapshot shows the merged files.
    let key = berth_testkit::unique_name("ctr");
    let m = images
        .snapshots
        .prepare(&key, Some(rec.top_chain_id().unwrap().as_str()))
        .unwrap();
    let rootfs = tmp.path().join("rootfs");
    fs::create_dir(&rootfs).unwrap();
    {
        let _mounted = m.mount_at(&rootfs).unwrap();
        assert!(rootfs.join("bin/app").is_file());
        assert_eq!(fs::read_to_string(rootfs.join("etc/conf")).unwrap(), "2");
        assert!(!rootfs.join("etc/old").exists(), "whiteout hides the file");
        assert_eq!(fs::read_to_string(rootfs.join("srv/data")).unwrap(), "data");
    }
    images.snapshots.remove(&key).unwrap();

    // A second pull finds everything in place.
    let events2 = Arc::new(Mutex::new(Vec::new()));
    let sink = events2.clone();
    let progress: berth_image::PullProgress =
        Arc::new(move |e: &berth_image::PullEvent| sink.lock().unwrap().push(e.status.clone()));
    let again = pull(
        &images,
        &client,
        &reference,
        &PullOptions::default(),
        Some(progress),
    )
    .await
    .unwrap();
    assert!(!again.downloaded);
    assert_eq!(again.record.id, rec.id);
    assert!(events2
        .lock()
        .unwrap()
        .iter()
        .all(|s| *s == LayerStatus::AlreadyExists));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_failed_pull_leaves_no_image_record() {
    require_root!();
    require_program!("docker-registry");
    require_program!("skopeo");
    let tmp = TempDir::new("pullbad");
    let registry = common::LocalRegistry::start(tmp.path());
    push_image(tmp.path(), &registry.addr, "test/app");
    // Corrupt one layer blob inside the registry's storage: the download must fail
    // verification and no image may be recorded.
    let blobs = tmp.path().join("storage/docker/registry/v2/blobs/sha256");
    let mut corrupted = false;
    for prefix in fs::read_dir(&blobs).unwrap() {
        for blob in fs::read_dir(prefix.unwrap().path()).unwrap() {
            let data = blob.unwrap().path().join("data");
            let bytes = fs::read(&data).unwrap();
            if bytes.starts_with(&[0x1f, 0x8b]) && !corrupted {
                let mut bad = bytes.clone();
                let mid = bad.len() / 2;
                bad[mid] ^= 0xff;
                fs::write(&data, bad).unwrap();
                corrupted = true;
            }
        }
    }
    assert!(corrupted);
    let images = Arc::new(Images::open(tmp.path().join("root")).unwrap());
    let client = Client::new(RegistryConfig {
        insecure_registries: vec![registry.addr.clone()],
        max_attempts: 1,
        ..RegistryConfig::default()
    })
    .unwrap();
    let reference = Reference::parse(&format!("{}/test/app:v1", registry.addr)).unwrap();
    let err = pull(&images, &client, &reference, &PullOptions::default(), None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("digest") || err.to_string().contains("mismatch"),
        "{err}"
    );
    assert!(images.store.list().unwrap().is_empty());
    assert!(images.store.references().unwrap().is_empty());
}
