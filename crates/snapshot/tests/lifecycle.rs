//! Conformance-style tests of the snapshotter lifecycle (containerd's testsuite in spirit).
#![cfg(test)]

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use berth_snapshot::{ChangeKind, Error, Mount, SnapshotKind, Snapshotter};
use berth_testkit::{require_root, TempDir};

fn id(n: u64) -> String {
    format!("sha256:{n:064x}")
}

/// Commits a layer with the given files (`path`, contents) on top of `parent`.
fn layer(s: &Snapshotter, n: u64, parent: Option<u64>, files: &[(&str, &str)]) -> String {
    let pending = s.begin_layer().unwrap();
    for (path, data) in files {
        let p = pending.path().join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }
    let parent = parent.map(id);
    assert!(s
        .commit_pending(pending, &id(n), parent.as_deref())
        .unwrap());
    id(n)
}

#[test]
fn layers_are_keyed_by_chain_id_and_shared() {
    let tmp = TempDir::new("snap");
    let s = Snapshotter::open(tmp.path()).unwrap();
    let base = layer(&s, 1, None, &[("a", "1")]);
    let top = layer(&s, 2, Some(1), &[("b", "2")]);
    assert!(s.has_layer(&base) && s.has_layer(&top));
    let chain: Vec<_> = s.chain(&top).unwrap().into_iter().map(|l| l.id).collect();
    assert_eq!(chain, vec![top.clone(), base.clone()]);
    // A second commit of the same chain id (a concurrent pull) is discarded, not an error.
    let again = s.begin_layer().unwrap();
    fs::write(again.path().join("other"), "x").unwrap();
    let leftover = again.path();
    assert!(!s.commit_pending(again, &base, None).unwrap());
    assert!(
        !leftover.exists(),
        "discarded pending layer must be deleted"
    );
    assert!(!s.layer(&base).unwrap().path.join("other").exists());
    assert_eq!(s.layers().unwrap().len(), 2);
    // The base is in use by the top layer.
    assert!(matches!(s.remove_layer(&base), Err(Error::InUse(..))));
    s.remove_layer(&top).unwrap();
    s.remove_layer(&base).unwrap();
    assert!(s.layers().unwrap().is_empty());
    assert!(fs::read_dir(tmp.path().join("l")).unwrap().next().is_none());
}

#[test]
fn dropped_pending_layer_leaves_nothing() {
    let tmp = TempDir::new("snap");
    let s = Snapshotter::open(tmp.path()).unwrap();
    let p = s.begin_layer().unwrap();
    fs::write(p.path().join("f"), "x").unwrap();
    drop(p);
    assert!(fs::read_dir(tmp.path().join("tmp"))
        .unwrap()
        .next()
        .is_none());
    assert!(s.layers().unwrap().is_empty());
}

