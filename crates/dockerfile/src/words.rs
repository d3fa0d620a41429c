//! The parser's word splitting, exactly as BuildKit's `parser` package does it: builder
//! flags before the arguments, whitespace-delimited lists, quote-aware words (quotes and
//! escapes kept for the later variable substitution) and the JSON form.

/// BuildKit's `reWhitespace`: `[\t\v\f\r ]+`.
pub(crate) fn is_separator(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

/// Splits on runs of `[\t\v\f\r ]` (no trimming: a leading separator gives an empty word).
pub(crate) fn split_whitespace(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_sep = false;
    for c in s.chars() {
        if is_separator(c) {
            if !in_sep {
                out.push(std::mem::take(&mut cur));
                in_sep = true;
            }
        } else {
            in_sep = false;
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

/// Splits `s` in two at the first run of separators (`reWhitespace.Split(s, 2)`).
pub(crate) fn split_first_word(s: &str) -> (&str, Option<&str>) {
    match s.find(is_separator) {
        None => (s, None),
        Some(i) => {
            let rest = s[i..].trim_start_matches(is_separator);
            (&s[..i], Some(rest))
        }
    }
}

/// The `--flag[=value]` words that start an instruction's arguments; returns them (with
/// their `--`, quotes removed, escapes resolved) and the rest of the line. `--` alone ends the flags.
pub(crate) fn extract_builder_flags(line: &str) -> (Vec<String>, String) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut pos = 0;
    while pos <= chars.len() {
        let at_end = pos == chars.len();
        let (byte, mut ch) = if at_end {
            (line.len(), '\0')
        } else {
            chars[pos]
        };
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if ch.is_whitespace() {
                pos += 1;
                continue;
            }
            let next_dash = chars.get(pos + 1).is_some_and(|&(_, c)| c == '-');
            if ch != '-' || !next_dash {
                return (words, line[byte..].to_string());
            }
            phase = Phase::Word;
        }
        if at_end {
            if word != "--" && (blank_ok || !word.is_empty()) {
                words.push(word);
            }
            return (words, String::new());
        }
        if phase == Phase::Word {
            if ch.is_whitespace() {
                phase = Phase::Spaces;
                if word == "--" {
                    return (words, line[byte..].to_string());
                }
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                word.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                pos += 1;
                continue;
            }
            if ch == '\\' {
                if pos + 1 == chars.len() {
                    pos += 1;
                    continue;
                }
                pos += 1;
                ch = chars[pos].1;
            }
            word.push(ch);
            pos += 1;
            continue;
        }
        // in a quote
        if ch == quote {
            phase = Phase::Word;
            pos += 1;
            continue;
        }
        if ch == '\\' {
            if pos + 1 == chars.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            ch = chars[pos].1;
        }
        word.push(ch);
        pos += 1;
    }
    (words, String::new())
}

/// BuildKit's `parseWords`: splits on whitespace outside quotes, keeping quotes and escape
/// tokens in the words (the variable substitution removes them later).
pub(crate) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut pos = 0;
    while pos <= chars.len() {
        let at_end = pos == chars.len();
        let mut ch = if at_end { '\0' } else { chars[pos] };
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if ch.is_whitespace() {
                pos += 1;
                continue;
            }
            phase = Phase::Word;
        }
        if at_end {
            if blank_ok || !word.is_empty() {
                words.push(word);
            }
            break;
        }
        if phase == Phase::Word {
            if ch.is_whitespace() {
                phase = Phase::Spaces;
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
            }
            if ch == escape {
                if pos + 1 == chars.len() {
                    pos += 1;
                    continue;
                }
                word.push(ch);
                pos += 1;
                ch = chars[pos];
            }
            word.push(ch);
            pos += 1;
            continue;
        }
        // in a quote
        if ch == quote {
            phase = Phase::Word;
        }
        if ch == escape && quote != '\'' {
            if pos + 1 == chars.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            word.push(ch);
            ch = chars[pos];
        }
        word.push(ch);
        pos += 1;
    }
    words
}

/// The JSON form: `Ok(Some(words))` for a JSON array of strings, `Ok(None)` when the text
/// is not a JSON array (the shell form applies), `Err` for an array with non-strings.
pub(crate) fn parse_json_array(rest: &str) -> Result<Option<Vec<String>>, String> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Ok(None);
    }
    let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(rest) else {
        return Ok(None);
    };
    values
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(
                "when using JSON array syntax, arrays must be comprised of strings only"
                    .to_string(),
            ),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_flags() {
        let (f, r) = extract_builder_flags("--from=a --chown=\"x y\" src dst");
        assert_eq!(f, ["--from=a", "--chown=x y"]);
        assert_eq!(r, "src dst");
        let (f, r) = extract_builder_flags("-- --notaflag x");
        assert!(f.is_empty());
        assert_eq!(r, " --notaflag x");
        let (f, r) = extract_builder_flags("--link");
        assert_eq!(f, ["--link"]);
        assert_eq!(r, "");
        let (f, r) = extract_builder_flags("-x y");
        assert!(f.is_empty());
        assert_eq!(r, "-x y");
    }

    #[test]
    fn words_keep_quotes() {
        assert_eq!(
            parse_words(r#"a="b c" d=e\ f 'g h'"#, '\\'),
            [r#"a="b c""#, r"d=e\ f", "'g h'"]
        );
        assert_eq!(parse_words("  ", '\\'), Vec::<String>::new());
        assert_eq!(parse_words(r#"x="""#, '\\'), [r#"x="""#]);
    }

    #[test]
    fn json_form() {
        assert_eq!(
            parse_json_array(r#" ["a", "b c"]"#).unwrap(),
            Some(vec!["a".into(), "b c".into()])
        );
        assert_eq!(parse_json_array("[a]").unwrap(), None);
        assert_eq!(parse_json_array(r#"["a"] x"#).unwrap(), None);
        assert!(parse_json_array("[1]").is_err());
        assert_eq!(parse_json_array("echo").unwrap(), None);
    }

    #[test]
    fn whitespace_split() {
        assert_eq!(split_whitespace("a  b\tc"), ["a", "b", "c"]);
        assert_eq!(split_first_word("RUN  echo hi"), ("RUN", Some("echo hi")));
    }
}
