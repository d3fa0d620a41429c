//! [`berth_build::Backend`] over the engine's stores: roots are overlay snapshots, RUN is a
//! task of the build's [`crate::containers::tasks::TaskRuntime`] ([`super::step`]), a commit turns the snapshot's upper directory into
//! the layer itself (renamed, never unpacked again) after writing its tar once into the
//! content store (uncompressed, so the blob's digest is the diff id).

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use berth_build::{Backend, BaseImage, ImageState, Layer, OutputSink, ResolveOptions, RunSpec};
use berth_content::Digest;
use berth_image::chain_ids;

use super::root::Root;
use super::view::View;
use super::BuildEnv;

/// The engine's build backend.
pub struct EngineBackend {
    pub(super) env: Arc<BuildEnv>,
}

fn chain_of(parent: &[Layer], diff_id: &str) -> Result<String, String> {
    let mut diffs: Vec<Digest> = Vec::with_capacity(2);
    if let Some(p) = parent.last() {
        // chain(n) = sha256(chain(n-1) + " " + diff(n)): seeding with the parent's chain id
        // as if it were a diff id gives exactly that for the second element.
        diffs.push(Digest::parse(&p.chain_id).map_err(|e| e.to_string())?);
    }
    diffs.push(Digest::parse(diff_id).map_err(|e| e.to_string())?);
    Ok(chain_ids(&diffs)
        .last()
        .map(|d| d.to_string())
        .unwrap_or_default())
}

fn blocking_err(e: tokio::task::JoinError) -> String {
    format!("build task: {e}")
}

impl EngineBackend {
    fn base_image(rec: berth_image::ImageRecord) -> BaseImage {
        let layers = rec
            .layers
            .iter()
            .map(|l| Layer {
                diff_id: l.diff_id.to_string(),
                chain_id: l.chain_id.to_string(),
                size: l.uncompressed_size,
            })
            .collect();
        BaseImage {
            id: rec.id.to_string(),
            state: ImageState {
                config: rec.config,
                layers,
            },
        }
    }

