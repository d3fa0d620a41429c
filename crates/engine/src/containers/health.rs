//! Health checks (`Config.Healthcheck`, the image's `HEALTHCHECK`): a monitor task per running
//! container runs the probe as an exec in the container every `Interval` (`StartInterval`
//! during `StartPeriod`), and keeps `State.Health` (status, failing streak, the last five
//! results) the way Docker does; each status change is a `health_status: <status>` event.
//!
//! The health lives in memory beside the record (a probe result never rewrites the container
//! record, so it cannot race the exit handler); inspect and list merge it in. A restart or a
//! live restore starts a new monitor; an old one notices its generation is stale and ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_api_types::{Health, HealthConfig, HealthcheckResult};
use berth_units::format_go_duration;

use super::Containers;
use crate::logfile;
use crate::record::ContainerRecord;
use crate::spec;

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: i64 = 3;
/// Docker keeps this many results in `State.Health.Log`.
const LOG_ENTRIES: usize = 5;
/// And this much of a probe's output.
const MAX_OUTPUT: usize = 4096;

/// The in-memory health of every container with a running monitor (or a last result).
#[derive(Debug, Default)]
pub struct HealthBoard {
    entries: Mutex<HashMap<String, (u64, Health)>>,
    generation: std::sync::atomic::AtomicU64,
}

impl HealthBoard {
    fn begin(&self, id: &str) -> u64 {
        let g = self
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let h = Health {
            status: "starting".into(),
            failing_streak: 0,
            log: Vec::new(),
        };
        self.lock().insert(id.to_string(), (g, h));
        g
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, Health)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn current(&self, id: &str, generation: u64) -> bool {
        self.lock().get(id).is_some_and(|(g, _)| *g == generation)
    }

    /// The health of `id`, if it has a health check that ran since the daemon started.
    pub fn get(&self, id: &str) -> Option<Health> {
        self.lock().get(id).map(|(_, h)| h.clone())
    }

    fn forget(&self, id: &str) {
        self.lock().remove(id);
    }
}

/// The probe's argv (`CMD …`, `CMD-SHELL cmd`), or `None` when the check is off (`NONE`,
/// empty) or not understood.
pub fn probe_argv(cfg: &HealthConfig) -> Option<Vec<String>> {
    let test = cfg.test.as_ref()?;
    match test.first().map(String::as_str) {
        Some("CMD") if test.len() > 1 => Some(test[1..].to_vec()),
        Some("CMD-SHELL") if test.len() > 1 => {
            Some(vec!["/bin/sh".into(), "-c".into(), test[1..].join(" ")])
        }
        _ => None,
    }
}

fn or_default(nanos: i64, default: Duration) -> Duration {
    if nanos > 0 {
        Duration::from_nanos(nanos.unsigned_abs())
    } else {
        default
    }
}

impl Containers {
    /// Starts the health monitor of a container that just started (nothing without a check).
    pub fn health_start(self: &Arc<Self>, rec: &ContainerRecord) {
        let Some(cfg) = rec.config.healthcheck.clone() else {
            return;
        };
        let Some(argv) = probe_argv(&cfg) else {
            return;
        };
        let generation = self.health.begin(&rec.id);
        let this = self.clone();
        let id = rec.id.clone();
        tokio::spawn(async move { this.health_monitor(id, cfg, argv, generation).await });
    }

    /// `State.Health` of `id` (None without a health check).
    pub fn health_of(&self, id: &str) -> Option<Health> {
        self.health.get(id)
    }

    async fn health_monitor(
        self: Arc<Self>,
        id: String,
        cfg: HealthConfig,
        argv: Vec<String>,
        generation: u64,
    ) {
        let interval = or_default(cfg.interval, DEFAULT_INTERVAL);
        let timeout = or_default(cfg.timeout, DEFAULT_TIMEOUT);
        let start_period = Duration::from_nanos(u64::try_from(cfg.start_period).unwrap_or(0));
        let start_interval = or_default(cfg.start_interval, DEFAULT_START_INTERVAL);
        let retries = if cfg.retries > 0 {
            cfg.retries
        } else {
            DEFAULT_RETRIES
        };
        let started = Instant::now();
        loop {
            let starting = self.health.get(&id).is_some_and(|h| h.status == "starting");
            let in_start = started.elapsed() < start_period;
            tokio::time::sleep(if starting && in_start {
                start_interval
            } else {
                interval
            })
            .await;
            if !self.health.current(&id, generation) {
                return;
            }
            let rec = match self.get(&id) {
                Ok(r) => r,
                Err(_) => {
                    self.health.forget(&id);
                    return;
                }
            };
            if !rec.state.running {
                return; // the last health stays visible, as Docker's does
            }
            if rec.state.paused {
                continue;
            }
            let in_start = started.elapsed() < start_period;
            let result = self.probe(&rec, &argv, timeout).await;
            let changed = {
                let mut all = self.health.lock();
                let Some((g, h)) = all.get_mut(&id) else {
                    return;
                };
                if *g != generation {
                    return;
                }
                let before = h.status.clone();
                if result.exit_code == 0 {
                    h.failing_streak = 0;
                    h.status = "healthy".into();
                } else if !in_start {
                    h.failing_streak += 1;
                    if h.failing_streak >= retries {
                        h.status = "unhealthy".into();
                    }
                }
                h.log.push(result);
                let excess = h.log.len().saturating_sub(LOG_ENTRIES);
                h.log.drain(..excess);
                (before != h.status).then(|| h.status.clone())
            };
            if let Some(status) = changed {
                self.event(&format!("health_status: {status}"), &rec, &[]);
            }
        }
    }

