//! Volume store tests on a real directory tree (mount and ownership tests need root).
#![cfg(test)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use berth_testkit::{require_root, TempDir};
use berth_volume::{
    is_anonymous_name, mountopts, Labels, VolumeError, VolumeFilter, VolumeInfo, VolumeStore,
};

fn labels(kv: &[(&str, &str)]) -> Labels {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn names(v: Vec<VolumeInfo>) -> Vec<String> {
    v.into_iter().map(|v| v.name).collect()
}

fn with(f: impl FnOnce(&mut VolumeFilter)) -> VolumeFilter {
    let mut filter = VolumeFilter::default();
    f(&mut filter);
    filter
}

#[test]
fn lifecycle_filters_in_use_and_restart() {
    let root = TempDir::new("vol");
    let store = VolumeStore::open(root.path()).unwrap();
    let v = store
        .create(
            Some("data1"),
            "local",
            labels(&[("app", "web")]),
            Labels::new(),
        )
        .unwrap();
    assert_eq!(v.mountpoint, root.path().join("volumes/data1/_data"));
    assert!(v.created_unix > 0 && !v.anonymous);
    // Creating again returns the same volume.
    assert_eq!(
        store
            .create(Some("data1"), "", Labels::new(), Labels::new())
            .unwrap()
            .created_unix,
        v.created_unix
    );
    let anon = store
        .create(None, "local", Labels::new(), Labels::new())
        .unwrap();
    assert!(is_anonymous_name(&anon.name));
    assert!(store.is_anonymous(&anon.name).unwrap());
    store
        .create(
            Some("other"),
            "local",
            labels(&[("app", "db")]),
            Labels::new(),
        )
        .unwrap();

    assert_eq!(
        names(
            store
                .list(&with(|f| f.names = vec!["data".into()]))
                .unwrap()
        ),
        vec!["data1"]
    );
    assert_eq!(
        names(
            store
                .list(&with(|f| f.labels = vec!["app=db".into()]))
                .unwrap()
        ),
        vec!["other"]
    );
    assert_eq!(
        store
            .list(&with(|f| f.labels = vec!["app".into()]))
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store
            .list(&with(|f| f.drivers = vec!["local".into()]))
            .unwrap()
            .len(),
        3
    );
    assert!(store
        .list(&with(|f| f.drivers = vec!["nfs".into()]))
        .unwrap()
        .is_empty());

    // In use: refused with Docker's message, dangling filter sees it.
    let path = store.acquire("data1", "c1").unwrap();
    std::fs::write(path.join("f"), "persist").unwrap();
    assert_eq!(
        store
            .usage()
            .unwrap()
            .iter()
            .find(|u| u.volume.name == "data1")
            .unwrap()
            .ref_count,
        1
    );
    let e = store.remove("data1", false).unwrap_err();
    assert_eq!(e.to_string(), "remove data1: volume is in use - [c1]");
    assert_eq!(
        names(store.list(&with(|f| f.dangling = Some(false))).unwrap()),
        vec!["data1"]
    );
    assert_eq!(
        store
            .list(&with(|f| f.dangling = Some(true)))
            .unwrap()
            .len(),
        2
    );
    store.release("data1", "c1").unwrap();

    // Restart: data and metadata survive.
    drop(store);
    let store = VolumeStore::open(root.path()).unwrap();
    assert_eq!(
        std::fs::read_to_string(store.data_path("data1").join("f")).unwrap(),
        "persist"
    );
    assert_eq!(
        store.inspect("data1").unwrap().labels,
        labels(&[("app", "web")])
    );

    // Prune: anonymous only by default, named with all=true; in-use never.
    store.acquire("other", "c2").unwrap();
    let p = store.prune(&VolumeFilter::default()).unwrap();
    assert_eq!(p.deleted, vec![anon.name.clone()]);
    let p = store.prune(&with(|f| f.all = true)).unwrap();
    assert_eq!(p.deleted, vec!["data1".to_string()]);
    assert!(p.reclaimed >= 7);
    assert_eq!(
        names(store.list(&VolumeFilter::default()).unwrap()),
        vec!["other"]
    );
    store.release("other", "c2").unwrap();
    store.remove("other", false).unwrap();
    assert!(matches!(
        store.inspect("other"),
        Err(VolumeError::NotFound(_))
    ));
    assert_eq!(
        store.remove("other", false).unwrap_err().to_string(),
        "get other: no such volume"
    );
    store.remove("other", true).unwrap();
    assert_eq!(
        std::fs::read_dir(root.path().join("volumes"))
            .unwrap()
            .count(),
        0,
        "nothing left"
    );
}

#[test]
fn bad_input_leaves_nothing() {
    let root = TempDir::new("vol");
    let store = VolumeStore::open(root.path()).unwrap();
    let e = store
        .create(Some("bad/name"), "local", Labels::new(), Labels::new())
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("includes invalid characters for a local volume name"),
        "{e}"
    );
    assert!(matches!(e, VolumeError::InvalidArgument(_)));
    let e = store
        .create(Some("v"), "nfsplugin", Labels::new(), Labels::new())
        .unwrap_err();
    assert!(
        e.to_string().contains("plugin \"nfsplugin\" not found"),
        "{e}"
    );
    let e = store
        .create(
            Some("vv"),
            "local",
            Labels::new(),
            labels(&[("type", "tmpfs")]),
        )
        .unwrap_err();
    assert_eq!(e.to_string(), "missing required option: \"device\"");
    assert_eq!(
        std::fs::read_dir(root.path().join("volumes"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn copy_up_preserves_ownership_modes_and_links() {
    require_root!();
    let root = TempDir::new("vol");
    let img = TempDir::new("img");
    let src = img.path().join("app");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("sub/conf"), "x=1").unwrap();
    std::os::unix::fs::chown(src.join("sub/conf"), Some(1234), Some(5678)).unwrap();
    std::fs::set_permissions(src.join("sub/conf"), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink("sub/conf", src.join("link")).unwrap();
    std::os::unix::fs::chown(&src, Some(42), Some(43)).unwrap();
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o750)).unwrap();

    let store = VolumeStore::open(root.path()).unwrap();
    store
        .create(Some("cv"), "local", Labels::new(), Labels::new())
        .unwrap();
    let data = store.acquire("cv", "c1").unwrap();
    assert!(store.copy_up("cv", &src).unwrap());
    let m = std::fs::metadata(data.join("sub/conf")).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (1234, 5678, 0o640));
    assert_eq!(
        std::fs::read_to_string(data.join("sub/conf")).unwrap(),
        "x=1"
    );
    assert_eq!(
        std::fs::read_link(data.join("link")).unwrap().to_str(),
        Some("sub/conf")
    );
    let r = std::fs::metadata(&data).unwrap();
    assert_eq!(
        (r.uid(), r.gid(), r.mode() & 0o7777),
        (42, 43, 0o750),
        "volume root takes the image dir's owner/mode"
    );
    // Not empty any more: a second copy does nothing.
    std::fs::write(src.join("new"), "y").unwrap();
    assert!(!store.copy_up("cv", &src).unwrap());
    assert!(!data.join("new").exists());
    store.release("cv", "c1").unwrap();
}

#[test]
fn device_options_mount_on_first_use_and_unmount_on_last() {
    require_root!();
    let root = TempDir::new("vol");
    let store = VolumeStore::open(root.path()).unwrap();
    let opts = labels(&[
        ("type", "tmpfs"),
        ("device", "tmpfs"),
        ("o", "size=1m,mode=0755"),
    ]);
    store
        .create(Some("tv"), "local", Labels::new(), opts.clone())
        .unwrap();
    assert_eq!(store.inspect("tv").unwrap().options, opts);
    let data = store.data_path("tv");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            while mountopts::is_mounted(&self.0) {
                let _ = mountopts::unmount(&self.0);
            }
        }
    }
    let _guard = Unmount(data.clone());
    assert!(!mountopts::is_mounted(&data));
    store.acquire("tv", "c1").unwrap();
    store.acquire("tv", "c2").unwrap();
    assert!(mountopts::is_mounted(&data));
    std::fs::write(data.join("x"), "on tmpfs").unwrap();
    store.release("tv", "c1").unwrap();
    assert!(mountopts::is_mounted(&data), "still used by c2");
    store.release("tv", "c2").unwrap();
    assert!(
        !mountopts::is_mounted(&data),
        "unmounted with the last user"
    );
    assert!(!data.join("x").exists(), "the file lived on the tmpfs");
    store.remove("tv", false).unwrap();
}
