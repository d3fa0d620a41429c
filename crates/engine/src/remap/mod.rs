//! `userns-remap`: the user and group whose `/etc/subuid` and `/etc/subgid` ranges the
//! containers' user namespaces map to, as dockerd's `setupRemappedRoot` reads them.
//!
//! - `default` is the user and group `dockremap`, made when missing (`useradd -r -s
//!   /bin/false dockremap`) with 65536 ids of each kind in the first free range from 100000
//!   (`usermod -v … -w …`), as dockerd does;
//! - `user`, `user:group`, `uid`, `uid:gid`: the names or ids must exist; a user without
//!   subordinate ranges fails the start (`No subuid ranges found for user "…"`).
//!
//! Container id 0 is the first id of the first range (ranges in file order, sorted by start,
//! container ids counted on across ranges, as dockerd).

pub mod tar;

use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Command;

/// One contiguous range of a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    /// First id inside the container.
    pub container: u32,
    /// First id on the host.
    pub host: u32,
    /// Number of ids.
    pub size: u32,
}

/// The uid and gid mappings of remapped containers.
#[derive(Debug)]
pub struct IdMapping {
    /// The user the uids come from.
    pub user: String,
    /// The group the gids come from.
    pub group: String,
    /// uid ranges.
    pub uids: Vec<IdRange>,
    /// gid ranges.
    pub gids: Vec<IdRange>,
    /// A user namespace with these mappings (for idmapped layer mounts), made on first use.
    userns: std::sync::OnceLock<OwnedFd>,
}

/// dockerd's name for `default`.
pub const DEFAULT_USER: &str = "dockremap";
const RANGE_START: u64 = 100_000;
const RANGE_SIZE: u64 = 65_536;

impl IdMapping {
    /// Reads (and for `default`, makes) the ranges of `remap` (`default`, `user[:group]`,
    /// `uid[:gid]`), with dockerd's errors.
    pub fn setup(remap: &str) -> Result<IdMapping, String> {
        let (user_part, group_part) = match remap.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (remap, None),
        };
        let (user, group) = if user_part == "default" && group_part.is_none() {
            create_default_user()?;
            (DEFAULT_USER.to_string(), DEFAULT_USER.to_string())
        } else {
            let user = lookup_name("passwd", user_part)
                .map_err(|e| format!("Error during uid lookup for \"{user_part}\": {e}"))?;
            let group = match group_part {
                Some(g) => lookup_name("group", g)
                    .map_err(|e| format!("Error during gid lookup for \"{g}\": {e}"))?,
                None => user.clone(),
            };
            (user, group)
        };
        let uids = read_ranges(Path::new("/etc/subuid"), &user);
        let gids = read_ranges(Path::new("/etc/subgid"), &group);
        if uids.is_empty() {
            return Err(format!(
                "Can't create ID mappings: No subuid ranges found for user \"{user}\""
            ));
        }
        if gids.is_empty() {
            return Err(format!(
                "Can't create ID mappings: No subgid ranges found for group \"{group}\""
            ));
        }
        Ok(IdMapping {
            user,
            group,
            uids,
            gids,
            userns: Default::default(),
        })
    }

    /// A mapping from given ranges (tests).
    pub fn from_ranges(uids: Vec<IdRange>, gids: Vec<IdRange>) -> IdMapping {
        IdMapping {
            user: String::new(),
            group: String::new(),
            uids,
            gids,
            userns: Default::default(),
        }
    }

    /// The host uid of the container's root.
    pub fn root_uid(&self) -> u32 {
        self.uids[0].host
    }

    /// The host gid of the container's root.
    pub fn root_gid(&self) -> u32 {
        self.gids[0].host
    }

    /// The host uid of container uid `id` (None when the mapping does not cover it).
    pub fn host_uid(&self, id: u32) -> Option<u32> {
        to_host(&self.uids, id)
    }

    /// The host gid of container gid `id`.
    pub fn host_gid(&self, id: u32) -> Option<u32> {
        to_host(&self.gids, id)
    }

    /// The container uid of host uid `id`.
    pub fn container_uid(&self, id: u32) -> Option<u32> {
        to_container(&self.uids, id)
    }

    /// The container gid of host gid `id`.
    pub fn container_gid(&self, id: u32) -> Option<u32> {
        to_container(&self.gids, id)
    }

    /// The user namespace holding this mapping (made once, kept for the daemon's life).
    pub fn userns(&self) -> std::io::Result<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        if self.userns.get().is_none() {
            let fd =
                berth_sys::idmap::userns_with_maps(&proc_map(&self.uids), &proc_map(&self.gids))?;
            let _ = self.userns.set(fd);
        }
        Ok(self.userns.get().expect("set above").as_fd())
    }

    /// The name of the store directory under the data root, `<uid>.<gid>` (dockerd's).
    pub fn store_dir_name(&self) -> String {
        format!("{}.{}", self.root_uid(), self.root_gid())
    }
}

