//! Docker's variable substitution (BuildKit's `shell.Lex`): `$VAR`, `${VAR}`,
//! `${VAR:-x}`, `${VAR-x}`, `${VAR:+x}`, `${VAR+x}`, `${VAR:?msg}`, `${VAR?msg}`,
//! `${VAR#pat}`, `${VAR##pat}`, `${VAR%pat}`, `${VAR%%pat}`, `${VAR/pat/repl}`,
//! `${VAR//pat/repl}`; single quotes (literal), double quotes (the escape token escapes only
//! `"`, `$` and itself) and the escape token outside quotes.
//!
//! `process_word` gives one string (spaces kept); `process_words` splits into words as a
//! shell would (unquoted expansions split, quoted ones do not).

use crate::error::ExpandError;
use crate::pattern::Pattern;

/// Looks a variable up; callers record which names were asked for (the build cache keys on
/// the build args an instruction uses).
pub type Lookup<'a> = &'a mut dyn FnMut(&str) -> Option<String>;

/// The lexer's options (BuildKit's `Lex` fields).
#[derive(Debug, Clone, Copy)]
pub struct Lexer {
    /// The escape character (`\` or `` ` ``).
    pub escape: char,
    /// Keep quote characters in the output.
    pub raw_quotes: bool,
    /// Keep escape tokens in the output.
    pub raw_escapes: bool,
    /// Leave `$UNSET` / `${UNSET…}` as written instead of expanding to "".
    pub skip_unset_env: bool,
}

impl Lexer {
    /// A lexer with `escape` and no raw or skip options.
    pub fn new(escape: char) -> Self {
        Self {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_unset_env: false,
        }
    }

    /// Expands one word: quotes and escapes removed, variables substituted, spaces kept.
    pub fn process_word(&self, word: &str, env: Lookup<'_>) -> Result<String, ExpandError> {
        let mut sw = Scanner::new(self, word, env);
        sw.process_stop_on(None, self.raw_escapes).map(|(s, _)| s)
    }

    /// Expands and splits into words.
    pub fn process_words(&self, word: &str, env: Lookup<'_>) -> Result<Vec<String>, ExpandError> {
        let mut sw = Scanner::new(self, word, env);
        sw.process_stop_on(None, self.raw_escapes).map(|(_, w)| w)
    }
}

/// Expands `word` with Docker's rules and the default escape token, reading `env`.
pub fn expand(word: &str, escape: char, env: Lookup<'_>) -> Result<String, ExpandError> {
    Lexer::new(escape).process_word(word, env)
}

#[derive(Default)]
struct Words {
    words: Vec<String>,
    word: String,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() && self.in_word {
            if !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else if !ch.is_whitespace() {
            self.add_raw_char(ch);
        }
    }
    fn add_raw_char(&mut self, ch: char) {
        self.word.push(ch);
        self.in_word = true;
    }
    fn add_string(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }
    fn add_raw_string(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }
    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(std::mem::take(&mut self.word));
        }
        self.words
    }
}

struct Scanner<'l, 'e> {
    lex: &'l Lexer,
    chars: Vec<char>,
    pos: usize,
    env: Lookup<'e>,
    raw_escapes: bool,
}

fn err<T>(msg: impl Into<String>) -> Result<T, ExpandError> {
    Err(ExpandError(msg.into()))
}

impl<'l, 'e> Scanner<'l, 'e> {
    fn new(lex: &'l Lexer, word: &str, env: Lookup<'e>) -> Self {
        Self {
            lex,
            chars: word.chars().collect(),
            pos: 0,
            env,
            raw_escapes: lex.raw_escapes,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn get_env(&mut self, name: &str) -> Option<String> {
        (self.env)(name)
    }

    fn process_stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), ExpandError> {
        self.process_stop_on_any(stop.as_slice(), raw_escapes)
    }

    fn process_stop_on_any(
        &mut self,
        stops: &[char],
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), ExpandError> {
        let saved = self.raw_escapes;
        self.raw_escapes = raw_escapes;
        let r = self.stop_on_any(stops);
        self.raw_escapes = saved;
        r
    }

    fn stop_on_any(&mut self, stops: &[char]) -> Result<(String, Vec<String>), ExpandError> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(ch) = self.peek() {
            if stops.contains(&ch) {
                self.next();
                return Ok((result, words.finish()));
            }
            match ch {
                '$' => {
                    let v = self.process_dollar()?;
                    result.push_str(&v);
                    words.add_string(&v);
                }
                '\'' => {
                    let v = self.process_single_quote()?;
                    result.push_str(&v);
                    words.add_raw_string(&v);
                }
                '"' => {
                    let v = self.process_double_quote()?;
                    result.push_str(&v);
                    words.add_raw_string(&v);
                }
                _ => {
                    let mut ch = self.next().unwrap_or_default();
                    if ch == self.lex.escape {
                        if self.raw_escapes {
                            words.add_raw_char(ch);
                            result.push(ch);
                        }
                        match self.next() {
                            None => break,
                            Some(c) => ch = c,
                        }
                        words.add_raw_char(ch);
                    } else {
                        words.add_char(ch);
                    }
                    result.push(ch);
                }
            }
        }
        if let Some(&stop) = stops.first() {
            return err(format!(
                "unexpected end of statement while looking for matching {stop}"
            ));
        }
        Ok((result, words.finish()))
    }

