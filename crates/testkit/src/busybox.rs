//! Root filesystems made from Debian's `busybox-static`: a complete, tiny userland.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where Debian's busybox-static installs its binary.
pub const BUSYBOX: &str = "/bin/busybox";

/// True when the static busybox is installed.
pub fn available() -> bool {
    Path::new(BUSYBOX).is_file()
}

/// Populates `rootfs` with busybox and a symlink per applet, plus the usual empty
/// directories (proc, sys, dev, tmp, etc, root) and minimal /etc/passwd and /etc/group.
pub fn make_rootfs(rootfs: &Path) -> PathBuf {
    for dir in [
        "bin", "sbin", "proc", "sys", "dev", "tmp", "etc", "root", "var", "usr/bin",
    ] {
        std::fs::create_dir_all(rootfs.join(dir)).expect("mkdir in rootfs");
    }
    let target = rootfs.join("bin/busybox");
    std::fs::copy(BUSYBOX, &target).expect("copy busybox");
    let out = Command::new(BUSYBOX)
        .arg("--list")
        .output()
        .expect("busybox --list");
    for applet in String::from_utf8_lossy(&out.stdout).lines() {
        let link = rootfs.join("bin").join(applet);
        if applet != "busybox" && !link.exists() {
            symlink("busybox", &link).expect("applet symlink");
        }
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )
    .expect("write passwd");
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").expect("write group");
    rootfs.to_path_buf()
}
