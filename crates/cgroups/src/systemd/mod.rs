//! The systemd cgroup driver (runc's `--systemd-cgroup`): a container's cgroup is a
//! transient scope unit that systemd makes, through its D-Bus API, with the container's
//! init in it. The rest is the cgroupfs code: the runtime then applies every resource to
//! the scope's directory, as runc does after systemd set what it knows.
//!
//! - [`ScopeUnit::parse`]: `linux.cgroupsPath` must be `slice:prefix:name` (runc's rule and
//!   error text); the unit is `<prefix>-<name>.scope` in `slice` (`system.slice` when empty).
//! - [`start_scope`]: `StartTransientUnit` with `Slice`, `Delegate=yes`, `PIDs`, the
//!   accounting switches and the resource properties systemd knows ([`properties`]), then
//!   waits for the job's `JobRemoved`. A unit of the same name that failed earlier is reset
//!   and the start retried once; a job that fails leaves no failed unit behind.
//! - [`stop_scope`]: `StopUnit`, waits for the job, resets a failed state; a unit that is
//!   already gone is fine.
//!
//! Where systemd does not run (`/run/systemd/system` absent, the test runc and go-systemd
//! use), every start fails with runc's "systemd not running on this host, cannot use
//! systemd cgroups manager".

pub mod dbus;

use std::path::Path;
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use crate::error::{CgroupError, Result};
use dbus::{CallError, Connection, Decoder, Encoder, Value};

/// systemd's private socket (root only; what `systemctl` uses as root).
pub const PRIVATE_SOCKET: &str = "/run/systemd/private";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
/// How long a method call or a job may take (runc waits 30 s for a scope's job too).
const TIMEOUT: Duration = Duration::from_secs(30);

/// True when systemd is the init system here (`/run/systemd/system` exists), as runc checks.
pub fn is_running() -> bool {
    Path::new("/run/systemd/system").symlink_metadata().is_ok()
}

/// A container's scope unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeUnit {
    /// The slice it goes in (`system.slice`, `foo.slice`, `-.slice`).
    pub slice: String,
    /// The unit's name (`berth-<id>.scope`).
    pub name: String,
}

impl ScopeUnit {
    /// The unit `linux.cgroupsPath` names (`slice:prefix:name`; absent: `:berth:<id>`).
    pub fn parse(cgroups_path: Option<&str>, container_id: &str) -> Result<ScopeUnit> {
        let default = format!(":berth:{container_id}");
        let raw = cgroups_path.filter(|p| !p.is_empty()).unwrap_or(&default);
        let parts: Vec<&str> = raw.split(':').collect();
        let bad = || {
            CgroupError::InvalidPath {
            path: raw.to_string(),
            reason: format!(
                "expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups, got {raw:?} instead"
            ),
        }
        };
        let [slice, prefix, name] = parts[..] else {
            return Err(bad());
        };
        if raw.contains('/') || name.is_empty() || !(slice.is_empty() || slice.ends_with(".slice"))
        {
            return Err(bad());
        }
        if name.ends_with(".slice") {
            return Err(CgroupError::InvalidPath {
                path: raw.to_string(),
                reason:
                    "the systemd driver makes scope units; a name ending in .slice is not supported"
                        .into(),
            });
        }
        let slice = if slice.is_empty() {
            "system.slice"
        } else {
            slice
        };
        crate::path::expand_slice(slice).ok_or_else(bad)?;
        let name = if prefix.is_empty() {
            format!("{name}.scope")
        } else {
            format!("{prefix}-{name}.scope")
        };
        Ok(ScopeUnit {
            slice: slice.to_string(),
            name,
        })
    }

    /// The `slice:prefix:name` path [`crate::Cgroup::new`] resolves to this unit's cgroup.
    pub fn cgroups_path(&self) -> String {
        let stem = self.name.strip_suffix(".scope").unwrap_or(&self.name);
        format!("{}::{stem}", self.slice)
    }
}

