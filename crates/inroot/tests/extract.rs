//! The extractor against hostile archives and a tree changing under it.
#![cfg(test)]

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use berth_inroot::{
    extract, locate, write_tar, ExtractOptions, InRootError, Resolve, Root, Whiteouts,
};
use berth_testkit::{require_root, TempDir};

/// A tar built entry by entry, names written as given (no normalisation).
struct RawTar(tar::Builder<Vec<u8>>);

impl RawTar {
    fn new() -> Self {
        RawTar(tar::Builder::new(Vec::new()))
    }

    fn entry(mut self, name: &str, kind: tar::EntryType, link: &str, data: &[u8]) -> Self {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_uid(u64::from(rustix::process::getuid().as_raw()));
        h.set_gid(u64::from(rustix::process::getgid().as_raw()));
        h.set_mtime(1_600_000_000);
        h.set_size(data.len() as u64);
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }

    fn file(self, name: &str, data: &str) -> Self {
        self.entry(name, tar::EntryType::Regular, "", data.as_bytes())
    }

    fn dir(self, name: &str) -> Self {
        self.entry(name, tar::EntryType::Directory, "", b"")
    }

    fn symlink(self, name: &str, target: &str) -> Self {
        self.entry(name, tar::EntryType::Symlink, target, b"")
    }

    fn hardlink(self, name: &str, target: &str) -> Self {
        self.entry(name, tar::EntryType::Link, target, b"")
    }

    fn bytes(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

fn tree(tag: &str) -> (TempDir, PathBuf, Root) {
    let tmp = TempDir::new(tag);
    let dir = tmp.path().join("root");
    fs::create_dir_all(&dir).unwrap();
    let root = Root::open(&dir).unwrap();
    (tmp, dir, root)
}

#[test]
fn in_root_extraction_follows_links_only_inside() {
    let (tmp, dir, root) = tree("inroot-x-links");
    fs::create_dir_all(dir.join("etc")).unwrap();
    std::os::unix::fs::symlink("../../../../..", dir.join("up")).unwrap();
    std::os::unix::fs::symlink(tmp.path(), dir.join("host")).unwrap();
    let tar = RawTar::new()
        .file("marker", "new")
        .file("sub/deeper/f", "x")
        .bytes();
    // "/up/" is the root itself, "/host/" the root's own /tmp/... path: missing inside.
    extract(&root, "/up/", &tar[..], &ExtractOptions::default()).unwrap();
    assert_eq!(fs::read_to_string(dir.join("marker")).unwrap(), "new");
    assert_eq!(fs::read_to_string(dir.join("sub/deeper/f")).unwrap(), "x");
    assert!(!tmp.path().join("marker").exists());
    assert!(matches!(
        extract(&root, "/host/", &tar[..], &ExtractOptions::default()),
        Err(InRootError::NotFound(_))
    ));
    assert!(matches!(
        extract(&root, "/marker", &tar[..], &ExtractOptions::default()),
        Err(InRootError::NotADirectory)
    ));
    // An entry "through" a symlink the archive made resolves inside the root: the link's
    // host path does not exist there, so the entry fails, and nothing reaches the host.
    let tar = RawTar::new()
        .symlink("esc", tmp.path().to_str().unwrap())
        .file("esc/pwned", "x")
        .bytes();
    assert!(extract(&root, "/", &tar[..], &ExtractOptions::default()).is_err());
    assert!(!tmp.path().join("pwned").exists());
    // A relative one pointing above the root is clamped to the root.
    let tar = RawTar::new()
        .symlink("up2", "../../..")
        .file("up2/clamped", "x")
        .bytes();
    extract(&root, "/", &tar[..], &ExtractOptions::default()).unwrap();
    assert_eq!(fs::read_to_string(dir.join("clamped")).unwrap(), "x");
}

#[test]
fn names_and_hardlinks_never_climb_out() {
    let (_tmp, dir, root) = tree("inroot-x-climb");
    for (tar, why) in [
        (RawTar::new().file("../evil", "x").bytes(), "escapes"),
        (RawTar::new().file("a/../../evil", "x").bytes(), "escapes"),
        (
            RawTar::new().hardlink("h", "../../etc/passwd").bytes(),
            "escapes",
        ),
    ] {
        let err = extract(&root, "/", &tar[..], &ExtractOptions::default()).unwrap_err();
        assert!(err.to_string().contains(why), "{err}");
    }
    let tar = RawTar::new()
        .file("/abs/ok", "fine")
        .hardlink("/abs/same", "/abs/ok")
        .bytes();
    extract(&root, "/", &tar[..], &ExtractOptions::default()).unwrap();
    let (a, b) = (
        fs::metadata(dir.join("abs/ok")).unwrap(),
        fs::metadata(dir.join("abs/same")).unwrap(),
    );
    assert_eq!(a.ino(), b.ino());
}

#[test]
fn no_symlinks_policy_refuses_any_link_on_the_way() {
    let (_tmp, _dir, root) = tree("inroot-x-nosym");
    let opts = ExtractOptions {
        resolve: Resolve::NoSymlinks,
        ..Default::default()
    };
    let tar = RawTar::new()
        .symlink("up", "..")
        .file("up/pwned", "x")
        .bytes();
    let err = extract(&root, "/", &tar[..], &opts).unwrap_err();
    assert!(err.to_string().contains("symlink"), "{err}");
}

#[test]
fn overwrite_rules_and_owner_override() {
    let (_tmp, dir, root) = tree("inroot-x-over");
    fs::create_dir_all(dir.join("d")).unwrap();
    fs::write(dir.join("f"), "old").unwrap();
    let strict = ExtractOptions {
        no_overwrite_dir_non_dir: true,
        ..Default::default()
    };
    let err = extract(
        &root,
        "/",
        &RawTar::new().file("d", "x").bytes()[..],
        &strict,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("cannot overwrite directory"),
        "{err}"
    );
    let err = extract(&root, "/", &RawTar::new().dir("f").bytes()[..], &strict).unwrap_err();
    assert!(
        err.to_string().contains("cannot overwrite non-directory"),
        "{err}"
    );
    // Without the rule the old entry goes.
    extract(
        &root,
        "/",
        &RawTar::new().file("d", "now a file").bytes()[..],
        &ExtractOptions::default(),
    )
    .unwrap();
    assert_eq!(fs::read_to_string(dir.join("d")).unwrap(), "now a file");
    let me = (
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    );
    let owned = ExtractOptions {
        owner: Some(me),
        ..Default::default()
    };
    extract(
        &root,
        "/",
        &RawTar::new().file("mine", "m").bytes()[..],
        &owned,
    )
    .unwrap();
    let md = fs::metadata(dir.join("mine")).unwrap();
    assert_eq!((md.uid(), md.gid()), me);
    assert_eq!(md.mtime(), 1_600_000_000);
}

#[test]
fn overlay_whiteouts_as_root() {
    require_root!();
    let (_tmp, dir, root) = tree("inroot-x-wh");
    let opts = ExtractOptions {
        resolve: Resolve::NoSymlinks,
        whiteouts: Whiteouts::Overlay,
        xattrs: true,
        ..Default::default()
    };
    let tar = RawTar::new()
        .dir("opq")
        .file("opq/.wh..wh..opq", "")
        .file(".wh.gone", "")
        .file(".wh..wh.plnk", "")
        .bytes();
    extract(&root, "/", &tar[..], &opts).unwrap();
    let wh = fs::symlink_metadata(dir.join("gone")).unwrap();
    use std::os::unix::fs::FileTypeExt;
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    assert_eq!(
        rustix::fs::getxattr(dir.join("opq"), "trusted.overlay.opaque", &mut [0u8; 4]).unwrap(),
        1
    );
    assert!(!dir.join("opq/.wh..wh..opq").exists());
    // The same archive extracted as plain files keeps the names.
    let (_tmp2, dir2, root2) = tree("inroot-x-wh2");
    extract(&root2, "/", &tar[..], &ExtractOptions::default()).unwrap();
    assert!(dir2.join(".wh.gone").is_file());
}

#[test]
fn a_link_swapped_for_a_directory_never_escapes() {
    let (tmp, dir, root) = tree("inroot-x-race");
    let outside = tmp.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    let sw = dir.join("sw");
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, sw) = (stop.clone(), sw.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = fs::remove_dir_all(&sw);
                let _ = fs::remove_file(&sw);
                let _ = fs::create_dir(&sw);
                let _ = fs::remove_dir_all(&sw);
                // Followed on the host, this would land in `outside`.
                let _ = std::os::unix::fs::symlink("../outside", &sw);
            }
        })
    };
    for i in 0..300 {
        let tar = RawTar::new().file(&format!("sub/f{i}"), "x").bytes();
        let _ = extract(&root, "/sw/", &tar[..], &ExtractOptions::default());
        if let Ok(loc) = locate(&root, "/sw/.") {
            let _ = write_tar(&loc, std::io::sink());
        }
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
}

