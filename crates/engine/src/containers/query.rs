//! Read-side actions: inspect, list (filters), top, changes, export, prune.

use std::sync::Arc;

use crate::error::{EngineError, Result};
use crate::remap::tar::{Direction, ShiftWriter};
use crate::stream::ByteStream;
use berth_api_types::query::ContainerListOptions;
use berth_api_types::*;

use super::list_filter::{Cut, ListFilter};
use super::Containers;
use crate::record::{self, ContainerRecord, KIND};

impl Containers {
    /// `GET /containers/{id}/json`.
    pub fn inspect(&self, reference: &str) -> Result<ContainerInspect> {
        let rec = self.lookup(reference)?;
        let dir = self.data_dir(&rec.id);
        let mut config = rec.config.clone();
        if config.hostname.is_empty() {
            config.hostname = rec.id[..12].to_string();
        }
        let mut st = rec.state.clone();
        if st.status == "restarting" {
            st.restarting = true;
        }
        st.health = self.health_of(&rec.id).or(st.health);
        Ok(ContainerInspect {
            id: rec.id.clone(),
            created: rec.created.clone(),
            path: rec.path.clone(),
            args: rec.args.clone(),
            state: st,
            image: rec.image.clone(),
            resolv_conf_path: dir.join("resolv.conf").display().to_string(),
            hostname_path: dir.join("hostname").display().to_string(),
            hosts_path: dir.join("hosts").display().to_string(),
            // Docker shows the path of json-file logs only.
            log_path: if rec.host_config.log_config.kind == "json-file" {
                rec.log_path.clone()
            } else {
                String::new()
            },
            name: rec.name.clone(),
            restart_count: rec.restart_count,
            driver: "overlay2".into(),
            platform: "linux".into(),
            host_config: HostConfig {
                links: self.networks.inspect_links(&rec),
                ..rec.host_config.clone()
            },
            network_settings: self.networks.network_settings(&rec),
            mounts: self.mount_points(&rec),
            config,
            ..Default::default()
        })
    }

    /// `Mounts` of inspect and list.
    fn mount_points(&self, rec: &ContainerRecord) -> Vec<MountPoint> {
        rec.mounts
            .iter()
            .map(|m| m.to_api(&self.volumes.store))
            .collect()
    }

    fn summary(&self, rec: &ContainerRecord, link_names: &[String]) -> ContainerSummary {
        let mut cmd = vec![rec.path.clone()];
        cmd.extend(rec.args.iter().cloned());
        let (ports, network_settings) = self.networks.network_summary(rec);
        ContainerSummary {
            ports,
            network_settings,
            id: rec.id.clone(),
            names: {
                // Docker lists the legacy link names of a container beside its name.
                let mut names = vec![rec.name.clone()];
                names.extend(link_names.iter().cloned());
                names.sort();
                names
            },
            image: if rec.config.image.is_empty() {
                rec.image.clone()
            } else {
                rec.config.image.clone()
            },
            image_id: rec.image.clone(),
            command: cmd.join(" "),
            created: record::unix_secs(&rec.created),
            labels: rec.config.labels.clone().unwrap_or_default(),
            state: rec.state.status.clone(),
            status: record::status_text(&{
                let mut st = rec.state.clone();
                st.health = self.health_of(&rec.id).or(st.health);
                st
            }),
            host_config: SummaryHostConfig {
                network_mode: rec.host_config.network_mode.clone(),
                annotations: None,
            },
            mounts: self.mount_points(rec),
            ..Default::default()
        }
    }

