//! Seccomp profiles in Docker's format (the default profile, `--security-opt
//! seccomp=<profile>` and daemon.json's `seccomp-profile`), turned into the OCI
//! `linux.seccomp` section for a container's capabilities on this machine, as moby's
//! `profiles/seccomp` does.

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompArgBuilder, LinuxSeccompOperator, LinuxSyscall};
use serde::Deserialize;

/// The seccomp filter a container asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seccomp {
    /// Docker's default profile.
    Default,
    /// `seccomp=unconfined`.
    Unconfined,
    /// `seccomp=<profile JSON>` (the docker CLI sends the file's content).
    Profile(String),
}

/// Docker's default profile (moby's `profiles/seccomp/default.json`).
pub const DEFAULT_PROFILE: &str = include_str!("../../assets/seccomp-default.json");

/// A profile as Docker reads it (`types.Seccomp`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// Action for syscalls no rule names.
    #[serde(default)]
    pub default_action: String,
    /// errno of the default action.
    pub default_errno_ret: Option<u32>,
    /// Architectures (exclusive with `archMap`).
    pub architectures: Option<Vec<String>>,
    /// Architectures by native architecture.
    pub arch_map: Option<Vec<ArchMap>>,
    /// Rules.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub syscalls: Vec<Syscall>,
    /// Filter flags (`SECCOMP_FILTER_FLAG_*`).
    pub flags: Option<Vec<String>>,
    /// Seccomp-notify listener socket.
    pub listener_path: Option<String>,
    /// Metadata for the listener.
    pub listener_metadata: Option<String>,
}

/// One `archMap` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    /// `SCMP_ARCH_X86_64`, …
    pub architecture: String,
    /// Also allowed (e.g. `SCMP_ARCH_X86`, `SCMP_ARCH_X32`).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub sub_architectures: Vec<String>,
}

/// One rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Syscall {
    /// A single name (deprecated; exclusive with `names`).
    pub name: Option<String>,
    /// The syscalls.
    pub names: Option<Vec<String>>,
    /// What to do.
    pub action: String,
    /// errno for `SCMP_ACT_ERRNO` / `SCMP_ACT_TRACE`.
    pub errno_ret: Option<u32>,
    /// Argument conditions.
    pub args: Option<Vec<Arg>>,
    /// Applies only with these capabilities / architectures / kernels.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub includes: Filter,
    /// Applies except with these.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub excludes: Filter,
}

/// `includes` / `excludes`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    /// Capabilities (`CAP_SYS_ADMIN`).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub caps: Vec<String>,
    /// Docker architecture names (`amd64`, `arm64`, …).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub arches: Vec<String>,
    /// Minimum kernel version (`4.8`).
    pub min_kernel: Option<String>,
}

/// An argument condition.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    /// Argument index.
    pub index: u32,
    /// Value compared.
    pub value: u64,
    /// Second value (for `SCMP_CMP_MASKED_EQ`).
    #[serde(default)]
    pub value_two: u64,
    /// `SCMP_CMP_EQ`, …
    pub op: String,
}

/// `null` reads as empty, as Go's JSON does for slices and structs.
fn null_as_empty<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Parses a profile, with Docker's message: `Decoding seccomp profile failed: …`.
pub fn check_profile(text: &str) -> Result<Profile, String> {
    let profile: Profile =
        serde_json::from_str(text).map_err(|e| format!("Decoding seccomp profile failed: {e}"))?;
    if profile
        .architectures
        .as_ref()
        .is_some_and(|a| !a.is_empty())
        && profile.arch_map.as_ref().is_some_and(|a| !a.is_empty())
    {
        return Err("'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'".into());
    }
    for s in &profile.syscalls {
        if s.name.is_some() && s.names.as_ref().is_some_and(|n| !n.is_empty()) {
            return Err("'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'".into());
        }
    }
    Ok(profile)
}

