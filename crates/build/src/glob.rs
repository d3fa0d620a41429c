//! Path patterns: Go's `filepath.Match` (COPY/ADD sources, `--exclude`) and moby's
//! `patternmatcher` (`.dockerignore`: `**`, `!` exceptions, parent directories).

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(char),
    /// `*`: any run without `/`.
    Star,
    /// `?`: one character but `/`.
    One,
    /// `[…]`: ranges, `^` negates.
    Class {
        ranges: Vec<(char, char)>,
        negated: bool,
    },
    /// `**/` (or `**` inside a pattern): any number of whole directories, even none.
    AnyDirs,
    /// `**` at the end: anything.
    AnyAll,
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Glob {
    toks: Vec<Tok>,
    /// The pattern has no wildcard (a plain path).
    literal: bool,
}

/// A pattern that does not compile (`[` unclosed, bad range).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("syntax error in pattern {0:?}")]
pub struct BadPattern(pub String);

fn parse_class(chars: &[char], mut i: usize, pattern: &str) -> Result<(Tok, usize), BadPattern> {
    let bad = || BadPattern(pattern.to_string());
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = *chars.get(i).ok_or_else(bad)?;
        if c == ']' && !first {
            return Ok((Tok::Class { ranges, negated }, i + 1));
        }
        first = false;
        let lo = if c == '\\' {
            i += 1;
            *chars.get(i).ok_or_else(bad)?
        } else {
            c
        };
        i += 1;
        let mut hi = lo;
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|c| *c != ']') {
            i += 1;
            hi = if chars[i] == '\\' {
                i += 1;
                *chars.get(i).ok_or_else(bad)?
            } else {
                chars[i]
            };
            i += 1;
            if hi < lo {
                return Err(bad());
            }
        }
        ranges.push((lo, hi));
    }
}

impl Glob {
    /// Go's `filepath.Match` syntax.
    pub fn filepath(pattern: &str) -> Result<Self, BadPattern> {
        Self::compile(pattern, false)
    }

    /// `.dockerignore` syntax (adds `**`).
    pub fn ignore(pattern: &str) -> Result<Self, BadPattern> {
        Self::compile(pattern, true)
    }

    fn compile(pattern: &str, double_star: bool) -> Result<Self, BadPattern> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut toks = Vec::new();
        let mut literal = true;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '*' if double_star && chars.get(i) == Some(&'*') => {
                    i += 1;
                    literal = false;
                    if chars.get(i) == Some(&'/') {
                        i += 1;
                    }
                    toks.push(if i >= chars.len() {
                        Tok::AnyAll
                    } else {
                        Tok::AnyDirs
                    });
                }
                '*' => {
                    literal = false;
                    toks.push(Tok::Star);
                }
                '?' => {
                    literal = false;
                    toks.push(Tok::One);
                }
                '[' => {
                    literal = false;
                    let (tok, next) = parse_class(&chars, i, pattern)?;
                    toks.push(tok);
                    i = next;
                }
                '\\' => match chars.get(i) {
                    Some(&n) => {
                        i += 1;
                        toks.push(Tok::Lit(n));
                    }
                    None => return Err(BadPattern(pattern.to_string())),
                },
                c => toks.push(Tok::Lit(c)),
            }
        }
        Ok(Self { toks, literal })
    }

    /// True when the pattern has no wildcard.
    pub fn is_literal(&self) -> bool {
        self.literal
    }

    /// The whole of `path` matches.
    pub fn matches(&self, path: &str) -> bool {
        let chars: Vec<char> = path.chars().collect();
        match_at(&self.toks, &chars)
    }
}

fn match_at(toks: &[Tok], s: &[char]) -> bool {
    let Some((tok, rest)) = toks.split_first() else {
        return s.is_empty();
    };
    match tok {
        Tok::Lit(c) => s.first() == Some(c) && match_at(rest, &s[1..]),
        Tok::One => s.first().is_some_and(|c| *c != '/') && match_at(rest, &s[1..]),
        Tok::Class { ranges, negated } => {
            s.first().is_some_and(|c| {
                *c != '/' && ranges.iter().any(|(lo, hi)| lo <= c && c <= hi) != *negated
            }) && match_at(rest, &s[1..])
        }
        Tok::Star => {
            let run = s.iter().take_while(|c| **c != '/').count();
            (0..=run).any(|k| match_at(rest, &s[k..]))
        }
        Tok::AnyAll => true,
        Tok::AnyDirs => {
            // (.*/)? — nothing, or up to and including any '/'.
            match_at(rest, s)
                || s.iter()
                    .enumerate()
                    .filter(|(_, c)| **c == '/')
                    .any(|(i, _)| match_at(rest, &s[i + 1..]))
        }
    }
}