    /// `GET /containers/json`.
    pub fn list(&self, opts: &ContainerListOptions) -> Result<Vec<ContainerSummary>> {
        let mut recs: Vec<ContainerRecord> = self
            .store
            .list::<ContainerRecord>(KIND)
            .map_err(super::meta_err)?
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        recs.sort_by(|a, b| b.created.cmp(&a.created));
        let f = &opts.filters.0;
        let mut filter = ListFilter::parse(f, |r| self.lookup(r))?;
        let link_names = crate::networks::Networks::link_names(&recs);
        let all = opts.all
            || opts.limit.is_some_and(|l| l > 0)
            || f.contains_key("status")
            || f.contains_key("exited");
        let mut out = Vec::new();
        for rec in recs {
            match filter.cut(&rec.id) {
                Cut::Keep => {}
                Cut::Skip => continue,
                Cut::Stop => break,
            }
            if !all && !rec.state.running {
                continue;
            }
            if !filter.matches_record(&rec) || !self.matches(&rec, f) {
                continue;
            }
            let names = link_names
                .get(&rec.id)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let mut s = self.summary(&rec, names);
            if !filter.matches_summary(&s) {
                continue;
            }
            if opts.size {
                let used = self
                    .images
                    .images()
                    .snapshots
                    .active(&rec.id)
                    .ok()
                    .map(|a| dir_size(&a.upper))
                    .unwrap_or(0);
                s.size_rw = Some(used as i64);
            }
            out.push(s);
            if opts.limit.is_some_and(|l| l > 0 && out.len() as i64 >= l) {
                break;
            }
        }
        Ok(out)
    }

    fn matches(
        &self,
        rec: &ContainerRecord,
        f: &std::collections::BTreeMap<String, Vec<String>>,
    ) -> bool {
        let any = |key: &str, pred: &dyn Fn(&str) -> bool| {
            f.get(key)
                .is_none_or(|vs| vs.is_empty() || vs.iter().any(|v| pred(v)))
        };
        any("status", &|v| v == rec.state.status)
            && any("volume", &|v| {
                rec.mounts.iter().any(|m| {
                    m.destination == v || (if m.is_volume() { &m.name } else { &m.source }) == v
                })
            })
            && any("health", &|v| {
                v == self
                    .health_of(&rec.id)
                    .map(|h| h.status)
                    .unwrap_or_else(|| "none".into())
            })
            && any("exited", &|v| {
                rec.state.status == "exited" && v.parse::<i64>().ok() == Some(rec.state.exit_code)
            })
            && any("ancestor", &|v| {
                rec.config.image == v
                    || rec.image == v
                    || rec.image.trim_start_matches("sha256:").starts_with(v)
                    || self
                        .images
                        .resolve_id(v)
                        .map(|d| d.as_str() == rec.image)
                        .unwrap_or(false)
            })
            && f.get("label").is_none_or(|vs| {
                let labels = rec.config.labels.clone().unwrap_or_default();
                vs.iter().all(|v| match v.split_once('=') {
                    Some((k, val)) => labels.get(k).map(String::as_str) == Some(val),
                    None => labels.contains_key(v),
                })
            })
    }

