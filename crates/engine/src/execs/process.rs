//! The process of a `docker exec`, handed to the runtime as a 0600 `process.json`
//! (`runtime exec --process`): never its environment on a command line, where any host user
//! reads it in `/proc/<pid>/cmdline`.

use std::path::{Path, PathBuf};

use serde_json::Value;

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

/// `bundle`'s process with `exec`'s changes.
pub fn build(bundle_process: &Value, exec: &ExecProcess) -> Value {
    let mut p = bundle_process.clone();
    p["args"] = exec.args.clone().into();
    p["terminal"] = exec.tty.into();
    let mut env: Vec<String> = p["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    for kv in &exec.env {
        let key = kv.split('=').next().unwrap_or_default();
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    p["env"] = env.into();
    if let Some(cwd) = &exec.cwd {
        p["cwd"] = cwd.clone().into();
    }
    if let Some((uid, gid, extra)) = &exec.user {
        p["user"] = serde_json::json!({"uid": uid, "gid": gid});
        if !extra.is_empty() {
            p["user"]["additionalGids"] = extra.clone().into();
        }
    }
    if exec.privileged {
        let all = crate::spec::all_caps();
        p["capabilities"] = serde_json::json!({
            "bounding": all, "effective": all, "permitted": all,
        });
    }
    p
}

/// The exec's process file; removed when dropped (once the runtime has run).
#[derive(Debug)]
pub struct ProcessFile(pub PathBuf);

impl Drop for ProcessFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes the exec's process next to the bundle (`<state>/exec-<id>.json`, 0600).
pub fn write(state_dir: &Path, exec_id: &str, exec: &ExecProcess) -> std::io::Result<ProcessFile> {
    let bundle: Value = serde_json::from_slice(&std::fs::read(state_dir.join("config.json"))?)
        .map_err(std::io::Error::other)?;
    let process = build(&bundle["process"], exec);
    let path = state_dir.join(format!("exec-{exec_id}.json"));
    crate::layout::write_private(&path, &serde_json::to_vec(&process).unwrap_or_default())?;
    Ok(ProcessFile(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exec_changes_apply_over_the_containers_process() {
        let bundle = json!({
            "terminal": false,
            "user": {"uid": 0, "gid": 0, "additionalGids": [10]},
            "args": ["sleep", "1000"],
            "env": ["PATH=/bin", "HOSTNAME=abc", "DB_PASSWORD=x"],
            "cwd": "/",
            "capabilities": {"bounding": ["CAP_CHOWN"]},
            "noNewPrivileges": true,
        });
        let p = build(
            &bundle,
            &ExecProcess {
                args: vec!["id".into()],
                env: vec!["TERM=xterm".into(), "DB_PASSWORD=y".into()],
                cwd: Some("/tmp".into()),
                user: Some((33, 33, vec![])),
                tty: true,
                privileged: false,
            },
        );
        assert_eq!(p["args"], json!(["id"]));
        assert_eq!(
            p["env"],
            json!(["PATH=/bin", "HOSTNAME=abc", "TERM=xterm", "DB_PASSWORD=y"])
        );
        assert_eq!(p["cwd"], "/tmp");
        assert_eq!(p["user"], json!({"uid": 33, "gid": 33}));
        assert_eq!(p["terminal"], true);
        assert_eq!(p["noNewPrivileges"], true);
        assert_eq!(p["capabilities"]["bounding"], json!(["CAP_CHOWN"]));
        let privileged = build(
            &bundle,
            &ExecProcess {
                args: vec!["sh".into()],
                privileged: true,
                ..Default::default()
            },
        );
        assert!(privileged["capabilities"]["effective"]
            .as_array()
            .unwrap()
            .contains(&json!("CAP_SYS_ADMIN")));
        assert_eq!(privileged["user"], bundle["user"]);
        assert_eq!(privileged["cwd"], "/");
    }
}