/// Creates `unit` with `pid` in it and the properties of `resources`, and waits for the job.
pub fn start_scope(
    unit: &ScopeUnit,
    pid: i32,
    description: &str,
    resources: &LinuxResources,
) -> Result<()> {
    if !is_running() {
        return Err(CgroupError::SystemdNotRunning);
    }
    let mut props = vec![
        ("Description", Value::Str(description.to_string())),
        ("Slice", Value::Str(unit.slice.clone())),
        ("Delegate", Value::Bool(true)),
        // A pid is positive.
        ("PIDs", Value::U32s(vec![pid.unsigned_abs()])),
        ("DefaultDependencies", Value::Bool(false)),
        ("MemoryAccounting", Value::Bool(true)),
        ("CPUAccounting", Value::Bool(true)),
        ("IOAccounting", Value::Bool(true)),
        ("TasksAccounting", Value::Bool(true)),
    ];
    props.extend(properties(resources)?);
    let mut conn = connect(&unit.name)?;
    match start_transient(&mut conn, unit, &props) {
        Err(CgroupError::Systemd { reason, .. }) if reason.contains(".UnitExists)") => {
            // A unit of that name left failed (or still stopping): reset it, then once more.
            let _ = reset_failed(&mut conn, &unit.name);
            start_transient(&mut conn, unit, &props)
        }
        r => r,
    }
}

/// Stops `name` and waits for it; a unit that is already gone is not an error.
pub fn stop_scope(name: &str) -> Result<()> {
    if !is_running() {
        return Ok(());
    }
    let mut conn = connect(name)?;
    let mut body = Encoder::new();
    body.string(name);
    body.string("replace");
    match conn.call(
        MANAGER_PATH,
        MANAGER,
        "StopUnit",
        "ss",
        body.into_bytes(),
        TIMEOUT,
    ) {
        Ok(reply) => {
            wait_job(&mut conn, &reply.first_string(), name)?;
        }
        Err(CallError::Remote { name: err, .. })
            if err == "org.freedesktop.systemd1.NoSuchUnit" => {}
        Err(e) => return Err(systemd_error(name, "stop", e)),
    }
    // A scope whose processes were OOM-killed ends "failed" and stays listed: clear it.
    let _ = reset_failed(&mut conn, name);
    Ok(())
}

/// Sets the resource properties of `resources` on the running unit `name` (runtime only, as
/// runc's update), so that systemd does not later put back the values it had.
pub fn set_properties(name: &str, resources: &LinuxResources) -> Result<()> {
    let props = properties(resources)?;
    if props.is_empty() || !is_running() {
        return Ok(());
    }
    let mut conn = connect(name)?;
    let mut body = Encoder::new();
    body.string(name);
    body.boolean(true);
    encode_properties(&mut body, &props);
    conn.call(
        MANAGER_PATH,
        MANAGER,
        "SetUnitProperties",
        "sba(sv)",
        body.into_bytes(),
        TIMEOUT,
    )
    .map(|_| ())
    .map_err(|e| systemd_error(name, "set properties", e))
}

fn encode_properties(body: &mut Encoder, props: &[(&'static str, Value)]) {
    body.array(8, |e| {
        for (name, value) in props {
            e.begin_struct();
            e.string(name);
            e.variant(value);
        }
    });
}

/// The unit properties systemd sets from `resources` on cgroup v2 (systemd maps them to its
/// legacy hierarchy itself); runc's choice of properties and conversions.
pub fn properties(r: &LinuxResources) -> Result<Vec<(&'static str, Value)>> {
    let max = |v: i64| Value::U64(u64::try_from(v).unwrap_or(u64::MAX));
    let mut p = Vec::new();
    if let Some(m) = r.memory() {
        let limit = m.limit().unwrap_or(0);
        if limit != 0 {
            p.push(("MemoryMax", max(limit)));
        }
        if let Some(low) = m.reservation().filter(|&v| v != 0) {
            p.push(("MemoryLow", max(low)));
        }
        let swap = crate::v2::memory::swap_max(m.swap().unwrap_or(0), limit)?;
        if swap != 0 {
            p.push(("MemorySwapMax", max(swap)));
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(shares) = c.shares().filter(|&s| s != 0) {
            p.push((
                "CPUWeight",
                Value::U64(crate::v2::cpu::shares_to_weight(shares)),
            ));
        }
        let quota = c.quota().unwrap_or(0);
        let period = c.period().unwrap_or(0);
        if quota != 0 || period != 0 {
            // systemd takes the quota per second, in steps of 10 ms (rounded up, as runc).
            let mut per_sec = u64::MAX;
            if quota > 0 {
                let period = if period == 0 { 100_000 } else { period };
                per_sec = (quota.unsigned_abs() * 1_000_000 / period).div_ceil(10_000) * 10_000;
            }
            p.push(("CPUQuotaPerSecUSec", Value::U64(per_sec)));
            if period != 0 {
                p.push(("CPUQuotaPeriodUSec", Value::U64(period)));
            }
        }
        if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            p.push(("AllowedCPUs", Value::Bytes(cpu_mask(cpus, "cpu.cpus")?)));
        }
        if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            p.push((
                "AllowedMemoryNodes",
                Value::Bytes(cpu_mask(mems, "cpu.mems")?),
            ));
        }
    }
    if let Some(limit) = r.pids().map(|p| p.limit()).filter(|&l| l > 0 || l == -1) {
        p.push(("TasksMax", max(limit)));
    }
    if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()) {
        p.push(("IOWeight", Value::U64(crate::v2::io::blkio_to_io_weight(w))));
    }
    Ok(p)
}

