//! Exec instances: `POST /containers/{id}/exec`, `/exec/{id}/start|resize|json`.
//!
//! An exec's process is started by the [`ProcessRuntime`] the builder hands the service
//! (`berth runtime exec` as a child of the daemon; a fake in unit tests). Without a tty its
//! stdio are pipes, multiplexed onto the hijacked connection. With a tty the runtime hands
//! the pty master over; the service keeps it for `/exec/{id}/resize`, streams it raw, and
//! watches the client's input for the detach keys (Docker's `copyEscapable`): on the
//! sequence the session ends and the process keeps running.

mod process;
mod pty;
mod start;

use pty::set_size;

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{EngineError, Result};
use berth_api_types::detach_keys;
use berth_api_types::*;

use crate::events::EventBus;
use crate::networks::Networks;
use crate::processes::ProcessRuntime;
use crate::record;
use crate::record::ContainerStore;

/// An exec instance (kept in memory).
#[derive(Debug, Clone)]
pub struct ExecRecord {
    /// Exec id.
    pub id: String,
    /// Container id.
    pub container: String,
    /// Config.
    pub config: ExecConfig,
    /// Running now.
    pub running: bool,
    /// Exit code when done.
    pub exit_code: Option<i64>,
    /// Host pid.
    pub pid: i64,
    /// The pty master of a tty exec, once the runtime sent it.
    pub pty: Option<Arc<OwnedFd>>,
    /// Start was called (the resize of a tty exec waits for its pty until then).
    pub started: bool,
}

/// The exec instances of running containers (in memory, as Docker keeps them).
#[derive(Debug)]
pub struct Execs {
    records: ContainerStore,
    networks: Arc<Networks>,
    events: Arc<EventBus>,
    processes: Arc<dyn ProcessRuntime>,
    instances: Mutex<HashMap<String, ExecRecord>>,
}

impl Execs {
    /// The service over the records (read), the networks (an exec sees the container's
    /// legacy link variables), the event bus and what starts the processes.
    pub fn new(
        records: ContainerStore,
        networks: Arc<Networks>,
        events: Arc<EventBus>,
        processes: Arc<dyn ProcessRuntime>,
    ) -> Arc<Self> {
        Arc::new(Execs {
            records,
            networks,
            events,
            processes,
            instances: Mutex::new(HashMap::new()),
        })
    }

    /// `POST /containers/{id}/exec`.
    pub async fn exec_create(&self, reference: &str, config: ExecConfig) -> Result<IdResponse> {
        let rec = self.records.lookup(reference)?;
        if !rec.state.running {
            return Err(EngineError::conflict(format!(
                "container {} is not running",
                rec.id
            )));
        }
        if rec.state.paused {
            return Err(EngineError::conflict(format!(
                "container {} is paused, unpause the container before exec",
                rec.id
            )));
        }
        if config.cmd.as_ref().is_none_or(|c| c.0.is_empty()) {
            return Err(EngineError::invalid("No exec command specified"));
        }
        if detach_keys::parse(&config.detach_keys).is_err() {
            return Err(EngineError::invalid(format!(
                "Invalid escape keys ({}) provided",
                config.detach_keys
            )));
        }
        let id = record::new_id();
        // Docker's `exec_create: <command line>`, on the container, with the exec's id.
        let line = config
            .cmd
            .clone()
            .map(|c| c.0.join(" "))
            .unwrap_or_default();
        self.events.for_container(
            &format!("exec_create: {line}"),
            &rec,
            &[("execID", id.clone())],
        );
        self.instances
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                id.clone(),
                ExecRecord {
                    id: id.clone(),
                    container: rec.id.clone(),
                    config,
                    running: false,
                    exit_code: None,
                    pid: 0,
                    pty: None,
                    started: false,
                },
            );
        Ok(IdResponse { id })
    }

    pub(crate) fn exec_record(&self, id: &str) -> Result<ExecRecord> {
        self.instances
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| EngineError::no_such_exec(id))
    }

    /// `GET /exec/{id}/json`.
    pub fn exec_inspect(&self, id: &str) -> Result<ExecInspect> {
        let e = self.exec_record(id)?;
        let cmd = e.config.cmd.clone().map(|c| c.0).unwrap_or_default();
        Ok(ExecInspect {
            id: e.id,
            running: e.running,
            exit_code: e.exit_code,
            process_config: ProcessConfig {
                privileged: e.config.privileged,
                user: e.config.user.clone(),
                tty: e.config.tty,
                entrypoint: cmd.first().cloned().unwrap_or_default(),
                arguments: cmd.iter().skip(1).cloned().collect(),
            },
            open_stdin: e.config.attach_stdin,
            open_stderr: e.config.attach_stderr,
            open_stdout: e.config.attach_stdout,
            can_remove: false,
            container_id: e.container,
            detach_keys: e.config.detach_keys,
            pid: e.pid,
        })
    }

    /// `POST /exec/{id}/resize`: sizes the exec's pty; waits (10 s, as Docker) for a tty
    /// exec that is starting to have one.
    pub async fn exec_resize(&self, id: &str, height: u32, width: u32) -> Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let e = self.exec_record(id)?;
            if let Some(pty) = &e.pty {
                return set_size(pty, height, width).map_err(EngineError::internal);
            }
            if e.started && !e.config.tty {
                // Docker resizes the process's console; a process without one has none.
                return Ok(());
            }
            if e.exit_code.is_some() {
                return Err(EngineError::invalid("exec process is not started"));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(EngineError::internal(
                    "timeout waiting for exec session ready",
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn set_exec(&self, id: &str, f: impl FnOnce(&mut ExecRecord)) {
        if let Some(x) = self
            .instances
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(id)
        {
            f(x);
        }
    }
}
