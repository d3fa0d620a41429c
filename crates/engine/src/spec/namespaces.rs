//! `linux.namespaces`: a container's own pid, ipc, uts, mount (and network, and cgroup on a
//! cgroup v2 host) namespaces; the modes drop one (`host`) or join another's
//! (`container:<name>`); a user namespace with the daemon's id mappings (`userns-remap`).

use oci_spec::runtime::{
    LinuxIdMapping, LinuxIdMappingBuilder, LinuxNamespace, LinuxNamespaceType, Spec,
};

/// A namespace of `typ`, joined at `path` when given.
pub fn namespace(typ: LinuxNamespaceType, path: Option<String>) -> LinuxNamespace {
    let mut n = LinuxNamespace::default();
    n.set_typ(typ).set_path(path.map(Into::into));
    n
}

/// The namespaces of a new container: no network namespace of its own with the host's
/// network; a cgroup namespace on a cgroup v2 host (Docker's default cgroupns mode: private
/// on v2, where the container sees its own cgroup as the root of /sys/fs/cgroup; host on
/// v1, where the runtime binds the container's own cgroups there).
pub fn defaults(host_network: bool, cgroup_v2: bool) -> Vec<LinuxNamespace> {
    let mut out: Vec<LinuxNamespace> = [
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
    ]
    .into_iter()
    .map(|t| namespace(t, None))
    .collect();
    if !host_network {
        out.push(namespace(LinuxNamespaceType::Network, None));
    }
    if cgroup_v2 {
        out.push(namespace(LinuxNamespaceType::Cgroup, None));
    }
    out
}

fn list(spec: &mut Spec) -> &mut Vec<LinuxNamespace> {
    super::linux_mut(spec)
        .namespaces_mut()
        .get_or_insert_with(Vec::new)
}

/// Leaves the container in the host's namespace of `typ`.
pub fn use_host(spec: &mut Spec, typ: LinuxNamespaceType) {
    list(spec).retain(|n| n.typ() != typ);
}

/// Makes the container join `path` for its namespace of `typ` (if it has one).
pub fn join(spec: &mut Spec, typ: LinuxNamespaceType, path: &str) {
    for n in list(spec).iter_mut().filter(|n| n.typ() == typ) {
        n.set_path(Some(path.into()));
    }
}

/// `/proc/<pid>/ns/<file>`.
pub fn proc_path(pid: i32, file: &str) -> String {
    format!("/proc/{pid}/ns/{file}")
}

/// The pid of the first joined namespace (`/proc/<pid>/ns/…`), if any.
pub fn joined_pid(spec: &Spec) -> Option<i32> {
    spec.linux()
        .as_ref()?
        .namespaces()
        .iter()
        .flatten()
        .filter_map(|n| n.path().as_ref())
        .find_map(|p| {
            p.to_str()?
                .strip_prefix("/proc/")?
                .split('/')
                .next()?
                .parse()
                .ok()
        })
}

/// An id mapping of `size` ids from `container` to `host`.
pub fn id_mapping(container: u32, host: u32, size: u32) -> LinuxIdMapping {
    LinuxIdMappingBuilder::default()
        .container_id(container)
        .host_id(host)
        .size(size)
        .build()
        .unwrap_or_default()
}

/// Puts the container in a user namespace: `path` (another container's), or a new one with
/// the given uid and gid mappings.
pub fn set_user(
    spec: &mut Spec,
    path: Option<String>,
    uids: Vec<LinuxIdMapping>,
    gids: Vec<LinuxIdMapping>,
) {
    if path.is_none() {
        super::linux_mut(spec)
            .set_uid_mappings(Some(uids))
            .set_gid_mappings(Some(gids));
    }
    let l = list(spec);
    l.retain(|n| n.typ() != LinuxNamespaceType::User);
    l.push(namespace(LinuxNamespaceType::User, path));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(spec: &Spec) -> Vec<LinuxNamespaceType> {
        spec.linux()
            .as_ref()
            .unwrap()
            .namespaces()
            .iter()
            .flatten()
            .map(|n| n.typ())
            .collect()
    }

    fn spec(host_network: bool, v2: bool) -> Spec {
        let mut s = Spec::default();
        super::super::linux_mut(&mut s).set_namespaces(Some(defaults(host_network, v2)));
        s
    }

    #[test]
    fn defaults_follow_network_and_cgroup_version() {
        use LinuxNamespaceType::*;
        assert_eq!(types(&spec(false, false)), [Pid, Ipc, Uts, Mount, Network]);
        assert_eq!(types(&spec(true, true)), [Pid, Ipc, Uts, Mount, Cgroup]);
    }

    #[test]
    fn modes_drop_or_join() {
        let mut s = spec(false, false);
        use_host(&mut s, LinuxNamespaceType::Uts);
        join(&mut s, LinuxNamespaceType::Pid, &proc_path(42, "pid"));
        assert!(!types(&s).contains(&LinuxNamespaceType::Uts));
        let ns = s.linux().as_ref().unwrap().namespaces().clone().unwrap();
        assert_eq!(
            ns[0].path().as_deref(),
            Some(std::path::Path::new("/proc/42/ns/pid"))
        );
        assert_eq!(joined_pid(&s), Some(42));
        assert_eq!(joined_pid(&spec(false, false)), None);
    }

    #[test]
    fn user_namespace_new_or_joined() {
        let mut s = spec(false, false);
        set_user(
            &mut s,
            None,
            vec![id_mapping(0, 100000, 65536)],
            vec![id_mapping(0, 100000, 65536)],
        );
        let linux = s.linux().as_ref().unwrap();
        assert_eq!(linux.uid_mappings().as_ref().unwrap()[0].host_id(), 100000);
        assert_eq!(types(&s).last(), Some(&LinuxNamespaceType::User));
        let mut s = spec(false, false);
        set_user(&mut s, Some(proc_path(7, "user")), vec![], vec![]);
        let linux = s.linux().as_ref().unwrap();
        assert!(linux.uid_mappings().is_none());
        let user = linux.namespaces().as_ref().unwrap().last().unwrap().clone();
        assert_eq!(
            user.path().as_deref(),
            Some(std::path::Path::new("/proc/7/ns/user"))
        );
    }
}
