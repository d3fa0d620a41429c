//! First pass: physical lines -> logical instructions ("nodes"): comments dropped, line
//! continuations joined, builder flags split off, arguments split the way each instruction
//! reads them (JSON, whitespace list, quote-aware words, name/value pairs), heredoc bodies
//! read. Like BuildKit, the whole file goes through this pass before any instruction is
//! checked, so a syntax error anywhere is reported before an unknown instruction earlier.

use crate::directives::{DirectiveParser, Directives};
use crate::error::ParseError;
use crate::heredoc::{heredocs_in_line, Heredoc};
use crate::words::{
    extract_builder_flags, parse_json_array, parse_words, split_first_word, split_whitespace,
};

/// One logical instruction before its meaning is checked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    /// The keyword as written (`run`, `COPY`).
    pub keyword: String,
    /// `--name[=value]` flags as written (quotes removed).
    pub flags: Vec<String>,
    /// The arguments as this instruction splits them.
    pub args: Vec<String>,
    /// ENV / LABEL pairs (`name=value` form or the old `name value` form).
    pub pairs: Vec<(String, String)>,
    /// The arguments were a JSON array.
    pub json: bool,
    /// ONBUILD's instruction.
    pub sub: Option<Box<Node>>,
    pub heredocs: Vec<Heredoc>,
    /// The joined line, continuations removed.
    pub original: String,
    pub start_line: usize,
    pub end_line: usize,
}

/// All nodes of a file, and its directives.
pub(crate) fn parse_nodes(src: &str) -> Result<(Directives, Vec<Node>), ParseError> {
    let mut directives = DirectiveParser::default();
    let mut lines = src.split_inclusive('\n').peekable();
    let mut nodes = Vec::new();
    let mut current = 0usize;
    while let Some(mut raw) = lines.next() {
        if current == 0 {
            raw = raw.strip_prefix('\u{feff}').unwrap_or(raw);
        }
        let token = trim_newline(raw).trim_start_matches(is_blank);
        directives.line(token, current + 1)?;
        let token = if is_comment(token) { "" } else { token };
        current += 1;
        let start = current;
        let escape = directives.directives.escape;
        let (text, mut end_of_line) = trim_continuation(token, escape);
        if end_of_line && text.is_empty() {
            continue;
        }
        let mut buf = text.to_string();
        while !end_of_line {
            let Some(raw) = lines.next() else { break };
            let line = trim_newline(raw);
            directives.line(line, current + 1)?;
            current += 1;
            if is_comment(line) || line.trim_start_matches(is_blank).is_empty() {
                continue;
            }
            let (text, eol) = trim_continuation(line, escape);
            buf.push_str(text);
            end_of_line = eol;
        }
        let mut node = node_from_line(&buf, escape).map_err(|m| ParseError::new(start, m))?;
        if can_contain_heredoc(&node) && buf.contains("<<") {
            for mut heredoc in heredocs_in_line(&buf) {
                let mut terminated = false;
                for raw in lines.by_ref() {
                    current += 1;
                    let mut candidate = trim_newline(raw);
                    if heredoc.chomp {
                        candidate = candidate.trim_start_matches('\t');
                    }
                    if candidate == heredoc.name {
                        terminated = true;
                        break;
                    }
                    heredoc.content.push_str(raw);
                }
                if !terminated {
                    return Err(ParseError::new(start, "unterminated heredoc"));
                }
                node.heredocs.push(heredoc);
            }
        }
        node.start_line = start;
        node.end_line = current;
        nodes.push(node);
    }
    if nodes.is_empty() {
        return Err(ParseError::new(current.max(1), "file with no instructions"));
    }
    Ok((directives.directives, nodes))
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn trim_newline(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

fn is_comment(line: &str) -> bool {
    line.trim_start_matches(is_blank).starts_with('#')
}

/// Removes a trailing escape token (followed only by blanks); the bool is "line complete".
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end_matches(is_blank);
    match trimmed.strip_suffix(escape) {
        Some(rest) => (rest, false),
        None => (line, true),
    }
}

fn can_contain_heredoc(node: &Node) -> bool {
    let node = match (&node.sub, node.keyword.eq_ignore_ascii_case("onbuild")) {
        (Some(sub), true) => sub,
        _ => node,
    };
    let kw = node.keyword.to_ascii_lowercase();
    matches!(kw.as_str(), "run" | "copy" | "add") && !node.json
}

/// Splits one logical line into keyword, flags and the arguments of that instruction.
pub(crate) fn node_from_line(line: &str, escape: char) -> Result<Node, String> {
    let (keyword, rest) = split_first_word(line.trim());
    let (flags, rest) = match rest {
        Some(rest) => extract_builder_flags(rest),
        None => (Vec::new(), String::new()),
    };
    let rest = rest.trim().to_string();
    let mut node = Node {
        keyword: keyword.to_string(),
        flags,
        args: Vec::new(),
        pairs: Vec::new(),
        json: false,
        sub: None,
        heredocs: Vec::new(),
        original: line.to_string(),
        start_line: 0,
        end_line: 0,
    };
    match keyword.to_ascii_lowercase().as_str() {
        "add" | "copy" | "volume" => maybe_json_to_list(&rest, &mut node)?,
        "cmd" | "entrypoint" | "run" | "shell" => maybe_json(&rest, &mut node)?,
        "arg" => node.args = parse_words(&rest, escape),
        "env" => node.pairs = name_values(&rest, "ENV", escape)?,
        "label" => node.pairs = name_values(&rest, "LABEL", escape)?,
        "expose" | "from" => node.args = whitespace_list(&rest),
        "maintainer" | "stopsignal" | "user" | "workdir" => {
            if !rest.is_empty() {
                node.args = vec![rest];
            }
        }
        "healthcheck" => {
            let (typ, cmd) = split_first_word_any_space(&rest);
            if !typ.is_empty() {
                let mut cmd_node = node.clone();
                maybe_json(cmd, &mut cmd_node)?;
                node.json = cmd_node.json;
                node.args = std::iter::once(typ.to_string())
                    .chain(cmd_node.args)
                    .collect();
            }
        }
        "onbuild" => {
            if !rest.is_empty() {
                node.sub = Some(Box::new(node_from_line(&rest, escape)?));
            }
        }
        // Unknown keywords are reported when instructions are checked.
        _ => {
            if !rest.is_empty() {
                node.args = vec![rest];
            }
        }
    }
    Ok(node)
}

fn split_first_word_any_space(s: &str) -> (&str, &str) {
    match s.find(char::is_whitespace) {
        None => (s, ""),
        Some(i) => (&s[..i], s[i..].trim_start()),
    }
}

fn whitespace_list(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        Vec::new()
    } else {
        split_whitespace(rest)
    }
}