    fn process_single_quote(&mut self) -> Result<String, ExpandError> {
        let mut result = String::new();
        let open = self.next().unwrap_or('\'');
        if self.lex.raw_quotes {
            result.push(open);
        }
        loop {
            match self.next() {
                None => {
                    return err(
                        "unexpected end of statement while looking for matching single-quote",
                    )
                }
                Some('\'') => {
                    if self.lex.raw_quotes {
                        result.push('\'');
                    }
                    return Ok(result);
                }
                Some(c) => result.push(c),
            }
        }
    }

    fn process_double_quote(&mut self) -> Result<String, ExpandError> {
        let mut result = String::new();
        let open = self.next().unwrap_or('"');
        if self.lex.raw_quotes {
            result.push(open);
        }
        loop {
            let Some(ch) = self.peek() else {
                return err("unexpected end of statement while looking for matching double-quote");
            };
            if ch == '"' {
                self.next();
                if self.lex.raw_quotes {
                    result.push('"');
                }
                return Ok(result);
            }
            if ch == '$' {
                let v = self.process_dollar()?;
                result.push_str(&v);
                continue;
            }
            let mut ch = self.next().unwrap_or_default();
            if ch == self.lex.escape {
                if self.raw_escapes {
                    result.push(ch);
                }
                match self.peek() {
                    None => continue,
                    Some(c) if c == '"' || c == '$' || c == self.lex.escape => {
                        ch = self.next().unwrap_or_default();
                    }
                    Some(_) => {}
                }
            }
            result.push(ch);
        }
    }

