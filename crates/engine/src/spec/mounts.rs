//! `mounts`: Docker's default mounts (`/proc`, `/dev`, `/sys`, …), the `/etc` files of the
//! network (hosts, hostname, resolv.conf), the user's binds, volumes and
//! tmpfs mounts (which replace defaults at the same place), and `/dev/shm` for the IPC modes.

use std::collections::HashSet;
use std::path::Path;

use oci_spec::runtime::Mount;

/// A mount of `typ` from `source` at `destination` with `options`.
pub fn mount(destination: &str, typ: &str, source: impl AsRef<Path>, options: &[&str]) -> Mount {
    let mut m = Mount::default();
    m.set_destination(destination.into())
        .set_typ(Some(typ.into()))
        .set_source(Some(source.as_ref().to_path_buf()))
        .set_options(Some(options.iter().map(|o| o.to_string()).collect()));
    m
}

/// A bind mount (`rbind`, then `options`).
pub fn bind(destination: &str, source: impl AsRef<Path>, options: &[&str]) -> Mount {
    let mut all = vec!["rbind"];
    all.extend_from_slice(options);
    mount(destination, "bind", source, &all)
}

/// A tmpfs at `destination` with `options`.
pub fn tmpfs(destination: &str, options: Vec<String>) -> Mount {
    let mut m = mount(destination, "tmpfs", "tmpfs", &[]);
    m.set_options(Some(options));
    m
}

/// Docker's default mounts of every container.
pub fn defaults() -> Vec<Mount> {
    vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["ro", "nosuid", "noexec", "nodev"],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"],
        ),
    ]
}

/// The `/etc` files (destination, host file): read-only too with `--read-only` (moby's
/// `NetworkMounts`: `Writable = !ReadonlyRootfs`).
pub fn etc_files(files: &[(String, String)], readonly_rootfs: bool) -> Vec<Mount> {
    let options: &[&str] = if readonly_rootfs {
        &["rprivate", "ro"]
    } else {
        &["rprivate"]
    };
    files
        .iter()
        .map(|(dest, src)| bind(dest, src, options))
        .collect()
}

fn depth(dest: &Path) -> usize {
    dest.components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
        .count()
}

/// Puts the user's mounts after `mounts`: default mounts at the same destinations (and
/// under `/dev/` when `/dev` itself is mounted) give way, parents before children.
pub fn add_user_mounts(mounts: &mut Vec<Mount>, mut user: Vec<Mount>) {
    if user.is_empty() {
        return;
    }
    let dests: HashSet<&Path> = user.iter().map(|m| m.destination().as_path()).collect();
    let dev = dests.contains(Path::new("/dev"));
    mounts.retain(|m| {
        let d = m.destination().as_path();
        !dests.contains(d) && (!dev || !d.starts_with("/dev/") || d == Path::new("/dev"))
    });
    user.sort_by_key(|m| depth(m.destination()));
    mounts.extend(user);
}

/// Replaces the container's own `/dev/shm` tmpfs by a bind of `source`, or removes it.
pub fn set_shm(mounts: &mut Vec<Mount>, source: Option<&str>) {
    mounts.retain(|m| m.destination() != Path::new("/dev/shm"));
    if let Some(src) = source {
        mounts.push(bind("/dev/shm", src, &["nosuid", "nodev", "noexec"]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dests(mounts: &[Mount]) -> Vec<String> {
        mounts
            .iter()
            .map(|m| m.destination().display().to_string())
            .collect()
    }

    #[test]
    fn defaults_are_dockers() {
        let d = defaults();
        assert_eq!(
            dests(&d),
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/sys",
                "/sys/fs/cgroup",
                "/dev/mqueue",
                "/dev/shm"
            ]
        );
        assert_eq!(d[6].source().as_deref(), Some(Path::new("shm")));
        assert_eq!(d[0].typ().as_deref(), Some("proc"));
    }

    #[test]
    fn etc_files_follow_read_only_rootfs() {
        let files = [("/etc/hosts".to_string(), "/run/x/hosts".to_string())];
        let rw = etc_files(&files, false);
        assert_eq!(
            rw[0].options().as_deref(),
            Some(&["rbind".to_string(), "rprivate".into()][..])
        );
        let ro = etc_files(&files, true);
        assert_eq!(ro[0].options().as_ref().unwrap().last().unwrap(), "ro");
        assert_eq!(ro[0].typ().as_deref(), Some("bind"));
    }

    #[test]
    fn user_mounts_replace_defaults_parents_first() {
        let mut mounts = vec![
            tmpfs("/proc", vec![]),
            tmpfs("/dev/shm", vec![]),
            tmpfs("/etc/hosts", vec![]),
        ];
        add_user_mounts(
            &mut mounts,
            vec![
                tmpfs("/data/sub", vec![]),
                tmpfs("/dev/shm", vec![]),
                tmpfs("/data", vec![]),
            ],
        );
        assert_eq!(
            dests(&mounts),
            ["/proc", "/etc/hosts", "/data", "/data/sub", "/dev/shm"]
        );
        let mut mounts = defaults();
        add_user_mounts(&mut mounts, vec![tmpfs("/dev", vec![])]);
        assert_eq!(dests(&mounts), ["/proc", "/sys", "/sys/fs/cgroup", "/dev"]);
    }

    #[test]
    fn shm_is_bound_or_dropped() {
        let mut mounts = defaults();
        set_shm(&mut mounts, None);
        assert!(!dests(&mounts).contains(&"/dev/shm".to_string()));
        set_shm(&mut mounts, Some("/dev/shm"));
        let last = mounts.last().unwrap();
        assert_eq!(last.typ().as_deref(), Some("bind"));
        assert_eq!(last.source().as_deref(), Some(Path::new("/dev/shm")));
    }
}
