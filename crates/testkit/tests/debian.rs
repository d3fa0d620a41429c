//! The debootstrapped Debian image: made once, cached, a loadable archive.
#![cfg(test)]

use berth_testkit::{require_program, require_root};

#[test]
fn debian_image_is_cached_and_loadable() {
    require_root!();
    require_program!("debootstrap");
    let img = berth_testkit::debian::image_archive(&["redis-server"]);
    assert!(img.path.exists() && img.rootfs_tar.exists());
    let again = berth_testkit::debian::image_archive(&["redis-server"]);
    assert_eq!(again.path, img.path);
    let f = std::fs::File::open(&img.path).unwrap();
    let mut ar = tar::Archive::new(f);
    let names: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(names.iter().any(|n| n == "manifest.json"), "{names:?}");
    // redis is in the rootfs.
    let f = std::fs::File::open(&img.rootfs_tar).unwrap();
    let mut ar = tar::Archive::new(f);
    assert!(ar.entries().unwrap().any(|e| e
        .unwrap()
        .path()
        .unwrap()
        .ends_with("usr/bin/redis-server")));
}
