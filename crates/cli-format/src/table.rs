//! docker's `--format` handling (`table`, `json`, templates) and tabwriter alignment.

use serde_json::Value;

use crate::template::{json_func, Template, TemplateError};

/// Aligns tab-separated cells like Go's `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)` as
/// docker's formatter uses it: every tab-terminated cell is padded to its column's widest
/// cell plus 3 spaces, and at least 10 columns; the text after a line's last tab is written
/// as is.
pub fn tabwrite(text: &str) -> String {
    let lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    let mut widths: Vec<usize> = Vec::new();
    for cells in &lines {
        for (i, c) in cells.iter().enumerate().take(cells.len().saturating_sub(1)) {
            let w = c.chars().count();
            if widths.len() <= i {
                widths.push(0);
            }
            widths[i] = widths[i].max(w);
        }
    }
    let mut out = String::new();
    for (li, cells) in lines.iter().enumerate() {
        if li > 0 {
            out.push('\n');
        }
        let last = cells.len() - 1;
        for (i, c) in cells.iter().enumerate() {
            out.push_str(c);
            if i < last {
                let pad = (widths[i] + 3).max(10) - c.chars().count();
                out.push_str(&" ".repeat(pad));
            }
        }
    }
    out
}

/// How a list command prints its rows, decided from `--format`.
#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    /// `table <template>`: a header row, then rows, aligned.
    Table(Template),
    /// `json`: one JSON object per line.
    Json,
    /// A raw template: one rendering per row, no header, no alignment.
    Raw(Template),
}

impl Format {
    /// Interprets a `--format` value (empty = `default_table`, e.g. docker's
    /// "table {{.ID}}\t{{.Image}}...").
    pub fn parse(format: &str, default_table: &str) -> Result<Self, TemplateError> {
        let f = if format.is_empty() {
            default_table
        } else {
            format
        };
        if f == "json" {
            return Ok(Format::Json);
        }
        if let Some(rest) = f.strip_prefix("table") {
            let rest = rest.trim_start();
            let rest = if rest.is_empty() {
                default_table
                    .strip_prefix("table")
                    .unwrap_or(default_table)
                    .trim_start()
            } else {
                rest
            };
            return Ok(Format::Table(Template::parse(&unescape(rest))?));
        }
        Ok(Format::Raw(Template::parse(&unescape(f))?))
    }

    /// Renders rows; `headers` maps field names to column titles for table headers.
    /// The output ends with a newline when there is any.
    pub fn render(&self, rows: &[Value], headers: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        match self {
            Format::Json => {
                for r in rows {
                    out.push_str(&json_func(r));
                    out.push('\n');
                }
            }
            Format::Raw(t) => {
                for r in rows {
                    out.push_str(&t.render(r)?);
                    out.push('\n');
                }
            }
            Format::Table(t) => {
                let mut text = t.render(headers)?;
                for r in rows {
                    text.push('\n');
                    text.push_str(&t.render(r)?);
                }
                out = tabwrite(&text);
                out.push('\n');
            }
        }
        Ok(out)
    }
}

/// docker lets users type `\t` and `\n` literally in `--format`.
fn unescape(s: &str) -> String {
    s.replace("\\t", "\t").replace("\\n", "\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tabwriter_pads_three_spaces() {
        let t = tabwrite("CONTAINER ID\tIMAGE\tNAMES\nb189fa6a73fe\tbusybox\tx\n1\t2\t3");
        assert_eq!(
            t,
            "CONTAINER ID   IMAGE     NAMES\nb189fa6a73fe   busybox   x\n1              2         3"
        );
    }

    #[test]
    fn table_json_and_raw() {
        let rows = vec![
            json!({"ID": "abc", "Names": "web"}),
            json!({"ID": "defgh", "Names": "db"}),
        ];
        let headers = json!({"ID": "CONTAINER ID", "Names": "NAMES"});
        let f = Format::parse("table {{.ID}}\\t{{.Names}}", "").unwrap();
        assert_eq!(
            f.render(&rows, &headers).unwrap(),
            "CONTAINER ID   NAMES\nabc            web\ndefgh          db\n"
        );
        let f = Format::parse("{{.Names}}", "").unwrap();
        assert_eq!(f.render(&rows, &headers).unwrap(), "web\ndb\n");
        let f = Format::parse("json", "").unwrap();
        assert_eq!(
            f.render(&rows[..1], &headers).unwrap(),
            "{\"ID\":\"abc\",\"Names\":\"web\"}\n"
        );
        let f = Format::parse("", "table {{.ID}}").unwrap();
        assert_eq!(
            f.render(&rows[..1], &headers).unwrap(),
            "CONTAINER ID\nabc\n"
        );
        let f = Format::parse("table", "table {{.Names}}").unwrap();
        assert_eq!(f.render(&rows[..1], &headers).unwrap(), "NAMES\nweb\n");
    }
}
