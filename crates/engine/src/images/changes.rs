//! `--change` instructions of `docker commit` / `docker import` (`CMD`, `ENTRYPOINT`, `ENV`,
//! `EXPOSE`, `LABEL`, `USER`, `WORKDIR`, `VOLUME`, `STOPSIGNAL`, `ONBUILD`, `SHELL`)
//! applied to an image's container config.

use std::collections::BTreeMap;

use crate::error::{EngineError, Result};
use berth_image::config::Empty;
use berth_image::ContainerConfig;
use berth_units::parse_go_duration;

/// Applies each `INSTRUCTION args` line to `config`; an unknown or malformed instruction
/// is a 400 and leaves `config` partly updated (callers discard it on error).
pub fn apply_changes(config: &mut ContainerConfig, changes: &[String]) -> Result<()> {
    for line in changes.iter().flat_map(|c| c.lines()) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (instr, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        match instr.to_ascii_uppercase().as_str() {
            "CMD" => config.cmd = Some(command(rest, config)),
            "ENTRYPOINT" => config.entrypoint = Some(command(rest, config)),
            "SHELL" => config.shell = Some(json_list(rest).ok_or_else(|| bad(line))?),
            "ENV" => {
                let env = config.env.get_or_insert_with(Vec::new);
                for (k, v) in pairs(rest, line)? {
                    env.retain(|e| e.split('=').next() != Some(k.as_str()));
                    env.push(format!("{k}={v}"));
                }
            }
            "LABEL" => {
                let labels = config.labels.get_or_insert_with(BTreeMap::new);
                labels.extend(pairs(rest, line)?);
            }
            "EXPOSE" => {
                let ports = config.exposed_ports.get_or_insert_with(BTreeMap::new);
                for p in rest.split_whitespace() {
                    let p = if p.contains('/') {
                        p.to_string()
                    } else {
                        format!("{p}/tcp")
                    };
                    ports.insert(p, Empty {});
                }
            }
            "VOLUME" => {
                let vols = config.volumes.get_or_insert_with(BTreeMap::new);
                let list = json_list(rest)
                    .unwrap_or_else(|| rest.split_whitespace().map(str::to_string).collect());
                for v in list {
                    vols.insert(v, Empty {});
                }
            }
            "HEALTHCHECK" => {
                config.healthcheck = Some(parse_healthcheck(rest).ok_or_else(|| bad(line))?)
            }
            "USER" => config.user = Some(rest.to_string()),
            "WORKDIR" => config.working_dir = Some(rest.to_string()),
            "STOPSIGNAL" => config.stop_signal = Some(rest.to_string()),
            "ONBUILD" => config
                .on_build
                .get_or_insert_with(Vec::new)
                .push(rest.to_string()),
            _ => {
                return Err(EngineError::invalid(format!(
                    "{instr} is not a valid change command"
                )))
            }
        }
    }
    Ok(())
}

fn bad(line: &str) -> EngineError {
    EngineError::invalid(format!("invalid change: {line}"))
}

fn json_list(s: &str) -> Option<Vec<String>> {
    s.starts_with('[')
        .then(|| serde_json::from_str::<Vec<String>>(s).ok())
        .flatten()
}

/// Exec form (`["a","b"]`) or shell form (`a b` → the image's SHELL or `/bin/sh -c`).
fn command(s: &str, config: &ContainerConfig) -> Vec<String> {
    json_list(s).unwrap_or_else(|| {
        let mut v = config
            .shell
            .clone()
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
        v.push(s.to_string());
        v
    })
}

/// `k=v k2="v 2"` pairs, or the legacy single `k v` form.
fn pairs(s: &str, line: &str) -> Result<Vec<(String, String)>> {
    let words = shell_words(s);
    if !words.is_empty() && !words[0].contains('=') {
        let (k, v) = s.split_once(char::is_whitespace).ok_or_else(|| bad(line))?;
        return Ok(vec![(k.to_string(), unquote(v.trim()))]);
    }
    words
        .into_iter()
        .map(|w| {
            w.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| bad(line))
        })
        .collect()
}

fn unquote(s: &str) -> String {
    shell_words(s).join(" ")
}

