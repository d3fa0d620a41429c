//! Health checks (`Config.Healthcheck`, the image's `HEALTHCHECK`): a monitor task per running
//! container runs the probe as an exec in the container every `Interval` (`StartInterval`
//! during `StartPeriod`), and keeps `State.Health` (status, failing streak, the last five
//! results) the way Docker does; each status change is a `health_status: <status>` event.
//!
//! The health lives in memory beside the record (a probe result never rewrites the container
//! record, so it cannot race the exit handler); inspect and list merge it in. A restart or a
//! live restore starts a new monitor; an old one notices its generation is stale and ends.
//!
//! A service of its own, built once by `daemon/services.rs` with what it needs (records,
//! events, the [`ProcessRuntime`] that starts the probes). The container lifecycle reaches it only through the
//! [`HealthMonitor`] trait it defines: a container started, and the health to show.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use berth_api_types::{Health as HealthState, HealthConfig, HealthcheckResult};
use berth_units::format_go_duration;

use oci_spec::runtime::Process;
use tokio::io::AsyncReadExt;

use crate::error::Result;
use crate::events::EventBus;
use crate::logfile;
use crate::processes::{self, Launch, Launched, ProcessOutput, ProcessRuntime, Stdio};
use crate::record::{ContainerRecord, ContainerStore};
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
struct HealthBoard {
    entries: Mutex<HashMap<String, (u64, HealthState)>>,
    generation: std::sync::atomic::AtomicU64,
}

impl HealthBoard {
    fn begin(&self, id: &str) -> u64 {
        let g = self
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let h = HealthState {
            status: "starting".into(),
            failing_streak: 0,
            log: Vec::new(),
        };
        self.lock().insert(id.to_string(), (g, h));
        g
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, HealthState)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn current(&self, id: &str, generation: u64) -> bool {
        self.lock().get(id).is_some_and(|(g, _)| *g == generation)
    }

    /// The health of `id`, if it has a health check that ran since the daemon started.
    fn get(&self, id: &str) -> Option<HealthState> {
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

/// What the container lifecycle tells the health checks, and reads back for inspect and
/// `ps`. [`Health`] implements it; the service builder hands it to `Containers`.
pub trait HealthMonitor: Send + Sync {
    /// A container started (or was restored running): starts its monitor, if it has a check.
    fn container_started(&self, rec: &ContainerRecord);
    /// `State.Health` of `id` (None without a health check that ran since the daemon started).
    fn health_of(&self, id: &str) -> Option<HealthState>;
}

/// The health checks of running containers: one monitor task per container with a check.
#[derive(Debug)]
pub struct Health {
    /// Itself, for the monitor tasks it spawns.
    me: Weak<Health>,
    records: ContainerStore,
    events: Arc<EventBus>,
    processes: Arc<dyn ProcessRuntime>,
    board: HealthBoard,
}

impl Health {
    /// The service over the records (read), the event bus and what starts the probes.
    pub fn new(
        records: ContainerStore,
        events: Arc<EventBus>,
        processes: Arc<dyn ProcessRuntime>,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Health {
            me: me.clone(),
            records,
            events,
            processes,
            board: HealthBoard::default(),
        })
    }
}

impl HealthMonitor for Health {
    /// Starts the health monitor of a container that just started (nothing without a check).
    fn container_started(&self, rec: &ContainerRecord) {
        let Some(cfg) = rec.config.healthcheck.clone() else {
            return;
        };
        let Some(argv) = probe_argv(&cfg) else {
            return;
        };
        let Some(this) = self.me.upgrade() else {
            return;
        };
        let generation = self.board.begin(&rec.id);
        let id = rec.id.clone();
        tokio::spawn(async move { this.monitor(id, cfg, argv, generation).await });
    }

