//! Parser directives: `# syntax=`, `# escape=`, `# check=` at the top of the file.
//!
//! As BuildKit: directives are comment lines `# key=value` (key case-insensitive) before
//! anything else; the first line that is not one (a blank line, another comment, an unknown
//! directive, an instruction) ends them. A directive given twice is an error.

use serde::Serialize;

use crate::error::ParseError;

/// The directives a Dockerfile set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Directives {
    /// `# syntax=`: the frontend image the file asks for (accepted only when it is one of
    /// Docker's own Dockerfile frontends, which berth implements itself).
    pub syntax: Option<String>,
    /// `# escape=`: `\` (default) or `` ` ``.
    pub escape: char,
    /// `# check=`: which build checks to skip and whether warnings fail the build.
    pub check: Option<CheckDirective>,
}

impl Default for Directives {
    fn default() -> Self {
        Self {
            syntax: None,
            escape: '\\',
            check: None,
        }
    }
}

/// `# check=skip=<rule,rule|all>;error=<bool>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckDirective {
    /// Rule names whose warnings are not reported.
    pub skip: Vec<String>,
    /// `skip=all`: no check is reported.
    pub skip_all: bool,
    /// `error=true`: a reported check fails the build.
    pub error: bool,
}

/// Reads directives line by line until the first line that is not one.
#[derive(Debug, Default)]
pub(crate) struct DirectiveParser {
    done: bool,
    seen: Vec<String>,
    pub(crate) directives: Directives,
}

impl DirectiveParser {
    /// Feeds one physical line (newline removed, leading whitespace kept).
    pub(crate) fn line(&mut self, line: &str, line_no: usize) -> Result<(), ParseError> {
        if self.done {
            return Ok(());
        }
        let Some((key, value)) = split_directive(line) else {
            self.done = true;
            return Ok(());
        };
        let key = key.to_ascii_lowercase();
        if !matches!(key.as_str(), "syntax" | "escape" | "check") {
            self.done = true;
            return Ok(());
        }
        if self.seen.contains(&key) {
            return Err(ParseError::new(
                line_no,
                format!("only one {key} parser directive can be used"),
            ));
        }
        self.seen.push(key.clone());
        match key.as_str() {
            "escape" => {
                self.directives.escape = match value {
                    "\\" => '\\',
                    "`" => '`',
                    other => {
                        return Err(ParseError::new(
                            line_no,
                            format!("invalid ESCAPE '{other}'. Must be ` or \\"),
                        ))
                    }
                }
            }
            "syntax" => {
                check_frontend(value).map_err(|m| ParseError::new(line_no, m))?;
                self.directives.syntax = Some(value.to_string());
            }
            _ => {
                self.directives.check =
                    Some(parse_check(value).map_err(|m| ParseError::new(line_no, m))?);
            }
        }
        Ok(())
    }
}

/// `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` on the line with leading blanks removed.
fn split_directive(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim_start().strip_prefix('#')?.trim_start();
    let key_len = rest
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(rest.len(), |(i, _)| i);
    if key_len == 0 {
        return None;
    }
    let (key, rest) = rest.split_at(key_len);
    let value = rest.trim_start().strip_prefix('=')?.trim();
    (!value.is_empty()).then_some((key, value))
}

/// The frontends berth implements: Docker's Dockerfile frontend at any version or channel.
fn check_frontend(image: &str) -> Result<(), String> {
    let name = image.split('@').next().unwrap_or(image);
    let repo = match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => name,
    };
    let repo = repo
        .strip_prefix("docker.io/")
        .or_else(|| repo.strip_prefix("registry-1.docker.io/"))
        .unwrap_or(repo);
    if matches!(repo, "docker/dockerfile" | "docker/dockerfile-upstream") {
        Ok(())
    } else {
        Err(format!(
            "unsupported frontend {image:?}: berth builds Dockerfiles itself and runs no \
             other frontend (use docker/dockerfile, or remove the syntax directive)"
        ))
    }
}

fn parse_check(value: &str) -> Result<CheckDirective, String> {
    let mut check = CheckDirective::default();
    for part in value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, val)) = part.split_once('=') else {
            return Err(format!("invalid check directive: {part:?}"));
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "skip" => {
                for rule in val.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                    if rule.eq_ignore_ascii_case("all") {
                        check.skip_all = true;
                    } else {
                        check.skip.push(rule.to_string());
                    }
                }
            }
            "error" => {
                check.error = match val.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    other => return Err(format!("invalid check directive: error={other:?}")),
                }
            }
            other => return Err(format!("invalid check directive: unknown key {other:?}")),
        }
    }
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directive_lines() {
        assert_eq!(split_directive("# escape=`"), Some(("escape", "`")));
        assert_eq!(
            split_directive("  #  Syntax = a/b:1  "),
            Some(("Syntax", "a/b:1"))
        );
        assert_eq!(split_directive("# escape ="), None);
        assert_eq!(split_directive("# just a comment"), None);
        assert_eq!(split_directive("FROM x"), None);
    }

    #[test]
    fn frontends() {
        assert!(check_frontend("docker/dockerfile:1").is_ok());
        assert!(check_frontend("docker.io/docker/dockerfile:1.7-labs").is_ok());
        assert!(check_frontend("docker/dockerfile-upstream:master").is_ok());
        assert!(check_frontend("docker/dockerfile@sha256:abc").is_ok());
        assert!(check_frontend("example.com/my/frontend:1").is_err());
    }
}