/// The OCI `linux.seccomp` of `profile` for a container with `caps` on this machine
/// (moby's `setupSeccomp`): rules whose `includes` / `excludes` do not match are left out.
/// An action, architecture, flag or operator the OCI spec does not know is an error.
pub fn to_oci(profile: &Profile, caps: &[String]) -> Result<LinuxSeccomp, String> {
    let arch = berth_units::arch::seccomp_arch();
    let architectures: Vec<String> = match (&profile.architectures, &profile.arch_map) {
        (Some(a), _) if !a.is_empty() => a.clone(),
        (_, Some(map)) => map
            .iter()
            .filter(|m| arch.is_some_and(|a| m.architecture == a.scmp))
            .take(1)
            .flat_map(|m| {
                std::iter::once(m.architecture.clone()).chain(m.sub_architectures.clone())
            })
            .collect(),
        _ => Vec::new(),
    };
    let kernel = kernel_version();
    let mut syscalls = Vec::new();
    for s in &profile.syscalls {
        if !applies(s, caps, arch.map_or("", |a| a.native), kernel) {
            continue;
        }
        let names: Vec<String> = match (&s.names, &s.name) {
            (Some(n), _) if !n.is_empty() => n.clone(),
            (_, Some(n)) => vec![n.clone()],
            _ => continue,
        };
        let mut rule = LinuxSyscall::default();
        rule.set_names(names)
            .set_action(named(&s.action)?)
            .set_errno_ret(s.errno_ret);
        if let Some(args) = &s.args {
            let mut out = Vec::with_capacity(args.len());
            for a in args {
                let arg = LinuxSeccompArgBuilder::default()
                    .index(a.index as usize)
                    .value(a.value)
                    .value_two(a.value_two)
                    .op(named::<LinuxSeccompOperator>(&a.op)?)
                    .build();
                out.push(arg.map_err(|e| e.to_string())?);
            }
            rule.set_args(Some(out));
        }
        syscalls.push(rule);
    }
    let mut oci = LinuxSeccomp::default();
    oci.set_default_action(named(&profile.default_action)?)
        .set_default_errno_ret(profile.default_errno_ret)
        .set_architectures(Some(
            architectures
                .iter()
                .map(|a| named(a))
                .collect::<Result<_, _>>()?,
        ))
        .set_flags(
            profile
                .flags
                .as_ref()
                .map(|f| f.iter().map(|f| named(f)).collect::<Result<_, _>>())
                .transpose()?,
        )
        .set_listener_path(profile.listener_path.as_ref().map(Into::into))
        .set_listener_metadata(profile.listener_metadata.clone())
        .set_syscalls(Some(syscalls));
    Ok(oci)
}

/// Whether rule `s` applies to a container with `caps` on this architecture (libseccomp's
/// native name, `""` when it has none) and kernel.
fn applies(s: &Syscall, caps: &[String], native_arch: &str, kernel: Option<(u32, u32)>) -> bool {
    let (inc, exc) = (&s.includes, &s.excludes);
    if !inc.caps.iter().all(|c| caps.contains(c)) {
        return false;
    }
    if !inc.arches.is_empty() && !inc.arches.iter().any(|a| a == native_arch) {
        return false;
    }
    if let (Some(min), Some(k)) = (&inc.min_kernel, kernel) {
        if parse_version(min).is_some_and(|m| k < m) {
            return false;
        }
    }
    !(exc.caps.iter().any(|c| caps.contains(c)) || exc.arches.iter().any(|a| a == native_arch))
}

/// An OCI enum value by its JSON name (`SCMP_ACT_ERRNO`, `SCMP_ARCH_X86_64`, …).
fn named<T: serde::de::DeserializeOwned>(name: &str) -> Result<T, String> {
    super::parse_name(name).map_err(|e| format!("seccomp profile: {e}"))
}

/// Docker's default profile for `caps`.
pub fn default_for(caps: &[String]) -> LinuxSeccomp {
    // The embedded profile is tested to parse and convert.
    check_profile(DEFAULT_PROFILE)
        .and_then(|p| to_oci(&p, caps))
        .unwrap_or_default()
}

