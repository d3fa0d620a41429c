//! RUN: the container's command, environment, mounts; heredocs as BuildKit runs them.

use std::collections::BTreeMap;

use berth_dockerfile::{parse_heredoc, parse_mount, CommandLine, MountType, Run};

use crate::backend::{Backend, ImageState, Layer, RunMount, RunMountSource, RunSpec};
use crate::error::{BuildError, Result};
use crate::graph::{resolve_name, Source};
use crate::progress::Event;
use crate::stage::{Action, Planned, StageBuild};

pub(crate) struct RunPlan {
    pub spec: RunSpec,
    /// The command as Docker prints it in the failure message.
    pub shown: String,
}

pub(crate) async fn plan<B: Backend>(stage: &mut StageBuild<B>, run: &Run) -> Result<Planned> {
    let shell = stage.shell();
    let mut files = Vec::new();
    let args: Vec<String> = match &run.command {
        CommandLine::Exec(a) => a.clone(),
        CommandLine::Shell(cmd) if run.heredocs.is_empty() => {
            let mut v = shell.clone();
            v.push(cmd.clone());
            v
        }
        CommandLine::Shell(cmd) => {
            let first = &run.heredocs[0];
            let body = first.body();
            if parse_heredoc(cmd.trim()).is_some() {
                if body.starts_with("#!") {
                    // A script with its own interpreter: run the file.
                    let path = format!("/dev/pipes/{}", first.name);
                    files.push((path.clone(), body.into_bytes(), 0o755));
                    vec![path]
                } else {
                    let mut v = shell.clone();
                    v.push(body);
                    v
                }
            } else {
                let mut full = cmd.clone();
                for h in &run.heredocs {
                    full.push('\n');
                    full.push_str(&h.content);
                    full.push_str(&h.name);
                }
                let mut v = shell.clone();
                v.push(full);
                v
            }
        }
    };
    let req = &stage.shared.prepared.request;
    let mut used = BTreeMap::new();
    let run_args = stage.scope.run_args(&req.build_args);
    for (k, v) in &run_args {
        if !crate::scope::PROXY_ARGS.contains(&k.as_str()) {
            used.insert(k.clone(), v.clone());
        }
    }
    let mut env = stage.scope.env.clone();
    env.extend(run_args.iter().map(|(k, v)| format!("{k}={v}")));
    let mut mounts = Vec::new();
    let mut mount_texts = Vec::new();
    for spec in &run.mounts {
        let escape = stage.escape();
        let scope = stage.scope.clone();
        let m = parse_mount(spec, &mut |v| {
            scope
                .expand(v, escape, &mut used)
                .map_err(|e| e.to_string())
        })
        .map_err(BuildError::Invalid)?;
        mount_texts.push(format!("{m:?}"));
        let target = m.target.clone();
        let source = match m.kind {
            MountType::Cache => RunMountSource::Cache {
                id: m
                    .id
                    .clone()
                    .or_else(|| m.target.clone())
                    .unwrap_or_default(),
                locked: m.sharing == Some(berth_dockerfile::Sharing::Locked),
            },
            MountType::Tmpfs => RunMountSource::Tmpfs {
                size: m.size.unwrap_or(0),
            },
            MountType::Bind => {
                let path = m.source.clone().unwrap_or_else(|| "/".into());
                match &m.from {
                    Some(from) => RunMountSource::Layers {
                        layers: layers_of(stage, from).await?,
                        path,
                    },
                    None => {
                        RunMountSource::HostPath(crate::copy_step::materialize(stage, &path).await?)
                    }
                }
            }
            MountType::Secret => {
                let id =
                    m.id.clone()
                        .or_else(|| {
                            m.target
                                .as_deref()
                                .map(|t| t.rsplit('/').next().unwrap_or(t).to_string())
                        })
                        .or_else(|| m.env.clone())
                        .unwrap_or_default();
                let Some(data) = req.secrets.get(&id) else {
                    if m.required {
                        return Err(BuildError::Invalid(format!("secret {id} not found")));
                    }
                    continue;
                };
                if let Some(var) = &m.env {
                    env.push(format!("{var}={}", String::from_utf8_lossy(data)));
                    if m.target.is_none() {
                        continue;
                    }
                }
                RunMountSource::Secret(data.clone())
            }
            MountType::Ssh => {
                let id = m.id.clone().unwrap_or_else(|| "default".into());
                let Some(sock) = req.ssh.get(&id) else {
                    if m.required {
                        return Err(BuildError::Invalid(format!(
                            "no SSH key {id:?} forwarded from the client"
                        )));
                    }
                    continue;
                };
                let target = m
                    .target
                    .clone()
                    .unwrap_or_else(|| "/run/buildkit/ssh_agent.0".into());
                env.push(format!("SSH_AUTH_SOCK={target}"));
                RunMountSource::Ssh(sock.clone())
            }
        };
        let target = match (&m.kind, target) {
            (_, Some(t)) => t,
            (MountType::Secret, None) => {
                format!("/run/secrets/{}", m.id.clone().unwrap_or_default())
            }
            (MountType::Ssh, None) => "/run/buildkit/ssh_agent.0".into(),
            (_, None) => continue,
        };
        mounts.push(RunMount {
            target,
            source,
            read_only: m.read_only,
            mode: m.mode,
            uid: m.uid,
            gid: m.gid,
        });
    }
    let network = run
        .network
        .map(|n| format!("{n:?}").to_ascii_lowercase())
        .or_else(|| req.network.clone())
        .unwrap_or_else(|| "default".into());
    let cc = stage.state.config.config.clone().unwrap_or_default();
    let spec = RunSpec {
        args: args.clone(),
        env,
        user: cc.user.clone().unwrap_or_default(),
        workdir: stage.workdir(),
        network: network.clone(),
        mounts,
        extra_hosts: req.extra_hosts.clone(),
        shm_size: req.shm_size,
        memory: req.memory,
        cpuset_cpus: req.cpuset_cpus.clone(),
        files,
    };
    let shown = args.join(" ");
    let prefix = if used.is_empty() {
        String::new()
    } else {
        let pairs: Vec<String> = used.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("|{} {} ", used.len(), pairs.join(" "))
    };
    let text = format!(
        "RUN {} network={network} mounts={}",
        serde_json::to_string(&args).unwrap_or_default(),
        mount_texts.join(";")
    );
    Ok(Planned {
        created_by: format!("{prefix}{shown}"),
        text,
        used,
        content: None,
        action: Action::Run(Box::new(RunPlan { spec, shown })),
    })
}