fn to_host(ranges: &[IdRange], id: u32) -> Option<u32> {
    ranges
        .iter()
        .find(|r| id >= r.container && (id - r.container) < r.size)
        .map(|r| r.host + (id - r.container))
}

fn to_container(ranges: &[IdRange], id: u32) -> Option<u32> {
    ranges
        .iter()
        .find(|r| id >= r.host && (id - r.host) < r.size)
        .map(|r| r.container + (id - r.host))
}

/// `/proc/<pid>/uid_map` text of `ranges`.
fn proc_map(ranges: &[IdRange]) -> String {
    ranges
        .iter()
        .map(|r| format!("{} {} {}\n", r.container, r.host, r.size))
        .collect()
}

/// The name of a user or group given by name or number (`getent`).
fn lookup_name(db: &str, key: &str) -> Result<String, String> {
    let out = Command::new("getent")
        .args([db, key])
        .output()
        .map_err(|e| format!("getent: {e}"))?;
    let line = String::from_utf8_lossy(&out.stdout);
    match line.split(':').next().filter(|n| !n.trim().is_empty()) {
        Some(name) if out.status.success() => Ok(name.to_string()),
        _ => Err(format!(
            "no such {}: {key}",
            if db == "passwd" { "user" } else { "group" }
        )),
    }
}

/// The ranges of `name` in a subordinate-id file, sorted by start, container ids counted
/// on from 0.
fn read_ranges(file: &Path, name: &str) -> Vec<IdRange> {
    let uid = lookup_id(name);
    let mut found: Vec<(u32, u32)> = all_ranges(file)
        .into_iter()
        .filter(|(n, _, _)| n == name || Some(n.as_str()) == uid.as_deref())
        .map(|(_, start, size)| (start, size))
        .collect();
    found.sort();
    let mut next = 0u32;
    found
        .into_iter()
        .map(|(host, size)| {
            let r = IdRange {
                container: next,
                host,
                size,
            };
            next = next.saturating_add(size);
            r
        })
        .collect()
}

fn lookup_id(name: &str) -> Option<String> {
    let out = Command::new("id").args(["-u", name]).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Every `name:start:count` line of a subordinate-id file.
fn all_ranges(file: &Path) -> Vec<(String, u32, u32)> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().split(':');
            let name = f.next()?.to_string();
            let start = f.next()?.parse().ok()?;
            let size = f.next()?.parse().ok()?;
            Some((name, start, size))
        })
        .collect()
}

/// dockerd's `default`: the system user `dockremap` and 65536 subordinate uids and gids
/// each, in the first range from 100000 that no other entry uses.
fn create_default_user() -> Result<(), String> {
    if lookup_name("passwd", DEFAULT_USER).is_err() {
        run(Command::new("useradd").args(["-r", "-s", "/bin/false", DEFAULT_USER]))?;
    }
    let has_uids = !read_ranges(Path::new("/etc/subuid"), DEFAULT_USER).is_empty();
    let has_gids = !read_ranges(Path::new("/etc/subgid"), DEFAULT_USER).is_empty();
    if has_uids && has_gids {
        return Ok(());
    }
    let mut used: Vec<(u64, u64)> = ["/etc/subuid", "/etc/subgid"]
        .iter()
        .flat_map(|f| all_ranges(Path::new(f)))
        .map(|(_, s, n)| (u64::from(s), u64::from(s) + u64::from(n)))
        .collect();
    used.sort();
    let mut start = RANGE_START;
    for (s, e) in used {
        if start + RANGE_SIZE <= s {
            break;
        }
        start = start.max(e);
    }
    let range = format!("{}-{}", start, start + RANGE_SIZE - 1);
    let mut usermod = Command::new("usermod");
    if !has_uids {
        usermod.args(["-v", &range]);
    }
    if !has_gids {
        usermod.args(["-w", &range]);
    }
    run(usermod.arg(DEFAULT_USER))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("Couldn't create subordinate ID ranges: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "Couldn't create subordinate ID ranges: {:?}: {}",
            cmd.get_program(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_map_both_ways_across_ranges() {
        let m = IdMapping::from_ranges(
            vec![
                IdRange {
                    container: 0,
                    host: 100_000,
                    size: 10,
                },
                IdRange {
                    container: 10,
                    host: 300_000,
                    size: 5,
                },
            ],
            vec![IdRange {
                container: 0,
                host: 200_000,
                size: 65_536,
            }],
        );
        assert_eq!(m.host_uid(0), Some(100_000));
        assert_eq!(m.host_uid(12), Some(300_002));
        assert_eq!(m.host_uid(15), None);
        assert_eq!(m.container_uid(300_004), Some(14));
        assert_eq!(m.container_uid(0), None);
        assert_eq!(m.host_gid(5), Some(200_005));
        assert_eq!(m.store_dir_name(), "100000.200000");
        assert_eq!(proc_map(&m.uids), "0 100000 10\n10 300000 5\n");
    }
}
