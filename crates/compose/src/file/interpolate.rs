//! Variable substitution in Compose files, as compose-go's `template` package does it:
//! `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`,
//! `${VAR:+replacement}`, `${VAR+replacement}` (defaults may nest), `$$` for a literal `$`.

use crate::yaml::{Node, Value};

/// Why a substitution failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// Bad syntax (`${}`, `${ VAR}`, an unclosed brace).
    Invalid,
    /// `${VAR:?msg}` / `${VAR?msg}` with the variable unset (or empty for `:?`).
    Required {
        /// The variable.
        var: String,
        /// The message after `?`.
        message: String,
    },
}

/// Variables seen unset (for Compose's "is not set. Defaulting to a blank string." warning).
pub type Unset = Vec<String>;

/// Substitutes in one string.
pub fn substitute(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Unset,
) -> Result<String, TemplateError> {
    let mut out = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            let c = s[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        match b.get(i + 1) {
            Some(b'$') => {
                out.push('$');
                i += 2;
            }
            Some(b'{') => {
                let end = closing_brace(s, i + 2).ok_or(TemplateError::Invalid)?;
                out.push_str(&braced(&s[i + 2..end], lookup, unset)?);
                i = end + 1;
            }
            Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                out.push_str(&value_or_warn(&s[start..j], lookup, unset));
                i = j;
            }
            _ => {
                // a lone `$` (end of string, before a space…) stays as is
                out.push('$');
                i += 1;
            }
        }
    }
    Ok(out)
}

fn value_or_warn(name: &str, lookup: &dyn Fn(&str) -> Option<String>, unset: &mut Unset) -> String {
    lookup(name).unwrap_or_else(|| {
        if !unset.iter().any(|u| u == name) {
            unset.push(name.to_string());
        }
        String::new()
    })
}

/// The index of the `}` closing a `${` whose body starts at `from` (nested `${…}` skipped).
fn closing_brace(s: &str, from: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut depth = 0;
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'$' if b.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 2;
                continue;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn braced(
    body: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Unset,
) -> Result<String, TemplateError> {
    let name_end = body
        .bytes()
        .position(|c| !(c.is_ascii_alphanumeric() || c == b'_'))
        .unwrap_or(body.len());
    let name = &body[..name_end];
    if name.is_empty() || name.as_bytes()[0].is_ascii_digit() {
        return Err(TemplateError::Invalid);
    }
    let rest = &body[name_end..];
    let value = lookup(name);
    let (op, arg) = if let Some(a) = rest.strip_prefix(":-") {
        (":-", a)
    } else if let Some(a) = rest.strip_prefix(":?") {
        (":?", a)
    } else if let Some(a) = rest.strip_prefix(":+") {
        (":+", a)
    } else if let Some(a) = rest.strip_prefix('-') {
        ("-", a)
    } else if let Some(a) = rest.strip_prefix('?') {
        ("?", a)
    } else if let Some(a) = rest.strip_prefix('+') {
        ("+", a)
    } else if rest.is_empty() {
        ("", "")
    } else {
        return Err(TemplateError::Invalid);
    };
    let set_non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
    Ok(match op {
        "" => value_or_warn(name, lookup, unset),
        ":-" if !set_non_empty => substitute(arg, lookup, unset)?,
        "-" if value.is_none() => substitute(arg, lookup, unset)?,
        ":?" if !set_non_empty => {
            return Err(TemplateError::Required {
                var: name.into(),
                message: substitute(arg, lookup, unset)?,
            })
        }
        "?" if value.is_none() => {
            return Err(TemplateError::Required {
                var: name.into(),
                message: substitute(arg, lookup, unset)?,
            })
        }
        ":+" => {
            if set_non_empty {
                substitute(arg, lookup, unset)?
            } else {
                String::new()
            }
        }
        "+" => {
            if value.is_some() {
                substitute(arg, lookup, unset)?
            } else {
                String::new()
            }
        }
        _ => value.unwrap_or_default(),
    })
}

/// An interpolation error, located.
#[derive(Debug, thiserror::Error)]
pub enum InterpolateError {
    /// Bad syntax.
    #[error("{mark}: invalid interpolation format for {path}: {value:?}; you may need to escape any $ with another $")]
    Invalid {
        /// Where.
        mark: crate::yaml::Mark,
        /// The key path.
        path: String,
        /// The raw string.
        value: String,
    },
    /// A required variable is missing.
    #[error("{mark}: required variable {var} is missing a value: {message}")]
    Required {
        /// Where.
        mark: crate::yaml::Mark,
        /// The variable.
        var: String,
        /// The message.
        message: String,
    },
}

/// Substitutes in every string value of `node` (keys are left alone).
pub fn interpolate_tree(
    node: &mut Node,
    path: &mut Vec<String>,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Unset,
) -> Result<(), InterpolateError> {
    match &mut node.value {
        Value::Str(s) if s.contains('$') => {
            *s = substitute(s, lookup, unset).map_err(|e| match e {
                TemplateError::Invalid => InterpolateError::Invalid {
                    mark: node.mark.clone(),
                    path: path.join("."),
                    value: s.clone(),
                },
                TemplateError::Required { var, message } => InterpolateError::Required {
                    mark: node.mark.clone(),
                    var,
                    message,
                },
            })?;
        }
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(format!("[{i}]"));
                interpolate_tree(item, path, lookup, unset)?;
                path.pop();
            }
        }
        Value::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                path.push(k.name.clone());
                interpolate_tree(v, path, lookup, unset)?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(s: &str) -> Result<String, TemplateError> {
        let env = |k: &str| match k {
            "SET" => Some("v".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        substitute(s, &env, &mut Vec::new())
    }

    #[test]
    fn every_form() {
        assert_eq!(sub("a${SET}b$SET.c").unwrap(), "avbv.c");
        assert_eq!(
            sub("${UNSET:-d}|${EMPTY:-d}|${EMPTY-d}|${UNSET-d}").unwrap(),
            "d|d||d"
        );
        assert_eq!(
            sub("${SET:+x}|${EMPTY:+x}|${EMPTY+x}|${UNSET+x}").unwrap(),
            "x||x|"
        );
        assert_eq!(sub("$$SET $$").unwrap(), "$SET $");
        assert_eq!(sub("${UNSET:-${SET}}").unwrap(), "v");
        assert_eq!(sub("${UNSET:-a:b}").unwrap(), "a:b");
        assert_eq!(
            sub("${EMPTY:?need it}"),
            Err(TemplateError::Required {
                var: "EMPTY".into(),
                message: "need it".into()
            })
        );
        assert_eq!(sub("${EMPTY?x}").unwrap(), "");
        assert!(sub("${UNSET?x}").is_err());
        assert_eq!(sub("${}"), Err(TemplateError::Invalid));
        assert_eq!(sub("${ SET}"), Err(TemplateError::Invalid));
        assert_eq!(sub("${SET"), Err(TemplateError::Invalid));
        assert_eq!(sub("cost: 5$").unwrap(), "cost: 5$");
    }

    #[test]
    fn unset_variables_are_reported_once() {
        let mut unset = Vec::new();
        substitute("$A ${A} ${B:-x}", &|_| None, &mut unset).unwrap();
        assert_eq!(unset, vec!["A".to_string()]);
    }
}
