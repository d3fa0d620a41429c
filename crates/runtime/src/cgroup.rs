//! The container's cgroup. Interim implementation of the contract agreed with the cgroups
//! crate (`berth_cgroups::Cgroup`: new/create/apply_resources/add_process/freeze/thaw/
//! is_frozen/pids/destroy/oom_kill_count): memory, pids, cpu and freezer over cgroupfs v1 or
//! v2. It is replaced by `berth_cgroups` once that crate provides the API.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const ROOT: &str = "/sys/fs/cgroup";
const V1_CONTROLLERS: &[&str] = &[
    "memory", "pids", "freezer", "cpu", "cpuacct", "blkio", "devices",
];

/// A container's cgroup: its directory in each hierarchy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cgroup {
    /// cgroup v2 (unified) or v1.
    pub v2: bool,
    /// controller name (or "" for v2) → directory.
    pub paths: Vec<(String, PathBuf)>,
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::Cgroup(format!("{what}: {e}"))
}

/// True on a pure cgroup v2 host.
pub fn is_v2() -> bool {
    Path::new(ROOT).join("cgroup.controllers").exists()
}

impl Cgroup {
    /// Resolves `linux.cgroupsPath` (default `/berth/<id>`) in every hierarchy.
    pub fn new(cgroups_path: Option<&str>, id: &str) -> Result<Cgroup> {
        let rel = match cgroups_path {
            Some(p) if !p.is_empty() => {
                if p.contains(':') && !p.starts_with('/') {
                    // systemd "slice:prefix:name" → slice/prefix-name.scope
                    let parts: Vec<&str> = p.split(':').collect();
                    let slice = if parts[0].is_empty() {
                        "system.slice"
                    } else {
                        parts[0]
                    };
                    format!(
                        "{slice}/{}-{}.scope",
                        parts.get(1).unwrap_or(&"berth"),
                        parts.get(2).unwrap_or(&id)
                    )
                } else {
                    p.trim_start_matches('/').to_string()
                }
            }
            _ => format!("berth/{id}"),
        };
        if rel.split('/').any(|c| c == "..") {
            return Err(crate::error::invalid(
                "linux.cgroupsPath",
                "must not contain '..'",
            ));
        }
        let v2 = is_v2();
        let paths = if v2 {
            vec![(String::new(), Path::new(ROOT).join(&rel))]
        } else {
            V1_CONTROLLERS
                .iter()
                .filter(|c| Path::new(ROOT).join(c).is_dir())
                .map(|c| (c.to_string(), Path::new(ROOT).join(c).join(&rel)))
                .collect()
        };
        Ok(Cgroup { v2, paths })
    }

    fn dir(&self, controller: &str) -> Option<&Path> {
        self.paths
            .iter()
            .find(|(c, _)| self.v2 || c == controller)
            .map(|(_, p)| p.as_path())
    }

    fn write(&self, controller: &str, file: &str, value: &str) -> Result<()> {
        if let Some(d) = self.dir(controller) {
            let p = d.join(file);
            std::fs::write(&p, value).map_err(io(format!("write {value:?} to {}", p.display())))?;
        }
        Ok(())
    }

    /// Creates the directories.
    pub fn create(&self) -> Result<()> {
        for (_, p) in &self.paths {
            std::fs::create_dir_all(p).map_err(io(format!("mkdir {}", p.display())))?;
        }
        if self.v2 {
            if let Some((_, p)) = self.paths.first() {
                // Enable what the parent offers, best effort.
                if let Some(parent) = p.parent() {
                    let ctrls = std::fs::read_to_string(parent.join("cgroup.controllers"))
                        .unwrap_or_default();
                    let add: Vec<String> =
                        ctrls.split_whitespace().map(|c| format!("+{c}")).collect();
                    let _ = std::fs::write(parent.join("cgroup.subtree_control"), add.join(" "));
                }
            }
        }
        Ok(())
    }

