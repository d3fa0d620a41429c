//! One stage: its base, then each instruction through the cache.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use berth_dockerfile::{Command, Instruction};
use berth_image::config::History;
use berth_image::ImageConfig;
use sha2::{Digest, Sha256};

use crate::backend::{Backend, ImageState, Layer, ResolveOptions};
use crate::builder::Shared;
use crate::cache::{base_key, now, step_key, CacheRecord};
use crate::config;
use crate::error::{BuildError, Result};
use crate::graph::Source;
use crate::progress::Event;
use crate::scope::Scope;

/// What a finished stage hands to the stages that use it.
#[derive(Debug, Clone)]
pub struct StageResult {
    pub state: ImageState,
    pub key: String,
}

/// The id an image state would have (sha256 of its config), for ` ---> id` lines.
pub fn state_id(state: &ImageState) -> String {
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(state.config.to_bytes()))
    )
}

pub(crate) fn rfc3339_now() -> String {
    berth_units::Timestamp::new(i64::try_from(now()).unwrap_or(i64::MAX), 0)
        .to_rfc3339(berth_units::SubSeconds::Omit)
}

/// What a step will do once its key missed the cache.
pub(crate) enum Action {
    /// The new config (metadata instructions).
    Config(Box<ImageConfig>),
    Run(Box<crate::run_step::RunPlan>),
    Copy(Box<crate::copy_step::CopyStep>),
    Workdir(String),
}

/// A step described: its cache identity and what it does.
pub(crate) struct Planned {
    pub text: String,
    pub used: BTreeMap<String, String>,
    pub content: Option<String>,
    pub action: Action,
    /// `created_by` of its history entry.
    pub created_by: String,
}

pub(crate) struct StageBuild<B: Backend> {
    pub shared: Arc<Shared<B>>,
    pub index: usize,
    pub state: ImageState,
    pub key: String,
    pub scope: Scope,
    pub cmd_set: bool,
    number: usize,
}

impl<B: Backend> StageBuild<B> {
    pub fn new(shared: Arc<Shared<B>>, index: usize) -> Self {
        let number = shared
            .numbering
            .get(&index)
            .copied()
            .unwrap_or(shared.total);
        Self {
            shared,
            index,
            state: ImageState {
                config: ImageConfig::default(),
                layers: Vec::new(),
            },
            key: String::new(),
            scope: Scope::default(),
            cmd_set: false,
            number,
        }
    }

    pub fn escape(&self) -> char {
        self.shared.escape()
    }

    pub fn shell(&self) -> Vec<String> {
        self.state
            .config
            .config
            .as_ref()
            .and_then(|c| c.shell.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| config::DEFAULT_SHELL.map(String::from).to_vec())
    }