    fn process_dollar(&mut self) -> Result<String, ExpandError> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".into());
            }
            let value = self.get_env(&name);
            if value.is_none() && self.lex.skip_unset_env {
                return Ok(format!("${name}"));
            }
            return Ok(value.unwrap_or_default());
        }
        self.next();
        match self.peek() {
            None => return err("syntax error: missing '}'"),
            Some('{' | '}' | ':') => return err("syntax error: bad substitution"),
            _ => {}
        }
        let name = self.process_name();
        let Some(mut ch) = self.next() else {
            return err("syntax error: missing '}'");
        };
        let mut modifier = ch.to_string();
        match ch {
            '}' => {
                let value = self.get_env(&name);
                if value.is_none() && self.lex.skip_unset_env {
                    return Ok(format!("${{{name}}}"));
                }
                Ok(value.unwrap_or_default())
            }
            ':' | '+' | '-' | '?' | '#' | '%' => {
                let null_is_unset = ch == ':';
                if null_is_unset {
                    match self.next() {
                        Some(c) => {
                            ch = c;
                            modifier.push(c);
                        }
                        None => return err("syntax error: missing '}'"),
                    }
                }
                let raw = ch == '#' || ch == '%';
                if null_is_unset && raw {
                    return err(format!("unsupported modifier ({modifier}) in substitution"));
                }
                if !matches!(ch, '+' | '-' | '?' | '#' | '%') {
                    return err(format!("unsupported modifier ({modifier}) in substitution"));
                }
                let word = match self.process_stop_on(Some('}'), raw) {
                    Ok((w, _)) => w,
                    Err(e) if self.peek().is_none() => {
                        let _ = e;
                        return err("syntax error: missing '}'");
                    }
                    Err(e) => return Err(e),
                };
                let value = self.get_env(&name);
                if value.is_none() && self.lex.skip_unset_env {
                    return Ok(format!("${{{name}{modifier}{word}}}"));
                }
                let empty = value
                    .as_deref()
                    .is_none_or(|v| null_is_unset && v.is_empty());
                match ch {
                    '-' => Ok(if empty {
                        word
                    } else {
                        value.unwrap_or_default()
                    }),
                    '+' => Ok(if empty { String::new() } else { word }),
                    '?' => match value {
                        None => err(format!(
                            "{name}: {}",
                            if word.is_empty() {
                                "is not allowed to be unset"
                            } else {
                                &word
                            }
                        )),
                        Some(v) if null_is_unset && v.is_empty() => err(format!(
                            "{name}: {}",
                            if word.is_empty() {
                                "is not allowed to be empty"
                            } else {
                                &word
                            }
                        )),
                        Some(v) => Ok(v),
                    },
                    _ => {
                        let value = value.unwrap_or_default();
                        let (greedy, pat) = match word.strip_prefix(ch) {
                            Some(p) => (true, p),
                            None => (false, word.as_str()),
                        };
                        let pattern = Pattern::new(pat, self.lex.escape);
                        Ok(if ch == '%' {
                            pattern.trim_suffix(&value, greedy)
                        } else {
                            pattern.trim_prefix(&value, greedy)
                        })
                    }
                }
            }
            '/' => {
                let all = self.peek() == Some('/');
                if all {
                    self.next();
                }
                let pat = match self.process_stop_on(Some('/'), true) {
                    Ok((p, _)) => p,
                    Err(_) if self.peek().is_none() => {
                        return err("syntax error: missing '/' in ${}")
                    }
                    Err(e) => return Err(e),
                };
                let repl = match self.process_stop_on(Some('}'), true) {
                    Ok((r, _)) => r,
                    Err(_) if self.peek().is_none() => return err("syntax error: missing '}'"),
                    Err(e) => return Err(e),
                };
                let value = self.get_env(&name);
                if value.is_none() && self.lex.skip_unset_env {
                    return Ok(format!("${{{name}/{pat}/{repl}}}"));
                }
                Ok(Pattern::new(&pat, self.lex.escape).replace(
                    &value.unwrap_or_default(),
                    &repl,
                    all,
                ))
            }
            _ => err(format!("unsupported modifier ({modifier}) in substitution")),
        }
    }

    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_ascii_digit() {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    self.next();
                    name.push(d);
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.next();
                return ch.to_string();
            }
            if !ch.is_alphanumeric() && ch != '_' {
                break;
            }
            self.next();
            name.push(ch);
        }
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "A" => Some("hello".into()),
            "E" => Some(String::new()),
            "P" => Some("/usr/local/bin/tool.tar.gz".into()),
            "S" => Some("a b  c".into()),
            _ => None,
        }
    }

    fn word(w: &str) -> Result<String, String> {
        Lexer::new('\\').process_word(w, &mut env).map_err(|e| e.0)
    }

    #[test]
    fn substitution_table() {
        let cases: &[(&str, &str)] = &[
            ("$A", "hello"),
            ("${A}", "hello"),
            ("x${A}y", "xhelloy"),
            ("$A$A", "hellohello"),
            ("$U", ""),
            ("${U:-def}", "def"),
            ("${E:-def}", "def"),
            ("${E-def}", ""),
            ("${U-def}", "def"),
            ("${A:-def}", "hello"),
            ("${A:+alt}", "alt"),
            ("${E:+alt}", ""),
            ("${E+alt}", "alt"),
            ("${U+alt}", ""),
            ("${A?x}", "hello"),
            ("\\$A", "$A"),
            ("'$A'", "$A"),
            ("\"$A\"", "hello"),
            ("\"\\$A\"", "$A"),
            ("\"a\\b\"", "a\\b"),
            ("a\\ b", "a b"),
            ("$", "$"),
            ("${P#*/}", "usr/local/bin/tool.tar.gz"),
            ("${P##*/}", "tool.tar.gz"),
            ("${P%.*}", "/usr/local/bin/tool.tar"),
            ("${P%%.*}", "/usr/local/bin/tool"),
            ("${P/o/0}", "/usr/l0cal/bin/tool.tar.gz"),
            ("${P//o/0}", "/usr/l0cal/bin/t00l.tar.gz"),
            ("${U:-${A}}", "hello"),
            ("${U:-'q x'}", "q x"),
            ("$1x", "x"),
        ];
        for (input, want) in cases {
            assert_eq!(word(input).as_deref(), Ok(*want), "{input}");
        }
    }

    #[test]
    fn substitution_errors() {
        let cases: &[(&str, &str)] = &[
            ("${U:?}", "U: is not allowed to be unset"),
            ("${E:?}", "E: is not allowed to be empty"),
            ("${U:?must be set}", "U: must be set"),
            ("${U?}", "U: is not allowed to be unset"),
            ("${A", "syntax error: missing '}'"),
            ("${A:-x", "syntax error: missing '}'"),
            ("${}", "syntax error: bad substitution"),
            ("${:x}", "syntax error: bad substitution"),
            ("${A:#x}", "unsupported modifier (:#) in substitution"),
            ("${A!}", "unsupported modifier (!) in substitution"),
            (
                "'abc",
                "unexpected end of statement while looking for matching single-quote",
            ),
            (
                "\"abc",
                "unexpected end of statement while looking for matching double-quote",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(word(input), Err(want.to_string()), "{input}");
        }
    }

    #[test]
    fn words_split_unquoted_expansions_only() {
        let lex = Lexer::new('\\');
        assert_eq!(
            lex.process_words("x $S", &mut env).unwrap(),
            ["x", "a", "b", "c"]
        );
        assert_eq!(
            lex.process_words("x \"$S\"", &mut env).unwrap(),
            ["x", "a b  c"]
        );
        assert_eq!(
            lex.process_words("'a b' c\\ d", &mut env).unwrap(),
            ["a b", "c d"]
        );
    }

    #[test]
    fn backtick_escape() {
        let lex = Lexer::new('`');
        assert_eq!(
            lex.process_word("c:\\dir`$A", &mut env).unwrap(),
            "c:\\dir$A"
        );
    }

    #[test]
    fn skip_unset_keeps_text() {
        let lex = Lexer {
            skip_unset_env: true,
            ..Lexer::new('\\')
        };
        assert_eq!(
            lex.process_word("$U ${U} ${U:-x} $A", &mut env).unwrap(),
            "$U ${U} ${U:-x} hello"
        );
    }
}
