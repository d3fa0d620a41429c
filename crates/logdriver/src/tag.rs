//! The `tag` log option: Docker's Go-template fields (`{{.ID}}`, `{{.Name}}`, …), expanded
//! by the daemon before the shim opens the driver.

use crate::LogError;

/// What a tag template can name.
#[derive(Debug, Clone, Default)]
pub struct TagFacts<'a> {
    /// Full container id.
    pub id: &'a str,
    /// Container name without the slash.
    pub name: &'a str,
    /// Full image id (`sha256:…`).
    pub image_id: &'a str,
    /// The image as named.
    pub image_name: &'a str,
}

const FIELDS: &[&str] = &[
    "ID",
    "FullID",
    "Name",
    "ImageID",
    "ImageFullID",
    "ImageName",
    "DaemonName",
];

/// Docker's default tag: the short container id.
pub const DEFAULT_TAG: &str = "{{.ID}}";

/// Checks a template: every `{{…}}` must be one of Docker's fields.
pub fn check(template: &str) -> Result<(), LogError> {
    expand_with(template, |_| Some(String::new())).map(|_| ())
}

/// The template with its fields filled in (an empty template is the default).
pub fn expand(template: &str, facts: &TagFacts<'_>) -> Result<String, LogError> {
    let template = if template.is_empty() {
        DEFAULT_TAG
    } else {
        template
    };
    let short = |s: &str| s.chars().take(12).collect::<String>();
    expand_with(template, |field| {
        Some(match field {
            "ID" => short(facts.id),
            "FullID" => facts.id.to_string(),
            "Name" => facts.name.to_string(),
            "ImageID" => short(facts.image_id.trim_start_matches("sha256:")),
            "ImageFullID" => facts.image_id.to_string(),
            "ImageName" => facts.image_name.to_string(),
            "DaemonName" => "berth".to_string(),
            _ => return None,
        })
    })
}

fn expand_with(template: &str, value: impl Fn(&str) -> Option<String>) -> Result<String, LogError> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| {
            LogError::BadOpt(format!(
                "template: log-tag:1: unclosed action in {template:?}"
            ))
        })?;
        let field = after[..end].trim();
        let name = field.strip_prefix('.').filter(|f| FIELDS.contains(f));
        match name.and_then(&value) {
            Some(v) => out.push_str(&v),
            None => {
                return Err(LogError::BadOpt(format!(
                    "template: log-tag:1: can't evaluate {field:?}: berth's tags know {}",
                    FIELDS
                        .iter()
                        .map(|f| format!("{{{{.{f}}}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_expand() {
        let f = TagFacts {
            id: "0123456789abcdef",
            name: "web",
            image_id: "sha256:aaaabbbbccccdddd",
            image_name: "busybox",
        };
        assert_eq!(expand("", &f).unwrap(), "0123456789ab");
        assert_eq!(
            expand("{{.Name}}/{{ .ImageName }}:{{.ImageID}}", &f).unwrap(),
            "web/busybox:aaaabbbbcccc"
        );
        assert!(check("{{.Nope}}").is_err());
        assert!(check("{{.ID").is_err());
        assert!(check("plain").is_ok());
    }
}