/// `linux.seccomp` for a container with `caps` (moby's `WithSeccomp`): none when
/// unconfined or privileged, the given profile, else Docker's default.
pub fn section(
    seccomp: &Seccomp,
    privileged: bool,
    caps: &[String],
) -> Result<Option<LinuxSeccomp>, String> {
    if privileged {
        return Ok(None);
    }
    match seccomp {
        Seccomp::Unconfined => Ok(None),
        Seccomp::Default => Ok(Some(default_for(caps))),
        Seccomp::Profile(text) => Ok(Some(to_oci(&check_profile(text)?, caps)?)),
    }
}

/// `major.minor` of the running kernel.
fn kernel_version() -> Option<(u32, u32)> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    parse_version(release.trim())
}

fn parse_version(v: &str) -> Option<(u32, u32)> {
    let mut parts = v.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{Arch, LinuxSeccompAction};

    fn names(p: &LinuxSeccomp) -> Vec<String> {
        p.syscalls()
            .iter()
            .flatten()
            .flat_map(|s| s.names().iter().cloned())
            .collect()
    }

    #[test]
    fn default_profile_follows_capabilities() {
        let base: Vec<String> = super::super::capabilities::DEFAULT_CAPS
            .iter()
            .map(|s| s.to_string())
            .collect();
        check_profile(DEFAULT_PROFILE).unwrap();
        let p = default_for(&base);
        assert_eq!(p.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(p.default_errno_ret(), Some(1));
        assert!(names(&p).contains(&"read".to_string()));
        assert!(!names(&p).contains(&"mount".to_string()));
        let mut admin = base.clone();
        admin.push("CAP_SYS_ADMIN".into());
        assert!(names(&default_for(&admin)).contains(&"mount".to_string()));
        if std::env::consts::ARCH == "x86_64" {
            assert_eq!(
                p.architectures().as_deref(),
                Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..])
            );
        }
    }

    #[test]
    fn custom_profiles_decode_or_fail_with_dockers_message() {
        let p = check_profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
                {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
                {"name":"chmod","action":"SCMP_ACT_ERRNO","args":[{"index":1,"value":2048,"op":"SCMP_CMP_MASKED_EQ","valueTwo":2048}]}]}"#,
        )
        .unwrap();
        let oci = to_oci(&p, &[]).unwrap();
        assert_eq!(oci.default_action(), LinuxSeccompAction::ScmpActAllow);
        assert_eq!(names(&oci), ["mkdir", "mkdirat", "chmod"]);
        let rules = oci.syscalls().clone().unwrap();
        assert_eq!(rules[0].errno_ret(), Some(13));
        assert_eq!(rules[1].args().as_ref().unwrap()[0].value_two(), Some(2048));
        for bad in ["notjson", r#"{"defaultAction":5}"#, r#"{"syscalls":{}}"#] {
            let e = check_profile(bad).unwrap_err();
            assert!(
                e.starts_with("Decoding seccomp profile failed: "),
                "{bad}: {e}"
            );
        }
        assert!(check_profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}"#
        )
        .unwrap_err()
        .contains("use either 'architectures' or 'archMap'"));
        let unknown = check_profile(r#"{"defaultAction":"SCMP_ACT_BOGUS"}"#).unwrap();
        assert!(to_oci(&unknown, &[])
            .unwrap_err()
            .contains("SCMP_ACT_BOGUS"));
    }

    #[test]
    fn privileged_and_unconfined_have_no_filter() {
        let caps = vec!["CAP_CHOWN".to_string()];
        assert_eq!(section(&Seccomp::Unconfined, false, &caps), Ok(None));
        assert_eq!(section(&Seccomp::Default, true, &caps), Ok(None));
        assert!(section(&Seccomp::Default, false, &caps).unwrap().is_some());
        let own = Seccomp::Profile(r#"{"defaultAction":"SCMP_ACT_LOG"}"#.into());
        let filter = section(&own, false, &caps).unwrap().unwrap();
        assert_eq!(filter.default_action(), LinuxSeccompAction::ScmpActLog);
    }

    #[test]
    fn kernel_versions_compare() {
        assert_eq!(parse_version("6.1.0-18-amd64"), Some((6, 1)));
        assert_eq!(parse_version("4.8"), Some((4, 8)));
        assert!(parse_version("5.4").unwrap() > parse_version("4.8").unwrap());
    }
}