#[test]
fn prepare_view_mounts_describe_overlay_and_bind() {
    let tmp = TempDir::new("snap");
    let s = Snapshotter::open(tmp.path()).unwrap();
    let l1 = layer(&s, 1, None, &[]);
    let l2 = layer(&s, 2, Some(1), &[]);

    let m = s.prepare("c1", Some(&l2)).unwrap();
    assert_eq!(m.kind, "overlay");
    assert_eq!(m.lowerdirs().len(), 2);
    // top-most first, through the short links
    let top = fs::canonicalize(m.lowerdirs()[0]).unwrap();
    assert_eq!(top, fs::canonicalize(s.layer(&l2).unwrap().path).unwrap());
    assert!(m.option("upperdir").is_some() && m.option("workdir").is_some());
    assert_eq!(s.mounts("c1").unwrap(), m);
    assert_eq!(s.active("c1").unwrap().kind, SnapshotKind::Active);

    let fresh = s.prepare("c2", None).unwrap();
    assert_eq!((fresh.kind.as_str(), fresh.is_readonly()), ("bind", false));

    let v1 = s.view("v1", Some(&l1)).unwrap();
    assert_eq!((v1.kind.as_str(), v1.is_readonly()), ("bind", true));
    let v2 = s.view("v2", Some(&l2)).unwrap();
    assert_eq!((v2.kind.as_str(), v2.is_readonly()), ("overlay", true));
    assert!(v2.option("upperdir").is_none());

    assert!(matches!(
        s.prepare("c1", None),
        Err(Error::AlreadyExists(_))
    ));
    assert!(matches!(
        s.prepare("c3", Some(&id(9))),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(s.prepare("../x", None), Err(Error::InvalidId(..))));
    assert!(matches!(
        s.prepare("c4", Some("sha256:../x")),
        Err(Error::InvalidId(..))
    ));
    assert!(matches!(s.remove_layer(&l2), Err(Error::InUse(..))));
    assert!(matches!(s.commit("v1", &id(5)), Err(Error::WrongKind(..))));
    assert_eq!(s.actives().unwrap().len(), 4);
    for k in ["c1", "c2", "v1", "v2"] {
        s.remove(k).unwrap();
    }
    assert!(matches!(s.remove("c1"), Err(Error::NotFound(_))));
    s.remove_layer(&l2).unwrap();
}

#[test]
fn commit_active_becomes_layer_with_parent() {
    let tmp = TempDir::new("snap");
    let s = Snapshotter::open(tmp.path()).unwrap();
    let l1 = layer(&s, 1, None, &[("a", "1")]);
    s.prepare("c", Some(&l1)).unwrap();
    fs::write(s.active("c").unwrap().upper.join("new"), "hello").unwrap();
    s.commit("c", &id(2)).unwrap();
    assert!(matches!(s.active("c"), Err(Error::NotFound(_))));
    let info = s.layer(&id(2)).unwrap();
    assert_eq!(info.parent.as_deref(), Some(l1.as_str()));
    assert_eq!(fs::read_to_string(info.path.join("new")).unwrap(), "hello");
    assert_eq!(s.layer_usage(&id(2)).unwrap().size, 5);
}

struct Mounted(#[allow(dead_code)] berth_snapshot::MountGuard);

fn mount(m: &Mount, target: &Path) -> Mounted {
    fs::create_dir_all(target).unwrap();
    Mounted(m.mount_at(target).unwrap())
}

#[test]
fn overlay_mount_merges_and_diff_reports_changes() {
    require_root!();
    let tmp = TempDir::new("snap");
    let s = Snapshotter::open(tmp.path().join("snapshots")).unwrap();
    layer(
        &s,
        1,
        None,
        &[("etc/a", "a1"), ("etc/b", "b1"), ("keep", "k")],
    );
    let l2 = layer(&s, 2, Some(1), &[("etc/a", "a2")]);
    let m = s.prepare("ctr", Some(&l2)).unwrap();
    let target = tmp.path().join("rootfs");
    {
        let _g = mount(&m, &target);
        assert_eq!(fs::read_to_string(target.join("etc/a")).unwrap(), "a2");
        assert_eq!(fs::read_to_string(target.join("etc/b")).unwrap(), "b1");
        fs::write(target.join("etc/new"), "n").unwrap();
        fs::remove_file(target.join("etc/b")).unwrap();
        fs::write(target.join("keep"), "k2").unwrap();
        fs::create_dir(target.join("dir")).unwrap();
        fs::write(target.join("dir/f"), "f").unwrap();
    }
    let upper = s.active("ctr").unwrap().upper;
    let wh = fs::symlink_metadata(upper.join("etc/b")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);

    let changes: Vec<String> = s
        .changes("ctr")
        .unwrap()
        .iter()
        .map(|c| format!("{} {}", c.kind.letter(), c.path))
        .collect();
    assert_eq!(
        changes,
        [
            "A /dir",
            "A /dir/f",
            "C /etc",
            "D /etc/b",
            "A /etc/new",
            "C /keep"
        ]
    );
    assert_eq!(ChangeKind::Deleted.docker_kind(), 2);

    let mut tar_bytes = Vec::new();
    s.write_diff("ctr", &mut tar_bytes).unwrap();
    let mut names = Vec::new();
    for e in tar::Archive::new(&tar_bytes[..]).entries().unwrap() {
        names.push(e.unwrap().path().unwrap().display().to_string());
    }
    for want in ["etc/.wh.b", "etc/new", "keep", "dir/f"] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    assert!(!names.iter().any(|n| n == "etc/b"));
    s.remove("ctr").unwrap();
}

#[test]
fn images_deeper_than_one_page_of_options_mount() {
    require_root!();
    let tmp = TempDir::new("snapdeep");
    let s = Snapshotter::open(tmp.path().join("snapshots")).unwrap();
    let depth = 200u64;
    for n in 1..=depth {
        let name = format!("f{n}");
        layer(&s, n, (n > 1).then(|| n - 1), &[(name.as_str(), "x")]);
    }
    let m = s.prepare("deep", Some(&id(depth))).unwrap();
    let lowerdir = m.option("lowerdir").unwrap();
    assert!(
        lowerdir.len() > 4096,
        "test must exceed one page: {}",
        lowerdir.len()
    );
    let target = tmp.path().join("rootfs");
    let _g = mount(&m, &target);
    assert!(target.join("f1").is_file());
    assert!(target.join(format!("f{depth}")).is_file());
}

#[test]
fn no_host_user_reaches_a_layer_or_a_container_layer() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = TempDir::new("snap");
    let s = Snapshotter::open(tmp.path()).unwrap();
    let base = layer(&s, 1, None, &[("a", "1")]);
    s.prepare("c1", Some(&base)).unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    for sub in ["layers", "l", "active", "tmp"] {
        assert_eq!(mode(&tmp.path().join(sub)), 0o700, "{sub}");
    }
    let layer_dir = s.layer(&base).unwrap().path;
    assert_eq!(mode(layer_dir.parent().unwrap()), 0o700);
    let upper = s.active("c1").unwrap().upper;
    assert_eq!(mode(upper.parent().unwrap()), 0o700);
    // The directories that become the container's `/` keep a root directory's mode.
    assert_eq!(mode(&upper), 0o755);
    assert_eq!(mode(&s.begin_layer().unwrap().path()), 0o755);
}