#[test]
fn write_tar_names_as_docker_and_round_trips() {
    let (_tmp, dir, root) = tree("inroot-x-write");
    fs::create_dir_all(dir.join("d/e")).unwrap();
    fs::write(dir.join("d/e/f"), "data").unwrap();
    fs::hard_link(dir.join("d/e/f"), dir.join("d/g")).unwrap();
    std::os::unix::fs::symlink("e/f", dir.join("d/l")).unwrap();
    let names = |path: &str| {
        let mut out = Vec::new();
        write_tar(&locate(&root, path).unwrap(), &mut out).unwrap();
        let mut ar = tar::Archive::new(&out[..]);
        let names: Vec<(String, tar::EntryType)> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    String::from_utf8_lossy(&e.path_bytes()).into_owned(),
                    e.header().entry_type(),
                )
            })
            .collect();
        (names, out)
    };
    let (n, tar) = names("/d");
    assert_eq!(n[0], ("d/".to_string(), tar::EntryType::Directory));
    assert!(
        n.contains(&("d/e/f".to_string(), tar::EntryType::Link))
            || n.contains(&("d/g".to_string(), tar::EntryType::Link)),
        "{n:?}"
    );
    assert!(
        n.contains(&("d/l".to_string(), tar::EntryType::Symlink)),
        "{n:?}"
    );
    let (n, _) = names("/d/.");
    assert_eq!(n[0].0, "./");
    // What was written extracts to the same tree.
    let (_tmp2, dir2, root2) = tree("inroot-x-write2");
    extract(&root2, "/", &tar[..], &ExtractOptions::default()).unwrap();
    assert_eq!(fs::read_to_string(dir2.join("d/e/f")).unwrap(), "data");
    assert_eq!(
        fs::read_link(dir2.join("d/l")).unwrap(),
        PathBuf::from("e/f")
    );
    assert_eq!(
        fs::metadata(dir2.join("d/e/f")).unwrap().ino(),
        fs::metadata(dir2.join("d/g")).unwrap().ino()
    );
}
