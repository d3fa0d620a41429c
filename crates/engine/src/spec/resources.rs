//! `linux.resources` and `linux.cgroupsPath` of a container (moby's `WithResources`): only
//! what is set (zero means unset, as for runc), and the device cgroup rules after Docker's
//! deny-all default.

use berth_api_types::Resources;
use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxDeviceCgroup, LinuxDeviceType, LinuxMemory, LinuxPids,
    LinuxResources,
};

/// The CFS period Docker uses for `NanoCpus`.
pub const NANO_CPU_PERIOD: i64 = 100_000;

/// `linux.cgroupsPath` of a container: `/berth/<id>`, or `<--cgroup-parent>/<id>` (a
/// relative parent is taken from the root of the hierarchy).
pub fn cgroups_path(parent: &str, id: &str) -> String {
    let parent = parent.trim_matches('/');
    if parent.is_empty() {
        format!("/berth/{id}")
    } else {
        format!("/{parent}/{id}")
    }
}

/// `linux.resources` for `r` (a swap limit only where the host accounts swap); no
/// `devices` (see [`device_rules`]).
pub fn resources(r: &Resources, swap_accounting: bool) -> LinuxResources {
    let mut out = LinuxResources::default();
    out.set_memory(memory(r, swap_accounting))
        .set_cpu(cpu(r))
        .set_pids(r.pids_limit.filter(|l| *l != 0).map(|l| {
            let mut p = LinuxPids::default();
            p.set_limit(if l < 0 { -1 } else { l });
            p
        }))
        .set_block_io((r.blkio_weight > 0).then(|| {
            let mut b = LinuxBlockIo::default();
            b.set_weight(Some(r.blkio_weight));
            b
        }));
    out
}

fn memory(r: &Resources, swap_accounting: bool) -> Option<LinuxMemory> {
    let mut m = LinuxMemory::default();
    m.set_limit((r.memory > 0).then_some(r.memory))
        .set_swap((r.memory_swap != 0 && swap_accounting).then_some(r.memory_swap))
        .set_reservation((r.memory_reservation > 0).then_some(r.memory_reservation))
        .set_swappiness(
            r.memory_swappiness
                .filter(|s| (0..=100).contains(s))
                .and_then(|s| u64::try_from(s).ok()),
        )
        .set_disable_oom_killer((r.oom_kill_disable == Some(true)).then_some(true));
    (m != LinuxMemory::default()).then_some(m)
}

fn cpu(r: &Resources) -> Option<LinuxCpu> {
    let mut c = LinuxCpu::default();
    c.set_shares(u64::try_from(r.cpu_shares).ok().filter(|s| *s > 0));
    if r.nano_cpus > 0 {
        c.set_period(u64::try_from(NANO_CPU_PERIOD).ok())
            .set_quota(Some(r.nano_cpus * NANO_CPU_PERIOD / 1_000_000_000));
    } else {
        c.set_period(u64::try_from(r.cpu_period).ok().filter(|p| *p != 0))
            .set_quota((r.cpu_quota != 0).then_some(r.cpu_quota));
    }
    c.set_cpus((!r.cpuset_cpus.is_empty()).then(|| r.cpuset_cpus.clone()))
        .set_mems((!r.cpuset_mems.is_empty()).then(|| r.cpuset_mems.clone()));
    (c != LinuxCpu::default()).then_some(c)
}

/// A device cgroup rule.
pub fn device_rule(
    allow: bool,
    typ: Option<LinuxDeviceType>,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut d = LinuxDeviceCgroup::default();
    d.set_allow(allow)
        .set_typ(typ)
        .set_major(major)
        .set_minor(minor)
        .set_access(Some(access.into()));
    d
}

/// `linux.resources.devices`: Docker's defaults (nothing, but mknod of any device: opening
/// one needs a rule), then `rules`.
pub fn device_rules(rules: Vec<LinuxDeviceCgroup>) -> Vec<LinuxDeviceCgroup> {
    let mut out = vec![
        device_rule(false, None, None, None, "rwm"),
        device_rule(true, Some(LinuxDeviceType::C), None, None, "m"),
        device_rule(true, Some(LinuxDeviceType::B), None, None, "m"),
    ];
    out.extend(rules);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroups_paths() {
        assert_eq!(cgroups_path("", "abc"), "/berth/abc");
        assert_eq!(cgroups_path("/my/parent/", "abc"), "/my/parent/abc");
        assert_eq!(cgroups_path("rel", "abc"), "/rel/abc");
    }

    #[test]
    fn only_what_is_set() {
        let empty = resources(&Resources::default(), true);
        assert_eq!(empty, LinuxResources::default());
        let r = Resources {
            memory: 64 << 20,
            memory_swap: 128 << 20,
            memory_swappiness: Some(-1),
            nano_cpus: 500_000_000,
            cpu_shares: 512,
            pids_limit: Some(-5),
            blkio_weight: 300,
            cpuset_cpus: "0".into(),
            ..Default::default()
        };
        let out = resources(&r, true);
        let m = out.memory().unwrap();
        assert_eq!(
            (m.limit(), m.swap(), m.swappiness()),
            (Some(64 << 20), Some(128 << 20), None)
        );
        assert_eq!(resources(&r, false).memory().unwrap().swap(), None);
        let c = out.cpu().clone().unwrap();
        assert_eq!(
            (c.period(), c.quota(), c.shares()),
            (Some(100_000), Some(50_000), Some(512))
        );
        assert_eq!(c.cpus().as_deref(), Some("0"));
        assert_eq!(out.pids().unwrap().limit(), -1);
        assert_eq!(out.block_io().clone().unwrap().weight(), Some(300));
        let r = Resources {
            cpu_period: 50_000,
            cpu_quota: 25_000,
            oom_kill_disable: Some(true),
            ..Default::default()
        };
        let out = resources(&r, true);
        let c = out.cpu().clone().unwrap();
        assert_eq!((c.period(), c.quota()), (Some(50_000), Some(25_000)));
        assert_eq!(out.memory().unwrap().disable_oom_killer(), Some(true));
    }

    #[test]
    fn device_rules_start_with_dockers_defaults() {
        let rules = device_rules(vec![device_rule(
            true,
            Some(LinuxDeviceType::C),
            Some(1),
            Some(3),
            "rw",
        )]);
        assert_eq!(rules.len(), 4);
        assert!(!rules[0].allow());
        assert_eq!(rules[0].access().as_deref(), Some("rwm"));
        assert_eq!(rules[3].major(), Some(1));
    }
}
