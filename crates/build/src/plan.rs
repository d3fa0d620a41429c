//! Planning an instruction: its substituted text (the cache key part), the build args it
//! used, and what it does. Metadata instructions compute their new config here.

use std::collections::BTreeMap;

use berth_dockerfile::Command;

use crate::backend::Backend;
use crate::config;
use crate::error::{BuildError, Result};
use crate::stage::{Action, Planned, StageBuild};

impl<B: Backend> StageBuild<B> {
    fn expand(&self, word: &str, used: &mut BTreeMap<String, String>) -> Result<String> {
        Ok(self.scope.expand(word, self.escape(), used)?)
    }

    fn nop(text: &str) -> String {
        format!("/bin/sh -c #(nop)  {text}")
    }

    /// Describes an instruction: its substituted text (the cache key part), the args it
    /// used, and the action.
    pub(crate) async fn plan(&mut self, command: &Command) -> Result<Planned> {
        let mut used = BTreeMap::new();
        let mut config = self.state.config.clone();
        let cc = config.config.get_or_insert_with(Default::default);
        let text = match command {
            Command::Run(run) => return crate::run_step::plan(self, run).await,
            Command::Copy(c) | Command::Add(c) => {
                let add = matches!(command, Command::Add(_));
                return crate::copy_step::plan(self, c, add).await;
            }
            Command::Workdir { path } => {
                let p = self.expand(path, &mut used)?;
                let dir = config::workdir(cc.working_dir.as_deref(), &p);
                let text = format!("WORKDIR {dir}");
                return Ok(Planned {
                    created_by: Self::nop(&text),
                    text,
                    used,
                    content: None,
                    action: Action::Workdir(dir),
                });
            }
            Command::Cmd(line) => {
                cc.cmd = Some(config::command(line, &self.shell()));
                format!("CMD {}", serde_json::to_string(&cc.cmd).unwrap_or_default())
            }
            Command::Entrypoint(line) => {
                let ep = config::command(line, &self.shell());
                cc.entrypoint = match line {
                    berth_dockerfile::CommandLine::Exec(a) if a.is_empty() => None,
                    _ => Some(ep),
                };
                if !self.cmd_set {
                    cc.cmd = None;
                }
                format!(
                    "ENTRYPOINT {}",
                    serde_json::to_string(&cc.entrypoint).unwrap_or_default()
                )
            }
            Command::Shell { shell } => {
                cc.shell = Some(shell.clone());
                format!("SHELL {}", serde_json::to_string(shell).unwrap_or_default())
            }
            Command::Env { vars } => {
                let mut parts = Vec::new();
                let mut scope = self.scope.clone();
                for kv in vars {
                    let k = scope.expand(&kv.key, self.escape(), &mut used)?;
                    let v = scope.expand(&kv.value, self.escape(), &mut used)?;
                    scope.set_env(&k, &v);
                    parts.push(format!("{k}={v}"));
                }
                cc.env = Some(scope.env.clone());
                format!("ENV {}", parts.join(" "))
            }
            Command::Label { labels } => {
                let mut pairs = Vec::new();
                for kv in labels {
                    pairs.push((
                        self.expand(&kv.key, &mut used)?,
                        self.expand(&kv.value, &mut used)?,
                    ));
                }
                config::add_labels(cc, &pairs);
                let shown: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("LABEL {}", shown.join(" "))
            }
            Command::Maintainer { name } => {
                config.author = Some(name.clone());
                format!("MAINTAINER {name}")
            }
            Command::Expose { ports } => {
                let mut keys = Vec::new();
                for p in ports {
                    for word in self.scope.expand_words(p, self.escape(), &mut used)? {
                        keys.extend(config::expose_keys(&word)?);
                    }
                }
                let text = format!("EXPOSE {}", keys.join(" "));
                config::add_exposed(cc, keys);
                text
            }
            Command::Volume { paths } => {
                let mut expanded = Vec::new();
                for p in paths {
                    let v = self.expand(p, &mut used)?;
                    if v.trim().is_empty() {
                        return Err(BuildError::Invalid(
                            "VOLUME specified can not be an empty string".into(),
                        ));
                    }
                    expanded.push(v);
                }
                config::add_volumes(cc, &expanded);
                format!(
                    "VOLUME {}",
                    serde_json::to_string(&expanded).unwrap_or_default()
                )
            }
            Command::User { user } => {
                let u = self.expand(user, &mut used)?;
                cc.user = Some(u.clone());
                format!("USER {u}")
            }
            Command::Stopsignal { signal } => {
                let s = self.expand(signal, &mut used)?;
                cc.stop_signal = Some(s.clone());
                format!("STOPSIGNAL {s}")
            }
            Command::Healthcheck(h) => {
                cc.healthcheck = Some(config::healthcheck(h));
                format!(
                    "HEALTHCHECK {}",
                    serde_json::to_string(&h.test).unwrap_or_default()
                )
            }
            Command::Onbuild(o) => {
                cc.on_build
                    .get_or_insert_with(Vec::new)
                    .push(o.expression.clone());
                format!("ONBUILD {}", o.expression)
            }
            Command::Arg { args } => {
                let mut shown = Vec::new();
                for a in args {
                    let default = match &a.default {
                        Some(d) => Some(self.expand(d, &mut used)?),
                        None => None,
                    };
                    self.scope.declare(
                        &a.name,
                        default,
                        &self.shared.prepared.request.build_args,
                        Some(&self.shared.global),
                    );
                    match self.scope.arg_value(&a.name) {
                        Some(v) => {
                            used.insert(a.name.clone(), v.to_string());
                            shown.push(format!("{}={v}", a.name));
                        }
                        None => shown.push(a.name.clone()),
                    }
                }
                format!("ARG {}", shown.join(" "))
            }
        };
        Ok(Planned {
            created_by: Self::nop(&text),
            text,
            used,
            content: None,
            action: Action::Config(Box::new(config)),
        })
    }
}
