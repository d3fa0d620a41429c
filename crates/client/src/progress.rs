//! Rendering of the JSON progress stream of pull, push, load and import like docker's
//! `jsonmessage.DisplayJSONMessagesStream`: per-layer lines updated in place with cursor
//! movement on a terminal, plain lines otherwise.

use std::collections::HashMap;
use std::io::Write;

use berth_api_types::JsonMessage;

use crate::error::{CliError, CliResult};

/// Renders a progress stream line by line.
pub struct ProgressPrinter<'a> {
    out: &'a mut dyn Write,
    tty: bool,
    /// Line index of each layer id (terminal mode).
    ids: HashMap<String, usize>,
    lines: usize,
    /// Last `aux` payload seen (push digest, load ids).
    pub aux: Vec<serde_json::Value>,
}

impl<'a> ProgressPrinter<'a> {
    /// A printer writing to `out`; `tty` enables in-place updates.
    pub fn new(out: &'a mut dyn Write, tty: bool) -> Self {
        ProgressPrinter {
            out,
            tty,
            ids: HashMap::new(),
            lines: 0,
            aux: Vec::new(),
        }
    }

    /// Feeds one message; an error message ends the stream with [`CliError::Message`].
    pub fn message(&mut self, m: &JsonMessage) -> CliResult<()> {
        if let Some(e) = m
            .error_detail
            .as_ref()
            .map(|d| d.message.clone())
            .filter(|s| !s.is_empty())
            .or_else(|| m.error.clone())
        {
            return Err(CliError::msg(e));
        }
        if let Some(aux) = &m.aux {
            self.aux.push(aux.clone());
            return Ok(());
        }
        let text = format_message(m, self.tty);
        if let Some(s) = &m.stream {
            write!(self.out, "{s}")?;
            return Ok(());
        }
        if text.is_empty() {
            return Ok(());
        }
        let id = m.id.clone().filter(|i| !i.is_empty());
        if self.tty {
            if let Some(id) = id {
                if let Some(&line) = self.ids.get(&id) {
                    let up = self.lines - line;
                    // Move up, clear the line, rewrite it, move back down.
                    write!(self.out, "\x1b[{up}A\r\x1b[2K{text}\r\x1b[{up}B")?;
                } else {
                    self.ids.insert(id, self.lines);
                    self.lines += 1;
                    writeln!(self.out, "{text}")?;
                }
            } else {
                // A line without id resets the layer table.
                self.ids.clear();
                self.lines += 1;
                writeln!(self.out, "{text}")?;
            }
        } else if m.progress.is_none()
            && m.progress_detail
                .as_ref()
                .is_none_or(|d| d.total.is_none() || !has_progress(m))
        {
            writeln!(self.out, "{text}")?;
        }
        self.out.flush()?;
        Ok(())
    }
}

fn has_progress(m: &JsonMessage) -> bool {
    m.progress_detail
        .as_ref()
        .is_some_and(|d| d.current.is_some() || d.total.is_some())
}

/// One message as docker prints it: `<id>: <status> <progress>`.
pub fn format_message(m: &JsonMessage, tty: bool) -> String {
    let mut s = String::new();
    if let Some(id) = m.id.as_deref().filter(|i| !i.is_empty()) {
        s.push_str(id);
        s.push_str(": ");
    }
    if let Some(st) = &m.status {
        s.push_str(st);
    }
    if tty {
        if let Some(p) = m.progress.as_deref().filter(|p| !p.is_empty()) {
            s.push(' ');
            s.push_str(p);
        } else if let Some(d) = &m.progress_detail {
            if let (Some(cur), Some(total)) = (d.current, d.total) {
                if total > 0 {
                    s.push(' ');
                    s.push_str(&bar(cur, total));
                }
            }
        }
    }
    s
}

/// `[=====>      ]  1.2MB/4.3MB` like docker's JSONProgress.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "the bar's length is a float clamped to 0..=width right after, as Go's int() \
              of the same float (`as` saturates, NaN is 0)"
)]
pub fn bar(current: i64, total: i64) -> String {
    let width = 50usize;
    let filled = ((current.max(0) as f64 / total as f64) * width as f64) as usize;
    let filled = filled.min(width);
    let mut b = "=".repeat(filled);
    if filled < width {
        b.push('>');
        b.push_str(&" ".repeat(width - filled - 1));
    }
    format!(
        "[{b}] {:>8}/{}",
        berth_cli_format::units::human_size(current as f64),
        berth_cli_format::units::human_size(total as f64)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_api_types::ProgressDetail;

    fn msg(id: &str, status: &str, cur: Option<i64>) -> JsonMessage {
        JsonMessage {
            id: (!id.is_empty()).then(|| id.to_string()),
            status: Some(status.into()),
            progress_detail: cur.map(|c| ProgressDetail {
                current: Some(c),
                total: Some(100),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn plain_mode_skips_progress_updates() {
        let mut out = Vec::new();
        let mut p = ProgressPrinter::new(&mut out, false);
        p.message(&msg("", "latest: Pulling from library/busybox", None))
            .unwrap();
        p.message(&msg("abc", "Downloading", Some(50))).unwrap();
        p.message(&msg("abc", "Pull complete", None)).unwrap();
        drop(p);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "latest: Pulling from library/busybox\nabc: Pull complete\n"
        );
    }

    #[test]
    fn tty_mode_rewrites_layer_lines() {
        let mut out = Vec::new();
        let mut p = ProgressPrinter::new(&mut out, true);
        p.message(&msg("a", "Downloading", Some(50))).unwrap();
        p.message(&msg("b", "Waiting", None)).unwrap();
        p.message(&msg("a", "Pull complete", None)).unwrap();
        drop(p);
        let s = String::from_utf8(out).unwrap();
        assert!(
            s.starts_with("a: Downloading [=========================>"),
            "{s}"
        );
        assert!(
            s.ends_with("b: Waiting\n\x1b[2A\r\x1b[2Ka: Pull complete\r\x1b[2B"),
            "{s:?}"
        );
    }

    #[test]
    fn error_ends_stream() {
        let mut out = Vec::new();
        let mut p = ProgressPrinter::new(&mut out, false);
        let e = p
            .message(&JsonMessage::error("manifest unknown"))
            .unwrap_err();
        assert_eq!(e.to_string(), "manifest unknown");
    }
}
