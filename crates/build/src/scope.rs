//! Build arguments and the variables an instruction sees: Docker's scoping rules.
//!
//! - ARGs before the first FROM are the global scope (usable in FROM lines); a stage sees a
//!   global ARG only after re-declaring it (`ARG NAME`, no value) inside the stage.
//! - `--build-arg` values override declared defaults; an undeclared build arg is unused (and
//!   reported), except the predefined proxy args, which RUN sees without a declaration.
//! - The platform ARGs (`TARGETPLATFORM`, `BUILDARCH`, …) are set globally.
//! - In a stage, ENV wins over an ARG of the same name for substitution.

use std::collections::{BTreeMap, BTreeSet};

use berth_dockerfile::shell::Lexer;
use berth_dockerfile::ExpandError;

/// Args every build has, usable without an ARG (and kept out of cache keys and history).
pub const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The platform the build runs on / for (always the host's).
#[derive(Debug, Clone)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// The architecture in Go's naming (`amd64`, `arm64`).
    pub arch: String,
    /// The variant (`v8`), if any.
    pub variant: Option<String>,
}

impl Platform {
    /// The host's platform.
    pub fn host() -> Self {
        let spec = berth_image::PlatformSpec::host();
        Self {
            os: spec.os,
            arch: spec.architecture,
            variant: spec.variant,
        }
    }

    /// `os/arch[/variant]`.
    pub fn to_string_full(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.arch),
            None => format!("{}/{}", self.os, self.arch),
        }
    }

    /// `TARGETPLATFORM`, `TARGETOS`, … `BUILDVARIANT`.
    pub fn args(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for prefix in ["TARGET", "BUILD"] {
            out.push((format!("{prefix}PLATFORM"), self.to_string_full()));
            out.push((format!("{prefix}OS"), self.os.clone()));
            out.push((format!("{prefix}ARCH"), self.arch.clone()));
            out.push((
                format!("{prefix}VARIANT"),
                self.variant.clone().unwrap_or_default(),
            ));
        }
        out
    }
}

/// The variables visible at one point of a stage.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Declared ARGs with a value (build arg or default), in declaration order.
    args: Vec<(String, String)>,
    /// Declared ARGs without a value.
    unset_args: BTreeSet<String>,
    /// The image config's Env (`KEY=value`).
    pub env: Vec<String>,
}

impl Scope {
    /// The global scope: platform args, then meta ARGs resolved against build args.
    pub fn global(platform: &Platform) -> Self {
        Self {
            args: platform.args(),
            ..Self::default()
        }
    }

    /// The value of an ENV variable in this scope (the last one set wins).
    pub fn env_value(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find_map(|kv| kv.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
    }

    /// The value of a declared ARG in this scope (the last one declared wins).
    pub fn arg_value(&self, name: &str) -> Option<&str> {
        self.args
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Declares `name`: build arg value, else `default` (already expanded), else the
    /// global scope's value (re-declared global ARG), else unset.
    pub fn declare(
        &mut self,
        name: &str,
        default: Option<String>,
        build_args: &BTreeMap<String, Option<String>>,
        global: Option<&Scope>,
    ) {
        let value = match build_args.get(name) {
            Some(Some(v)) => Some(v.clone()),
            _ => default.or_else(|| global.and_then(|g| g.arg_value(name)).map(str::to_string)),
        };
        self.args.retain(|(k, _)| k != name);
        self.unset_args.remove(name);
        match value {
            Some(v) => self.args.push((name.to_string(), v)),
            None => {
                self.unset_args.insert(name.to_string());
            }
        }
    }

    /// Sets an ENV variable (replacing an existing one in place, as Docker does).
    pub fn set_env(&mut self, key: &str, value: &str) {
        let entry = format!("{key}={value}");
        match self
            .env
            .iter_mut()
            .find(|kv| kv.split_once('=').map_or(kv.as_str(), |(k, _)| k) == key)
        {
            Some(slot) => *slot = entry,
            None => self.env.push(entry),
        }
    }

    /// Looks a name up for substitution (ENV before ARG) and records ARGs used.
    fn lookup(&self, name: &str, used: &mut BTreeMap<String, String>) -> Option<String> {
        if let Some(v) = self.env_value(name) {
            return Some(v.to_string());
        }
        let v = self.arg_value(name)?.to_string();
        used.insert(name.to_string(), v.clone());
        Some(v)
    }

    /// Substitutes variables in `word` (quotes and escapes removed).
    pub fn expand(
        &self,
        word: &str,
        escape: char,
        used: &mut BTreeMap<String, String>,
    ) -> Result<String, ExpandError> {
        Lexer::new(escape).process_word(word, &mut |n| self.lookup(n, used))
    }

    /// Substitutes and splits into words.
    pub fn expand_words(
        &self,
        word: &str,
        escape: char,
        used: &mut BTreeMap<String, String>,
    ) -> Result<Vec<String>, ExpandError> {
        Lexer::new(escape).process_words(word, &mut |n| self.lookup(n, used))
    }

    /// The ARGs with values a RUN sees as environment (not already set by ENV), plus the
    /// proxy args given as build args.
    pub fn run_args(&self, build_args: &BTreeMap<String, Option<String>>) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .args
            .iter()
            .filter(|(k, _)| self.env_value(k).is_none())
            .cloned()
            .collect();
        for p in PROXY_ARGS {
            if let Some(Some(v)) = build_args.get(p) {
                if !out.iter().any(|(k, _)| k == p) {
                    out.push((p.to_string(), v.clone()));
                }
            }
        }
        out
    }

    /// Names declared in this scope (for "build-args were not consumed").
    pub fn declared(&self) -> impl Iterator<Item = &str> {
        self.args
            .iter()
            .map(|(k, _)| k.as_str())
            .chain(self.unset_args.iter().map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_wins_over_arg_and_args_are_recorded() {
        let mut s = Scope::default();
        let mut build_args = BTreeMap::new();
        build_args.insert("V".to_string(), Some("from-cli".to_string()));
        s.declare("V", Some("default".into()), &build_args, None);
        s.declare("W", Some("w".into()), &build_args, None);
        let mut used = BTreeMap::new();
        assert_eq!(s.expand("$V-$W", '\\', &mut used).unwrap(), "from-cli-w");
        assert_eq!(used.len(), 2);
        s.set_env("V", "env");
        let mut used = BTreeMap::new();
        assert_eq!(s.expand("${V}", '\\', &mut used).unwrap(), "env");
        assert!(used.is_empty());
        assert_eq!(
            s.run_args(&build_args),
            [("W".to_string(), "w".to_string())]
        );
    }

    #[test]
    fn global_args_need_redeclaring() {
        let platform = Platform::host();
        let mut global = Scope::global(&platform);
        global.declare("VERSION", Some("1".into()), &BTreeMap::new(), None);
        let mut stage = Scope::default();
        let mut used = BTreeMap::new();
        assert_eq!(stage.expand("v$VERSION", '\\', &mut used).unwrap(), "v");
        stage.declare("VERSION", None, &BTreeMap::new(), Some(&global));
        assert_eq!(stage.expand("v$VERSION", '\\', &mut used).unwrap(), "v1");
        assert_eq!(
            global.expand("$TARGETOS", '\\', &mut used).unwrap(),
            platform.os
        );
    }

    #[test]
    fn env_replaces_in_place() {
        let mut s = Scope {
            env: vec!["PATH=/bin".into(), "A=1".into()],
            ..Scope::default()
        };
        s.set_env("PATH", "/usr/bin");
        s.set_env("B", "2");
        assert_eq!(s.env, ["PATH=/usr/bin", "A=1", "B=2"]);
    }
}
