//! docker save/load archives, skopeo-written tars, import and export.
#![cfg(test)]

use std::fs;
use std::io::Write;
use std::process::Command;

use berth_content::media_types as mt;
use berth_image::archive::{export, import, load, save, ImportOptions};
use berth_image::oci_layout::OciLayoutWriter;
use berth_image::{ContainerConfig, ImageConfig, Images, RootFs};
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

/// A two-layer image as an OCI layout dir, tagged `tag`.
fn make_layout(dir: &std::path::Path, tag: &str) -> ImageConfig {
    let mut w = OciLayoutWriter::create(dir).unwrap();
    let l1 = layer_tar(&[("bin/hello", "#!/bin/sh\necho hi\n"), ("etc/os", "one")]);
    let l2 = layer_tar(&[("etc/os", "two"), ("app/data", "payload")]);
    let d1 = w.add_blob(mt::OCI_LAYER_GZIP, &gzip(&l1)).unwrap();
    let d2 = w.add_blob(mt::OCI_LAYER_GZIP, &gzip(&l2)).unwrap();
    let config = ImageConfig {
        architecture: "amd64".into(),
        os: "linux".into(),
        config: Some(ContainerConfig {
            cmd: Some(vec!["/bin/hello".into()]),
            env: Some(vec!["PATH=/bin".into()]),
            ..ContainerConfig::default()
        }),
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: vec![
                berth_content::Digest::of(&l1),
                berth_content::Digest::of(&l2),
            ],
        },
        ..ImageConfig::default()
    };
    w.add_image(&config, vec![d1, d2], tag).unwrap();
    w.finish().unwrap();
    config
}

fn check_image(images: &Images, id: &berth_content::Digest) {
    let rec = images.store.get(id).unwrap();
    assert_eq!(rec.layers.len(), 2);
    let cfg = rec.config.config.as_ref().unwrap();
    assert_eq!(cfg.cmd.as_deref(), Some(&["/bin/hello".to_string()][..]));
    let top = images
        .snapshots
        .layer(rec.top_chain_id().unwrap().as_str())
        .unwrap();
    assert_eq!(fs::read_to_string(top.path.join("etc/os")).unwrap(), "two");
    let chain = images.snapshots.chain(&top.id).unwrap();
    assert_eq!(chain.len(), 2);
    assert!(chain[1].path.join("bin/hello").is_file());
}

#[test]
fn loads_a_skopeo_docker_archive_and_round_trips_save_load() {
    require_root!();
    require_program!("skopeo");
    let tmp = TempDir::new("arch");
    let layout = tmp.path().join("layout");
    make_layout(&layout, "v1");
    let tarball = tmp.path().join("img.tar");
    let out = Command::new("skopeo")
        .arg("copy")
        .arg(format!("oci:{}:v1", layout.display()))
        .arg(format!("docker-archive:{}:demo/app:v1", tarball.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let images = Images::open(tmp.path().join("root1")).unwrap();
    let loaded = load(&images, fs::File::open(&tarball).unwrap()).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].names, ["docker.io/demo/app:v1"]);
    assert_eq!(
        images.store.resolve("docker.io/demo/app:v1").unwrap(),
        loaded[0].id
    );
    check_image(&images, &loaded[0].id);

    // save → load into a fresh root: same image id, same files.
    let saved = tmp.path().join("saved.tar");
    save(
        &images,
        &["demo/app:v1".to_string()],
        fs::File::create(&saved).unwrap(),
    )
    .unwrap();
    let mut names = Vec::new();
    for e in tar::Archive::new(fs::File::open(&saved).unwrap())
        .entries()
        .unwrap()
    {
        names.push(e.unwrap().path().unwrap().display().to_string());
    }
    for want in ["index.json", "manifest.json", "oci-layout", "repositories"] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing in {names:?}"
        );
    }
    let images2 = Images::open(tmp.path().join("root2")).unwrap();
    let again = load(&images2, fs::File::open(&saved).unwrap()).unwrap();
    assert_eq!(again[0].id, loaded[0].id);
    assert_eq!(again[0].names, ["docker.io/demo/app:v1"]);
    check_image(&images2, &again[0].id);

    // skopeo reads our save output too (as an OCI archive of the index).
    let out = Command::new("skopeo")
        .arg("inspect")
        .arg(format!("docker-archive:{}", saved.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo inspect: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn loads_an_oci_layout_tar() {
    require_root!();
    let tmp = TempDir::new("arch");
    let layout = tmp.path().join("layout");
    make_layout(&layout, "v2");
    // tar up the layout dir (OCI layout tar, no manifest.json)
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all(".", &layout).unwrap();
    let bytes = b.into_inner().unwrap();
    let images = Images::open(tmp.path().join("root")).unwrap();
    let loaded = load(&images, &bytes[..]).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].names, ["docker.io/library/v2:latest"]);
    check_image(&images, &loaded[0].id);
}

