//! `process.env`: the container's variables with Docker's defaults (`PATH`, `HOSTNAME`,
//! `TERM` with a TTY), as moby's `WithEnv` / `setupContainerEnv`.

use berth_api_types::ContainerConfig;

/// Docker's default PATH.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The environment of `cfg`'s process: `PATH` first and `HOSTNAME` second unless set,
/// `TERM=xterm` last with a TTY unless set.
pub fn env(cfg: &ContainerConfig, hostname: &str) -> Vec<String> {
    let mut env: Vec<String> = cfg.env.clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, format!("PATH={DEFAULT_PATH}"));
    }
    if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
        env.insert(1.min(env.len()), format!("HOSTNAME={hostname}"));
    }
    if cfg.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_in_around_the_containers_own() {
        let cfg = |env: &[&str], tty: bool| ContainerConfig {
            env: Some(env.iter().map(|s| s.to_string()).collect()),
            tty,
            ..Default::default()
        };
        assert_eq!(
            env(&cfg(&["A=1"], false), "h"),
            [&format!("PATH={DEFAULT_PATH}"), "HOSTNAME=h", "A=1"]
        );
        assert_eq!(
            env(&cfg(&["PATH=/x", "HOSTNAME=own"], true), "h"),
            ["PATH=/x", "HOSTNAME=own", "TERM=xterm"]
        );
        assert_eq!(
            env(&cfg(&["TERM=vt100"], true), "h"),
            [&format!("PATH={DEFAULT_PATH}"), "HOSTNAME=h", "TERM=vt100"]
        );
        assert_eq!(
            env(&ContainerConfig::default(), "h"),
            [&format!("PATH={DEFAULT_PATH}"), "HOSTNAME=h"]
        );
    }
}
