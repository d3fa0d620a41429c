//! `logs`, and the attached part of `up`: every container's stream as lines prefixed with
//! its name, padded and coloured as Compose colours them (cyan, yellow, green, magenta,
//! blue, then their bright versions, in turn).

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use berth_client::transport::{next_chunk, query};
use futures_util::future::{join_all, select_all};
use hyper::Method;
use serde_json::Value;

use super::progress::{Mode, Progress, Status};
use super::runner::Runner;
use super::state::Container;
use super::up::UpArgs;
use super::Failure;

const RAINBOW: [&str; 10] = [
    "36", "33", "32", "35", "34", "36;1", "33;1", "32;1", "35;1", "34;1",
];

/// `logs` flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs for each container
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)
    #[arg(long)]
    pub until: Option<String>,
    /// Don't print prefix in logs
    #[arg(long)]
    pub no_log_prefix: bool,
    /// Produce monochrome output
    #[arg(long)]
    pub no_color: bool,
    /// index of the container if service has multiple replicas
    #[arg(long)]
    pub index: Option<u32>,
    /// Services
    pub services: Vec<String>,
}

/// Writes prefixed lines for several containers.
#[derive(Clone)]
pub struct Printer {
    width: usize,
    color: bool,
    prefix: bool,
    out: Arc<Mutex<()>>,
}

impl Printer {
    /// For these container names.
    pub fn new(names: &[String], no_color: bool, prefix: bool) -> Printer {
        Printer {
            width: names.iter().map(String::len).max().unwrap_or(0) + 1,
            color: !no_color && std::io::stdout().is_terminal(),
            prefix,
            out: Arc::new(Mutex::new(())),
        }
    }

    /// The colour of the `i`th container.
    pub fn color_of(i: usize) -> &'static str {
        RAINBOW[i % RAINBOW.len()]
    }

    /// Prints one line of `name`'s output.
    pub fn line(&self, name: &str, color: &str, line: &str) {
        let _g = self.out.lock();
        let mut o = std::io::stdout().lock();
        if !self.prefix {
            let _ = writeln!(o, "{line}");
        } else if self.color {
            let _ = writeln!(o, "\x1b[{color}m{name:<w$} | \x1b[0m{line}", w = self.width);
        } else {
            let _ = writeln!(o, "{name:<w$} | {line}", w = self.width);
        }
        let _ = o.flush();
    }

    /// A message in the name's colour (`app-web-1 exited with code 0`).
    pub fn note(&self, color: &str, text: &str) {
        let _g = self.out.lock();
        let mut o = std::io::stdout().lock();
        if self.color {
            let _ = writeln!(o, "\x1b[{color}m{text}\x1b[0m");
        } else {
            let _ = writeln!(o, "{text}");
        }
    }
}

/// Streams one container's logs as lines until the stream ends.
pub async fn stream(
    r: &Runner,
    c: &Container,
    q: &[(&str, String)],
    p: &Printer,
    color: &str,
) -> Result<(), Failure> {
    let info = r.api.inspect(&c.id).await?;
    let tty = info
        .pointer("/Config/Tty")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let resp = r
        .api
        .client
        .request(
            Method::GET,
            &format!("/containers/{}/logs{}", c.id, query(q)),
            None,
            false,
            &[],
        )
        .await?;
    let mut body = resp.into_body();
    let mut raw: Vec<u8> = Vec::new();
    let mut text: Vec<u8> = Vec::new();
    while let Some(chunk) = next_chunk(&mut body).await? {
        raw.extend_from_slice(&chunk);
        if tty {
            text.append(&mut raw);
        } else {
            while raw.len() >= 8 {
                let len = u32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]]) as usize;
                if raw.len() < 8 + len {
                    break;
                }
                text.extend_from_slice(&raw[8..8 + len]);
                raw.drain(..8 + len);
            }
        }
        while let Some(i) = text.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = text.drain(..=i).collect();
            let l = String::from_utf8_lossy(&line[..line.len() - 1]);
            p.line(&c.name, color, l.trim_end_matches('\r'));
        }
    }
    if !text.is_empty() {
        p.line(&c.name, color, &String::from_utf8_lossy(&text));
    }
    Ok(())
}

