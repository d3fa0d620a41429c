//! The helpers themselves behave.
#![cfg(test)]

#[test]
fn unique_names_differ_and_fit_interface_names() {
    let a = berth_testkit::unique_name("bt");
    let b = berth_testkit::unique_name("bt");
    assert_ne!(a, b);
    assert!(a.len() <= 15, "{a} too long for an interface name");
}

#[test]
fn tempdir_is_removed_on_drop() {
    let path = {
        let dir = berth_testkit::TempDir::new("berth-tk-");
        assert!(dir.path().is_dir());
        dir.path().to_path_buf()
    };
    assert!(!path.exists());
}

#[test]
fn busybox_rootfs_has_a_shell() {
    if !berth_testkit::busybox::available() {
        berth_testkit::skip("busybox_rootfs_has_a_shell", "needs busybox-static");
        return;
    }
    let dir = berth_testkit::TempDir::new("berth-tk-");
    let root = berth_testkit::busybox::make_rootfs(dir.path());
    assert!(std::fs::symlink_metadata(root.join("bin/sh"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(root.join("bin/busybox").is_file());
}