    /// Runs one probe as an exec in the container.
    async fn probe(
        &self,
        rec: &ContainerRecord,
        argv: &[String],
        timeout: Duration,
    ) -> HealthcheckResult {
        let start = logfile::now();
        let mut cmd = self.helpers.runtime.command();
        cmd.arg("--root")
            .arg(self.exec_root.join("runtime"))
            .arg("exec");
        // The user, read from the container's own files without leaving its root.
        let root = std::path::PathBuf::from(format!("/proc/{}/root", rec.state.pid));
        if let Ok(root) = berth_inroot::Root::open(&root) {
            let passwd = root.read_text("/etc/passwd").unwrap_or_default();
            let group = root.read_text("/etc/group").unwrap_or_default();
            if let Ok((uid, gid, _)) = spec::parse_user(&passwd, &group, &rec.config.user) {
                cmd.arg("--user").arg(format!("{uid}:{gid}"));
            }
        }
        if !rec.config.working_dir.is_empty() {
            cmd.arg("--cwd").arg(&rec.config.working_dir);
        }
        let mut env = rec.config.env.clone().unwrap_or_default();
        if !env.iter().any(|v| v.starts_with("PATH=")) {
            env.push(format!("PATH={}", spec::DEFAULT_PATH));
        }
        for v in env {
            cmd.arg("--env").arg(v);
        }
        static PROBES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pid_file = self.state_dir(&rec.id).join(format!("health-{n}.pid"));
        cmd.arg("--pid-file").arg(&pid_file);
        cmd.arg(&rec.id).args(argv);
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let (exit_code, output) = match cmd.spawn() {
            Err(e) => (-1, format!("health check: {e}")),
            Ok(child) => match tokio::time::timeout(timeout, child.wait_with_output()).await {
                Err(_) => {
                    // The probe itself, inside the container (killing only `runtime exec`
                    // would leave it running).
                    if let Some(pid) = std::fs::read_to_string(&pid_file)
                        .ok()
                        .and_then(|t| t.trim().parse::<i32>().ok())
                        .and_then(rustix::process::Pid::from_raw)
                    {
                        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                    }
                    (
                        -1,
                        format!(
                            "Health check exceeded timeout ({})",
                            format_go_duration(
                                i64::try_from(timeout.as_nanos()).unwrap_or(i64::MAX)
                            )
                        ),
                    )
                }
                Ok(Err(e)) => (-1, format!("health check: {e}")),
                Ok(Ok(out)) => {
                    let mut text = out.stdout;
                    text.extend_from_slice(&out.stderr);
                    text.truncate(MAX_OUTPUT);
                    (
                        out.status.code().map(i64::from).unwrap_or(-1),
                        String::from_utf8_lossy(&text).into_owned(),
                    )
                }
            },
        };
        let _ = std::fs::remove_file(&pid_file);
        HealthcheckResult {
            start,
            end: logfile::now(),
            exit_code,
            output,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_from_test() {
        let cfg = |t: &[&str]| HealthConfig {
            test: Some(t.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        };
        assert_eq!(probe_argv(&cfg(&["NONE"])), None);
        assert_eq!(probe_argv(&cfg(&[])), None);
        assert_eq!(
            probe_argv(&cfg(&["CMD", "true", "x"])).unwrap(),
            vec!["true", "x"]
        );
        assert_eq!(
            probe_argv(&cfg(&["CMD-SHELL", "exit 1"])).unwrap(),
            vec!["/bin/sh", "-c", "exit 1"]
        );
    }
}
