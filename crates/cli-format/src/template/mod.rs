//! A Go text/template engine for docker's `--format`, evaluated over `serde_json::Value`.
//!
//! Supported: `{{.}}`, `{{.A.B}}`, pipelines `a | b`, parentheses, variables (`$`,
//! `{{range $k, $v := .}}`, `{{$x := ...}}`), `if`/`else if`/`else`/`with`/`range`/`end`,
//! trim markers `{{-`/`-}}`, comments, and the functions docker offers: `json`, `join`,
//! `split`, `title`, `lower`, `upper`, `pad`, `truncate`, `println`, plus Go's `print`,
//! `printf`, `len`, `index`, `slice`, `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `and`, `or`, `not`.
//! Values print like Go's `%v` (`[a b]`, `map[k:v]`, `<nil>`, `<no value>` for a missing
//! key).

mod exec;
mod parse;

pub use exec::{go_print, json_func};
pub use parse::Node;

/// A template error: parse errors and execution errors (unknown function, bad field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template text is malformed.
    #[error("template parsing error: {0}")]
    Parse(String),
    /// Evaluation failed.
    #[error("template: executing \"\": {0}")]
    Exec(String),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    nodes: Vec<Node>,
}

impl Template {
    /// Parses `src`.
    pub fn parse(src: &str) -> Result<Self, TemplateError> {
        Ok(Template {
            nodes: parse::parse(src)?,
        })
    }

    /// Renders with `data` as dot.
    pub fn render(&self, data: &serde_json::Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        exec::Exec::new(data).run(&self.nodes, data, &mut out)?;
        Ok(out)
    }
}

/// Parses and renders in one go.
pub fn render(src: &str, data: &serde_json::Value) -> Result<String, TemplateError> {
    Template::parse(src)?.render(data)
}

#[cfg(test)]
mod tests;
