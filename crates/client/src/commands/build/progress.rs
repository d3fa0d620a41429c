//! BuildKit-like progress for `berth build`, drawn from berth's builder events
//! (`berth.build.event` lines): `tty` (a redrawn block: `[+] Building 1.2s (8/8) FINISHED`,
//! one line per step with its time, `CACHED` marks, the running step's last output lines),
//! `plain` (`#N [1/3] FROM …`, timed output lines, `#N DONE 0.3s` / `#N CACHED`), `rawjson`
//! (BuildKit's SolveStatus JSON lines) and `quiet`. A failed step's output and exit code are
//! printed under the block, as BuildKit does.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use berth_build::Event;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Tty,
    Plain,
    RawJson,
    Quiet,
}

impl Mode {
    /// `--progress`; `auto` is `tty` when stderr is a terminal.
    pub fn parse(s: &str, quiet: bool) -> Result<Mode, String> {
        if quiet {
            return Ok(Mode::Quiet);
        }
        match s {
            "auto" if crate::terminal::stderr_is_tty() => Ok(Mode::Tty),
            "auto" | "plain" => Ok(Mode::Plain),
            "tty" => Ok(Mode::Tty),
            "quiet" => Ok(Mode::Quiet),
            "rawjson" => Ok(Mode::RawJson),
            other => Err(format!(
                "invalid progress mode {other:?}: use auto, plain, tty, quiet or rawjson"
            )),
        }
    }
}

struct Vertex {
    name: String,
    started: Instant,
    started_at: SystemTime,
    took: Option<Duration>,
    cached: bool,
    error: bool,
    /// Output lines with their offset from the start.
    logs: Vec<(Duration, String)>,
    partial: String,
    /// Sub-lines (`=> => naming to …`).
    notes: Vec<String>,
    printed_header: bool,
}

impl Vertex {
    fn new(name: String) -> Self {
        Vertex {
            name,
            started: Instant::now(),
            started_at: SystemTime::now(),
            took: None,
            cached: false,
            error: false,
            logs: Vec::new(),
            partial: String::new(),
            notes: Vec::new(),
            printed_header: false,
        }
    }

    fn digest(&self, index: usize) -> String {
        use sha2::Digest;
        let d = sha2::Sha256::digest(format!("{index}\0{}", self.name).as_bytes());
        format!(
            "sha256:{}",
            d.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
    }
}

/// Renders a build.
pub struct Renderer {
    mode: Mode,
    started: Instant,
    vertices: Vec<Vertex>,
    current: BTreeMap<usize, usize>,
    drawn_lines: usize,
    last_draw: Option<Instant>,
    warnings: Vec<String>,
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// RFC 3339 with nine fractional digits, as buildkit's JSON progress writes times.
fn rfc3339(t: SystemTime) -> String {
    berth_units::Timestamp::from_system_time(t).to_rfc3339(berth_units::SubSeconds::Nanos)
}

impl Renderer {
    pub fn new(mode: Mode) -> Self {
        Renderer {
            mode,
            started: Instant::now(),
            vertices: Vec::new(),
            current: BTreeMap::new(),
            drawn_lines: 0,
            last_draw: None,
            warnings: Vec::new(),
        }
    }

    /// A vertex the client itself knows about (context upload, export); returns its index.
    pub fn internal(&mut self, name: &str, note: Option<String>) -> usize {
        let mut v = Vertex::new(name.to_string());
        v.notes.extend(note);
        self.vertices.push(v);
        let i = self.vertices.len() - 1;
        self.plain_header(i);
        self.raw_vertex(i);
        i
    }

    /// Marks a vertex done.
    pub fn complete(&mut self, i: usize) {
        if let Some(v) = self.vertices.get_mut(i) {
            v.took = Some(v.started.elapsed());
        }
        self.plain_done(i);
        self.raw_vertex(i);
        self.draw(false);
    }

    /// Adds a sub-line to a vertex.
    pub fn note(&mut self, i: usize, note: String) {
        if self.mode == Mode::Plain {
            eprintln!("#{} {note}", i + 1);
        }
        if let Some(v) = self.vertices.get_mut(i) {
            v.notes.push(note);
        }
        self.draw(false);
    }

