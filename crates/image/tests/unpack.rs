//! Layer unpacking: hostile tars are refused and leave nothing behind; edge cases load.
#![cfg(test)]

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use berth_content::Digest;
use berth_image::{unpack_layer, unpack_to_new_dir, ImageError};
use berth_testkit::{require_program, require_root, TempDir};

/// Builds tar entries with raw names (the tar crate's own builder refuses `..`).
struct RawTar(tar::Builder<Vec<u8>>);

impl RawTar {
    fn new() -> Self {
        RawTar(tar::Builder::new(Vec::new()))
    }

    fn entry(&mut self, name: &str, kind: tar::EntryType, link: &str, data: &[u8]) -> &mut Self {
        let mut h = tar::Header::new_gnu();
        {
            let old = h.as_old_mut();
            old.name[..name.len()].copy_from_slice(name.as_bytes());
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_entry_type(kind);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mode(if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_size(data.len() as u64);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }

    fn file(&mut self, name: &str, data: &str) -> &mut Self {
        self.entry(name, tar::EntryType::Regular, "", data.as_bytes())
    }

    fn dir(&mut self, name: &str) -> &mut Self {
        self.entry(name, tar::EntryType::Directory, "", b"")
    }

    fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(name, tar::EntryType::Symlink, target, b"")
    }

    fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(name, tar::EntryType::Link, target, b"")
    }