    /// `GET /containers/{id}/top`: host `ps -ef` rows of the container's processes.
    pub async fn top(
        &self,
        reference: &str,
        ps_args: Option<String>,
    ) -> Result<ContainerTopResponse> {
        let rec = self.lookup(reference)?;
        if !rec.state.running {
            return Err(EngineError::conflict(format!(
                "container {} is not running",
                rec.id
            )));
        }
        let out = self
            .helpers
            .runtime
            .command()
            .arg("--root")
            .arg(self.exec_root.join("runtime"))
            .args(["ps", "--format", "json", &rec.id])
            .output()
            .await
            .map_err(|e| EngineError::internal(e.to_string()))?;
        let pids: Vec<i64> =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|_| vec![rec.state.pid]);
        let args = ps_args
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "-ef".into());
        let ps = tokio::process::Command::new("ps")
            .args(args.split_whitespace())
            .output()
            .await
            .map_err(|e| EngineError::internal(format!("ps: {e}")))?;
        let text = String::from_utf8_lossy(&ps.stdout);
        let mut lines = text.lines();
        let header = lines.next().unwrap_or("");
        let titles: Vec<String> = header.split_whitespace().map(str::to_string).collect();
        let pid_col = titles
            .iter()
            .position(|t| t == "PID")
            .ok_or_else(|| EngineError::internal("Couldn't find PID field in ps output"))?;
        let mut processes = Vec::new();
        for l in lines {
            let fields: Vec<&str> = l.split_whitespace().collect();
            if fields.len() < titles.len() {
                continue;
            }
            if fields[pid_col]
                .parse::<i64>()
                .is_ok_and(|p| pids.contains(&p))
            {
                let mut row: Vec<String> = fields[..titles.len() - 1]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                row.push(fields[titles.len() - 1..].join(" "));
                processes.push(row);
            }
        }
        Ok(ContainerTopResponse { titles, processes })
    }

    /// `GET /containers/{id}/changes`.
    pub fn changes(&self, reference: &str) -> Result<Vec<FilesystemChange>> {
        let rec = self.lookup(reference)?;
        let changes = self
            .images
            .images()
            .snapshots
            .changes(&rec.id)
            .map_err(|e| EngineError::internal(e.to_string()))?;
        let kept: std::collections::HashSet<String> =
            without_init_layer(changes.iter().map(|c| c.path.as_str()))
                .into_iter()
                .map(str::to_string)
                .collect();
        Ok(changes
            .into_iter()
            .filter(|c| kept.contains(c.path.as_str()))
            .map(|c| FilesystemChange {
                path: c.path,
                kind: c.kind.docker_kind(),
            })
            .collect())
    }

    /// `GET /containers/{id}/export`: a tar of the full root filesystem.
    pub async fn export(self: &Arc<Self>, reference: &str) -> Result<ByteStream> {
        let rec = self.lookup(reference)?;
        let this = self.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::task::spawn_blocking(move || {
            let snaps = &this.images.images().snapshots;
            let key = format!("export-{}", record::new_id());
            let parent = snaps.active(&rec.id).ok().and_then(|a| a.parent);
            let mounted_dir = this.state_dir(&rec.id).join(&key);
            let run = || -> Result<(), String> {
                let root = if rec.state.running {
                    this.rootfs(&rec.id)
                } else {
                    std::fs::create_dir_all(&mounted_dir).map_err(|e| e.to_string())?;
                    let m = snaps.mounts(&rec.id).map_err(|e| e.to_string())?;
                    let remap = this.remap_for(&rec.host_config);
                    super::ops::mount_snapshot(&m, &mounted_dir, remap.as_deref())
                        .map_err(|e| e.to_string())?;
                    mounted_dir.clone()
                };
                let w = ChannelWriter(tx.clone());
                let r = match this.remap_for(&rec.host_config) {
                    Some(map) => berth_image::archive::export(
                        &root,
                        ShiftWriter::new(w, &map, Direction::ToContainer),
                    ),
                    None => berth_image::archive::export(&root, w),
                }
                .map_err(|e| e.to_string());
                if !rec.state.running {
                    let _ = berth_snapshot::unmount(&mounted_dir);
                }
                r
            };
            let _ = parent;
            if let Err(e) = run() {
                let _ = tx.blocking_send(Err(std::io::Error::other(e)));
            }
            let _ = std::fs::remove_dir(&mounted_dir);
        });
        Ok(rx)
    }

    /// `POST /containers/prune`.
    pub async fn prune(self: &Arc<Self>, filters: &Filters) -> Result<ContainerPruneResponse> {
        let recs = self
            .store
            .list::<ContainerRecord>(KIND)
            .map_err(super::meta_err)?;
        let mut resp = ContainerPruneResponse::default();
        for (_, rec) in recs {
            if rec.state.running || rec.state.restarting {
                continue;
            }
            let labels = rec.config.labels.clone().unwrap_or_default();
            let ok = filters.0.get("label").is_none_or(|vs| {
                vs.iter().all(|v| match v.split_once('=') {
                    Some((k, val)) => labels.get(k).map(String::as_str) == Some(val),
                    None => labels.contains_key(v),
                })
            });
            if !ok {
                continue;
            }
            let size = self
                .images
                .images()
                .snapshots
                .active(&rec.id)
                .ok()
                .map(|a| dir_size(&a.upper))
                .unwrap_or(0);
            if self.remove(&rec.id, false, false).await.is_ok() {
                resp.containers_deleted
                    .get_or_insert_with(Vec::new)
                    .push(rec.id.clone());
                resp.space_reclaimed += size;
            }
        }
        Ok(resp)
    }
}

