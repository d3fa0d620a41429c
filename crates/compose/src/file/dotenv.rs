//! `.env` / `env_file` parsing as compose-go's `dotenv` does it: `KEY=value`, `export KEY=…`,
//! `KEY: value`, comments, single quotes (literal), double quotes (escapes and `${VAR}`),
//! unquoted values (inline ` #` comments, `${VAR}`), and a bare `KEY` taken from the lookup.

use super::interpolate::{substitute, TemplateError};

/// A `.env` parse error.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct DotenvError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What.
    pub message: String,
}

/// Parses `text`; `lookup` resolves `${VAR}` (after the file's own earlier keys) and bare keys.
pub fn parse(
    text: &str,
    file: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, Option<String>)>, DotenvError> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let lineno = i + 1;
        let raw = lines[i].trim_start();
        i += 1;
        if raw.is_empty() || raw.starts_with('#') {
            continue;
        }
        let raw = raw.strip_prefix("export ").map_or(raw, str::trim_start);
        let err = |m: &str| DotenvError {
            file: file.into(),
            line: lineno,
            message: m.into(),
        };
        let sep = raw.find(['=', ':']);
        let (key, rest) = match sep {
            Some(p) => (raw[..p].trim(), Some(raw[p + 1..].trim_start())),
            None => (raw.trim(), None),
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(err(&format!(
                "unexpected character in variable name {key:?}"
            )));
        }
        let Some(rest) = rest else {
            out.push((key.to_string(), lookup(key)));
            continue;
        };
        let own = out.clone();
        let scoped = |k: &str| {
            own.iter()
                .rev()
                .find(|(n, _)| n == k)
                .and_then(|(_, v)| v.clone())
                .or_else(|| lookup(k))
        };
        let expand = |s: &str| -> Result<String, DotenvError> {
            substitute(s, &scoped, &mut Vec::new()).map_err(|e| match e {
                TemplateError::Invalid => err(&format!("invalid interpolation in {s:?}")),
                TemplateError::Required { var, message } => err(&format!(
                    "required variable {var} is missing a value: {message}"
                )),
            })
        };
        let value = if let Some(body) = rest.strip_prefix('\'') {
            let (v, extra) = quoted(body, '\'', &lines, &mut i)
                .ok_or_else(|| err("unterminated quoted value"))?;
            let _ = extra;
            v
        } else if let Some(body) = rest.strip_prefix('"') {
            let (v, _) = quoted(body, '"', &lines, &mut i)
                .ok_or_else(|| err("unterminated quoted value"))?;
            expand(&unescape(&v))?
        } else {
            let v = match rest.find(" #") {
                Some(p) => &rest[..p],
                None => rest,
            };
            expand(v.trim_end())?
        };
        out.push((key.to_string(), Some(value)));
    }
    Ok(out)
}

/// A quoted value that may span lines; returns the body and what follows the closing quote.
fn quoted(first: &str, q: char, lines: &[&str], next: &mut usize) -> Option<(String, String)> {
    let mut acc = String::new();
    let mut cur = first.to_string();
    loop {
        let mut escaped = false;
        for (p, c) in cur.char_indices() {
            if c == q && !escaped {
                acc.push_str(&cur[..p]);
                return Some((acc, cur[p + 1..].to_string()));
            }
            escaped = q == '"' && c == '\\' && !escaped;
        }
        acc.push_str(&cur);
        acc.push('\n');
        cur = lines.get(*next)?.to_string();
        *next += 1;
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('$') => out.push_str("$$"),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let text = "# c\nA=1\nexport B = two words # note\nC='lit ${A}'\nD=\"x\\ny ${A}\"\nE\nF: yaml\nG=\"multi\nline\"\nH=${A}${UNSET:-d}\n";
        let env = |k: &str| (k == "E").then(|| "from-env".to_string());
        let v = parse(text, ".env", &env).unwrap();
        let get = |k: &str| v.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("A").as_deref(), Some("1"));
        assert_eq!(get("B").as_deref(), Some("two words"));
        assert_eq!(get("C").as_deref(), Some("lit ${A}"));
        assert_eq!(get("D").as_deref(), Some("x\ny 1"));
        assert_eq!(get("E").as_deref(), Some("from-env"));
        assert_eq!(get("F").as_deref(), Some("yaml"));
        assert_eq!(get("G").as_deref(), Some("multi\nline"));
        assert_eq!(get("H").as_deref(), Some("1d"));
    }
}
