//! `process.rlimits` (`--ulimit`, moby's `WithRlimits`), with go-units' checks.

use berth_api_types::{HostConfig, Ulimit};
use oci_spec::runtime::{PosixRlimit, PosixRlimitBuilder, PosixRlimitType};

/// The limit names Docker knows (go-units' `ulimitNameMapping`).
const ULIMITS: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// -1 is "unlimited" (RLIM_INFINITY).
fn value(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// go-units' checks of a ulimit: `invalid ulimit type: foo`,
/// `ulimit soft limit must be less than or equal to hard limit: 2 > 1`.
pub fn check_ulimit(u: &Ulimit) -> Result<(), String> {
    if !ULIMITS.contains(&u.name.as_str()) {
        return Err(format!("invalid ulimit type: {}", u.name));
    }
    if value(u.soft) > value(u.hard) {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {} > {}",
            u.soft, u.hard
        ));
    }
    Ok(())
}

/// `process.rlimits` of `host`: `RLIMIT_<NAME>`, -1 = unlimited; none when it sets none.
pub fn rlimits(host: &HostConfig) -> Result<Option<Vec<PosixRlimit>>, String> {
    let mut out = Vec::new();
    for u in host.resources.ulimits.iter().flatten() {
        let typ: PosixRlimitType =
            super::parse_name(&format!("RLIMIT_{}", u.name.to_ascii_uppercase()))?;
        let r = PosixRlimitBuilder::default()
            .typ(typ)
            .hard(value(u.hard))
            .soft(value(u.soft))
            .build();
        out.push(r.map_err(|e| e.to_string())?);
    }
    Ok((!out.is_empty()).then_some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(name: &str, soft: i64, hard: i64) -> Ulimit {
        Ulimit {
            name: name.into(),
            soft,
            hard,
        }
    }

    #[test]
    fn ulimits_as_go_units_checks_them() {
        assert!(check_ulimit(&u("nofile", 100, 200)).is_ok());
        assert!(check_ulimit(&u("core", -1, -1)).is_ok());
        assert_eq!(
            check_ulimit(&u("bogus", 1, 1)).unwrap_err(),
            "invalid ulimit type: bogus"
        );
        assert_eq!(
            check_ulimit(&u("nproc", 3, 2)).unwrap_err(),
            "ulimit soft limit must be less than or equal to hard limit: 3 > 2"
        );
    }

    #[test]
    fn every_docker_ulimit_is_an_oci_rlimit() {
        assert_eq!(rlimits(&HostConfig::default()), Ok(None));
        let mut host = HostConfig::default();
        host.resources.ulimits = Some(ULIMITS.iter().map(|n| u(n, 1, 2)).collect());
        assert_eq!(rlimits(&host).unwrap().unwrap().len(), ULIMITS.len());
        host.resources.ulimits = Some(vec![u("core", -1, -1), u("nofile", 100, 200)]);
        let r = rlimits(&host).unwrap().unwrap();
        assert_eq!(r[0].typ(), PosixRlimitType::RlimitCore);
        assert_eq!((r[0].soft(), r[0].hard()), (u64::MAX, u64::MAX));
        assert_eq!((r[1].soft(), r[1].hard()), (100, 200));
    }
}
