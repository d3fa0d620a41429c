//! The v1 devices controller: rules written in order to devices.allow / devices.deny.

use std::path::Path;

use super::{DeviceKind, Rule, ACC_MKNOD, ACC_READ, ACC_WRITE};
use crate::error::Result;
use crate::fs;

/// The line the v1 controller expects, e.g. `c 1:3 rwm` or `a *:* rwm`.
pub fn render(rule: &Rule) -> String {
    let kind = match rule.kind {
        DeviceKind::All => 'a',
        DeviceKind::Char => 'c',
        DeviceKind::Block => 'b',
    };
    let num = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
    let mut access = String::new();
    for (bit, c) in [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')] {
        if rule.access & bit != 0 {
            access.push(c);
        }
    }
    format!("{kind} {}:{} {access}", num(rule.major), num(rule.minor))
}

/// Writes the rules in order into the devices cgroup `dir`. Like runc (and the v2 filter),
/// the result denies whatever the rules do not allow: unless the first rule is itself a
/// wildcard that resets the list, `a *:* rwm` is denied first.
pub fn apply(dir: &Path, rules: &[Rule]) -> Result<()> {
    let resets = rules
        .first()
        .is_some_and(|r| r.kind == DeviceKind::All && r.major.is_none() && r.minor.is_none());
    if !resets {
        fs::write(dir, "devices.deny", "a *:* rwm")?;
    }
    for r in rules {
        let file = if r.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        fs::write(dir, file, render(r))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::ACC_ALL;

    #[test]
    fn renders_v1_lines() {
        let r = Rule {
            allow: true,
            kind: DeviceKind::Char,
            major: Some(1),
            minor: Some(3),
            access: ACC_ALL,
        };
        assert_eq!(render(&r), "c 1:3 rwm");
        let r = Rule {
            allow: false,
            kind: DeviceKind::All,
            major: None,
            minor: None,
            access: ACC_ALL,
        };
        assert_eq!(render(&r), "a *:* rwm");
        let r = Rule {
            allow: true,
            kind: DeviceKind::Block,
            major: Some(8),
            minor: None,
            access: ACC_READ,
        };
        assert_eq!(render(&r), "b 8:* r");
    }
}
