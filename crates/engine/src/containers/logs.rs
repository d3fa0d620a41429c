//! `GET /containers/{id}/logs`: the container's log read back through its driver
//! (`berth_logdriver::reader`), followed or not.

use std::sync::Arc;

use crate::error::{EngineError, Result};
use crate::stream::{LogChunk, LogStream, StdStream};
use berth_api_types::query::LogsOptions;
use berth_logdriver::LogReader;
use bytes::Bytes;
use tokio::sync::mpsc;

use super::Containers;
use crate::logfile;

impl Containers {
    /// `GET /containers/{id}/logs`.
    pub async fn logs(self: &Arc<Self>, reference: &str, opts: LogsOptions) -> Result<LogStream> {
        let rec = self.lookup(reference)?;
        let config = self.log_config(&rec)?;
        // Opened now: a file log is held open from here, so a follower still gets the tail
        // when the container is removed meanwhile (docker-py's `run(remove=True)`).
        let mut reader = berth_logdriver::reader(&config).map_err(|e| match e {
            berth_logdriver::LogError::ReadNotSupported => {
                EngineError::not_implemented(e.to_string())
            }
            e => EngineError::internal(e),
        })?;
        let (tx, rx) = mpsc::channel(256);
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
        let interval = reader.poll_interval();
        tokio::spawn(async move {
            let (r, entries) = read_new(reader).await;
            reader = r;
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
                let (r, entries) = read_new(reader).await;
                reader = r;
                for e in &entries {
                    if keep(e, since, until) && send_entry(&tx, e, &opts).await.is_err() {
                        return;
                    }
                }
                if !running || tx.is_closed() {
                    return;
                }
                tokio::time::sleep(interval).await;
            }
        });
        Ok(LogStream {
            tty: rec.config.tty,
            chunks: rx,
        })
    }
}

/// What the reader has that is new (read off the async threads: it may run `journalctl`).
async fn read_new(mut reader: Box<dyn LogReader>) -> (Box<dyn LogReader>, Vec<logfile::LogEntry>) {
    tokio::task::spawn_blocking(move || {
        let entries = reader.read_new().unwrap_or_default();
        (reader, entries)
    })
    .await
    .unwrap_or_else(|_| unreachable!("log readers do not panic"))
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
    let stream = StdStream::of_log(&e.stream);
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