    pub fn event(&mut self, e: Event) {
        match e {
            Event::Step {
                stage, label, text, ..
            } => {
                self.vertices.push(Vertex::new(format!("{label} {text}")));
                let i = self.vertices.len() - 1;
                self.current.insert(stage, i);
                self.plain_header(i);
                self.raw_vertex(i);
            }
            Event::Cached { stage } => {
                if let Some(&i) = self.current.get(&stage) {
                    self.vertices[i].cached = true;
                }
            }
            Event::Running { .. } | Event::StageDone { .. } => {}
            Event::Output { stage, data } => {
                if let Some(&i) = self.current.get(&stage) {
                    self.output(i, &String::from_utf8_lossy(&data));
                }
            }
            Event::StepDone {
                stage,
                millis,
                cached,
                ..
            } => {
                if let Some(&i) = self.current.get(&stage) {
                    let v = &mut self.vertices[i];
                    v.cached |= cached;
                    if !v.partial.is_empty() {
                        let line = std::mem::take(&mut v.partial);
                        v.logs.push((v.started.elapsed(), line));
                    }
                    v.took = Some(Duration::from_millis(millis));
                    self.plain_done(i);
                    self.raw_vertex(i);
                }
            }
            Event::Warning(w) => self.warnings.push(w),
        }
        self.draw(false);
    }

    fn output(&mut self, i: usize, text: &str) {
        let v = &mut self.vertices[i];
        v.partial.push_str(text);
        let mut lines = Vec::new();
        while let Some(pos) = v.partial.find('\n') {
            let line: String = v.partial.drain(..=pos).collect();
            lines.push(line.trim_end_matches(['\n', '\r']).to_string());
        }
        let at = v.started.elapsed();
        for line in lines {
            match self.mode {
                Mode::Plain => eprintln!("#{} {:.3} {line}", i + 1, at.as_secs_f64()),
                Mode::RawJson => {
                    let digest = self.vertices[i].digest(i);
                    let data =
                        base64::engine::general_purpose::STANDARD.encode(format!("{line}\n"));
                    println!(
                        "{}",
                        serde_json::json!({"logs": [{"vertex": digest, "stream": 1, "data": data, "timestamp": rfc3339(SystemTime::now())}]})
                    );
                }
                _ => {}
            }
            self.vertices[i].logs.push((at, line));
        }
    }

    fn plain_header(&mut self, i: usize) {
        if self.mode != Mode::Plain {
            return;
        }
        let v = &mut self.vertices[i];
        if !v.printed_header {
            v.printed_header = true;
            eprintln!("\n#{} {}", i + 1, v.name);
            for n in &v.notes {
                eprintln!("#{} {n}", i + 1);
            }
        }
    }

    fn plain_done(&self, i: usize) {
        if self.mode != Mode::Plain {
            return;
        }
        let v = &self.vertices[i];
        if v.cached {
            eprintln!("#{} CACHED", i + 1);
        } else if let Some(t) = v.took {
            eprintln!("#{} DONE {}", i + 1, secs(t));
        }
    }

    fn raw_vertex(&self, i: usize) {
        if self.mode != Mode::RawJson {
            return;
        }
        let v = &self.vertices[i];
        let mut j = serde_json::json!({
            "digest": v.digest(i),
            "name": v.name,
            "started": rfc3339(v.started_at),
        });
        if let Some(t) = v.took {
            j["completed"] = rfc3339(v.started_at + t).into();
        }
        if v.cached {
            j["cached"] = true.into();
        }
        if v.error {
            j["error"] = "failed".into();
        }
        println!("{}", serde_json::json!({ "vertexes": [j] }));
    }

    /// Redraws the tty block (at most every 100 ms unless `force`).
    pub fn draw(&mut self, force: bool) {
        if self.mode != Mode::Tty {
            return;
        }
        if !force
            && self
                .last_draw
                .is_some_and(|t| t.elapsed() < Duration::from_millis(100))
        {
            return;
        }
        self.last_draw = Some(Instant::now());
        let text = self.block(false);
        self.paint(&text);
    }

    fn paint(&mut self, text: &str) {
        let mut err = std::io::stderr().lock();
        let mut out = String::new();
        if self.drawn_lines > 0 {
            out.push_str(&format!("\x1b[{}A", self.drawn_lines));
        }
        for line in text.lines() {
            out.push_str("\x1b[2K");
            out.push_str(line);
            out.push('\n');
        }
        self.drawn_lines = text.lines().count();
        let _ = err.write_all(out.as_bytes());
        let _ = err.flush();
    }

