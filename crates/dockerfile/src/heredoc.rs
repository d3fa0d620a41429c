//! Heredocs (`RUN <<EOF`, `COPY <<-"EOT" /file`): which words of a line open one, and the
//! `<<-` tab stripping.

use serde::Serialize;

use crate::shell::Lexer;

/// One here-document of an instruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heredoc {
    /// The terminator word, quotes removed (`EOF`).
    pub name: String,
    /// The body, every line with its newline, the terminator line excluded.
    pub content: String,
    /// False when any part of the word was quoted (`<<"EOF"`, `<<'EOF'`): no substitution.
    pub expand: bool,
    /// `<<-`: leading tabs are stripped from the body and the terminator.
    pub chomp: bool,
    /// `3<<EOF`: the file descriptor (0 when not given).
    pub file_descriptor: u32,
}

impl Heredoc {
    /// The body as the instruction uses it (`<<-` strips leading tabs from each line).
    pub fn body(&self) -> String {
        if self.chomp {
            chomp(&self.content)
        } else {
            self.content.clone()
        }
    }
}

/// Removes the leading tabs of every line.
pub fn chomp(content: &str) -> String {
    content
        .split_inclusive('\n')
        .map(|l| l.trim_start_matches('\t'))
        .collect()
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// Parses one word as a heredoc opener (`^(\d*)<<(-?)([^<]*)$`), body left empty.
pub fn parse_heredoc(word: &str) -> Option<Heredoc> {
    let digits = word.chars().take_while(char::is_ascii_digit).count();
    let rest = word[digits..].strip_prefix("<<")?;
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let file_descriptor = word[..digits].parse().unwrap_or(0);
    let mut lex = Lexer {
        skip_unset_env: true,
        ..Lexer::new('\\')
    };
    let words = lex.process_words(rest, &mut no_env).ok()?;
    if words.len() != 1 {
        return None;
    }
    lex.raw_quotes = true;
    let raw = lex.process_words(rest, &mut no_env).ok()?;
    let quotes = |s: &str| s.matches(['\'', '"']).count();
    let expand = raw.len() == 1 && quotes(&words[0]) == quotes(&raw[0]);
    Some(Heredoc {
        name: words[0].clone(),
        content: String::new(),
        expand,
        chomp,
        file_descriptor,
    })
}

/// The heredocs a line opens, in order.
pub(crate) fn heredocs_in_line(line: &str) -> Vec<Heredoc> {
    let lex = Lexer {
        raw_quotes: true,
        raw_escapes: true,
        ..Lexer::new('\\')
    };
    lex.process_words(line, &mut no_env)
        .unwrap_or_default()
        .iter()
        .filter_map(|w| parse_heredoc(w))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openers() {
        let h = parse_heredoc("<<EOF").unwrap();
        assert_eq!((h.name.as_str(), h.expand, h.chomp), ("EOF", true, false));
        let h = parse_heredoc("<<-\"EOT\"").unwrap();
        assert_eq!((h.name.as_str(), h.expand, h.chomp), ("EOT", false, true));
        let h = parse_heredoc("3<<'X'").unwrap();
        assert_eq!(
            (h.name.as_str(), h.expand, h.file_descriptor),
            ("X", false, 3)
        );
        assert!(parse_heredoc("<<").is_none());
        assert!(parse_heredoc("a<<b").is_none());
        assert!(parse_heredoc("<<<x").is_none());
    }

    #[test]
    fn in_lines() {
        let names: Vec<_> = heredocs_in_line("RUN <<A cat - <<'B' > /x")
            .into_iter()
            .map(|h| h.name)
            .collect();
        assert_eq!(names, ["A", "B"]);
        assert!(heredocs_in_line("RUN echo '<<A'").is_empty());
        assert_eq!(chomp("\t\ta\n\tb\nc"), "a\nb\nc");
    }
}
