//! `--security-opt` (seccomp profile, no-new-privileges) as Docker's `parseSecurityOpt`
//! reads it, and the daemon's defaults for it (daemon.json / dockerd flags), applied to a
//! container's spec where its own options say nothing.

use oci_spec::runtime::Spec;

use berth_api_types::HostConfig;

use super::seccomp::{self, Seccomp};

/// A security option as Docker's `parseSecurityOpt` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityOpt {
    /// `no-new-privileges[=bool]`.
    NoNewPrivileges(bool),
    /// `seccomp=unconfined` or `seccomp=<profile JSON>` (the CLI sends the file's content).
    Seccomp(String),
    /// `apparmor=…`: no AppArmor in berth, so, as Docker on a host without it, ignored.
    AppArmor(String),
    /// `label=…` / `disable`: no SELinux in berth, so, as Docker without it, ignored.
    Label(String),
}

/// Parses one `SecurityOpt` entry (`key=value`, or the deprecated `key:value`), with
/// Docker's messages: `invalid --security-opt 1: "foo"` (no separator) and
/// `invalid --security-opt 2: "foo=bar"` (unknown key or bad value).
pub fn security_opt(opt: &str) -> Result<SecurityOpt, String> {
    if opt == "no-new-privileges" {
        return Ok(SecurityOpt::NoNewPrivileges(true));
    }
    if opt == "disable" {
        return Ok(SecurityOpt::Label("disable".into()));
    }
    let (key, value) = opt
        .split_once('=')
        .or_else(|| opt.split_once(':'))
        .ok_or_else(|| format!("invalid --security-opt 1: {opt:?}"))?;
    let bad = || format!("invalid --security-opt 2: {opt:?}");
    match key {
        "label" => Ok(SecurityOpt::Label(value.into())),
        "apparmor" => Ok(SecurityOpt::AppArmor(value.into())),
        "seccomp" => {
            if value != "unconfined" {
                seccomp::check_profile(value)?;
            }
            Ok(SecurityOpt::Seccomp(value.into()))
        }
        "no-new-privileges" => go_bool(value)
            .map(SecurityOpt::NoNewPrivileges)
            .ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// Go's `strconv.ParseBool`.
pub fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The security options of a container (later entries win, as in Docker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Security {
    /// `no-new-privileges[=bool]`.
    pub no_new_privileges: bool,
    /// `seccomp=…`.
    pub seccomp: Seccomp,
}

/// Reads `SecurityOpt` (already checked at create; what does not parse is skipped).
pub fn security(host: &HostConfig) -> Security {
    let mut out = Security {
        no_new_privileges: false,
        seccomp: Seccomp::Default,
    };
    for opt in host.security_opt.iter().flatten() {
        match security_opt(opt) {
            Ok(SecurityOpt::NoNewPrivileges(b)) => out.no_new_privileges = b,
            Ok(SecurityOpt::Seccomp(p)) if p == "unconfined" => out.seccomp = Seccomp::Unconfined,
            Ok(SecurityOpt::Seccomp(p)) => out.seccomp = Seccomp::Profile(p),
            _ => {}
        }
    }
    out
}

/// The daemon's defaults for every container (daemon.json / dockerd flags
/// `no-new-privileges` and `seccomp-profile`); a container's own `SecurityOpt` wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonDefaults {
    /// `no-new-privileges: true`.
    pub no_new_privileges: bool,
    /// `seccomp-profile`: `None` is Docker's default profile.
    pub seccomp: Option<Seccomp>,
}

impl DaemonDefaults {
    /// `seccomp-profile` as dockerd reads it: `unconfined`, `builtin` (Docker's default) or
    /// the path of a profile, read and checked now, with dockerd's messages.
    pub fn seccomp_profile(value: &str) -> Result<Option<Seccomp>, String> {
        match value {
            "" | "builtin" => Ok(None),
            "unconfined" => Ok(Some(Seccomp::Unconfined)),
            path => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("opening seccomp profile ({path}) failed: {e}"))?;
                seccomp::check_profile(&text)?;
                Ok(Some(Seccomp::Profile(text)))
            }
        }
    }

    /// Applies the defaults to a container's spec where its `SecurityOpt` says nothing.
    pub fn apply(&self, host: &HostConfig, spec: &mut Spec) -> Result<(), String> {
        let (mut own_nnp, mut own_seccomp) = (false, false);
        for opt in host.security_opt.iter().flatten() {
            match security_opt(opt) {
                Ok(SecurityOpt::NoNewPrivileges(_)) => own_nnp = true,
                Ok(SecurityOpt::Seccomp(_)) => own_seccomp = true,
                _ => {}
            }
        }
        if self.no_new_privileges && !own_nnp {
            if let Some(p) = spec.process_mut() {
                p.set_no_new_privileges(Some(true));
            }
        }
        if let (Some(filter), false) = (&self.seccomp, own_seccomp) {
            let caps = super::process_caps(spec);
            let section = seccomp::section(filter, host.privileged, &caps)?;
            if let Some(linux) = spec.linux_mut() {
                linux.set_seccomp(section);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxSeccompAction, Process};

    #[test]
    fn security_opts_parse_with_dockers_messages() {
        assert_eq!(
            security_opt("no-new-privileges"),
            Ok(SecurityOpt::NoNewPrivileges(true))
        );
        assert_eq!(
            security_opt("no-new-privileges=false"),
            Ok(SecurityOpt::NoNewPrivileges(false))
        );
        assert_eq!(
            security_opt("no-new-privileges:true"),
            Ok(SecurityOpt::NoNewPrivileges(true))
        );
        assert_eq!(
            security_opt("seccomp=unconfined"),
            Ok(SecurityOpt::Seccomp("unconfined".into()))
        );
        assert!(matches!(
            security_opt("apparmor=unconfined"),
            Ok(SecurityOpt::AppArmor(_))
        ));
        assert!(matches!(
            security_opt("label=disable"),
            Ok(SecurityOpt::Label(_))
        ));
        assert_eq!(
            security_opt("foo").unwrap_err(),
            r#"invalid --security-opt 1: "foo""#
        );
        assert_eq!(
            security_opt("foo=bar").unwrap_err(),
            r#"invalid --security-opt 2: "foo=bar""#
        );
        assert_eq!(
            security_opt("no-new-privileges=maybe").unwrap_err(),
            r#"invalid --security-opt 2: "no-new-privileges=maybe""#
        );
        assert!(security_opt("seccomp=notjson")
            .unwrap_err()
            .starts_with("Decoding seccomp profile failed: "));
        let host = HostConfig {
            security_opt: Some(vec![
                "seccomp=unconfined".into(),
                "no-new-privileges=true".into(),
            ]),
            ..Default::default()
        };
        assert_eq!(
            security(&host),
            Security {
                no_new_privileges: true,
                seccomp: Seccomp::Unconfined
            }
        );
    }

    #[test]
    fn daemon_defaults_yield_to_the_containers_own() {
        let spec = || {
            let mut s = Spec::default();
            s.set_process(Some(Process::default()));
            s
        };
        let defaults = DaemonDefaults {
            no_new_privileges: true,
            seccomp: Some(Seccomp::Profile(
                r#"{"defaultAction":"SCMP_ACT_LOG"}"#.into(),
            )),
        };
        let mut s = spec();
        s.process_mut()
            .as_mut()
            .unwrap()
            .set_no_new_privileges(Some(false));
        defaults.apply(&HostConfig::default(), &mut s).unwrap();
        assert_eq!(
            s.process().as_ref().unwrap().no_new_privileges(),
            Some(true)
        );
        let seccomp = s.linux().as_ref().unwrap().seccomp().clone().unwrap();
        assert_eq!(seccomp.default_action(), LinuxSeccompAction::ScmpActLog);
        let own = HostConfig {
            security_opt: Some(vec![
                "no-new-privileges=false".into(),
                "seccomp=unconfined".into(),
            ]),
            ..Default::default()
        };
        let mut s = spec();
        s.process_mut()
            .as_mut()
            .unwrap()
            .set_no_new_privileges(Some(false));
        s.linux_mut().as_mut().unwrap().set_seccomp(None);
        defaults.apply(&own, &mut s).unwrap();
        assert_eq!(
            s.process().as_ref().unwrap().no_new_privileges(),
            Some(false)
        );
        assert!(s.linux().as_ref().unwrap().seccomp().is_none());
    }
}