/// `logs`.
pub async fn logs(r: &Runner, args: &LogsArgs) -> Result<i32, Failure> {
    let only: BTreeSet<&String> = args.services.iter().collect();
    for s in &only {
        if r.from_file && !r.loaded.project.services.contains_key(*s) {
            return Err(Failure::msg(format!("no such service: {s}")));
        }
    }
    let containers: Vec<Container> = r
        .containers(None)
        .await?
        .into_iter()
        .filter(|c| only.is_empty() || only.contains(&c.service))
        .filter(|c| args.index.is_none_or(|i| c.number == i))
        .collect();
    let names: Vec<String> = containers.iter().map(|c| c.name.clone()).collect();
    let printer = Printer::new(&names, args.no_color, !args.no_log_prefix);
    let mut q = vec![
        ("stdout", "1".to_string()),
        ("stderr", "1".to_string()),
        ("tail", args.tail.clone()),
        ("follow", if args.follow { "1" } else { "0" }.to_string()),
        (
            "timestamps",
            if args.timestamps { "1" } else { "0" }.to_string(),
        ),
    ];
    if let Some(s) = &args.since {
        q.push(("since", s.clone()));
    }
    if let Some(u) = &args.until {
        q.push(("until", u.clone()));
    }
    let jobs = containers
        .iter()
        .enumerate()
        .map(|(i, c)| stream(r, c, &q, &printer, Printer::color_of(i)));
    for res in join_all(jobs).await {
        res?;
    }
    Ok(0)
}

/// The attached part of `up`: logs of `attach` services until their containers exit (or
/// Ctrl-C, which stops the project: "Gracefully stopping...").
pub async fn attached(
    r: &Runner,
    services: &BTreeSet<String>,
    attach: &BTreeSet<String>,
    args: &UpArgs,
) -> Result<i32, Failure> {
    let containers: Vec<Container> = r
        .containers(Some(false))
        .await?
        .into_iter()
        .filter(|c| services.contains(&c.service))
        .collect();
    let shown: Vec<&Container> = containers
        .iter()
        .filter(|c| attach.contains(&c.service))
        .collect();
    let names: Vec<String> = shown.iter().map(|c| c.name.clone()).collect();
    println!("Attaching to {}", names.join(", "));
    let printer = Printer::new(&names, args.no_color, !args.no_log_prefix);
    let q = vec![
        ("stdout", "1".to_string()),
        ("stderr", "1".to_string()),
        ("follow", "1".to_string()),
        ("tail", "all".to_string()),
    ];
    let streams = shown.iter().enumerate().map(|(i, c)| {
        let printer = printer.clone();
        let q = q.clone();
        Box::pin(async move {
            let color = Printer::color_of(i);
            let _ = stream(r, c, &q, &printer, color).await;
            let code = r
                .api
                .inspect(&c.id)
                .await
                .ok()
                .and_then(|i| i.pointer("/State/ExitCode").and_then(Value::as_i64))
                .unwrap_or(0);
            printer.note(color, &format!("{} exited with code {code}", c.name));
            (c.service.clone(), code)
        })
    });
    let mut pending: Vec<_> = streams.collect();
    let stop_all = || async {
        let progress = Progress::new(
            Mode::choose(None, "auto").unwrap_or(Mode::Plain),
            "Stopping",
        );
        for c in &containers {
            let id = format!("Container {}", c.name);
            progress.event(&id, Status::Working, "Stopping");
            let t = args.timeout.map(|t| format!("?t={t}")).unwrap_or_default();
            let _ = r
                .api
                .post_empty(&format!("/containers/{}/stop{t}", c.id))
                .await;
            progress.event(&id, Status::Done, "Stopped");
        }
    };
    let mut exit = 0;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    while !pending.is_empty() {
        tokio::select! {
            (res, _, rest) = select_all(pending) => {
                pending = rest;
                let (service, code) = res;
                if args.exit_code_from.as_deref() == Some(service.as_str()) || (args.exit_code_from.is_none() && args.abort_on_container_exit) {
                    exit = super::exit_status(code);
                }
                if args.abort_on_container_exit {
                    println!("Aborting on container exit...");
                    stop_all().await;
                    if let Some(s) = &args.exit_code_from {
                        if s != &service {
                            let c = containers.iter().find(|c| &c.service == s);
                            if let Some(c) = c {
                                exit = super::exit_status(r.api.inspect(&c.id).await.ok().and_then(|i| i.pointer("/State/ExitCode").and_then(Value::as_i64)).unwrap_or(0));
                            }
                        }
                    }
                    return Ok(exit);
                }
            }
            _ = &mut ctrl_c => {
                eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
                stop_all().await;
                return Ok(130);
            }
        }
    }
    Ok(exit)
}
