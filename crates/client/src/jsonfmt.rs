//! Go's `json.Indent` over raw bytes: keeps the daemon's key order (serde_json maps sort).

/// Re-indents compact or pretty JSON with `indent` per level, like Go's `json.Indent(dst,
/// src, prefix, indent)` with an empty prefix. Empty objects/arrays stay `{}`/`[]`.
pub fn indent(src: &str, indent: &str) -> String {
    let mut out = String::with_capacity(src.len() * 2);
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    let mut need_newline = false;
    let mut empty_open = false;
    let chars: Vec<char> = src.chars().collect();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(indent);
        }
    };
    for (i, &c) in chars.iter().enumerate() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        if c.is_whitespace() {
            continue;
        }
        if need_newline && c != ']' && c != '}' {
            need_newline = false;
            depth += 1;
            newline(&mut out, depth);
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                // Defer: an immediately closed container stays on one line.
                let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
                if matches!(next, Some('}') | Some(']')) {
                    empty_open = true;
                    continue;
                }
                need_newline = true;
            }
            '}' | ']' => {
                if empty_open {
                    empty_open = false;
                } else if need_newline {
                    need_newline = false;
                } else {
                    depth = depth.saturating_sub(1);
                    newline(&mut out, depth);
                }
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indents_like_go() {
        assert_eq!(
            indent(r#"[{"b":1,"a":{"x":[1,2],"e":{},"l":[]},"s":"q\"{,"}]"#, "    "),
            "[\n    {\n        \"b\": 1,\n        \"a\": {\n            \"x\": [\n                1,\n                2\n            ],\n            \"e\": {},\n            \"l\": []\n        },\n        \"s\": \"q\\\"{,\"\n    }\n]"
        );
    }
}