    fn health_of(&self, id: &str) -> Option<HealthState> {
        self.board.get(id)
    }
}

impl Health {
    async fn monitor(
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
            let starting = self.board.get(&id).is_some_and(|h| h.status == "starting");
            let in_start = started.elapsed() < start_period;
            tokio::time::sleep(if starting && in_start {
                start_interval
            } else {
                interval
            })
            .await;
            if !self.board.current(&id, generation) {
                return;
            }
            let rec = match self.records.get(&id) {
                Ok(r) => r,
                Err(_) => {
                    self.board.forget(&id);
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
                let mut all = self.board.lock();
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
                } else if !(in_start && h.status == "starting") {
                    // A failure counts, except while starting within the start period
                    // (Docker's: a container that was healthy once is judged at once).
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
                self.events
                    .for_container(&format!("health_status: {status}"), &rec, &[]);
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
        let (exit_code, output) = match self.launch_probe(rec, argv).await {
            Err(e) => (-1, format!("health check: {e}")),
            Ok(probe) => {
                let Launched {
                    stdout,
                    stderr,
                    exit,
                    kill,
                    ..
                } = probe;
                let run = async move {
                    let (out, err, exit) = tokio::join!(read_all(stdout), read_all(stderr), exit);
                    let mut text = out;
                    text.extend_from_slice(&err);
                    text.truncate(MAX_OUTPUT);
                    (
                        exit.code.unwrap_or(-1),
                        String::from_utf8_lossy(&text).into_owned(),
                    )
                };
                match tokio::time::timeout(timeout, run).await {
                    Ok(result) => result,
                    Err(_) => {
                        // The probe itself, inside the container; dropping the wait ends
                        // what launched it.
                        kill();
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
                }
            }
        };
        HealthcheckResult {
            start,
            end: logfile::now(),
            exit_code,
            output,
        }
    }

    /// Starts a probe: the container's process with the probe's command, the container's
    /// user (read from the container's own files without leaving its root), working
    /// directory and environment.
    async fn launch_probe(&self, rec: &ContainerRecord, argv: &[String]) -> Result<Launched> {
        let base = processes::bundle_process(&self.records.state_dir(&rec.id))?;
        let root = std::path::PathBuf::from(format!("/proc/{}/root", rec.state.pid));
        let user = berth_inroot::Root::open(&root).ok().and_then(|root| {
            let passwd = root.read_text("/etc/passwd").unwrap_or_default();
            let group = root.read_text("/etc/group").unwrap_or_default();
            spec::parse_user(&passwd, &group, &rec.config.user)
                .ok()
                .map(|(uid, gid, _)| (uid, gid))
        });
        let process = probe_process(&base, argv, rec, user);
        let id = crate::record::new_id();
        self.processes
            .launch(Launch {
                container: &rec.id,
                id: &id,
                process: &process,
                stdio: Stdio::Pipes { stdin: false },
                kill_on_drop: true,
            })
            .await
    }
}

/// The probe's process: the container's (`base`) with `argv`, no terminal, the container's
/// environment (with a default `PATH`) and working directory, and `user`'s ids (the rest of
/// the container's user kept).
pub fn probe_process(
    base: &Process,
    argv: &[String],
    rec: &ContainerRecord,
    user: Option<(u32, u32)>,
) -> Process {
    let mut p = base.clone();
    p.set_args(Some(argv.to_vec()));
    p.set_terminal(Some(false));
    let mut env = rec.config.env.clone().unwrap_or_default();
    if !env.iter().any(|v| v.starts_with("PATH=")) {
        env.push(format!("PATH={}", spec::DEFAULT_PATH));
    }
    p.set_env(Some(processes::merge_env(
        p.env().as_deref().unwrap_or_default(),
        &env,
    )));
    if !rec.config.working_dir.is_empty() {
        p.set_cwd(std::path::PathBuf::from(&rec.config.working_dir));
    }
    if let Some((uid, gid)) = user {
        let mut u = p.user().clone();
        u.set_uid(uid).set_gid(gid);
        p.set_user(u);
    }
    p
}

async fn read_all(pipe: Option<ProcessOutput>) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(mut p) = pipe {
        let _ = p.read_to_end(&mut buf).await;
    }
    buf
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
