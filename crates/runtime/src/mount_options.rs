//! Parsing a spec mount's `options` into mount(2) flags, propagation and fs data (pure).

use rustix::mount::{MountFlags, MountPropagationFlags};

/// A mount's options, split the way mount(2) wants them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// MS_* flags to set.
    pub flags: MountFlags,
    /// A bind mount (`bind` or `rbind`).
    pub bind: bool,
    /// Recursive bind (`rbind`).
    pub recursive: bool,
    /// Propagation changes to apply after mounting, in order.
    pub propagation: Vec<MountPropagationFlags>,
    /// Everything else, comma-joined: the filesystem's data string.
    pub data: String,
}

/// Splits `options` (as in a spec mount) into flags, propagation and data.
pub fn parse(options: &[String]) -> MountOptions {
    let mut out = MountOptions {
        flags: MountFlags::empty(),
        bind: false,
        recursive: false,
        propagation: Vec::new(),
        data: String::new(),
    };
    let mut data = Vec::new();
    for opt in options {
        let (set, clear): (MountFlags, MountFlags) = match opt.as_str() {
            "ro" => (MountFlags::RDONLY, MountFlags::empty()),
            "rw" => (MountFlags::empty(), MountFlags::RDONLY),
            "nosuid" => (MountFlags::NOSUID, MountFlags::empty()),
            "suid" => (MountFlags::empty(), MountFlags::NOSUID),
            "nodev" => (MountFlags::NODEV, MountFlags::empty()),
            "dev" => (MountFlags::empty(), MountFlags::NODEV),
            "noexec" => (MountFlags::NOEXEC, MountFlags::empty()),
            "exec" => (MountFlags::empty(), MountFlags::NOEXEC),
            "sync" => (MountFlags::SYNCHRONOUS, MountFlags::empty()),
            "async" => (MountFlags::empty(), MountFlags::SYNCHRONOUS),
            "dirsync" => (MountFlags::DIRSYNC, MountFlags::empty()),
            "noatime" => (MountFlags::NOATIME, MountFlags::empty()),
            "atime" => (MountFlags::empty(), MountFlags::NOATIME),
            "nodiratime" => (MountFlags::NODIRATIME, MountFlags::empty()),
            "diratime" => (MountFlags::empty(), MountFlags::NODIRATIME),
            "relatime" => (MountFlags::RELATIME, MountFlags::empty()),
            "norelatime" => (MountFlags::empty(), MountFlags::RELATIME),
            "strictatime" => (MountFlags::STRICTATIME, MountFlags::empty()),
            "nostrictatime" => (MountFlags::empty(), MountFlags::STRICTATIME),
            "lazytime" => (MountFlags::LAZYTIME, MountFlags::empty()),
            "mand" => (
                MountFlags::PERMIT_MANDATORY_FILE_LOCKING,
                MountFlags::empty(),
            ),
            "nomand" => (
                MountFlags::empty(),
                MountFlags::PERMIT_MANDATORY_FILE_LOCKING,
            ),
            "nosymfollow" => (MountFlags::NOSYMFOLLOW, MountFlags::empty()),
            "defaults" => (MountFlags::empty(), MountFlags::empty()),
            "bind" => {
                out.bind = true;
                continue;
            }
            "rbind" => {
                out.bind = true;
                out.recursive = true;
                continue;
            }
            p if propagation(p).is_some() => {
                out.propagation.extend(propagation(p));
                continue;
            }
            // Mount-id-mapping and other runtime-level options we accept but do not need.
            "idmap" | "ridmap" | "tmpcopyup" => continue,
            other => {
                data.push(other.to_string());
                continue;
            }
        };
        out.flags |= set;
        out.flags &= !clear;
    }
    out.data = data.join(",");
    out
}

/// The propagation flags of an option like `rslave`, or None if it is not one.
pub fn propagation(option: &str) -> Option<MountPropagationFlags> {
    use MountPropagationFlags as P;
    Some(match option {
        "private" => P::PRIVATE,
        "rprivate" => P::PRIVATE | P::REC,
        "shared" => P::SHARED,
        "rshared" => P::SHARED | P::REC,
        "slave" => P::DOWNSTREAM,
        "rslave" => P::DOWNSTREAM | P::REC,
        "unbindable" => P::UNBINDABLE,
        "runbindable" => P::UNBINDABLE | P::REC,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(o: &[&str]) -> MountOptions {
        parse(&o.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_data_and_propagation_are_split() {
        let o = opts(&[
            "nosuid",
            "strictatime",
            "mode=755",
            "size=65536k",
            "rprivate",
        ]);
        assert_eq!(o.flags, MountFlags::NOSUID | MountFlags::STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
        assert_eq!(
            o.propagation,
            vec![MountPropagationFlags::PRIVATE | MountPropagationFlags::REC]
        );
        assert!(!o.bind);
    }

    #[test]
    fn later_options_win_and_rbind_is_recursive() {
        let o = opts(&["ro", "rw", "rbind"]);
        assert!(!o.flags.contains(MountFlags::RDONLY));
        assert!(o.bind && o.recursive);
    }
}