    async fn pull(
        &self,
        reference: &str,
        opts: &ResolveOptions,
        output: OutputSink<'_>,
    ) -> Result<(), String> {
        let r = crate::images::parse_reference(reference).map_err(|e| e.to_string())?;
        let auth = opts
            .registry_config
            .as_deref()
            .and_then(|c| super::auth_for(c, r.registry()));
        let mut pull_opts = berth_image::PullOptions::default();
        if let Some(p) = opts.platform.as_deref().filter(|p| !p.is_empty()) {
            pull_opts.platform = berth_image::PlatformSpec::parse(p).map_err(|e| e.to_string())?;
        }
        let mut stream = self
            .env
            .images
            .pull(auth.as_ref(), r, pull_opts)
            .await
            .map_err(|e| e.to_string())?;
        while let Some(m) = stream.recv().await {
            if let Some(e) = m.error_detail {
                return Err(e.message);
            }
            if let Some(status) = m.status {
                let line = match m.id {
                    Some(id) if m.progress_detail.is_none() => format!("{id}: {status}\n"),
                    Some(_) => continue,
                    None => format!("{status}\n"),
                };
                output(line.as_bytes());
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Backend for EngineBackend {
    type Root = Root;

    async fn resolve_image(
        &self,
        reference: &str,
        opts: &ResolveOptions,
        output: OutputSink<'_>,
    ) -> Result<BaseImage, String> {
        if !opts.always_pull || opts.local_only {
            match self.env.images.resolve(reference) {
                Ok(rec) => return Ok(Self::base_image(rec)),
                Err(e) if opts.local_only => return Err(e.to_string()),
                Err(_) => {}
            }
        }
        self.pull(reference, opts, output).await?;
        self.env
            .images
            .resolve(reference)
            .map(Self::base_image)
            .map_err(|e| e.to_string())
    }

    async fn prepare(&self, layers: &[Layer]) -> Result<Root, String> {
        let snapshots = self.env.images.images().snapshots.clone();
        let tasks = self.env.tasks.clone();
        let dir = self.env.build_dir.clone();
        let parent = layers.last().map(|l| l.chain_id.clone());
        tokio::task::spawn_blocking(move || {
            Root::prepare(&snapshots, &tasks, &dir, parent.as_deref())
        })
        .await
        .map_err(blocking_err)?
    }

    fn run_id(&self, root: &Root) -> Option<String> {
        Some(root.key.clone())
    }

    async fn run(
        &self,
        root: &Root,
        spec: &RunSpec,
        output: OutputSink<'_>,
    ) -> Result<i64, String> {
        super::step::run(&self.env, root, spec, output).await
    }

    async fn extract(&self, root: &Root, dest: &str, tar: &Path) -> Result<(), String> {
        let rootfs = root.rootfs();
        let dest = dest.to_string();
        let tar = tar.to_path_buf();
        tokio::task::spawn_blocking(move || {
            let fs = berth_inroot::Root::open(&rootfs).map_err(|e| e.to_string())?;
            fs.mkdir_all(&dest, 0o755, Some((0, 0)))
                .map_err(|e| format!("mkdir {dest}: {e}"))?;
            let file = std::fs::File::open(&tar).map_err(|e| e.to_string())?;
            berth_inroot::extract(
                &fs,
                &dest,
                std::io::BufReader::with_capacity(1 << 20, file),
                &berth_inroot::ExtractOptions::default(),
            )
            .map_err(|e| e.to_string())
        })
        .await
        .map_err(blocking_err)?
    }

    async fn mkdir(&self, root: &Root, path: &str, uid: u32, gid: u32) -> Result<(), String> {
        let fs = berth_inroot::Root::open(&root.rootfs()).map_err(|e| e.to_string())?;
        fs.mkdir_all(path, 0o755, Some((uid, gid)))
            .map(drop)
            .map_err(|e| format!("mkdir {path}: {e}"))
    }

    async fn is_dir(&self, root: &Root, path: &str) -> Result<bool, String> {
        let fs = berth_inroot::Root::open(&root.rootfs()).map_err(|e| e.to_string())?;
        fs.is_dir(path).map_err(|e| format!("{path}: {e}"))
    }

    async fn read_file(&self, root: &Root, path: &str) -> Result<Option<Vec<u8>>, String> {
        let fs = berth_inroot::Root::open(&root.rootfs()).map_err(|e| e.to_string())?;
        Ok(fs.read_small(path, 16 << 20))
    }

    async fn export(&self, layers: &[Layer], path: &str, out: &Path) -> Result<bool, String> {
        let env = self.env.clone();
        let layers = layers.to_vec();
        let path = path.to_string();
        let out = out.to_path_buf();
        tokio::task::spawn_blocking(move || {
            let top = layers.last().map(|l| l.chain_id.as_str());
            if let Some(chain) = top {
                if env.exports.link_to(chain, &path, &out) {
                    return Ok(true);
                }
            }
            let target = env
                .build_dir
                .join(format!("export-{}", super::random_hex()));
            let view = View::mount(&env, &layers, &target)?;
            let fs = berth_inroot::Root::open(view.path()).map_err(|e| e.to_string())?;
            let loc = match berth_inroot::locate(&fs, &path) {
                Ok(l) => l,
                Err(berth_inroot::InRootError::NotFound(_)) => return Ok(false),
                Err(e) => return Err(e.to_string()),
            };
            let is_dir = rustix::fs::FileType::from_raw_mode(loc.stat.st_mode)
                == rustix::fs::FileType::Directory;
            let loc = if is_dir {
                berth_inroot::locate(&fs, &format!("{}/.", path.trim_end_matches('/')))
                    .map_err(|e| e.to_string())?
            } else {
                loc
            };
            let file = std::fs::File::create(&out).map_err(|e| e.to_string())?;
            berth_inroot::write_tar(&loc, std::io::BufWriter::with_capacity(1 << 20, file))
                .map_err(|e| e.to_string())?;
            if let Some(chain) = top {
                env.exports.keep(chain, &path, &out);
            }
            Ok(true)
        })
        .await
        .map_err(blocking_err)?
    }

    async fn commit(&self, root: Root, parent: &[Layer]) -> Result<Option<Layer>, String> {
        let images = self.env.images.images().clone();
        let parent = parent.to_vec();
        tokio::task::spawn_blocking(move || {
            root.unmount();
            root.drop_runtime_mountpoints()?;
            if root.unchanged()? {
                return Ok(None);
            }
            let mut w = images.content.writer(None).map_err(|e| e.to_string())?;
            {
                use std::io::Write as _;
                let mut buf = std::io::BufWriter::with_capacity(1 << 20, &mut w);
                images
                    .snapshots
                    .write_diff(&root.key, &mut buf)
                    .map_err(|e| format!("write the step's layer: {e}"))?;
                buf.flush()
                    .map_err(|e| format!("write the step's layer: {e}"))?;
            }
            let diff = w.commit().map_err(|e| e.to_string())?;
            let size = images.content.size(&diff).unwrap_or(0);
            let chain = chain_of(&parent, diff.as_str())?;
            images
                .snapshots
                .commit(&root.key, &chain)
                .map_err(|e| format!("commit the step's layer: {e}"))?;
            root.finish();
            Ok(Some(Layer {
                diff_id: diff.to_string(),
                chain_id: chain,
                size,
            }))
        })
        .await
        .map_err(blocking_err)?
    }

    async fn stack(&self, parent: &[Layer], diff: &Layer) -> Result<Layer, String> {
        if parent.is_empty() {
            return Ok(diff.clone());
        }
        let images = self.env.images.images().clone();
        let parent_chain = parent
            .last()
            .map(|l| l.chain_id.clone())
            .unwrap_or_default();
        let chain = chain_of(parent, &diff.diff_id)?;
        let diff = diff.clone();
        tokio::task::spawn_blocking(move || {
            let d = |s: &str| Digest::parse(s).map_err(|e| e.to_string());
            let blob = d(&diff.diff_id)?;
            let size = images.content.size(&blob).ok_or("layer blob missing")?;
            let desc = berth_content::Descriptor::new(
                berth_content::media_types::OCI_LAYER_TAR,
                blob.clone(),
                size,
            );
            images
                .ensure_layer(&desc, &blob, &d(&chain)?, Some(&d(&parent_chain)?))
                .map_err(|e| e.to_string())?;
            Ok(Layer {
                diff_id: diff.diff_id.clone(),
                chain_id: chain,
                size: diff.size,
            })
        })
        .await
        .map_err(blocking_err)?
    }

    async fn release(&self, root: Root) {
        let _ = tokio::task::spawn_blocking(move || root.discard()).await;
    }

    async fn has_layers(&self, layers: &[Layer]) -> bool {
        let env = self.env.clone();
        let layers = layers.to_vec();
        tokio::task::spawn_blocking(move || super::image::layers_usable(&env, &layers))
            .await
            .unwrap_or(false)
    }

    async fn write_image(&self, state: &ImageState) -> Result<String, String> {
        let env = self.env.clone();
        let state = state.clone();
        tokio::task::spawn_blocking(move || super::image::write(&env, &state))
            .await
            .map_err(blocking_err)?
    }

    async fn tag(&self, image_id: &str, reference: &str) -> Result<(), String> {
        let r = crate::images::parse_reference(reference).map_err(|e| e.to_string())?;
        self.env
            .images
            .image_tag(
                image_id,
                &r.name(),
                Some(r.tag().unwrap_or("latest").to_string()),
            )
            .await
            .map_err(|e| e.to_string())
    }
}
