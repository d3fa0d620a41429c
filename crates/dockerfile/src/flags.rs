//! Builder flags (`COPY --from=x --link`), checked as BuildKit's `BFlags` does.

/// What kind of value a flag takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    Bool,
    String,
    Strings,
}

/// The flags one instruction accepts, and what was given.
pub(crate) struct Flags {
    allowed: Vec<(&'static str, Kind)>,
    values: Vec<(&'static str, String)>,
}

impl Flags {
    /// Parses `given` (`--name[=value]` words) against `allowed`.
    pub(crate) fn parse(
        given: &[String],
        allowed: &[(&'static str, Kind)],
    ) -> Result<Self, String> {
        let mut flags = Self {
            allowed: allowed.to_vec(),
            values: Vec::new(),
        };
        for arg in given {
            let Some(arg) = arg.strip_prefix("--") else {
                return Err(format!("Arg should start with -- : {arg}"));
            };
            if arg.is_empty() {
                break;
            }
            let (name, value) = match arg.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (arg, None),
            };
            let Some(&(name, kind)) = flags.allowed.iter().find(|(n, _)| *n == name) else {
                return Err(format!("unknown flag: {name}"));
            };
            if kind != Kind::Strings && flags.values.iter().any(|(n, _)| *n == name) {
                return Err(format!("Duplicate flag specified: {name}"));
            }
            let value = match (kind, value) {
                (Kind::Bool, None) => "true".to_string(),
                (Kind::Bool, Some("")) => return Err(format!("Missing a value on flag: {name}")),
                (Kind::Bool, Some(v)) => match v.to_ascii_lowercase().as_str() {
                    "true" => "true".into(),
                    "false" => "false".into(),
                    _ => return Err(format!("Expecting boolean value for flag {name}, not: {v}")),
                },
                (_, None) => return Err(format!("Missing a value on flag: {name}")),
                (_, Some(v)) => v.to_string(),
            };
            flags.values.push((name, value));
        }
        Ok(flags)
    }

    pub(crate) fn string(&self, name: &str) -> Option<String> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }

    pub(crate) fn strings(&self, name: &str) -> Vec<String> {
        self.values
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub(crate) fn bool(&self, name: &str) -> bool {
        self.string(name).as_deref() == Some("true")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flag_rules() {
        let allowed = [
            ("from", Kind::String),
            ("link", Kind::Bool),
            ("exclude", Kind::Strings),
        ];
        let f = Flags::parse(
            &args(&["--from=a", "--link", "--exclude=x", "--exclude=y"]),
            &allowed,
        )
        .unwrap();
        assert_eq!(f.string("from").as_deref(), Some("a"));
        assert!(f.bool("link"));
        assert_eq!(f.strings("exclude"), ["x", "y"]);
        let err = |a: &[&str]| Flags::parse(&args(a), &allowed).err().unwrap();
        assert_eq!(err(&["--nope"]), "unknown flag: nope");
        assert_eq!(err(&["--from"]), "Missing a value on flag: from");
        assert_eq!(
            err(&["--from=a", "--from=b"]),
            "Duplicate flag specified: from"
        );
        assert_eq!(
            err(&["--link=maybe"]),
            "Expecting boolean value for flag link, not: maybe"
        );
        assert_eq!(err(&["--link="]), "Missing a value on flag: link");
        assert!(!Flags::parse(&args(&["--link=FALSE"]), &allowed)
            .unwrap()
            .bool("link"));
    }
}