/// Splits on unquoted whitespace, removing quotes and backslash escapes.
fn shell_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (q, '\\') if q != Some('\'') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                any = true;
            }
            (_, c) => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// The Dockerfile `HEALTHCHECK` instruction (`docker commit --change`): `NONE`, or
/// `[--interval=D] [--timeout=D] [--start-period=D] [--start-interval=D] [--retries=N] CMD …`
/// (exec form `["a","b"]` → `CMD`, shell form → `CMD-SHELL`).
pub fn parse_healthcheck(rest: &str) -> Option<berth_image::Healthcheck> {
    let mut hc = berth_image::Healthcheck::default();
    let mut rest = rest.trim();
    if rest.eq_ignore_ascii_case("NONE") {
        hc.test = Some(vec!["NONE".into()]);
        return Some(hc);
    }
    while let Some(flag) = rest.strip_prefix("--") {
        let (word, tail) = flag.split_once(char::is_whitespace)?;
        let (key, value) = word.split_once('=')?;
        match key {
            "interval" => hc.interval = Some(parse_go_duration(value).ok()?),
            "timeout" => hc.timeout = Some(parse_go_duration(value).ok()?),
            "start-period" => hc.start_period = Some(parse_go_duration(value).ok()?),
            "start-interval" => hc.start_interval = Some(parse_go_duration(value).ok()?),
            "retries" => hc.retries = Some(value.parse().ok()?),
            _ => return None,
        }
        rest = tail.trim_start();
    }
    let (word, cmd) = rest.split_once(char::is_whitespace)?;
    if !word.eq_ignore_ascii_case("CMD") {
        return None;
    }
    let cmd = cmd.trim();
    let mut test = vec![];
    match serde_json::from_str::<Vec<String>>(cmd) {
        Ok(list) if cmd.starts_with('[') => {
            test.push("CMD".to_string());
            test.extend(list);
        }
        _ => {
            test.push("CMD-SHELL".to_string());
            test.push(cmd.to_string());
        }
    }
    hc.test = Some(test);
    Some(hc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_docker_change_lines() {
        let mut c = ContainerConfig::default();
        apply_changes(
            &mut c,
            &[
                "CMD [\"echo\", \"hi\"]".into(),
                "ENTRYPOINT /bin/run --fast".into(),
                "ENV A=1 B=\"two words\"".into(),
                "ENV A 3".into(),
                "LABEL version=1.0".into(),
                "EXPOSE 80 53/udp".into(),
                "WORKDIR /srv".into(),
                "USER nobody".into(),
                "VOLUME [\"/data\"]".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.cmd.unwrap(), vec!["echo", "hi"]);
        assert_eq!(
            c.entrypoint.unwrap(),
            vec!["/bin/sh", "-c", "/bin/run --fast"]
        );
        assert_eq!(c.env.unwrap(), vec!["B=two words", "A=3"]);
        assert_eq!(c.labels.unwrap()["version"], "1.0");
        let ports = c.exposed_ports.unwrap();
        assert!(ports.contains_key("80/tcp") && ports.contains_key("53/udp"));
        assert_eq!(c.working_dir.as_deref(), Some("/srv"));
        assert_eq!(c.user.as_deref(), Some("nobody"));
        assert!(c.volumes.unwrap().contains_key("/data"));
        let err =
            apply_changes(&mut ContainerConfig::default(), &["RUN rm -rf /".into()]).unwrap_err();
        assert_eq!(err.kind(), crate::error::ErrorKind::InvalidArgument);
    }

    #[test]
    fn healthcheck_instructions() {
        let hc = parse_healthcheck("--interval=5s --retries=2 CMD curl -f http://x/").unwrap();
        assert_eq!(hc.interval, Some(5_000_000_000));
        assert_eq!(hc.retries, Some(2));
        assert_eq!(hc.test.unwrap(), vec!["CMD-SHELL", "curl -f http://x/"]);
        let hc = parse_healthcheck(r#"CMD ["true", "x"]"#).unwrap();
        assert_eq!(hc.test.unwrap(), vec!["CMD", "true", "x"]);
        assert_eq!(
            parse_healthcheck("NONE").unwrap().test.unwrap(),
            vec!["NONE"]
        );
        assert!(parse_healthcheck("--bogus=1 CMD true").is_none());
        assert!(parse_healthcheck("RUN true").is_none());
    }
}