/// Go's `filepath.Clean` for `/`-separated relative or absolute paths.
pub fn clean(path: &str) -> String {
    let abs = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    match (abs, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// `.dockerignore`: patterns in order; the last that matches a path (or one of its parent
/// directories) decides, `!` patterns re-include.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    rules: Vec<(Glob, bool)>,
}

impl IgnoreRules {
    /// Reads a `.dockerignore` file (comments, BOM, `/` prefixes, `!` exceptions).
    pub fn parse(text: &str) -> Result<Self, BadPattern> {
        let mut rules = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = if n == 0 {
                line.strip_prefix('\u{feff}').unwrap_or(line)
            } else {
                line
            };
            if line.starts_with('#') {
                continue;
            }
            let mut pattern = line.trim();
            if pattern.is_empty() {
                continue;
            }
            let exclusion = pattern.starts_with('!');
            if exclusion {
                pattern = pattern[1..].trim();
                if pattern.is_empty() {
                    return Err(BadPattern("!".into()));
                }
            }
            let mut cleaned = clean(pattern);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            rules.push((Glob::ignore(&cleaned)?, exclusion));
        }
        Ok(Self { rules })
    }

    /// No rule at all (everything is included).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether some rule re-includes (`!`): an excluded directory must then still be walked.
    pub fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|(_, exception)| *exception)
    }

    /// Whether `path` (relative, `/`-separated) is excluded.
    pub fn excludes(&self, path: &str) -> bool {
        let parents: Vec<&str> = path.split('/').collect();
        let parent_count = parents.len().saturating_sub(1);
        let mut matched = false;
        for (glob, exclusion) in &self.rules {
            if *exclusion != matched {
                continue;
            }
            let mut hit = glob.matches(path);
            if !hit {
                hit = (1..=parent_count).any(|i| glob.matches(&parents[..i].join("/")));
            }
            if hit {
                matched = !exclusion;
            }
        }
        matched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filepath_match() {
        let m = |p: &str, s: &str| Glob::filepath(p).unwrap().matches(s);
        assert!(m("hom*", "home.txt"));
        assert!(!m("hom*", "dir/home.txt"));
        assert!(m("hom?.txt", "home.txt"));
        assert!(m("*/x", "a/x"));
        assert!(!m("*", "a/b"));
        assert!(m("[a-c]at", "bat"));
        assert!(!m("[^a-c]at", "bat"));
        assert!(m("a\\*b", "a*b"));
        assert!(Glob::filepath("[abc").is_err());
        assert!(Glob::filepath("plain/path").unwrap().is_literal());
    }

    #[test]
    fn dockerignore_rules() {
        let rules = IgnoreRules::parse(
            "# comment\n*.md\n!README.md\n/temp?\n**/*.log\nnode_modules\nbuild/**\n!build/keep\n",
        )
        .unwrap();
        assert!(rules.excludes("a.md"));
        assert!(!rules.excludes("README.md"));
        assert!(!rules.excludes("docs/a.md"));
        assert!(rules.excludes("temp1"));
        assert!(rules.excludes("x.log"));
        assert!(rules.excludes("deep/er/x.log"));
        assert!(rules.excludes("node_modules"));
        assert!(rules.excludes("node_modules/pkg/index.js"));
        assert!(rules.excludes("build/out.o"));
        assert!(!rules.excludes("build/keep"));
        assert!(!rules.excludes("src/main.rs"));
    }

    #[test]
    fn go_clean() {
        assert_eq!(clean("./a//b/../c/"), "a/c");
        assert_eq!(clean("/../x"), "/x");
        assert_eq!(clean("../x"), "../x");
        assert_eq!(clean(""), ".");
    }
}
