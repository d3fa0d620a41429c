//! Progress output as Compose v2 prints it on stderr: on a terminal a block redrawn in place
//! (`[+] Running 3/3` then ` ✔ Container app-redis-1  Started  0.3s`), otherwise one plain
//! line per event (` Container app-redis-1 Started `), JSON lines, or nothing (`quiet`).

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Redrawn block (terminal).
    Tty,
    /// One line per event.
    Plain,
    /// JSON lines.
    Json,
    /// Nothing.
    Quiet,
}

impl Mode {
    /// From `--progress` / `COMPOSE_PROGRESS` (`auto`: a terminal on stderr means tty).
    pub fn choose(flag: Option<&str>, ansi: &str) -> Result<Mode, String> {
        let env = std::env::var("COMPOSE_PROGRESS").ok();
        let value = flag
            .map(str::to_string)
            .or(env)
            .unwrap_or_else(|| "auto".into());
        Ok(match value.as_str() {
            "auto" => {
                if std::io::stderr().is_terminal() && ansi != "never" {
                    Mode::Tty
                } else {
                    Mode::Plain
                }
            }
            "tty" => Mode::Tty,
            "plain" => Mode::Plain,
            "json" => Mode::Json,
            "quiet" => Mode::Quiet,
            other => return Err(format!("unsupported --progress value {other:?}")),
        })
    }
}

/// An event's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// In progress.
    Working,
    /// Finished.
    Done,
    /// Failed.
    Error,
    /// Finished with a warning.
    Warning,
}

#[derive(Debug)]
struct Line {
    id: String,
    text: String,
    detail: String,
    status: Status,
    start: Instant,
    end: Option<Instant>,
}

#[derive(Debug)]
struct State {
    lines: Vec<Line>,
    drawn: usize,
}

/// The progress writer (cheap to clone; shared by concurrent tasks).
#[derive(Debug, Clone)]
pub struct Progress {
    mode: Mode,
    title: String,
    state: Arc<Mutex<State>>,
}

impl Progress {
    /// A writer with a title (`Running`, `Stopping`, …).
    pub fn new(mode: Mode, title: &str) -> Self {
        Progress {
            mode,
            title: title.into(),
            state: Arc::new(Mutex::new(State {
                lines: Vec::new(),
                drawn: 0,
            })),
        }
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Reports `text` for `id` (`Container app-web-1`, `Network app_default`).
    pub fn event(&self, id: &str, status: Status, text: &str) {
        self.event_detail(id, status, text, "");
    }

    /// Reports with a status detail (an error message).
    pub fn event_detail(&self, id: &str, status: Status, text: &str, detail: &str) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match st.lines.iter_mut().find(|l| l.id == id) {
            Some(l) => {
                l.text = text.into();
                l.detail = detail.into();
                l.status = status;
                if status != Status::Working {
                    l.end = Some(now);
                } else {
                    l.end = None;
                }
            }
            None => st.lines.push(Line {
                id: id.into(),
                text: text.into(),
                detail: detail.into(),
                status,
                start: now,
                end: (status != Status::Working).then_some(now),
            }),
        }
        let mut err = std::io::stderr().lock();
        match self.mode {
            Mode::Quiet => {}
            Mode::Plain => {
                let _ = writeln!(err, " {id} {text} {detail}");
            }
            Mode::Json => {
                let mut m = serde_json::Map::new();
                m.insert("id".into(), id.into());
                m.insert("text".into(), text.into());
                if !detail.is_empty() {
                    m.insert("status".into(), detail.into());
                }
                let _ = writeln!(err, "{}", serde_json::Value::Object(m));
            }
            Mode::Tty => {
                let text = render(&self.title, &st.lines);
                let up = st.drawn;
                if up > 0 {
                    let _ = write!(err, "\x1b[{up}A\r");
                }
                let _ = write!(err, "{text}");
                st.drawn = text.lines().count();
            }
        }
        let _ = err.flush();
    }
}

fn render(title: &str, lines: &[Line]) -> String {
    let done = lines.iter().filter(|l| l.status != Status::Working).count();
    let mut out = format!("\x1b[2K[+] {title} {done}/{}\n", lines.len());
    let width = lines
        .iter()
        .map(|l| l.id.chars().count() + 1 + l.text.chars().count())
        .max()
        .unwrap_or(0);
    let cols: usize = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(80);
    for l in lines {
        let spinner = match l.status {
            Status::Done => "\x1b[32m✔\x1b[0m",
            Status::Error => "\x1b[31m✘\x1b[0m",
            Status::Warning => "\x1b[33m!\x1b[0m",
            Status::Working => "\x1b[34m⠿\x1b[0m",
        };
        let txt = format!("{} {}", l.id, l.text);
        let pad = width.saturating_sub(txt.chars().count());
        let elapsed = l.end.unwrap_or_else(Instant::now).duration_since(l.start);
        let timer = format!("{:.1}s ", elapsed.as_secs_f64());
        let left = format!(" {spinner} {txt}{} {}", " ".repeat(pad), l.detail);
        let visible = 3 + txt.chars().count() + pad + 1 + l.detail.chars().count();
        let gap = cols.saturating_sub(visible + timer.len()).max(1);
        out.push_str(&format!(
            "\x1b[2K{left}{}\x1b[34m{timer}\x1b[0m\n",
            " ".repeat(gap)
        ));
    }
    out
}
