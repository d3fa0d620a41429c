//! The process of a `docker exec`: the container's `oci_spec` process (from its bundle) with
//! the exec's changes, each a small pure function as in `crate::spec`. The
//! [`crate::processes::ProcessRuntime`] starts it.

use std::path::PathBuf;

use oci_spec::runtime::{Process, User};

/// What an exec changes in the container's process.
#[derive(Debug, Clone, Default)]
pub struct ExecProcess {
    /// The command.
    pub args: Vec<String>,
    /// Variables set over the container's (`KEY=value`; a later one wins).
    pub env: Vec<String>,
    /// Working directory, when not the container's.
    pub cwd: Option<String>,
    /// uid, gid and supplementary gids, when not the container's user.
    pub user: Option<(u32, u32, Vec<u32>)>,
    /// With a terminal.
    pub tty: bool,
    /// `--privileged`: every capability.
    pub privileged: bool,
}

/// The exec's user: its ids replace the container's user whole (no umask or name carried
/// over); supplementary gids only when there are any.
pub fn exec_user(uid: u32, gid: u32, additional: &[u32]) -> User {
    let mut user = User::default();
    user.set_uid(uid)
        .set_gid(gid)
        .set_additional_gids((!additional.is_empty()).then(|| additional.to_vec()));
    user
}

/// `container`'s process with `exec`'s changes.
pub fn build(container: &Process, exec: &ExecProcess) -> Result<Process, String> {
    let mut p = container.clone();
    p.set_args(Some(exec.args.clone()));
    p.set_terminal(Some(exec.tty));
    let env = crate::processes::merge_env(p.env().as_deref().unwrap_or_default(), &exec.env);
    p.set_env(Some(env));
    if let Some(cwd) = &exec.cwd {
        p.set_cwd(PathBuf::from(cwd));
    }
    if let Some((uid, gid, extra)) = &exec.user {
        p.set_user(exec_user(*uid, *gid, extra));
    }
    if exec.privileged {
        p.set_capabilities(Some(crate::spec::capabilities::to_oci(
            &crate::spec::all_caps(),
        )?));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn container() -> Process {
        serde_json::from_value(json!({
            "terminal": false,
            "user": {"uid": 0, "gid": 0, "additionalGids": [10], "umask": 18},
            "args": ["sleep", "1000"],
            "env": ["PATH=/bin", "HOSTNAME=abc", "DB_PASSWORD=x"],
            "cwd": "/",
            "capabilities": {"bounding": ["CAP_CHOWN"]},
            "noNewPrivileges": true,
            "oomScoreAdj": 5,
        }))
        .unwrap()
    }

    #[test]
    fn the_exec_user_replaces_the_containers_whole() {
        let u = serde_json::to_value(exec_user(33, 34, &[])).unwrap();
        assert_eq!(u, json!({"uid": 33, "gid": 34}));
        let u = serde_json::to_value(exec_user(0, 0, &[1, 2])).unwrap();
        assert_eq!(u, json!({"uid": 0, "gid": 0, "additionalGids": [1, 2]}));
    }

    #[test]
    fn exec_changes_apply_over_the_containers_process() {
        let p = build(
            &container(),
            &ExecProcess {
                args: vec!["id".into()],
                env: vec!["TERM=xterm".into(), "DB_PASSWORD=y".into()],
                cwd: Some("/tmp".into()),
                user: Some((33, 33, vec![])),
                tty: true,
                privileged: false,
            },
        )
        .unwrap();
        let p = serde_json::to_value(p).unwrap();
        assert_eq!(p["args"], json!(["id"]));
        assert_eq!(
            p["env"],
            json!(["PATH=/bin", "HOSTNAME=abc", "TERM=xterm", "DB_PASSWORD=y"])
        );
        assert_eq!(p["cwd"], "/tmp");
        assert_eq!(p["user"], json!({"uid": 33, "gid": 33}));
        assert_eq!(p["terminal"], true);
        assert_eq!(p["noNewPrivileges"], true);
        assert_eq!(p["oomScoreAdj"], 5);
        assert_eq!(p["capabilities"]["bounding"], json!(["CAP_CHOWN"]));
    }

    #[test]
    fn unchanged_parts_are_the_containers() {
        let c = container();
        let p = build(
            &c,
            &ExecProcess {
                args: vec!["sh".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(p.user(), c.user());
        assert_eq!(p.cwd(), c.cwd());
        assert_eq!(p.env(), c.env());
        assert_eq!(p.capabilities(), c.capabilities());
        assert_eq!(p.terminal(), Some(false));
    }

    #[test]
    fn privileged_gets_every_capability_in_three_sets() {
        let p = build(
            &container(),
            &ExecProcess {
                args: vec!["sh".into()],
                privileged: true,
                ..Default::default()
            },
        )
        .unwrap();
        let caps = serde_json::to_value(p.capabilities()).unwrap();
        for set in ["bounding", "effective", "permitted"] {
            let names = caps[set].as_array().unwrap();
            assert!(names.contains(&json!("CAP_SYS_ADMIN")), "{set}");
            assert_eq!(names.len(), crate::spec::all_caps().len(), "{set}");
        }
        assert!(caps.get("inheritable").is_none() && caps.get("ambient").is_none());
    }
}