    fn block(&self, finished: bool) -> String {
        let width = crate::terminal::size()
            .map_or(80, |(w, _)| usize::from(w))
            .max(40);
        let done = self.vertices.iter().filter(|v| v.took.is_some()).count();
        let mut out = format!(
            "[+] Building {:.1}s ({done}/{}){}\n",
            self.started.elapsed().as_secs_f64(),
            self.vertices.len(),
            if finished { " FINISHED" } else { "" }
        );
        for v in &self.vertices {
            let status = if v.error {
                "ERROR "
            } else if v.cached {
                "CACHED "
            } else {
                ""
            };
            let t = secs(v.took.unwrap_or_else(|| v.started.elapsed()));
            let mut left = format!(" => {status}{}", v.name);
            let room = width.saturating_sub(t.len() + 2);
            if left.chars().count() > room {
                left = left.chars().take(room.saturating_sub(1)).collect();
            }
            let pad = width.saturating_sub(left.chars().count() + t.len() + 1);
            out.push_str(&format!("{left}{}{t}\n", " ".repeat(pad)));
            for n in &v.notes {
                let mut line = format!(" => => {n}");
                line = line.chars().take(width.saturating_sub(1)).collect();
                out.push_str(&line);
                out.push('\n');
            }
            if v.took.is_none() && !v.cached {
                let tail = v.logs.len().saturating_sub(6);
                for (at, l) in &v.logs[tail..] {
                    let line: String = format!(" => => # {:.3} {l}", at.as_secs_f64())
                        .chars()
                        .take(width.saturating_sub(1))
                        .collect();
                    out.push_str(&line);
                    out.push('\n');
                }
            }
        }
        out
    }

    /// The build is over: the final block (tty), warnings, and for a failure the failing
    /// step's output and BuildKit's error line.
    pub fn finish(&mut self, error: Option<(&str, Option<i64>)>) {
        let failed = error.and_then(|_| {
            self.vertices
                .iter()
                .rposition(|v| v.took.is_none() && !v.name.starts_with("[internal]"))
        });
        if let Some(i) = failed {
            self.vertices[i].error = true;
            self.vertices[i].took = Some(self.vertices[i].started.elapsed());
            if self.mode == Mode::Plain {
                if let Some((m, _)) = error {
                    eprintln!("#{} ERROR: {}", i + 1, buildkit_message(m));
                }
            }
            self.raw_vertex(i);
        }
        if self.mode == Mode::Tty {
            let text = self.block(true);
            self.paint(&text);
        }
        if self.mode != Mode::RawJson {
            for w in &self.warnings {
                eprintln!("\n{w}");
            }
        }
        let Some((message, _)) = error else {
            return;
        };
        if let Some(i) = failed {
            let v = &self.vertices[i];
            eprintln!("------\n > {}:", v.name);
            let tail = v.logs.len().saturating_sub(10);
            for (at, l) in &v.logs[tail..] {
                eprintln!("{:.3} {l}", at.as_secs_f64());
            }
            eprintln!("------");
        }
        eprintln!("ERROR: failed to solve: {}", buildkit_message(message));
    }
}

/// The classic builder's step failure (`The command '…' returned a non-zero code: N`) in
/// BuildKit's words; other messages as they are.
pub fn buildkit_message(m: &str) -> String {
    if let Some(rest) = m.strip_prefix("The command '") {
        if let Some((cmd, code)) = rest.rsplit_once("' returned a non-zero code: ") {
            return format!("process \"{cmd}\" did not complete successfully: exit code: {code}");
        }
    }
    m.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_failures_in_buildkit_words() {
        assert_eq!(
            buildkit_message("The command '/bin/sh -c exit 3' returned a non-zero code: 3"),
            "process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3"
        );
        assert_eq!(buildkit_message("other"), "other");
    }

    #[test]
    fn tty_block_lists_steps_with_times_and_cached_marks() {
        let mut r = Renderer::new(Mode::Quiet);
        r.event(Event::Step {
            stage: 0,
            number: 1,
            total: 2,
            text: "FROM busybox".into(),
            label: "[1/2]".into(),
        });
        r.event(Event::StepDone {
            stage: 0,
            id: "sha256:1".into(),
            millis: 0,
            cached: false,
        });
        r.event(Event::Step {
            stage: 0,
            number: 2,
            total: 2,
            text: "RUN true".into(),
            label: "[2/2]".into(),
        });
        r.event(Event::Cached { stage: 0 });
        r.event(Event::StepDone {
            stage: 0,
            id: "sha256:2".into(),
            millis: 0,
            cached: true,
        });
        let b = r.block(true);
        let lines: Vec<&str> = b.lines().collect();
        assert!(lines[0].starts_with("[+] Building ") && lines[0].ends_with("(2/2) FINISHED"));
        assert!(lines[1].starts_with(" => [1/2] FROM busybox") && lines[1].ends_with("0.0s"));
        assert!(lines[2].starts_with(" => CACHED [2/2] RUN true"), "{b}");
    }
}
