//! Freezing and thawing: v1 `freezer.state` (FROZEN/THAWED, passing through FREEZING) or
//! v2 `cgroup.freeze`, whose completion shows as `frozen 1` in `cgroup.events`. A hybrid
//! host without a v1 freezer hierarchy uses the unified tree.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::cgroup::Cgroup;
use crate::error::{CgroupError, Result};
use crate::fs;

/// How long freezing may take before it is undone and reported.
const TIMEOUT: Duration = Duration::from_secs(10);

enum Freezer<'a> {
    V1(&'a Path),
    V2(&'a Path),
}

impl Cgroup {
    fn freezer(&self) -> Result<Freezer<'_>> {
        if let Some(d) = self.v1_path("freezer") {
            return Ok(Freezer::V1(d));
        }
        self.unified_path()
            .map(Freezer::V2)
            .ok_or_else(|| CgroupError::ControllerMissing {
                controller: "freezer".into(),
                field: "pause",
            })
    }

    /// Freezes every process in the cgroup and returns once they are all frozen.
    pub fn freeze(&self) -> Result<()> {
        match self.freezer()? {
            Freezer::V1(dir) => v1_freeze(dir),
            Freezer::V2(dir) => v2_set(dir, true),
        }
    }

    /// Thaws the cgroup and returns once it is no longer frozen.
    pub fn thaw(&self) -> Result<()> {
        match self.freezer()? {
            Freezer::V1(dir) => {
                fs::write(dir, "freezer.state", "THAWED")?;
                wait(dir, "freezer.state", "THAWED", |s| s.trim() == "THAWED")
            }
            Freezer::V2(dir) => v2_set(dir, false),
        }
    }

    /// True when the cgroup is (completely) frozen.
    pub fn is_frozen(&self) -> Result<bool> {
        match self.freezer()? {
            Freezer::V1(dir) => Ok(fs::read(dir, "freezer.state")?.trim() == "FROZEN"),
            Freezer::V2(dir) => v2_frozen(dir),
        }
    }
}

fn v1_freeze(dir: &Path) -> Result<()> {
    fs::write(dir, "freezer.state", "FROZEN")?;
    let deadline = Instant::now() + TIMEOUT;
    let mut delay = Duration::from_micros(100);
    let mut last_kick = Instant::now();
    loop {
        if fs::read(dir, "freezer.state")?.trim() == "FROZEN" {
            return Ok(());
        }
        if Instant::now() > deadline {
            let _ = fs::write(dir, "freezer.state", "THAWED");
            return Err(CgroupError::FreezeTimeout {
                path: dir.join("freezer.state"),
                state: "FROZEN",
            });
        }
        // A task forking while the cgroup freezes can leave it in FREEZING; writing
        // FROZEN again makes the kernel retry.
        if last_kick.elapsed() > Duration::from_millis(50) {
            fs::write(dir, "freezer.state", "FROZEN")?;
            last_kick = Instant::now();
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(10));
    }
}

fn v2_frozen(dir: &Path) -> Result<bool> {
    let events = fs::read(dir, "cgroup.events")?;
    Ok(events.lines().any(|l| l.trim() == "frozen 1"))
}

fn v2_set(dir: &Path, frozen: bool) -> Result<()> {
    fs::write(dir, "cgroup.freeze", if frozen { "1" } else { "0" })?;
    let want = if frozen { "frozen 1" } else { "frozen 0" };
    let res = wait(
        dir,
        "cgroup.events",
        if frozen { "frozen" } else { "thawed" },
        |s| s.lines().any(|l| l.trim() == want),
    );
    if res.is_err() && frozen {
        let _ = fs::write(dir, "cgroup.freeze", "0");
    }
    res
}

fn wait(dir: &Path, file: &str, state: &'static str, done: impl Fn(&str) -> bool) -> Result<()> {
    let deadline = Instant::now() + TIMEOUT;
    let mut delay = Duration::from_micros(100);
    loop {
        if done(&fs::read(dir, file)?) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(CgroupError::FreezeTimeout {
                path: dir.join(file),
                state,
            });
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(10));
    }
}
