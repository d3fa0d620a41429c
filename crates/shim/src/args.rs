//! The shim's command line, built by the daemon and hand-parsed by the shim (no clap: the
//! parser is a few lines and one `berth-shim` runs per container).

use std::ffi::OsString;
use std::path::PathBuf;

/// The shim's command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShimArgs {
    /// Container id.
    pub id: String,
    /// OCI bundle directory.
    pub bundle: PathBuf,
    /// The OCI runtime program (the lean `berth-runtime`, or `berth` with
    /// `runtime_args = ["runtime"]`); empty = found next to the shim's own executable.
    pub runtime: PathBuf,
    /// Arguments put before the runtime's own (`runtime` for `berth runtime …`).
    pub runtime_args: Vec<OsString>,
    /// The runtime's `--root`.
    pub runtime_root: PathBuf,
    /// Directory for the pid file, the runtime's log and the exit record.
    pub state_dir: PathBuf,
    /// json-file log path (build steps; a container's log follows `log_config`).
    pub log: PathBuf,
    /// The container's log driver configuration (`berth_logdriver::LogConfig` as JSON,
    /// written by the daemon); when set, `log`, `max_size` and `max_file` are not used.
    pub log_config: Option<PathBuf>,
    /// Allocate a pty.
    pub tty: bool,
    /// Keep a stdin pipe.
    pub stdin: bool,
    /// One pipe for stdout and stderr (as `2>&1`), reported as stdout: a build step's
    /// output keeps the exact order it was written in.
    pub merge_output: bool,
    /// Log rotation size in bytes (0 = none).
    pub max_size: u64,
    /// Log files kept (≥ 1).
    pub max_file: u32,
}

impl ShimArgs {
    /// The argv (after the program name) that parses back into `self`.
    pub fn to_args(&self) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec![
            "--id".into(),
            self.id.clone().into(),
            "--bundle".into(),
            self.bundle.clone().into(),
            "--runtime-root".into(),
            self.runtime_root.clone().into(),
            "--state-dir".into(),
            self.state_dir.clone().into(),
            "--log".into(),
            self.log.clone().into(),
            "--max-size".into(),
            self.max_size.to_string().into(),
            "--max-file".into(),
            self.max_file.to_string().into(),
        ];
        if let Some(p) = &self.log_config {
            v.push("--log-config".into());
            v.push(p.clone().into());
        }
        if !self.runtime.as_os_str().is_empty() {
            v.push("--runtime".into());
            v.push(self.runtime.clone().into());
        }
        for a in &self.runtime_args {
            v.push("--runtime-arg".into());
            v.push(a.clone());
        }
        if self.tty {
            v.push("--tty".into());
        }
        if self.stdin {
            v.push("--stdin".into());
        }
        if self.merge_output {
            v.push("--merge-output".into());
        }
        v
    }

    /// Parses the argv after the program name.
    pub fn parse(args: &[OsString]) -> Result<Self, String> {
        let mut a = ShimArgs {
            max_file: 1,
            ..Default::default()
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let flag = flag.to_string_lossy();
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("flag {flag} needs a value"))
            };
            match flag.as_ref() {
                "--id" => a.id = value()?.to_string_lossy().into_owned(),
                "--bundle" => a.bundle = value()?.into(),
                "--runtime" => a.runtime = value()?.into(),
                "--runtime-arg" => a.runtime_args.push(value()?),
                "--runtime-root" => a.runtime_root = value()?.into(),
                "--state-dir" => a.state_dir = value()?.into(),
                "--log" => a.log = value()?.into(),
                "--log-config" => a.log_config = Some(value()?.into()),
                "--max-size" => {
                    let v = value()?;
                    a.max_size = v
                        .to_str()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| format!("invalid --max-size {v:?}: want bytes"))?;
                }
                "--max-file" => {
                    let v = value()?;
                    a.max_file = v
                        .to_str()
                        .and_then(|s| s.parse().ok())
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| format!("invalid --max-file {v:?}: want a count ≥ 1"))?;
                }
                "--tty" => a.tty = true,
                "--stdin" => a.stdin = true,
                "--merge-output" => a.merge_output = true,
                other => return Err(format!("unknown flag {other:?}")),
            }
        }
        for (name, missing) in [
            ("--id", a.id.is_empty()),
            ("--bundle", a.bundle.as_os_str().is_empty()),
            ("--runtime-root", a.runtime_root.as_os_str().is_empty()),
            ("--state-dir", a.state_dir.as_os_str().is_empty()),
            ("--log", a.log.as_os_str().is_empty()),
        ] {
            if missing {
                return Err(format!("flag {name} is required"));
            }
        }
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ShimArgs {
        ShimArgs {
            id: "abc".into(),
            bundle: "/b".into(),
            runtime: "/usr/bin/berth".into(),
            runtime_args: vec!["runtime".into()],
            runtime_root: "/r".into(),
            state_dir: "/s/abc".into(),
            log: "/l/abc-json.log".into(),
            log_config: Some("/s/abc/log-config.json".into()),
            tty: true,
            stdin: true,
            merge_output: true,
            max_size: 1024,
            max_file: 3,
        }
    }

    #[test]
    fn args_round_trip() {
        let a = sample();
        assert_eq!(ShimArgs::parse(&a.to_args()).unwrap(), a);
        let plain = ShimArgs {
            runtime: PathBuf::new(),
            runtime_args: vec![],
            log_config: None,
            tty: false,
            stdin: false,
            merge_output: false,
            ..sample()
        };
        assert_eq!(ShimArgs::parse(&plain.to_args()).unwrap(), plain);
    }

    #[test]
    fn bad_args_are_named() {
        let err = |v: &[&str]| {
            let v: Vec<OsString> = v.iter().map(OsString::from).collect();
            ShimArgs::parse(&v).unwrap_err()
        };
        assert_eq!(err(&["--bogus"]), "unknown flag \"--bogus\"");
        assert_eq!(err(&["--id"]), "flag --id needs a value");
        assert!(err(&["--max-file", "0"]).contains("--max-file"));
        assert_eq!(err(&["--id", "x"]), "flag --bundle is required");
    }
}