/// `0-2,5` → systemd's CPU set bytes: bit `n % 8` of byte `n / 8` for CPU (or node) `n`.
pub fn cpu_mask(list: &str, field: &'static str) -> Result<Vec<u8>> {
    let bad = || CgroupError::InvalidResource {
        field,
        value: list.to_string(),
        reason: "not a list of numbers and ranges (0-2,5)".into(),
    };
    let mut mask = Vec::new();
    for part in list.split(',').map(str::trim) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let (lo, hi): (usize, usize) = (
            lo.trim().parse().map_err(|_| bad())?,
            hi.trim().parse().map_err(|_| bad())?,
        );
        if lo > hi || hi >= 8192 {
            return Err(bad());
        }
        for n in lo..=hi {
            if mask.len() <= n / 8 {
                mask.resize(n / 8 + 1, 0);
            }
            mask[n / 8] |= 1 << (n % 8);
        }
    }
    Ok(mask)
}

fn connect(unit: &str) -> Result<Connection> {
    Connection::connect(Path::new(PRIVATE_SOCKET)).map_err(|e| CgroupError::Systemd {
        unit: unit.to_string(),
        reason: format!("connecting to systemd at {PRIVATE_SOCKET}: {e}"),
    })
}

fn systemd_error(unit: &str, op: &str, e: CallError) -> CgroupError {
    CgroupError::Systemd {
        unit: unit.to_string(),
        reason: format!("{op}: {e}"),
    }
}