impl Containers {
    /// `POST /commit`: the container's diff as a layer on top of its image.
    pub async fn commit(
        self: &Arc<Self>,
        images: &crate::images::ImageService,
        opts: berth_api_types::query::CommitOptions,
        config: Option<ContainerConfig>,
    ) -> Result<IdResponse> {
        let rec = self.lookup(&opts.container)?;
        let paused_here = opts.pause && rec.state.running && !rec.state.paused;
        if paused_here {
            let _ = self.pause(&rec.id, true).await;
        }
        let tmp = self
            .data_root
            .join("tmp")
            .join(format!("commit-{}.tar", record::new_id()));
        let this = self.clone();
        let (id, path) = (rec.id.clone(), tmp.clone());
        let remap = self.remap_for(&rec.host_config);
        let written = tokio::task::spawn_blocking(move || -> Result<(), String> {
            std::fs::create_dir_all(path.parent().unwrap_or(&path)).map_err(|e| e.to_string())?;
            let f = std::fs::File::create(&path).map_err(|e| e.to_string())?;
            let mut w = std::io::BufWriter::new(f);
            let snapshots = &this.images.images().snapshots;
            match &remap {
                // The layer speaks the container's ids, as one pulled would.
                Some(map) => {
                    snapshots.write_diff(&id, ShiftWriter::new(&mut w, map, Direction::ToContainer))
                }
                None => snapshots.write_diff(&id, &mut w),
            }
            .map_err(|e| e.to_string())?;
            std::io::Write::flush(&mut w).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| EngineError::internal(e.to_string()))?;
        if paused_here {
            let _ = self.pause(&rec.id, false).await;
        }
        let result = match written {
            Ok(()) => {
                images
                    .commit_layer(
                        &tmp,
                        Some(&rec.image),
                        Some(config.unwrap_or_else(|| rec.config.clone())),
                        &opts,
                    )
                    .await
            }
            Err(e) => Err(EngineError::internal(e)),
        };
        let _ = std::fs::remove_file(&tmp);
        let id = result?;
        self.event("commit", &rec, &[]);
        Ok(IdResponse { id })
    }
}

/// Writes into a byte-stream channel from blocking code.
struct ChannelWriter(tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(bytes::Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Bytes used under `dir` (not following symlinks).
pub fn dir_size(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(md) = e.metadata() else { continue };
            if md.is_dir() {
                stack.push(e.path());
            } else {
                total += md.len();
            }
        }
    }
    total
}

/// What Docker keeps in a container's init layer, below its read-write layer: mount points
/// and the files the engine writes. `docker diff` never shows them.
const INIT_LAYER: &[&str] = &[
    "/.dockerenv",
    "/dev/console",
    "/dev/pts",
    "/dev/shm",
    "/etc/hostname",
    "/etc/hosts",
    "/etc/mtab",
    "/etc/resolv.conf",
    "/proc",
    "/sys",
];

/// The changed paths `docker diff` shows: without the init layer's paths (and what is below
/// them), and without their parent directories when nothing else changed in them.
fn without_init_layer<'a>(
    paths: impl Iterator<Item = &'a str> + Clone,
) -> std::collections::HashSet<&'a str> {
    let below = |p: &str, dir: &str| {
        p.len() > dir.len() && p.starts_with(dir) && p[dir.len()..].starts_with('/')
    };
    let in_init = |p: &str| INIT_LAYER.iter().any(|i| p == *i || below(p, i));
    let init_parent = |p: &str| INIT_LAYER.iter().any(|i| below(i, p));
    let real: Vec<&str> = paths.clone().filter(|p| !in_init(p)).collect();
    real.iter()
        .copied()
        .filter(|p| !init_parent(p) || real.iter().any(|q| below(q, p)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::without_init_layer;

    #[test]
    fn diff_hides_the_init_layer() {
        let paths = [
            "/dev",
            "/dev/console",
            "/etc",
            "/etc/hosts",
            "/etc/resolv.conf",
            "/proc",
            "/sys",
            "/tmp",
            "/tmp/x",
            "/.dockerenv",
        ];
        let mut kept: Vec<&str> = without_init_layer(paths.iter().copied())
            .into_iter()
            .collect();
        kept.sort();
        assert_eq!(kept, ["/tmp", "/tmp/x"]);
        let paths = ["/etc", "/etc/hosts", "/etc/motd"];
        let mut kept: Vec<&str> = without_init_layer(paths.iter().copied())
            .into_iter()
            .collect();
        kept.sort();
        assert_eq!(kept, ["/etc", "/etc/motd"]);
    }
}
