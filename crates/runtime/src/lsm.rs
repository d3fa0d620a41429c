//! Security labels: `process.apparmorProfile`, `process.selinuxLabel` and
//! `linux.mountLabel`. A spec that asks for a module the host does not run is refused at
//! `create` (and `exec`), as runc does, rather than run unconfined; otherwise the label is
//! set for the next execve through /proc/self/attr (mount labels become `context=` options,
//! see `rootfs`).

use oci_spec::runtime::{Linux, Process};

use crate::error::{invalid, Result};

/// True when AppArmor is enabled on this host (runc's test).
fn apparmor_enabled() -> bool {
    std::path::Path::new("/sys/kernel/security/apparmor").is_dir()
        && std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|v| v.starts_with('Y'))
}

/// True when SELinux is enabled on this host (selinuxfs is mounted).
fn selinux_enabled() -> bool {
    std::path::Path::new("/sys/fs/selinux/enforce").exists()
}

/// Refuses labels the host cannot apply.
pub fn check(process: Option<&Process>, linux: Option<&Linux>) -> Result<()> {
    let set = |v: Option<&String>| v.is_some_and(|s| !s.is_empty());
    if set(process.and_then(|p| p.apparmor_profile().as_ref())) && !apparmor_enabled() {
        return Err(invalid(
            "process.apparmorProfile",
            "AppArmor is not enabled on this host",
        ));
    }
    if set(process.and_then(|p| p.selinux_label().as_ref())) && !selinux_enabled() {
        return Err(invalid(
            "process.selinuxLabel",
            "SELinux is not enabled on this host",
        ));
    }
    if set(linux.and_then(|l| l.mount_label().as_ref())) && !selinux_enabled() {
        return Err(invalid(
            "linux.mountLabel",
            "SELinux is not enabled on this host",
        ));
    }
    Ok(())
}

/// Sets the AppArmor profile and SELinux label the program is exec'd with.
pub fn apply(process: &Process) -> Result<()> {
    if let Some(profile) = process
        .apparmor_profile()
        .as_ref()
        .filter(|p| !p.is_empty())
    {
        let cmd = format!("exec {profile}");
        std::fs::write("/proc/self/attr/apparmor/exec", &cmd)
            .or_else(|_| std::fs::write("/proc/self/attr/exec", &cmd))
            .map_err(|e| invalid("process.apparmorProfile", format!("{profile}: {e}")))?;
    }
    if let Some(label) = process.selinux_label().as_ref().filter(|l| !l.is_empty()) {
        std::fs::write("/proc/self/attr/exec", label)
            .map_err(|e| invalid("process.selinuxLabel", format!("{label}: {e}")))?;
    }
    Ok(())
}
