//! A container's resource limits (`HostConfig` resources): Docker's validation, the OCI
//! `linux.resources` they become at start, and `POST /containers/{id}/update` (merged into the
//! record as Docker's `UpdateContainer` does, then written to the live cgroup, v1 or v2).

use std::sync::Arc;

use crate::error::{EngineError, Result};
use berth_api_types::{HostConfig, Resources, UpdateConfig, UpdateResponse};
use berth_cgroups::Cgroup;

use super::Containers;

/// Docker's smallest memory limit and reservation (6 MiB).
const MIN_MEMORY: i64 = 6 * 1024 * 1024;
use crate::hostinfo::swap_accounting;
pub use crate::spec::resources::cgroups_path;

/// The host's CPUs (`0-1`), from the root cpuset (v1) or `cpuset.cpus.effective` (v2).
fn available_cpus() -> Option<String> {
    for p in [
        "/sys/fs/cgroup/cpuset/cpuset.cpus",
        "/sys/fs/cgroup/cpuset.cpus.effective",
        "/sys/devices/system/cpu/online",
    ] {
        if let Ok(s) = std::fs::read_to_string(p) {
            let s = s.trim();
            if !s.is_empty() {
                return Some(s.to_string());
            }
        }
    }
    None
}

/// Parses a cpuset list (`0-2,4`); `None` when malformed.
fn parse_list(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// Docker's `verifyPlatformContainerResources`: the errors (400) and warnings for `r`.
pub fn validate(r: &Resources, update: bool) -> Result<Vec<String>> {
    let bad = |m: String| Err(EngineError::invalid(m));
    if r.memory != 0 && r.memory < MIN_MEMORY {
        return bad("Minimum memory limit allowed is 6MB".into());
    }
    if r.memory > 0 && r.memory_swap > 0 && r.memory_swap < r.memory {
        return bad(
            "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
        );
    }
    if r.memory == 0 && r.memory_swap > 0 && !update {
        return bad(
            "You should always set the Memory limit when using Memoryswap limit, see usage".into(),
        );
    }
    if let Some(s) = r.memory_swappiness.filter(|s| *s != -1) {
        if !(0..=100).contains(&s) {
            return bad(format!(
                "Invalid value: {s}, valid memory swappiness range is 0-100"
            ));
        }
    }
    if r.memory_reservation > 0 && r.memory_reservation < MIN_MEMORY {
        return bad("Minimum memory reservation allowed is 6MB".into());
    }
    if r.memory > 0 && r.memory_reservation > 0 && r.memory < r.memory_reservation {
        return bad(
            "Minimum memory limit can not be less than memory reservation limit, see usage".into(),
        );
    }
    if r.nano_cpus > 0 && r.cpu_period > 0 {
        return bad("Conflicting options: Nano CPUs and CPU Period cannot both be set".into());
    }
    if r.nano_cpus > 0 && r.cpu_quota > 0 {
        return bad("Conflicting options: Nano CPUs and CPU Quota cannot both be set".into());
    }
    if r.nano_cpus != 0 {
        let n = std::thread::available_parallelism()
            .map(|n| i64::try_from(n.get()).unwrap_or(i64::MAX / 1_000_000_000))
            .unwrap_or(1);
        if r.nano_cpus < 0 || r.nano_cpus > n * 1_000_000_000 {
            return bad(format!(
                "range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available"
            ));
        }
    }
    if r.cpu_period != 0 && !(1000..=1_000_000).contains(&r.cpu_period) {
        return bad(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
                .into(),
        );
    }
    if r.cpu_quota > 0 && r.cpu_quota < 1000 {
        return bad("CPU cfs quota can not be less than 1ms (i.e. 1000)".into());
    }
    if !r.cpuset_cpus.is_empty() {
        let Some(want) = parse_list(&r.cpuset_cpus) else {
            return bad(format!("Invalid value {} for cpuset cpus", r.cpuset_cpus));
        };
        if let Some(avail) = available_cpus() {
            let have = parse_list(&avail).unwrap_or_default();
            if want.iter().any(|c| !have.contains(c)) {
                return bad(format!(
                    "Requested CPUs are not available - requested {}, available: {avail}",
                    r.cpuset_cpus
                ));
            }
        }
    }
    if r.blkio_weight > 0 && !(10..=1000).contains(&r.blkio_weight) {
        return bad("Range of blkio weight is from 10 to 1000".into());
    }
    if r.io_maximum_bandwidth != 0 || r.io_maximum_iops != 0 {
        return bad(
            "Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps"
                .into(),
        );
    }
    let mut warnings = Vec::new();
    if r.memory > 0 && r.memory_swap != -1 && !swap_accounting() {
        warnings.push(
            "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap."
                .to_string(),
        );
    }
    Ok(warnings)
}

/// Docker's create-time defaults: a memory limit without a swap limit gets swap = 2 × memory.
pub fn adapt_on_create(host: &mut HostConfig) {
    let r = &mut host.resources;
    if r.memory > 0 && r.memory_swap == 0 {
        r.memory_swap = r.memory * 2;
    }
    if r.memory_swappiness == Some(-1) {
        r.memory_swappiness = None;
    }
}

/// Docker's `UpdateContainer`: merges the set fields of `u` into `host`.
pub fn merge_update(host: &mut HostConfig, u: &UpdateConfig) -> Result<()> {
    let conflict = |m: &str| Err(EngineError::invalid(m.to_string()));
    let (r, c) = (&u.resources, &mut host.resources);
    if r.nano_cpus > 0 && c.cpu_period > 0 {
        return conflict(
            "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set",
        );
    }
    if r.nano_cpus > 0 && c.cpu_quota > 0 {
        return conflict(
            "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set",
        );
    }
    if r.cpu_period > 0 && c.nano_cpus > 0 {
        return conflict(
            "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set",
        );
    }
    if r.cpu_quota > 0 && c.nano_cpus > 0 {
        return conflict(
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set",
        );
    }
    if r.blkio_weight != 0 {
        c.blkio_weight = r.blkio_weight;
    }
    if r.cpu_shares != 0 {
        c.cpu_shares = r.cpu_shares;
    }
    if r.nano_cpus != 0 {
        c.nano_cpus = r.nano_cpus;
    }
    if r.cpu_period != 0 {
        c.cpu_period = r.cpu_period;
    }
    if r.cpu_quota != 0 {
        c.cpu_quota = r.cpu_quota;
    }
    if !r.cpuset_cpus.is_empty() {
        c.cpuset_cpus = r.cpuset_cpus.clone();
    }
    if !r.cpuset_mems.is_empty() {
        c.cpuset_mems = r.cpuset_mems.clone();
    }
    if r.memory != 0 {
        if r.memory > c.memory_swap && r.memory_swap == 0 {
            return conflict("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time");
        }
        c.memory = r.memory;
    }
    if r.memory_swap != 0 {
        c.memory_swap = r.memory_swap;
    }
    if r.memory_reservation != 0 {
        c.memory_reservation = r.memory_reservation;
    }
    if r.pids_limit.is_some() {
        c.pids_limit = r.pids_limit;
    }
    if !u.restart_policy.name.is_empty() {
        if host.auto_remove && !matches!(u.restart_policy.name.as_str(), "no") {
            return conflict(
                "Restart policy cannot be updated because AutoRemove is enabled for the container",
            );
        }
        host.restart_policy = u.restart_policy.clone();
    }
    Ok(())
}

/// `linux.cgroupsPath` under the daemon's cgroup driver: with `systemd`, dockerd's
/// `<slice>:berth:<id>` (`system.slice`, or `--cgroup-parent` when it names a slice: the
/// scope unit `berth-<id>.scope`); else [`cgroups_path`].
pub fn driver_cgroups_path(driver: &str, parent: &str, id: &str) -> String {
    if driver == "systemd" {
        let slice = if parent.is_empty() {
            "system.slice"
        } else {
            parent
        };
        format!("{slice}:berth:{id}")
    } else {
        cgroups_path(parent, id)
    }
}

/// dockerd's check of `--cgroup-parent` under the systemd driver.
pub fn check_cgroup_parent(driver: &str, parent: &str) -> Result<(), String> {
    if driver == "systemd" && !parent.is_empty() && !parent.ends_with(".slice") {
        return Err(
            "cgroup-parent for systemd cgroup should be a valid slice named as \"xxx.slice\""
                .into(),
        );
    }
    Ok(())
}

/// Writes the set fields of `r` to the running container's cgroup (with the systemd driver,
/// to its scope unit's properties first, as runc's update does).
pub fn apply_live(driver: &str, parent: &str, id: &str, r: &Resources) -> Result<(), String> {
    let res = crate::spec::resources::resources(r, swap_accounting());
    if res == oci_spec::runtime::LinuxResources::default() {
        return Ok(());
    }
    let path = driver_cgroups_path(driver, parent, id);
    if driver == "systemd" {
        let unit =
            berth_cgroups::systemd::ScopeUnit::parse(Some(&path), id).map_err(|e| e.to_string())?;
        berth_cgroups::systemd::set_properties(&unit.name, &res).map_err(|e| e.to_string())?;
    }
    let cg = Cgroup::new(Some(&path), id).map_err(|e| e.to_string())?;
    cg.apply_resources(&res).map_err(|e| e.to_string())
}

impl Containers {
    /// `POST /containers/{id}/update`: validates, merges into the record (persisted), then
    /// writes the new limits to the running container's cgroup; a failure there puts the
    /// record back as it was.
    pub async fn update(
        self: &Arc<Self>,
        reference: &str,
        update: UpdateConfig,
    ) -> Result<UpdateResponse> {
        let warnings = validate(&update.resources, true)?;
        let id = self.resolve(reference)?;
        let live = self.live(&id);
        let _op = live.op.lock().await;
        let mut rec = self.get(&id)?;
        if rec.state.status == "removing" || rec.state.dead {
            return Err(EngineError::invalid(format!(
                "Cannot update container {id}: container is marked for removal and cannot be \"update\""
            )));
        }
        let before = rec.clone();
        merge_update(&mut rec.host_config, &update)
            .map_err(|e| EngineError::invalid(format!("Cannot update container {id}: {e}")))?;
        self.save(&rec).await?;
        if rec.state.running && !rec.state.restarting {
            let resources = update.resources.clone();
            let cid = id.clone();
            let parent = rec.host_config.resources.cgroup_parent.clone();
            let driver = self.cgroup_driver.clone();
            let applied =
                tokio::task::spawn_blocking(move || apply_live(&driver, &parent, &cid, &resources))
                    .await
                    .map_err(|e| EngineError::internal(e.to_string()))?;
            if let Err(e) = applied {
                let mut back = self.get(&id)?;
                back.host_config = before.host_config;
                self.save(&back).await?;
                return Err(EngineError::internal(format!(
                    "Cannot update container {id}: {e}"
                )));
            }
        }
        self.event("update", &rec, &[]);
        Ok(UpdateResponse {
            warnings: (!warnings.is_empty()).then_some(warnings),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_validation_messages() {
        let r = Resources {
            memory: 1024,
            ..Default::default()
        };
        assert_eq!(
            validate(&r, false).unwrap_err().to_string(),
            "Minimum memory limit allowed is 6MB"
        );
        let r = Resources {
            memory: 64 << 20,
            memory_swap: 32 << 20,
            ..Default::default()
        };
        assert!(validate(&r, true)
            .unwrap_err()
            .to_string()
            .contains("memoryswap limit should be larger"));
        let r = Resources {
            blkio_weight: 5,
            ..Default::default()
        };
        assert_eq!(
            validate(&r, true).unwrap_err().to_string(),
            "Range of blkio weight is from 10 to 1000"
        );
        let r = Resources {
            cpuset_cpus: "0-x".into(),
            ..Default::default()
        };
        assert_eq!(
            validate(&r, true).unwrap_err().to_string(),
            "Invalid value 0-x for cpuset cpus"
        );
        assert_eq!(parse_list("0-2,4"), Some(vec![0, 1, 2, 4]));
    }

    #[test]
    fn update_merges_like_docker() {
        let mut host = HostConfig::default();
        let mut u = UpdateConfig::default();
        u.resources.memory = 64 << 20;
        // No swap limit yet (0) and none given: Docker refuses.
        assert!(merge_update(&mut host, &u)
            .unwrap_err()
            .to_string()
            .contains("update the memoryswap at the same time"));
        u.resources.memory_swap = -1;
        u.resources.cpu_shares = 512;
        u.resources.pids_limit = Some(50);
        merge_update(&mut host, &u).unwrap();
        assert_eq!(host.resources.memory, 64 << 20);
        assert_eq!(host.resources.memory_swap, -1);
        assert_eq!(host.resources.cpu_shares, 512);
        assert_eq!(host.resources.pids_limit, Some(50));
        let mut u = UpdateConfig::default();
        u.resources.cpu_quota = 50_000;
        host.resources.nano_cpus = 1_000_000_000;
        assert!(merge_update(&mut host, &u).is_err());
    }
}
