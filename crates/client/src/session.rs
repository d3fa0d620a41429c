//! Driving an attached session the way the docker CLI's `hijackedIOStreamer` does: stdin to
//! the connection (raw terminal and detach keys with a tty), output demultiplexed to
//! stdout/stderr, terminal resizes on SIGWINCH, and signals proxied to the container.

use berth_api_types::detach_keys::{self, EscapeScanner, Scan};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::commands::Ctx;
use crate::error::{CliError, CliResult};
use crate::terminal;
use crate::transport::{query, seg, Upgraded};

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The daemon closed the output (the container or process is done, or the daemon
    /// ended the session).
    Output,
    /// The user typed the detach keys.
    Detached,
}

/// docker's message when a session ends on the detach keys (`term.EscapeError`).
pub const ESCAPE_MESSAGE: &str = "read escape sequence";

/// The detach keys in force: the flag, else `detachKeys` of config.json; validated like
/// docker (`invalid detach keys (…): Unknown character: '…'`). `None` means the default.
pub fn detach_keys(ctx: &Ctx, flag: Option<String>) -> CliResult<Option<String>> {
    let keys = flag.filter(|k| !k.is_empty()).or_else(|| {
        let text = std::fs::read_to_string(ctx.config_dir.join("config.json")).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v.get("detachKeys")?
            .as_str()
            .filter(|k| !k.is_empty())
            .map(str::to_string)
    });
    if let Some(k) = &keys {
        detach_keys::parse(k)
            .map_err(|e| CliError::msg(format!("invalid detach keys ({k}): {e}")))?;
    }
    Ok(keys)
}

/// Pumps a hijacked session: stdin → connection (half-close at EOF), connection →
/// stdout/stderr. With a tty and stdin, the terminal is raw and the detach keys end the
/// session (they are not sent).
pub async fn pump(conn: Upgraded, tty: bool, stdin: bool, keys: Option<&str>) -> CliResult<Ended> {
    let watch_keys = tty && stdin;
    let sequence = if watch_keys {
        detach_keys::sequence_or_default(keys).map_err(|e| CliError::msg(e.to_string()))?
    } else {
        Vec::new()
    };
    let raw = if watch_keys && terminal::stdin_is_tty() {
        terminal::RawMode::enable()
    } else {
        None
    };
    let (mut rd, mut wr) = tokio::io::split(conn);
    let (detach_tx, mut detach_rx) = tokio::sync::oneshot::channel::<()>();
    if stdin {
        tokio::spawn(async move {
            let mut input = tokio::io::stdin();
            let mut scanner = EscapeScanner::new(sequence);
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match input.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let (pass, detach) = match scanner.feed(&buf[..n]) {
                            Scan::Pass(p) => (p, false),
                            Scan::Detach(p) => (p, true),
                        };
                        if wr.write_all(&pass).await.is_err() {
                            return;
                        }
                        if detach {
                            let _ = detach_tx.send(());
                            return;
                        }
                    }
                }
            }
            let _ = wr.shutdown().await;
            // Keep the write half (and so the connection) open until the output ends.
            std::future::pending::<()>().await;
        });
    }
    let mut o = std::io::stdout();
    let mut e = std::io::stderr();
    let ended = tokio::select! {
        r = crate::stdcopy::demux(&mut rd, tty, &mut o, &mut e) => {
            r.map_err(|e| CliError::msg(e.to_string()))?;
            Ended::Output
        }
        d = &mut detach_rx, if stdin => match d {
            Ok(()) => Ended::Detached,
            Err(_) => {
                crate::stdcopy::demux(&mut rd, tty, &mut o, &mut e)
                    .await
                    .map_err(|e| CliError::msg(e.to_string()))?;
                Ended::Output
            }
        },
    };
    drop(raw);
    Ok(ended)
}

/// Sends the terminal size now and on every SIGWINCH (`/containers/{id}` or `/exec/{id}`).
/// Like docker's `initTtySize`, the first resize is retried a few times (an exec may not
/// have its tty yet).
pub fn watch_resize(ctx: &Ctx, path_prefix: String) {
    let client = ctx.client.clone();
    tokio::spawn(async move {
        let resize = |client: crate::transport::Client, prefix: String| async move {
            match terminal::size() {
                Some((h, w)) => client
                    .post(&format!(
                        "{prefix}/resize{}",
                        query(&[("h", h.to_string()), ("w", w.to_string())])
                    ))
                    .await
                    .is_ok(),
                None => true,
            }
        };
        for retry in 0..10u64 {
            if resize(client.clone(), path_prefix.clone()).await {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis((retry + 1) * 10)).await;
        }
        let Ok(mut sig) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        else {
            return;
        };
        while sig.recv().await.is_some() {
            resize(client.clone(), path_prefix.clone()).await;
        }
    });
}

/// The signals `--sig-proxy` forwards (docker forwards all it can catch but SIGCHLD, SIGPIPE
/// and its runtime's; these are the ones a terminal or a supervisor sends).
const PROXIED: [(i32, &str); 9] = [
    (1, "SIGHUP"),
    (2, "SIGINT"),
    (3, "SIGQUIT"),
    (10, "SIGUSR1"),
    (12, "SIGUSR2"),
    (14, "SIGALRM"),
    (15, "SIGTERM"),
    (20, "SIGTSTP"),
    (18, "SIGCONT"),
];

/// Forwards the signals this process receives to container `id` (`POST …/kill?signal=`)
/// until the process ends.
pub fn proxy_signals(ctx: &Ctx, id: &str) {
    use tokio::signal::unix::{signal, SignalKind};
    for (num, name) in PROXIED {
        let Ok(mut sig) = signal(SignalKind::from_raw(num)) else {
            continue;
        };
        let client = ctx.client.clone();
        let path = format!(
            "/containers/{}/kill{}",
            seg(id),
            query(&[("signal", name.to_string())])
        );
        tokio::spawn(async move {
            while sig.recv().await.is_some() {
                let _ = client.post(&path).await;
            }
        });
    }
}
