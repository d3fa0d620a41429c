//! Device access rules: normalised from `linux.resources.devices`, then written as v1
//! `devices.allow`/`devices.deny` lines ([`v1`]) or compiled to a cgroup v2 eBPF program
//! ([`bpf`], attached by [`attach`]).
//!
//! Semantics (as the v1 controller applies them): rules are evaluated in order and a later
//! matching rule overrides an earlier one; a device no rule matches is denied. An allow
//! rule matches an access when it grants every requested bit; a deny rule matches when it
//! covers any requested bit.

pub mod attach;
pub mod bpf;
pub mod v1;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::error::{CgroupError, Result};

/// mknod access bit (matches the kernel's BPF_DEVCG_ACC_MKNOD).
pub const ACC_MKNOD: u8 = 1;
/// read access bit (BPF_DEVCG_ACC_READ).
pub const ACC_READ: u8 = 2;
/// write access bit (BPF_DEVCG_ACC_WRITE).
pub const ACC_WRITE: u8 = 4;
/// All three.
pub const ACC_ALL: u8 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// Which devices a rule is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// Character and block devices.
    All,
    /// Character devices (kernel BPF_DEVCG_DEV_CHAR = 2).
    Char,
    /// Block devices (kernel BPF_DEVCG_DEV_BLOCK = 1).
    Block,
}

/// One normalised rule; `None` major/minor means any (`*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Allow (true) or deny (false).
    pub allow: bool,
    /// Device type.
    pub kind: DeviceKind,
    /// Major number, or any.
    pub major: Option<u32>,
    /// Minor number, or any.
    pub minor: Option<u32>,
    /// Access bits ([`ACC_READ`] | [`ACC_WRITE`] | [`ACC_MKNOD`]).
    pub access: u8,
}

impl Rule {
    /// Converts an OCI rule. FIFO (`p`) rules return `None`: the device controller does not
    /// govern FIFOs. A missing type means all devices, a missing access means "rwm".
    pub fn from_oci(d: &LinuxDeviceCgroup) -> Result<Option<Rule>> {
        let kind = match d.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => DeviceKind::All,
            LinuxDeviceType::C | LinuxDeviceType::U => DeviceKind::Char,
            LinuxDeviceType::B => DeviceKind::Block,
            LinuxDeviceType::P => return Ok(None),
        };
        let num = |v: Option<i64>, what: &'static str| -> Result<Option<u32>> {
            match v {
                None | Some(-1) => Ok(None),
                Some(n) => u32::try_from(n)
                    .map(Some)
                    .map_err(|_| CgroupError::InvalidResource {
                        field: what,
                        value: n.to_string(),
                        reason: "device number out of range".into(),
                    }),
            }
        };
        let access = match d.access().as_deref() {
            None | Some("") => ACC_ALL,
            Some(s) => parse_access(s)?,
        };
        Ok(Some(Rule {
            allow: d.allow(),
            kind,
            major: num(d.major(), "devices.major")?,
            minor: num(d.minor(), "devices.minor")?,
            access,
        }))
    }

    /// Normalises a whole rule list, dropping FIFO rules.
    pub fn from_oci_list(list: &[LinuxDeviceCgroup]) -> Result<Vec<Rule>> {
        let mut out = Vec::with_capacity(list.len());
        for d in list {
            out.extend(Rule::from_oci(d)?);
        }
        Ok(out)
    }

    /// Whether this rule matches a request (see the module doc for allow/deny matching).
    pub fn matches(&self, kind: DeviceKind, major: u32, minor: u32, access: u8) -> bool {
        let kind_ok = self.kind == DeviceKind::All || self.kind == kind;
        let access_ok = if self.allow {
            access & !self.access == 0
        } else {
            access & self.access != 0
        };
        kind_ok
            && access_ok
            && self.major.is_none_or(|m| m == major)
            && self.minor.is_none_or(|m| m == minor)
    }
}

/// The reference evaluator: what the compiled program must decide for a request.
pub fn evaluate(rules: &[Rule], kind: DeviceKind, major: u32, minor: u32, access: u8) -> bool {
    rules
        .iter()
        .rev()
        .find(|r| r.matches(kind, major, minor, access))
        .is_some_and(|r| r.allow)
}

fn parse_access(s: &str) -> Result<u8> {
    let mut bits = 0;
    for c in s.chars() {
        bits |= match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => {
                return Err(CgroupError::InvalidResource {
                    field: "devices.access",
                    value: s.to_string(),
                    reason: "only the letters r, w and m are allowed".into(),
                })
            }
        };
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    #[test]
    fn oci_rules_normalise() {
        let d = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(1)
            .minor(3)
            .access("rw")
            .build()
            .unwrap();
        let r = Rule::from_oci(&d).unwrap().unwrap();
        assert_eq!(r.kind, DeviceKind::Char);
        assert_eq!(
            (r.major, r.minor, r.access),
            (Some(1), Some(3), ACC_READ | ACC_WRITE)
        );
        let all = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .build()
            .unwrap();
        let r = Rule::from_oci(&all).unwrap().unwrap();
        assert_eq!(
            (r.kind, r.major, r.access),
            (DeviceKind::All, None, ACC_ALL)
        );
        let bad = LinuxDeviceCgroupBuilder::default()
            .access("rx")
            .build()
            .unwrap();
        assert!(Rule::from_oci(&bad).is_err());
        let fifo = LinuxDeviceCgroupBuilder::default()
            .typ(LinuxDeviceType::P)
            .build()
            .unwrap();
        assert_eq!(Rule::from_oci(&fifo).unwrap(), None);
    }

    #[test]
    fn later_rules_override_and_deny_covers_any_bit() {
        let rules = [
            Rule {
                allow: false,
                kind: DeviceKind::All,
                major: None,
                minor: None,
                access: ACC_ALL,
            },
            Rule {
                allow: true,
                kind: DeviceKind::Char,
                major: Some(1),
                minor: Some(3),
                access: ACC_ALL,
            },
            Rule {
                allow: false,
                kind: DeviceKind::Char,
                major: Some(1),
                minor: Some(3),
                access: ACC_WRITE,
            },
        ];
        assert!(evaluate(&rules, DeviceKind::Char, 1, 3, ACC_READ));
        assert!(!evaluate(
            &rules,
            DeviceKind::Char,
            1,
            3,
            ACC_READ | ACC_WRITE
        ));
        assert!(!evaluate(&rules, DeviceKind::Char, 1, 5, ACC_READ));
        assert!(!evaluate(&rules, DeviceKind::Block, 1, 3, ACC_READ));
        assert!(!evaluate(&[], DeviceKind::Char, 1, 3, ACC_READ));
    }
}