fn start_transient(
    conn: &mut Connection,
    unit: &ScopeUnit,
    props: &[(&'static str, Value)],
) -> Result<()> {
    let mut body = Encoder::new();
    body.string(&unit.name);
    body.string("replace");
    encode_properties(&mut body, props);
    body.array(8, |_| {});
    let reply = conn
        .call(
            MANAGER_PATH,
            MANAGER,
            "StartTransientUnit",
            "ssa(sv)a(sa(sv))",
            body.into_bytes(),
            TIMEOUT,
        )
        .map_err(|e| systemd_error(&unit.name, "create", e))?;
    if let Err(e) = wait_job(conn, &reply.first_string(), &unit.name) {
        let _ = reset_failed(conn, &unit.name);
        return Err(e);
    }
    Ok(())
}

/// Waits for `JobRemoved` of `job`; its result must be `done`.
fn wait_job(conn: &mut Connection, job: &str, unit: &str) -> Result<()> {
    let deadline = Instant::now() + TIMEOUT;
    let removed = |m: &dbus::Message| -> Option<(String, String)> {
        if m.member != "JobRemoved" || m.signature != "uoss" {
            return None;
        }
        let mut d = Decoder::new(&m.body);
        let _id = d.u32().ok()?;
        let path = d.string().ok()?;
        let _unit = d.string().ok()?;
        Some((path, d.string().ok()?))
    };
    let m = conn
        .wait_signal(deadline, |m| removed(m).is_some_and(|(p, _)| p == job))
        .map_err(|e| CgroupError::Systemd {
            unit: unit.to_string(),
            reason: format!("waiting for job {job}: {e}"),
        })?;
    let (_, result) = removed(&m).unwrap_or_default();
    if result != "done" {
        return Err(CgroupError::Systemd {
            unit: unit.to_string(),
            reason: format!("job {job} ended with {result:?}"),
        });
    }
    Ok(())
}

fn reset_failed(conn: &mut Connection, name: &str) -> Result<(), CallError> {
    let mut body = Encoder::new();
    body.string(name);
    conn.call(
        MANAGER_PATH,
        MANAGER,
        "ResetFailedUnit",
        "s",
        body.into_bytes(),
        TIMEOUT,
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_units_from_cgroups_paths_as_runc() {
        let u = ScopeUnit::parse(Some("system.slice:berth:abc"), "abc").unwrap();
        assert_eq!(
            (u.slice.as_str(), u.name.as_str()),
            ("system.slice", "berth-abc.scope")
        );
        assert_eq!(u.cgroups_path(), "system.slice::berth-abc");
        let u = ScopeUnit::parse(None, "abc").unwrap();
        assert_eq!(
            (u.slice.as_str(), u.name.as_str()),
            ("system.slice", "berth-abc.scope")
        );
        let u = ScopeUnit::parse(Some("foo-bar.slice::x"), "abc").unwrap();
        assert_eq!(
            (u.slice.as_str(), u.name.as_str()),
            ("foo-bar.slice", "x.scope")
        );
        for bad in [
            "/berth/abc",
            "abc",
            "a:b",
            "foo:berth:abc",
            "system.slice:berth:",
        ] {
            let e = ScopeUnit::parse(Some(bad), "abc").unwrap_err().to_string();
            assert!(
                e.contains("\"slice:prefix:name\" for systemd cgroups"),
                "{bad}: {e}"
            );
        }
        assert!(ScopeUnit::parse(Some("system.slice:x:y.slice"), "abc").is_err());
    }

    #[test]
    fn resource_properties_as_runc_converts_them() {
        let r: LinuxResources = serde_json::from_value(serde_json::json!({
            "memory": {"limit": 104857600, "reservation": 1048576, "swap": 209715200},
            "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-2,9", "mems": "0"},
            "pids": {"limit": 42},
            "blockIO": {"weight": 500}
        }))
        .unwrap();
        let p = properties(&r).unwrap();
        let get = |k: &str| p.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        assert_eq!(get("MemoryMax"), Some(Value::U64(104857600)));
        assert_eq!(get("MemoryLow"), Some(Value::U64(1048576)));
        assert_eq!(get("MemorySwapMax"), Some(Value::U64(104857600)));
        assert_eq!(get("CPUWeight"), Some(Value::U64(39)));
        assert_eq!(get("CPUQuotaPerSecUSec"), Some(Value::U64(500_000)));
        assert_eq!(get("CPUQuotaPeriodUSec"), Some(Value::U64(100_000)));
        assert_eq!(get("AllowedCPUs"), Some(Value::Bytes(vec![0b111, 0b10])));
        assert_eq!(get("AllowedMemoryNodes"), Some(Value::Bytes(vec![1])));
        assert_eq!(get("TasksMax"), Some(Value::U64(42)));
        assert_eq!(get("IOWeight"), Some(Value::U64(4950)));
        let r: LinuxResources = serde_json::from_value(serde_json::json!({
            "memory": {"limit": -1}, "cpu": {"quota": 15001, "period": 100000}, "pids": {"limit": -1}
        }))
        .unwrap();
        let p = properties(&r).unwrap();
        let get = |k: &str| p.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        assert_eq!(get("MemoryMax"), Some(Value::U64(u64::MAX)));
        assert_eq!(get("CPUQuotaPerSecUSec"), Some(Value::U64(160_000)));
        assert_eq!(get("TasksMax"), Some(Value::U64(u64::MAX)));
        assert!(properties(&LinuxResources::default()).unwrap().is_empty());
    }
}