fn maybe_json(rest: &str, node: &mut Node) -> Result<(), String> {
    if rest.is_empty() {
        return Ok(());
    }
    match parse_json_array(rest)? {
        Some(words) => {
            node.args = words;
            node.json = true;
        }
        None => node.args = vec![rest.to_string()],
    }
    Ok(())
}

fn maybe_json_to_list(rest: &str, node: &mut Node) -> Result<(), String> {
    match parse_json_array(rest)? {
        Some(words) => {
            node.args = words;
            node.json = true;
        }
        None => node.args = whitespace_list(rest),
    }
    Ok(())
}

/// ENV and LABEL: `name=value ...`, or the old `name value with spaces`.
fn name_values(rest: &str, key: &str, escape: char) -> Result<Vec<(String, String)>, String> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Vec::new());
    };
    if !first.contains('=') {
        let (name, value) = split_first_word(rest);
        return match value {
            Some(value) if !value.is_empty() => Ok(vec![(name.to_string(), value.to_string())]),
            _ => Err(format!("{key} must have two arguments")),
        };
    }
    words
        .iter()
        .map(|word| match word.split_once('=') {
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(format!(
                "Syntax error - can't find = in {word:?}. Must be of the form: name=value"
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_and_comments() {
        let (_, nodes) = parse_nodes("FROM a\nRUN echo \\\n  # inner comment\n\n  hi\n").unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[1].args, ["echo   hi"]);
        assert_eq!((nodes[1].start_line, nodes[1].end_line), (2, 5));
    }

    #[test]
    fn heredoc_bodies() {
        let (_, nodes) = parse_nodes("FROM a\nRUN <<EOF\necho 1\n  echo 2\nEOF\nCMD x\n").unwrap();
        assert_eq!(nodes[1].heredocs[0].content, "echo 1\n  echo 2\n");
        assert_eq!(nodes[1].end_line, 5);
        assert_eq!(nodes[2].start_line, 6);
    }
}