#[test]
fn refuses_archive_with_bad_blob() {
    require_root!();
    let tmp = TempDir::new("arch");
    let layout = tmp.path().join("layout");
    make_layout(&layout, "v1");
    // corrupt one blob: its name no longer matches its digest
    let blob = fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    fs::write(&blob, b"tampered").unwrap();
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all(".", &layout).unwrap();
    let images = Images::open(tmp.path().join("root")).unwrap();
    let err = load(&images, &b.into_inner().unwrap()[..]).unwrap_err();
    assert!(err.to_string().contains("mismatch"), "{err}");
    assert!(images.store.list().unwrap().is_empty());
}

/// A refused load leaves the content store as it was, and a good one keeps only what its
/// image uses (not the archive's `index.json`, `oci-layout`, …).
#[test]
fn refused_loads_leave_no_blob_behind() {
    require_root!();
    let tmp = TempDir::new("arch");
    let layout = tmp.path().join("layout");
    make_layout(&layout, "v3");
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all(".", &layout).unwrap();
    let good = b.into_inner().unwrap();
    let images = Images::open(tmp.path().join("root")).unwrap();
    let blobs = || images.content.list().unwrap().len();

    // Truncated in the middle: some blobs were written before the tar ran out.
    let truncated = &good[..good.len() * 3 / 5];
    assert!(load(&images, truncated).is_err());
    assert_eq!(blobs(), 0, "a truncated archive leaves no blob");

    // Complete files, but manifest.json names a config the archive does not have.
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("layer.tar", layer_tar(&[("a", "b")])),
        (
            "manifest.json",
            br#"[{"Config":"missing.json","RepoTags":["x:1"],"Layers":["layer.tar"]}]"#.to_vec(),
        ),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    let err = load(&images, &b.into_inner().unwrap()[..]).unwrap_err();
    assert!(err.to_string().contains("missing.json"), "{err}");
    assert_eq!(blobs(), 0, "an invalid archive leaves no blob");
    assert!(images.store.list().unwrap().is_empty());

    // A good load keeps its image's blobs only: config, manifest and two layers.
    let loaded = load(&images, &good[..]).unwrap();
    check_image(&images, &loaded[0].id);
    assert_eq!(blobs(), 4);
    // Refused again with the image stored: its blobs stay, nothing is added.
    assert!(load(&images, truncated).is_err());
    assert_eq!(blobs(), 4);
    check_image(&images, &loaded[0].id);
}

#[test]
fn imports_a_rootfs_and_exports_it_back() {
    require_root!();
    let tmp = TempDir::new("imp");
    let images = Images::open(tmp.path().join("root")).unwrap();
    let tar = layer_tar(&[("bin/tool", "t"), ("etc/conf", "c")]);
    let rec = import(&images, &gzip(&tar)[..], &ImportOptions::default()).unwrap();
    assert_eq!(rec.layers.len(), 1);
    assert_eq!(rec.layers[0].diff_id, berth_content::Digest::of(&tar));
    assert_eq!(rec.layers[0].media_type, mt::OCI_LAYER_GZIP);
    assert_eq!(
        rec.config.history[0].comment.as_deref(),
        Some("Imported from -")
    );
    let layer = images
        .snapshots
        .layer(rec.layers[0].chain_id.as_str())
        .unwrap();
    let mut out = Vec::new();
    export(&layer.path, &mut out).unwrap();
    let mut names = Vec::new();
    for e in tar::Archive::new(&out[..]).entries().unwrap() {
        names.push(e.unwrap().path().unwrap().display().to_string());
    }
    assert!(names.contains(&"bin/tool".to_string()) && names.contains(&"etc/conf".to_string()));
}
