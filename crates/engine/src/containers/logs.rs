//! `GET /containers/{id}/logs`: the json-file log, followed or not.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{EngineError, Result};
use berth_api_server::{LogChunk, LogStream, LogsOptions, StdStream};
use bytes::Bytes;
use tokio::sync::mpsc;

use super::Containers;
use crate::logfile;

impl Containers {
    /// `GET /containers/{id}/logs`.
    pub async fn logs(self: &Arc<Self>, reference: &str, opts: LogsOptions) -> Result<LogStream> {
        let rec = self.lookup(reference)?;
        if rec.host_config.log_config.kind == "none" {
            return Err(EngineError::invalid(
                "configured logging driver does not support reading",
            ));
        }
        let (tx, rx) = mpsc::channel(256);
        let path = std::path::PathBuf::from(&rec.log_path);
        let since = opts
            .since
            .as_deref()
            .and_then(logfile::parse_time)
            .filter(|t| *t > 0);
        let until = opts
            .until
            .as_deref()
            .and_then(logfile::parse_time)
            .filter(|t| *t > 0);
        let tail: Option<usize> = opts.tail.as_deref().and_then(|t| t.parse().ok());
        let this = self.clone();
        let id = rec.id.clone();
        // Held open so a follower still gets the tail when the container is removed meanwhile
        // (docker-py's `run(remove=True)` reads the log stream after removing the container).
        let held = std::fs::File::open(&path).ok();
        tokio::spawn(async move {
            let entries = logfile::read_all(&path).unwrap_or_default();
            let mut seen = entries.len();
            let mut list: Vec<_> = entries
                .into_iter()
                .filter(|e| keep(e, since, until))
                .collect();
            if let Some(n) = tail {
                let skip = list.len().saturating_sub(n);
                list.drain(..skip);
            }
            for e in list {
                if send_entry(&tx, &e, &opts).await.is_err() {
                    return;
                }
            }
            if !opts.follow {
                return;
            }
            loop {
                let running = this
                    .get(&id)
                    .map(|r| r.state.running || r.state.restarting)
                    .unwrap_or(false);
                let mut entries = logfile::read_all(&path).unwrap_or_default();
                if let (true, Some(f)) = (!path.exists(), &held) {
                    entries = logfile::read_open(f);
                }
                if entries.len() < seen {
                    seen = 0; // rotated
                }
                for e in entries.iter().skip(seen) {
                    if keep(e, since, until) && send_entry(&tx, e, &opts).await.is_err() {
                        return;
                    }
                }
                seen = entries.len();
                if !running || tx.is_closed() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Ok(LogStream {
            tty: rec.config.tty,
            chunks: rx,
        })
    }
}

fn keep(e: &logfile::LogEntry, since: Option<i128>, until: Option<i128>) -> bool {
    let t = logfile::rfc3339_nanos(&e.time).unwrap_or(0);
    since.is_none_or(|s| t >= s) && until.is_none_or(|u| t <= u)
}

async fn send_entry(
    tx: &mpsc::Sender<LogChunk>,
    e: &logfile::LogEntry,
    opts: &LogsOptions,
) -> Result<(), ()> {
    let stream = if e.stream == "stderr" {
        StdStream::Stderr
    } else {
        StdStream::Stdout
    };
    if (stream == StdStream::Stdout && !opts.stdout)
        || (stream == StdStream::Stderr && !opts.stderr)
    {
        return Ok(());
    }
    let data = if opts.timestamps {
        format!("{} {}", e.time, e.log)
    } else {
        e.log.clone()
    };
    tx.send(LogChunk {
        stream,
        data: Bytes::from(data),
    })
    .await
    .map_err(|_| ())
}
