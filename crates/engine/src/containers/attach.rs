//! `POST /containers/{id}/attach` (hijacked stream, detach keys) and `resize`.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{EngineError, Result};
use crate::session::Session;
use crate::stream::StdStream;
use berth_api_types::detach_keys::{self, EscapeScanner, Scan};
use berth_api_types::query::AttachOptions;
use tokio::io::AsyncReadExt;
use tokio::sync::{broadcast, oneshot};

use super::task::{Output, Signal};
use super::Containers;
use crate::shim::protocol;

impl Containers {
    /// `POST /containers/{id}/attach` (subscribes before returning).
    pub async fn attach(self: &Arc<Self>, reference: &str, opts: AttachOptions) -> Result<Session> {
        let rec = self.lookup(reference)?;
        let keys = match opts.detach_keys.as_deref() {
            Some(k) if !k.is_empty() => detach_keys::parse(k)
                .map_err(|_| EngineError::invalid(format!("Invalid detach keys ({k}) provided")))?,
            _ => detach_keys::DEFAULT.to_vec(),
        };
        let live = self.live(&rec.id);
        let mut out = live.output.subscribe();
        let mut sig = live.signals.subscribe();
        let tty = rec.config.tty;
        // `logs=1` replays what the driver can give back (nothing for `none`).
        let replay = match opts.logs {
            true => match berth_logdriver::reader(&self.log_config(&rec)?) {
                Ok(mut r) => tokio::task::spawn_blocking(move || r.read_new().unwrap_or_default())
                    .await
                    .unwrap_or_default(),
                Err(_) => Vec::new(),
            },
            false => Vec::new(),
        };
        let stdin_once = rec.config.stdin_once;
        let live2 = live.clone();
        let want_stdin = opts.stdin && rec.config.open_stdin;
        let (want_out, want_err) = (opts.stdout, opts.stderr);
        let stream = opts.stream;
        let this = self.clone();
        let cid = rec.id.clone();
        Ok(Session::new(tty, move |mut s| async move {
            for e in replay {
                let st = StdStream::of_log(&e.stream);
                if (st == StdStream::Stdout && want_out) || (st == StdStream::Stderr && want_err) {
                    let _ = s.output.write(st, e.log.as_bytes()).await;
                }
            }
            if !stream {
                return;
            }
            // With a tty (Docker's `copyEscapable`) the detach keys, or the end of the
            // client's input, end the session; the container keeps running.
            let (end_tx, mut end_rx) = oneshot::channel::<bool>();
            if want_stdin {
                let mut stdin = s.stdin;
                let live3 = live2.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut scanner = EscapeScanner::new(if tty { keys } else { Vec::new() });
                    loop {
                        match stdin.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                let (pass, detach) = match scanner.feed(&buf[..n]) {
                                    Scan::Pass(p) => (p, false),
                                    Scan::Detach(p) => (p, true),
                                };
                                let patience = Duration::from_secs(60);
                                if !pass.is_empty()
                                    && !live3
                                        .send_when_connected(protocol::STDIN, &pass, patience)
                                        .await
                                {
                                    break;
                                }
                                if detach {
                                    let _ = end_tx.send(true);
                                    return;
                                }
                            }
                        }
                    }
                    if tty {
                        let _ = end_tx.send(false);
                        return;
                    }
                    if stdin_once {
                        live3
                            .send_when_connected(
                                protocol::CLOSE_STDIN,
                                b"",
                                Duration::from_secs(60),
                            )
                            .await;
                    }
                });
            }
            let mut input_done = false;
            loop {
                tokio::select! {
                    m = out.recv() => match m {
                        Ok(Output::Data(st, data)) => {
                            let wanted = (st == StdStream::Stdout && want_out) || (st == StdStream::Stderr && want_err) || tty;
                            if wanted && s.output.write(st, &data).await.is_err() { break; }
                        }
                        Ok(Output::Exit(_)) => break,
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => break,
                    },
                    g = sig.recv() => match g {
                        Ok(Signal::Removed(_)) | Err(broadcast::error::RecvError::Closed) => break,
                        _ => {}
                    },
                    e = &mut end_rx, if want_stdin && !input_done => {
                        input_done = true;
                        // The keys, or the client leaving (Docker logs both as a detach).
                        if e.is_ok() {
                            if let Ok(rec) = this.get(&cid) {
                                this.event("detach", &rec, &[]);
                            }
                            break;
                        }
                    }
                }
            }
            let _ = s.output.shutdown().await;
        }))
    }

    /// `POST /containers/{id}/resize`.
    pub async fn resize(&self, reference: &str, h: u16, w: u16) -> Result<()> {
        let rec = self.lookup(reference)?;
        if !rec.state.running {
            return Err(EngineError::conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        self.live(&rec.id)
            .send(protocol::RESIZE, format!("{h} {w}").as_bytes());
        Ok(())
    }
}