/// The layers of a stage or image named by `from`.
pub(crate) async fn layers_of<B: Backend>(stage: &StageBuild<B>, from: &str) -> Result<Vec<Layer>> {
    match resolve_name(stage.shared.df(), from, stage.index) {
        Source::Stage(i) => Ok(stage.shared.stage_result(i).await?.state.layers.clone()),
        Source::Scratch => Ok(Vec::new()),
        Source::Image(name) => {
            let req = &stage.shared.prepared.request;
            let opts = crate::backend::ResolveOptions {
                platform: req.platform.clone(),
                registry_config: req.registry_config.clone(),
                ..Default::default()
            };
            let image = stage
                .shared
                .backend
                .resolve_image(&name, &opts, &|_| {})
                .await
                .map_err(BuildError::Backend)?;
            Ok(image.state.layers)
        }
    }
}

pub(crate) async fn run<B: Backend>(
    stage: &mut StageBuild<B>,
    plan: RunPlan,
) -> Result<(ImageState, Option<Layer>)> {
    let backend = stage.shared.backend.clone();
    let root = backend
        .prepare(&stage.state.layers)
        .await
        .map_err(BuildError::Backend)?;
    let index = stage.index;
    let progress = stage.shared.progress.clone();
    if let Some(id) = backend.run_id(&root) {
        progress.event(Event::Running {
            stage: index,
            container: crate::progress::short_id(&id).to_string(),
        });
    }
    let sink = move |b: &[u8]| {
        progress.event(Event::Output {
            stage: index,
            data: b.to_vec(),
        })
    };
    let code = match backend.run(&root, &plan.spec, &sink).await {
        Ok(code) => code,
        Err(e) => {
            backend.release(root).await;
            return Err(BuildError::Backend(e));
        }
    };
    if code != 0 {
        backend.release(root).await;
        return Err(BuildError::StepFailed {
            command: plan.shown,
            code,
        });
    }
    let layer = backend
        .commit(root, &stage.state.layers)
        .await
        .map_err(BuildError::Backend)?;
    Ok((stage.state.clone(), layer))
}