    /// Applies memory, pids and cpu limits.
    pub fn apply_resources(&self, r: &LinuxResources) -> Result<()> {
        if let Some(m) = r.memory() {
            if let Some(limit) = m.limit() {
                if self.v2 {
                    self.write("memory", "memory.max", &v2_limit(limit))?;
                    if let Some(swap) = m.swap() {
                        let s = if swap < 0 {
                            "max".into()
                        } else {
                            (swap - limit).max(0).to_string()
                        };
                        let _ = self.write("memory", "memory.swap.max", &s);
                    }
                } else {
                    self.write("memory", "memory.limit_in_bytes", &limit.to_string())?;
                    if let Some(swap) = m.swap() {
                        let _ =
                            self.write("memory", "memory.memsw.limit_in_bytes", &swap.to_string());
                    }
                }
            }
        }
        if let Some(p) = r.pids() {
            let v = if p.limit() <= 0 {
                "max".to_string()
            } else {
                p.limit().to_string()
            };
            self.write("pids", "pids.max", &v)?;
        }
        if let Some(c) = r.cpu() {
            if let Some(shares) = c.shares().filter(|s| *s > 0) {
                if self.v2 {
                    let weight = 1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142;
                    self.write("cpu", "cpu.weight", &weight.to_string())?;
                } else {
                    self.write("cpu", "cpu.shares", &shares.to_string())?;
                }
            }
            if let Some(q) = c.quota() {
                let period = c.period().unwrap_or(100_000);
                if self.v2 {
                    let q = if q <= 0 {
                        "max".to_string()
                    } else {
                        q.to_string()
                    };
                    self.write("cpu", "cpu.max", &format!("{q} {period}"))?;
                } else {
                    self.write("cpu", "cpu.cfs_period_us", &period.to_string())?;
                    self.write("cpu", "cpu.cfs_quota_us", &q.to_string())?;
                }
            }
        }
        Ok(())
    }

    /// Moves `pid` into the cgroup.
    pub fn add_process(&self, pid: i32) -> Result<()> {
        for (_, p) in &self.paths {
            let f = p.join("cgroup.procs");
            std::fs::write(&f, pid.to_string())
                .map_err(io(format!("add {pid} to {}", f.display())))?;
        }
        Ok(())
    }

    /// Freezes every process in the cgroup and waits until it is frozen.
    pub fn freeze(&self) -> Result<()> {
        if self.v2 {
            self.write("", "cgroup.freeze", "1")?;
        } else {
            self.write("freezer", "freezer.state", "FROZEN")?;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.is_frozen()? {
            if Instant::now() > deadline {
                return Err(Error::Cgroup("timed out freezing".into()));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// Thaws the cgroup.
    pub fn thaw(&self) -> Result<()> {
        if self.v2 {
            self.write("", "cgroup.freeze", "0")
        } else {
            self.write("freezer", "freezer.state", "THAWED")
        }
    }

    /// True when frozen.
    pub fn is_frozen(&self) -> Result<bool> {
        let (file, want) = if self.v2 {
            ("cgroup.events", "frozen 1")
        } else {
            ("freezer.state", "FROZEN")
        };
        let Some(d) = self.dir("freezer") else {
            return Ok(false);
        };
        Ok(std::fs::read_to_string(d.join(file))
            .map(|s| s.lines().any(|l| l.trim() == want))
            .unwrap_or(false))
    }

    /// Pids of every process in the cgroup.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let Some(d) = self
            .dir("pids")
            .or_else(|| self.paths.first().map(|(_, p)| p.as_path()))
        else {
            return Ok(Vec::new());
        };
        let s = match std::fs::read_to_string(d.join("cgroup.procs")) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(format!("read {}", d.display()))(e)),
        };
        Ok(s.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }

    /// Removes the directories (retrying while the last processes exit); fine if gone.
    pub fn destroy(&self) -> Result<()> {
        for (_, p) in &self.paths {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match std::fs::remove_dir(p) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(e) if e.raw_os_error() == Some(16) && Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(e) => return Err(io(format!("rmdir {}", p.display()))(e)),
                }
            }
        }
        Ok(())
    }

    /// How many processes the OOM killer killed in this cgroup.
    pub fn oom_kill_count(&self) -> Result<u64> {
        let Some(d) = self.dir("memory") else {
            return Ok(0);
        };
        let file = if self.v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        let s = std::fs::read_to_string(d.join(file)).map_err(io(format!("read {file}")))?;
        Ok(s.lines()
            .find_map(|l| {
                l.strip_prefix("oom_kill ")
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0))
    }
}

fn v2_limit(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}
