//! `--chown=user:group` resolved against the image's own `/etc/passwd` and `/etc/group`
//! (read through the engine, inside the root), as Docker's classic builder does it: numbers
//! are taken as they are; a missing group means "the same name as the user".

/// Parses `/etc/passwd` or `/etc/group` and finds `name`'s numeric id (third field).
fn lookup(file: Option<&[u8]>, name: &str) -> Option<u32> {
    let text = String::from_utf8_lossy(file?);
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|l| {
            let mut f = l.split(':');
            (f.next()? == name).then_some(())?;
            f.next()?;
            f.next()?.trim().parse().ok()
        })
}

/// A `--chown` spec as uid and gid. `passwd` / `group` are the image's files (if any).
pub fn resolve_chown(
    spec: &str,
    passwd: Option<&[u8]>,
    group: Option<&[u8]>,
) -> Result<(u32, u32), String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (user, grp) = match parts.as_slice() {
        [u] => (*u, *u),
        [u, g] => (*u, *g),
        _ => return Err(format!("invalid chown string format: {spec}")),
    };
    let uid = match user.parse::<u32>() {
        Ok(n) => n,
        Err(_) => lookup(passwd, user)
            .ok_or_else(|| format!("can't find uid for user {user}: no such user: {user}"))?,
    };
    let gid = match grp.parse::<u32>() {
        Ok(n) => n,
        Err(_) => lookup(group, grp)
            .ok_or_else(|| format!("can't find gid for group {grp}: no such group: {grp}"))?,
    };
    Ok((uid, gid))
}

/// Whether a spec needs the image's files (has a non-numeric part).
pub fn needs_lookup(spec: &str) -> bool {
    spec.split(':').any(|p| p.parse::<u32>().is_err())
}

/// `--chmod=0755` (octal, up to 4 digits).
pub fn parse_chmod(spec: &str) -> Result<u32, String> {
    u32::from_str_radix(spec, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("invalid chmod parameter: {spec}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh\nbin:x:1:1:bin:/bin:/sbin/nologin\nredis:x:100:101::/var/lib/redis:/sbin/nologin\n";
    const GROUP: &[u8] = b"root:x:0:\nbin:x:1:root,bin\nredis:x:101:redis\nstaff:x:50:\n";

    #[test]
    fn chown_specs() {
        let r = |s: &str| resolve_chown(s, Some(PASSWD), Some(GROUP));
        assert_eq!(
            r("55:mygroup").unwrap_err(),
            "can't find gid for group mygroup: no such group: mygroup"
        );
        assert_eq!(r("55:staff"), Ok((55, 50)));
        assert_eq!(r("55"), Ok((55, 55)));
        assert_eq!(r("redis"), Ok((100, 101)));
        assert_eq!(r("bin:staff"), Ok((1, 50)));
        assert_eq!(
            r("nobody").unwrap_err(),
            "can't find uid for user nobody: no such user: nobody"
        );
        assert_eq!(
            r("a:b:c").unwrap_err(),
            "invalid chown string format: a:b:c"
        );
        assert_eq!(resolve_chown("10:20", None, None), Ok((10, 20)));
        assert!(needs_lookup("redis:1") && !needs_lookup("1:2"));
        assert_eq!(parse_chmod("644"), Ok(0o644));
        assert!(parse_chmod("u+x").is_err());
    }
}