    pub fn workdir(&self) -> String {
        self.state
            .config
            .config
            .as_ref()
            .and_then(|c| c.working_dir.clone())
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into())
    }

    /// BuildKit's name of the stage's step `i` (0 = FROM): `[name i+1/n]`, the name only
    /// when the Dockerfile has several stages (`stage-N` for an unnamed one).
    fn label(&self, i: usize) -> String {
        let df = self.shared.df();
        let Some(stage) = df.stages.get(self.index) else {
            return "[labels]".into();
        };
        let n = stage.instructions.len() + 1;
        let prefix = if df.stages.len() > 1 {
            format!(
                "{} ",
                stage
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("stage-{}", self.index))
            )
        } else {
            String::new()
        };
        format!("[{prefix}{}/{n}]", i + 1)
    }

    fn emit(&self, e: Event) {
        self.shared.progress.event(e)
    }

    pub async fn run(mut self) -> Result<StageResult> {
        let shared = self.shared.clone();
        let stage = &shared.df().stages[self.index];
        self.emit(Event::Step {
            stage: self.index,
            number: self.number,
            total: shared.total,
            text: stage.original.clone(),
            label: self.label(0),
        });
        self.number += 1;
        let started = Instant::now();
        self.from(&shared.bases[self.index]).await?;
        self.emit(Event::StepDone {
            stage: self.index,
            id: state_id(&self.state),
            millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            cached: false,
        });
        let triggers = self
            .state
            .config
            .config
            .as_mut()
            .and_then(|c| c.on_build.take())
            .unwrap_or_default();
        for trigger in triggers {
            let df =
                berth_dockerfile::parse(&format!("FROM scratch\n{trigger}\n")).map_err(|e| {
                    BuildError::Invalid(format!(
                        "failed to process ONBUILD trigger {trigger:?}: {}",
                        e.message
                    ))
                })?;
            for inst in &df.stages[0].instructions {
                self.instruction(inst, false).await?;
            }
        }
        for inst in &stage.instructions {
            self.instruction(inst, true).await?;
        }
        Ok(StageResult {
            state: self.state,
            key: self.key,
        })
    }

    async fn from(&mut self, base: &Source) -> Result<()> {
        match base {
            Source::Scratch => {
                let p = &self.shared.platform;
                self.state.config = ImageConfig {
                    architecture: p.arch.clone(),
                    os: p.os.clone(),
                    variant: p.variant.clone(),
                    ..ImageConfig::default()
                };
                self.key = base_key("scratch");
            }
            Source::Stage(i) => {
                let r = self.shared.stage_result(*i).await?;
                self.state = r.state.clone();
                self.key = r.key.clone();
            }
            Source::Image(name) => {
                let req = &self.shared.prepared.request;
                let opts = ResolveOptions {
                    always_pull: req.pull,
                    platform: req.platform.clone(),
                    registry_config: req.registry_config.clone(),
                    local_only: false,
                };
                let index = self.index;
                let progress = self.shared.progress.clone();
                let sink = move |b: &[u8]| {
                    progress.event(Event::Output {
                        stage: index,
                        data: b.to_vec(),
                    })
                };
                let image = self
                    .shared
                    .backend
                    .resolve_image(name, &opts, &sink)
                    .await
                    .map_err(BuildError::Backend)?;
                self.state = image.state;
                self.key = base_key(&image.id);
            }
        }
        self.scope.env = self
            .state
            .config
            .config
            .as_ref()
            .and_then(|c| c.env.clone())
            .unwrap_or_default();
        Ok(())
    }

    /// One instruction through the cache. `numbered`: a Dockerfile step (ONBUILD triggers
    /// run inside the FROM step).
    pub async fn instruction(&mut self, inst: &Instruction, numbered: bool) -> Result<()> {
        if numbered {
            let first = self.shared.numbering.get(&self.index).copied().unwrap_or(0);
            self.emit(Event::Step {
                stage: self.index,
                number: self.number,
                total: self.shared.total,
                text: inst.original.clone(),
                label: self.label(self.number.saturating_sub(first)),
            });
            self.number += 1;
        }
        let started = Instant::now();
        let planned = self.plan(&inst.command).await?;
        let key = step_key(
            &self.key,
            &planned.text,
            &planned.used,
            planned.content.as_deref(),
        );
        let mut cached = false;
        if !self.shared.prepared.request.no_cache {
            if let Some(rec) = self.shared.cache.get(&key) {
                if self.shared.backend.has_layers(&rec.state.layers).await {
                    self.state = rec.state;
                    cached = true;
                } else {
                    self.shared.cache.remove(&key);
                }
            }
        }
        let mut from_source = None;
        if !cached && !self.shared.prepared.request.no_cache {
            from_source =
                crate::cache_from::probe(&self.state, &self.shared.cache_from, &planned.created_by);
        }
        if cached {
            self.emit(Event::Cached { stage: self.index });
        } else {
            let (state, size) = match from_source {
                Some(hit) => {
                    self.emit(Event::Cached { stage: self.index });
                    cached = true;
                    self.apply_source_hit(&planned.action, hit)?
                }
                None => self.execute(planned.action, &planned.created_by).await?,
            };
            self.state = state;
            let t = now();
            let rec = CacheRecord {
                key: key.clone(),
                parent: self.key.clone(),
                description: planned.text.clone(),
                state: self.state.clone(),
                size,
                created: t,
                last_used: t,
                usage_count: 0,
            };
            if let Err(e) = self.shared.cache.put(&rec) {
                self.emit(Event::Warning(format!("build cache: {e}")));
            }
        }
        self.key = key;
        if matches!(inst.command, Command::Cmd(_)) {
            self.cmd_set = true;
        }
        self.scope.env = self
            .state
            .config
            .config
            .as_ref()
            .and_then(|c| c.env.clone())
            .unwrap_or_default();
        if numbered {
            self.emit(Event::StepDone {
                stage: self.index,
                id: state_id(&self.state),
                millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                cached,
            });
        }
        Ok(())
    }

    async fn execute(&mut self, action: Action, created_by: &str) -> Result<(ImageState, u64)> {
        let (mut state, layer) = match action {
            Action::Config(config) => (
                ImageState {
                    config: *config,
                    layers: self.state.layers.clone(),
                },
                None,
            ),
            Action::Run(plan) => crate::run_step::run(self, *plan).await?,
            Action::Copy(step) => crate::copy_step::run(self, *step).await?,
            Action::Workdir(path) => self.make_workdir(&path).await?,
        };
        let size = layer.as_ref().map_or(0, |l| l.size);
        let empty = layer.is_none();
        if let Some(l) = layer {
            state.config.rootfs.diff_ids.push(
                l.diff_id
                    .parse()
                    .map_err(|_| BuildError::Backend(format!("bad diff id {}", l.diff_id)))?,
            );
            state.layers.push(l);
        }
        let created = rfc3339_now();
        state.config.created = Some(created.clone());
        state.config.history.push(History {
            created: Some(created),
            created_by: Some(created_by.to_string()),
            author: None,
            comment: None,
            empty_layer: empty,
        });
        Ok((state, size))
    }

    /// The state a `--cache-from` hit gives: the step's config (what it would have made),
    /// the source's history entry and layer.
    fn apply_source_hit(
        &self,
        action: &Action,
        hit: crate::cache_from::Hit,
    ) -> Result<(ImageState, u64)> {
        let mut state = self.state.clone();
        match action {
            Action::Config(c) => state.config = (**c).clone(),
            Action::Workdir(path) => {
                state
                    .config
                    .config
                    .get_or_insert_with(Default::default)
                    .working_dir = Some(path.clone());
            }
            Action::Run(_) | Action::Copy(_) => {}
        }
        let size = hit.layer.as_ref().map_or(0, |l| l.size);
        if let Some(l) = hit.layer {
            state.config.rootfs.diff_ids.push(
                l.diff_id
                    .parse()
                    .map_err(|_| BuildError::Backend(format!("bad diff id {}", l.diff_id)))?,
            );
            state.layers.push(l);
        }
        state.config.created = hit.history.created.clone();
        state.config.history.push(hit.history);
        Ok((state, size))
    }

    async fn make_workdir(&mut self, path: &str) -> Result<(ImageState, Option<Layer>)> {
        let backend = &self.shared.backend;
        let root = backend
            .prepare(&self.state.layers)
            .await
            .map_err(BuildError::Backend)?;
        if let Err(e) = backend.mkdir(&root, path, 0, 0).await {
            backend.release(root).await;
            return Err(BuildError::Backend(e));
        }
        let layer = backend
            .commit(root, &self.state.layers)
            .await
            .map_err(BuildError::Backend)?;
        let mut state = self.state.clone();
        state
            .config
            .config
            .get_or_insert_with(Default::default)
            .working_dir = Some(path.to_string());
        Ok((state, layer))
    }
}

/// `--label` of the request: a LABEL step at the end of the target stage (as Docker's
/// classic builder adds it).
pub(crate) async fn apply_request_labels<B: Backend>(
    shared: &Arc<Shared<B>>,
    state: ImageState,
    parent_key: String,
) -> Result<ImageState> {
    let labels: Vec<berth_dockerfile::KeyValue> = shared
        .prepared
        .request
        .labels
        .iter()
        .map(|(k, v)| berth_dockerfile::KeyValue {
            key: k.clone(),
            value: format!("{v:?}"),
        })
        .collect();
    let original = format!(
        "LABEL {}",
        labels
            .iter()
            .map(|kv| format!("{}={}", kv.key, kv.value))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let inst = Instruction {
        line: 0,
        end_line: 0,
        original,
        command: Command::Label { labels },
    };
    let pseudo = shared.df().stages.len();
    let mut stage = StageBuild::new(shared.clone(), pseudo);
    stage.state = state;
    stage.key = parent_key;
    let result = stage.instruction(&inst, true).await;
    shared.progress.event(Event::StageDone { stage: pseudo });
    result?;
    Ok(stage.state)
}
