//! Exec models: create, start, inspect.

use serde::{Deserialize, Serialize};

use crate::common::StrSlice;

/// Body of `POST /containers/{id}/exec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecConfig {
    /// Attach stdin.
    #[serde(rename = "AttachStdin")]
    pub attach_stdin: bool,
    /// Attach stdout.
    #[serde(rename = "AttachStdout")]
    pub attach_stdout: bool,
    /// Attach stderr.
    #[serde(rename = "AttachStderr")]
    pub attach_stderr: bool,
    /// Initial console size `[height, width]`.
    #[serde(rename = "ConsoleSize", skip_serializing_if = "Option::is_none")]
    pub console_size: Option<[u32; 2]>,
    /// Detach key sequence override.
    #[serde(rename = "DetachKeys")]
    pub detach_keys: String,
    /// Allocate a pty.
    #[serde(rename = "Tty")]
    pub tty: bool,
    /// Extra `KEY=value` environment.
    #[serde(rename = "Env")]
    pub env: Option<Vec<String>>,
    /// Command to run (required, non-empty).
    #[serde(rename = "Cmd")]
    pub cmd: Option<StrSlice>,
    /// Extended privileges.
    #[serde(rename = "Privileged")]
    pub privileged: bool,
    /// `user[:group]`.
    #[serde(rename = "User")]
    pub user: String,
    /// Working directory.
    #[serde(rename = "WorkingDir")]
    pub working_dir: String,
}

/// Body of `POST /exec/{id}/start`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecStartConfig {
    /// Run detached (no hijack; responds once started).
    #[serde(rename = "Detach")]
    pub detach: bool,
    /// Pty (must match the create).
    #[serde(rename = "Tty")]
    pub tty: bool,
    /// Initial console size `[height, width]`.
    #[serde(rename = "ConsoleSize", skip_serializing_if = "Option::is_none")]
    pub console_size: Option<[u32; 2]>,
}

/// The process of an exec instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProcessConfig {
    /// Privileged.
    pub privileged: bool,
    /// User.
    pub user: String,
    /// Tty.
    pub tty: bool,
    /// Executable.
    pub entrypoint: String,
    /// Arguments.
    pub arguments: Vec<String>,
}

/// Response of `GET /exec/{id}/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecInspect {
    /// Exec id.
    #[serde(rename = "ID")]
    pub id: String,
    /// Running.
    #[serde(rename = "Running")]
    pub running: bool,
    /// Exit code (null until it exited).
    #[serde(rename = "ExitCode")]
    pub exit_code: Option<i64>,
    /// Process.
    #[serde(rename = "ProcessConfig")]
    pub process_config: ProcessConfig,
    /// Stdin open.
    #[serde(rename = "OpenStdin")]
    pub open_stdin: bool,
    /// Stderr attached.
    #[serde(rename = "OpenStderr")]
    pub open_stderr: bool,
    /// Stdout attached.
    #[serde(rename = "OpenStdout")]
    pub open_stdout: bool,
    /// Can be removed.
    #[serde(rename = "CanRemove")]
    pub can_remove: bool,
    /// Container id.
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    /// Detach keys.
    #[serde(rename = "DetachKeys")]
    pub detach_keys: String,
    /// Host pid.
    #[serde(rename = "Pid")]
    pub pid: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_config_from_cli() {
        let j = r#"{"User":"","Privileged":false,"Tty":true,"ConsoleSize":[24,80],"AttachStdin":true,
          "AttachStderr":true,"AttachStdout":true,"Detach":false,"DetachKeys":"","Env":null,
          "WorkingDir":"","Cmd":["sh"]}"#;
        let e: ExecConfig = crate::json::from_str(j).unwrap();
        assert!(e.tty && e.attach_stdin);
        assert_eq!(e.console_size, Some([24, 80]));
        assert_eq!(e.cmd.unwrap().0, vec!["sh"]);
        let s: ExecStartConfig = crate::json::from_str(r#"{"Detach":false,"Tty":true}"#).unwrap();
        assert!(s.tty);
    }

    #[test]
    fn exec_inspect_names() {
        let i = ExecInspect {
            id: "e".into(),
            exit_code: Some(0),
            ..Default::default()
        };
        let v = serde_json::to_value(&i).unwrap();
        assert_eq!(v["ID"], "e");
        assert_eq!(v["ExitCode"], 0);
        assert_eq!(v["ProcessConfig"]["arguments"], serde_json::json!([]));
    }
}
