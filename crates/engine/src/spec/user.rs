//! `process.user`: uid, gid and additional gids of `Config.User` and `HostConfig.GroupAdd`,
//! looked up in the image's `/etc/passwd` and `/etc/group` (moby's `WithUser`,
//! `WithAdditionalGIDs`).

use std::path::Path;

use oci_spec::runtime::User;

/// uid, gid and additional gids of `user` (`name`, `uid`, `name:group`, `uid:gid`) looked up
/// in the container's `/etc/passwd` and `/etc/group`.
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<(u32, u32, Vec<u32>), String> {
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap_or_default();
    let group = std::fs::read_to_string(rootfs.join("etc/group")).unwrap_or_default();
    parse_user(&passwd, &group, user)
}

/// [`resolve_user`] over the texts of `/etc/passwd` and `/etc/group`.
pub fn parse_user(passwd: &str, group: &str, user: &str) -> Result<(u32, u32, Vec<u32>), String> {
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let entries = |text: &str| -> Vec<Vec<String>> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split(':').map(str::to_string).collect())
            .collect()
    };
    let users = entries(passwd);
    let groups = entries(group);
    let (uid, mut gid, name) = if u.is_empty() {
        (0, 0, "root".to_string())
    } else if let Some(e) = users
        .iter()
        .find(|e| e.len() > 3 && (e[0] == u || e[2] == u))
    {
        let uid = e[2].parse().map_err(|_| format!("bad uid for {u}"))?;
        (uid, e[3].parse().unwrap_or(0), e[0].clone())
    } else if let Ok(n) = u.parse::<u32>() {
        (n, 0, String::new())
    } else {
        return Err(format!(
            "unable to find user {u}: no matching entries in passwd file"
        ));
    };
    if let Some(g) = g {
        gid = if let Some(e) = groups
            .iter()
            .find(|e| e.len() > 2 && (e[0] == g || e[2] == g))
        {
            e[2].parse().unwrap_or(0)
        } else if let Ok(n) = g.parse::<u32>() {
            n
        } else {
            return Err(format!(
                "unable to find group {g}: no matching entries in group file"
            ));
        };
    }
    let extra = groups
        .iter()
        .filter(|e| e.len() > 3 && !name.is_empty())
        .filter(|e| e[3].split(',').any(|m| m == name))
        .filter_map(|e| e[2].parse().ok())
        .filter(|g: &u32| *g != gid)
        .collect();
    Ok((uid, gid, extra))
}

/// A `GroupAdd` entry as a gid: a number, or a name looked up in the container's
/// `/etc/group` text (Docker's error when there is none).
pub fn group_id(group: &str, g: &str) -> Result<u32, String> {
    if let Ok(n) = g.parse::<u32>() {
        return Ok(n);
    }
    group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|e| e.len() > 2 && e[0] == g)
        .and_then(|e| e[2].parse().ok())
        .ok_or_else(|| format!("Unable to find group {g}: no matching entries in group file"))
}

/// Adds the `GroupAdd` entries to `extra` (each once), names looked up in `group`.
pub fn add_groups<'a>(
    group: &str,
    adds: impl IntoIterator<Item = &'a String>,
    extra: &mut Vec<u32>,
) -> Result<(), String> {
    for g in adds {
        let g = group_id(group, g)?;
        if !extra.contains(&g) {
            extra.push(g);
        }
    }
    Ok(())
}

/// `process.user` (no `additionalGids` when there are none).
pub fn user(uid: u32, gid: u32, extra: Vec<u32>) -> User {
    let mut u = User::default();
    u.set_uid(uid)
        .set_gid(gid)
        .set_additional_gids((!extra.is_empty()).then_some(extra));
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0::/root:/bin/sh\n# comment\nwww:x:33:33::/:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nwww:x:33:\nextra:x:50:www\nmore:x:51:root,www\n";

    #[test]
    fn users_resolve_from_passwd_and_group() {
        assert_eq!(
            parse_user(PASSWD, GROUP, "www").unwrap(),
            (33, 33, vec![50, 51])
        );
        assert_eq!(
            parse_user(PASSWD, GROUP, "33").unwrap(),
            (33, 33, vec![50, 51])
        );
        assert_eq!(parse_user(PASSWD, GROUP, "").unwrap(), (0, 0, vec![51]));
        assert_eq!(
            parse_user(PASSWD, GROUP, "1000:50").unwrap(),
            (1000, 50, vec![])
        );
        assert_eq!(
            parse_user(PASSWD, GROUP, "www:extra").unwrap(),
            (33, 50, vec![51])
        );
        assert_eq!(
            parse_user(PASSWD, GROUP, "nobody").unwrap_err(),
            "unable to find user nobody: no matching entries in passwd file"
        );
        assert_eq!(
            parse_user(PASSWD, GROUP, "www:nogroup").unwrap_err(),
            "unable to find group nogroup: no matching entries in group file"
        );
    }

    #[test]
    fn users_resolve_from_the_rootfs() {
        let dir = std::env::temp_dir().join(format!("berth-spec-user-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(dir.join("etc/passwd"), PASSWD).unwrap();
        std::fs::write(dir.join("etc/group"), GROUP).unwrap();
        assert_eq!(resolve_user(&dir, "www").unwrap(), (33, 33, vec![50, 51]));
        std::fs::remove_dir_all(&dir).unwrap();
        // No /etc/passwd: numeric ids still work.
        assert_eq!(resolve_user(&dir, "7:8").unwrap(), (7, 8, vec![]));
    }

    #[test]
    fn group_add_by_number_or_name_once() {
        assert_eq!(group_id(GROUP, "www"), Ok(33));
        assert_eq!(group_id(GROUP, "1234"), Ok(1234));
        assert!(group_id(GROUP, "nope")
            .unwrap_err()
            .contains("Unable to find group nope"));
        let mut extra = vec![50];
        let adds = ["extra".to_string(), "10".to_string(), "10".to_string()];
        add_groups(GROUP, &adds, &mut extra).unwrap();
        assert_eq!(extra, [50, 10]);
    }

    #[test]
    fn user_omits_empty_additional_gids() {
        let u = user(1, 2, vec![]);
        assert_eq!((u.uid(), u.gid()), (1, 2));
        assert!(u.additional_gids().is_none());
        assert_eq!(
            user(0, 0, vec![3]).additional_gids().as_deref(),
            Some(&[3][..])
        );
    }
}
