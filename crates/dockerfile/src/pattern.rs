//! The shell patterns of `${VAR#pat}`, `${VAR%pat}` and `${VAR/pat/repl}` as BuildKit reads
//! them: `*` any run, `?` one character, `\*`, `\?`, `\\` literal; every other character
//! (including `[`) is literal.

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Star,
    Any,
    Lit(char),
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub(crate) struct Pattern(Vec<Token>);

impl Pattern {
    pub(crate) fn new(pattern: &str, _escape: char) -> Self {
        let mut tokens = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            tokens.push(match c {
                '*' => Token::Star,
                '?' => Token::Any,
                '\\' => match chars.next() {
                    Some(n) => Token::Lit(n),
                    None => Token::Lit('\\'),
                },
                c => Token::Lit(c),
            });
        }
        Self(tokens)
    }

    fn matches(&self, text: &[char]) -> bool {
        matches_from(&self.0, text)
    }

    /// `${VAR#pat}` (shortest) / `${VAR##pat}` (longest): removes a matching prefix.
    pub(crate) fn trim_prefix(&self, value: &str, greedy: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        let mut ends: Box<dyn Iterator<Item = usize>> = if greedy {
            Box::new((0..=chars.len()).rev())
        } else {
            Box::new(0..=chars.len())
        };
        match ends.find(|&end| self.matches(&chars[..end])) {
            Some(end) => chars[end..].iter().collect(),
            None => value.to_string(),
        }
    }

    /// `${VAR%pat}` (shortest) / `${VAR%%pat}` (longest): removes a matching suffix.
    pub(crate) fn trim_suffix(&self, value: &str, greedy: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        let mut starts: Box<dyn Iterator<Item = usize>> = if greedy {
            Box::new(0..=chars.len())
        } else {
            Box::new((0..=chars.len()).rev())
        };
        match starts.find(|&start| self.matches(&chars[start..])) {
            Some(start) => chars[..start].iter().collect(),
            None => value.to_string(),
        }
    }

    /// `${VAR/pat/repl}` (first match) / `${VAR//pat/repl}` (every match); leftmost,
    /// longest at that position.
    pub(crate) fn replace(&self, value: &str, repl: &str, all: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        let mut out = String::new();
        let mut i = 0;
        let mut replaced = false;
        while i <= chars.len() {
            if !replaced || all {
                if let Some(end) = (i..=chars.len())
                    .rev()
                    .find(|&e| self.matches(&chars[i..e]))
                {
                    out.push_str(repl);
                    replaced = true;
                    if end > i {
                        i = end;
                        continue;
                    }
                }
            }
            if let Some(&c) = chars.get(i) {
                out.push(c);
            }
            i += 1;
        }
        out
    }
}

fn matches_from(tokens: &[Token], text: &[char]) -> bool {
    match tokens.split_first() {
        None => text.is_empty(),
        Some((Token::Star, rest)) => (0..=text.len()).any(|skip| matches_from(rest, &text[skip..])),
        Some((Token::Any, rest)) => !text.is_empty() && matches_from(rest, &text[1..]),
        Some((Token::Lit(c), rest)) => text.first() == Some(c) && matches_from(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_suffix_replace() {
        let p = Pattern::new("*.", '\\');
        assert_eq!(p.trim_prefix("a.b.c", false), "b.c");
        assert_eq!(p.trim_prefix("a.b.c", true), "c");
        let s = Pattern::new(".*", '\\');
        assert_eq!(s.trim_suffix("a.b.c", false), "a.b");
        assert_eq!(s.trim_suffix("a.b.c", true), "a");
        assert_eq!(Pattern::new("x", '\\').trim_prefix("abc", false), "abc");
        assert_eq!(
            Pattern::new("b?", '\\').replace("abcabc", "X", false),
            "aXabc"
        );
        assert_eq!(
            Pattern::new("b?", '\\').replace("abcabc", "X", true),
            "aXaX"
        );
        assert_eq!(Pattern::new("\\*", '\\').replace("a*b", "-", true), "a-b");
        assert_eq!(Pattern::new("[a]", '\\').replace("x[a]y", "-", true), "x-y");
    }
}