    fn bytes(&mut self) -> Vec<u8> {
        std::mem::replace(&mut self.0, tar::Builder::new(Vec::new()))
            .into_inner()
            .unwrap()
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Unpacks `tar` with unpack_to_new_dir into `<tmp>/layer`; asserts failure left nothing.
fn refuse(tar: &[u8], why: &str) -> String {
    let tmp = TempDir::new("unpk");
    let target = tmp.path().join("layer");
    let err = unpack_to_new_dir(tar, &target, None, "test")
        .expect_err("hostile layer must be refused")
        .to_string();
    assert!(err.contains(why), "error {err:?} should mention {why:?}");
    let left: Vec<_> = fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    err
}

fn load(tar: &[u8]) -> (TempDir, std::path::PathBuf) {
    let tmp = TempDir::new("unpk");
    let target = tmp.path().join("layer");
    unpack_to_new_dir(tar, &target, None, "test").unwrap();
    (tmp, target)
}

#[test]
fn refuses_dotdot_names() {
    refuse(
        &RawTar::new().file("../evil", "x").bytes(),
        "escapes the destination",
    );
    refuse(&RawTar::new().file("a/../../evil", "x").bytes(), "escapes");
}

#[test]
fn refuses_absolute_paths_escaping_and_keeps_plain_absolute_inside() {
    refuse(
        &RawTar::new().file("/../../etc/evil", "x").bytes(),
        "escapes",
    );
    // moby cleans `/etc/ok` to `etc/ok` inside the layer; so do we.
    let (_t, root) = load(&RawTar::new().file("/etc/ok", "fine").bytes());
    assert_eq!(fs::read_to_string(root.join("etc/ok")).unwrap(), "fine");
}

#[test]
fn refuses_writing_through_a_symlink() {
    let outside = TempDir::new("outside");
    let tar = RawTar::new()
        .symlink("link", outside.path().to_str().unwrap())
        .file("link/pwned", "x")
        .bytes();
    refuse(&tar, "symlink");
    assert!(!outside.path().join("pwned").exists());
    // also a relative symlink to a parent
    refuse(
        &RawTar::new()
            .symlink("up", "..")
            .file("up/pwned", "x")
            .bytes(),
        "symlink",
    );
}

#[test]
fn refuses_hardlinks_out_of_the_root() {
    refuse(
        &RawTar::new().hardlink("h", "../../etc/passwd").bytes(),
        "escapes",
    );
    // An absolute target means "inside the layer": /etc/passwd is not in this layer.
    refuse(
        &RawTar::new().hardlink("h", "/etc/passwd").bytes(),
        "hardlink",
    );
    // and a target reached through a symlink is refused too
    let tar = RawTar::new()
        .symlink("etc", "/etc")
        .hardlink("h", "etc/passwd")
        .bytes();
    refuse(&tar, "symlink");
}

#[test]
fn refuses_whiteout_under_symlinked_parent() {
    let outside = TempDir::new("outside");
    fs::write(outside.path().join("victim"), "keep").unwrap();
    let tar = RawTar::new()
        .symlink("d", outside.path().to_str().unwrap())
        .file("d/.wh.victim", "")
        .bytes();
    refuse(&tar, "symlink");
    assert_eq!(
        fs::read_to_string(outside.path().join("victim")).unwrap(),
        "keep"
    );
    refuse(
        &RawTar::new().dir("d").file("d/.wh..", "").bytes(),
        "invalid whiteout",
    );
}

#[test]
fn refuses_truncated_gzip() {
    let mut big = RawTar::new();
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    big.entry("f", tar::EntryType::Regular, "", &payload);
    let gz = gzip(&big.bytes());
    refuse(&gz[..gz.len() / 2], "reading");
    // cut only the gzip trailer (CRC + size): the tar itself is complete
    refuse(&gz[..gz.len() - 4], "reading layer");
}

#[test]
fn refuses_diff_id_mismatch() {
    let tar = RawTar::new().file("a", "1").bytes();
    let tmp = TempDir::new("unpk");
    let target = tmp.path().join("layer");
    let wrong = Digest::of(b"something else");
    let err = unpack_to_new_dir(&gzip(&tar)[..], &target, Some(&wrong), "l").unwrap_err();
    assert!(matches!(err, ImageError::DiffIdMismatch { .. }), "{err}");
    assert!(fs::read_dir(tmp.path()).unwrap().next().is_none());
    // the right one passes, whatever the compression
    let right = Digest::of(&tar);
    for blob in [
        tar.clone(),
        gzip(&tar),
        zstd::encode_all(&tar[..], 3).unwrap(),
    ] {
        let t = TempDir::new("unpk");
        let u = unpack_to_new_dir(&blob[..], &t.path().join("l"), Some(&right), "l").unwrap();
        assert_eq!(u.diff_id, right);
        assert_eq!(u.uncompressed_size, tar.len() as u64);
    }
}

#[test]
fn loads_absolute_hardlink_target_inside_the_layer() {
    let tar = RawTar::new()
        .file("bin/busybox", "bb")
        .hardlink("bin/sh", "/bin/busybox")
        .bytes();
    let (_t, root) = load(&tar);
    let a = fs::metadata(root.join("bin/busybox")).unwrap();
    let b = fs::metadata(root.join("bin/sh")).unwrap();
    assert_eq!(a.ino(), b.ino());
}

#[test]
fn loads_long_names_modes_owners_and_mtimes() {
    let long = format!("{}/{}", "d".repeat(120), "f".repeat(150));
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(4);
    h.set_mode(0o4755);
    h.set_uid(1234);
    h.set_gid(5678);
    h.set_mtime(1_600_000_000);
    b.append_data(&mut h, &long, &b"data"[..]).unwrap();
    let link = format!("{}/link", "l".repeat(120));
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mtime(1_600_000_001);
    b.append_link(&mut h, &link, "t".repeat(200)).unwrap();
    let (_t, root) = load(&b.into_inner().unwrap());
    let md = fs::metadata(root.join(&long)).unwrap();
    assert_eq!(md.mtime(), 1_600_000_000);
    if berth_testkit::is_root() {
        assert_eq!((md.uid(), md.gid()), (1234, 5678));
        assert_eq!(md.mode() & 0o7777, 0o4755, "setuid survives chown");
    }
    assert_eq!(
        fs::read_link(root.join(&link)).unwrap().to_str().unwrap(),
        "t".repeat(200)
    );
}

#[test]
fn loads_sparse_files_sparsely() {
    require_program!("tar");
    let tmp = TempDir::new("sparse");
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    let f = fs::File::create(src.join("sparse")).unwrap();
    f.set_len(64 << 20).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_at(b"head", 0).unwrap();
    f.write_at(b"tail", (64 << 20) - 4).unwrap();
    drop(f);
    let tarfile = tmp.path().join("s.tar");
    let ok = std::process::Command::new("tar")
        .args(["--sparse", "--format=gnu", "-cf"])
        .arg(&tarfile)
        .arg("-C")
        .arg(&src)
        .arg("sparse")
        .status()
        .unwrap();
    assert!(ok.success());
    let (_t, root) = load(&fs::read(&tarfile).unwrap());
    let md = fs::metadata(root.join("sparse")).unwrap();
    assert_eq!(md.len(), 64 << 20);
    assert!(
        md.blocks() * 512 < 4 << 20,
        "file should stay sparse: {} blocks",
        md.blocks()
    );
    let data = fs::read(root.join("sparse")).unwrap();
    assert_eq!(&data[..4], b"head");
    assert_eq!(&data[data.len() - 4..], b"tail");
}

fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    let n = rustix::fs::lgetxattr(path, name, &mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

#[test]
fn loads_xattrs_and_device_nodes() {
    require_root!();
    let mut b = tar::Builder::new(Vec::new());
    let cap = [
        1u8, 0, 0, 2, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    b.append_pax_extensions([
        ("SCHILY.xattr.user.note", &b"hi"[..]),
        ("SCHILY.xattr.security.capability", &cap[..]),
    ])
    .unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o755);
    b.append_data(&mut h, "ping", &b"x"[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Char);
    h.set_size(0);
    h.set_mode(0o666);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    b.append_data(&mut h, "dev/null", std::io::empty()).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Fifo);
    h.set_size(0);
    h.set_mode(0o600);
    b.append_data(&mut h, "fifo", std::io::empty()).unwrap();
    let (_t, root) = load(&b.into_inner().unwrap());
    assert_eq!(xattr(&root.join("ping"), "user.note").unwrap(), b"hi");
    assert_eq!(
        xattr(&root.join("ping"), "security.capability").unwrap(),
        cap
    );
    let null = fs::symlink_metadata(root.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), rustix::fs::makedev(1, 3));
    assert_eq!(null.mode() & 0o777, 0o666);
    assert!(fs::symlink_metadata(root.join("fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
}

#[test]
fn whiteouts_and_opaque_dirs_become_overlay_form_and_merge() {
    require_root!();
    let tmp = TempDir::new("ovl");
    let lower = RawTar::new()
        .file("gone", "old")
        .file("keep", "k")
        .file("opq/old1", "1")
        .file("opq/old2", "2")
        .bytes();
    let upper = RawTar::new()
        .file(".wh.gone", "")
        .dir("opq")
        .file("opq/.wh..wh..opq", "")
        .file("opq/new", "n")
        .bytes();
    let l = tmp.path().join("lower");
    let u = tmp.path().join("upper");
    fs::create_dir(&l).unwrap();
    fs::create_dir(&u).unwrap();
    unpack_layer(&gzip(&lower)[..], &l, None, "lower").unwrap();
    unpack_layer(&gzip(&upper)[..], &u, None, "upper").unwrap();
    let wh = fs::symlink_metadata(u.join("gone")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    assert_eq!(
        xattr(&u.join("opq"), "trusted.overlay.opaque").unwrap(),
        b"y"
    );
    assert!(!u.join("opq/.wh..wh..opq").exists());

    let m = berth_snapshot::Mount {
        kind: "overlay".into(),
        source: "overlay".into(),
        options: vec![format!("lowerdir={}:{}", u.display(), l.display())],
    };
    let target = tmp.path().join("merged");
    fs::create_dir(&target).unwrap();
    let _guard = m.mount_at(&target).unwrap();
    assert!(!target.join("gone").exists());
    assert_eq!(fs::read_to_string(target.join("keep")).unwrap(), "k");
    let mut names: Vec<_> = fs::read_dir(target.join("opq"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["new"]);
}
