//! `docker images`, `docker image inspect`, `docker history`, `docker tag`: stored records
//! turned into Docker's JSON models.

use crate::error::{EngineError, Result};
use berth_api_types::query::ImageListOptions;
use berth_api_types::{
    ContainerConfig, DriverData, HistoryItem, ImageInspect, ImageMetadata, ImageSummary, RootFs,
};
use berth_image::ImageRecord;
use berth_registry::Reference;

use super::{familiar, parse_reference, ImageService};

/// Filter names `GET /images/json` accepts.
const LIST_FILTERS: &[&str] = &["dangling", "label", "before", "since", "reference", "until"];

impl ImageService {
    /// `GET /images/json`.
    pub async fn image_list(&self, opts: ImageListOptions) -> Result<Vec<ImageSummary>> {
        let f = &opts.filters;
        if let Some(bad) = f.keys().find(|k| !LIST_FILTERS.contains(k)) {
            return Err(EngineError::invalid(format!("invalid filter '{bad}'")));
        }
        let dangling = match f.get("dangling") {
            [] => None,
            [v] if v == "true" || v == "1" => Some(true),
            [v] if v == "false" || v == "0" => Some(false),
            v => {
                return Err(EngineError::invalid(format!(
                    "invalid filter 'dangling={}'",
                    v.join(",")
                )))
            }
        };
        let before = self.created_bound(f.get("before"))?;
        let since = self.created_bound(f.get("since"))?;
        let records = self.images.store.list().map_err(EngineError::from)?;
        let refs = self.images.store.references().map_err(EngineError::from)?;
        // SharedSize: the bytes of layers that more than one image stacks on.
        let mut chain_users: std::collections::HashMap<String, usize> = Default::default();
        if opts.shared_size {
            for rec in &records {
                for l in &rec.layers {
                    *chain_users.entry(l.chain_id.to_string()).or_default() += 1;
                }
            }
        }
        let mut out = Vec::new();
        for rec in records {
            let names: Vec<&String> = refs
                .iter()
                .filter(|(_, id)| **id == rec.id)
                .map(|(n, _)| n)
                .collect();
            let mut tags: Vec<String> = names.iter().map(|n| familiar(n)).collect();
            tags.sort();
            if dangling.is_some_and(|d| d != tags.is_empty()) {
                continue;
            }
            let created = created_secs(&rec);
            if before.is_some_and(|b| created >= b) || since.is_some_and(|s| created <= s) {
                continue;
            }
            if !labels_match(&rec, f.get("label")) {
                continue;
            }
            let patterns = f.get("reference");
            if !patterns.is_empty() {
                let keep: Vec<String> = tags
                    .iter()
                    .filter(|t| patterns.iter().any(|p| reference_matches(p, t)))
                    .cloned()
                    .collect();
                if keep.is_empty() {
                    continue;
                }
                tags = keep;
            }
            out.push(ImageSummary {
                containers: -1,
                created,
                id: rec.id.to_string(),
                labels: labels(&rec),
                parent_id: self.meta(&rec.id).parent.unwrap_or_default(),
                repo_digests: rec.repo_digests.iter().map(|d| familiar(d)).collect(),
                repo_tags: tags,
                shared_size: if opts.shared_size {
                    rec.layers
                        .iter()
                        .filter(|l| chain_users.get(&l.chain_id.to_string()).copied() > Some(1))
                        .map(|l| api_size(l.uncompressed_size))
                        .sum()
                } else {
                    -1
                },
                size: api_size(rec.size()),
                virtual_size: None,
            });
        }
        out.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    fn created_bound(&self, values: &[String]) -> Result<Option<i64>> {
        match values {
            [] => Ok(None),
            [v] => Ok(Some(created_secs(&self.resolve(v)?))),
            _ => Err(EngineError::invalid(
                "only one before/since filter is allowed",
            )),
        }
    }

    /// `GET /images/{name}/json`.
    pub async fn image_inspect(&self, name: &str) -> Result<ImageInspect> {
        let rec = self.resolve(name)?;
        let meta = self.meta(&rec.id);
        Ok(ImageInspect {
            id: rec.id.to_string(),
            repo_tags: self.tags_of(&rec.id)?,
            repo_digests: rec.repo_digests.iter().map(|d| familiar(d)).collect(),
            parent: meta.parent.unwrap_or_default(),
            comment: extra_str(&rec, "comment")
                .or_else(|| rec.config.history.last().and_then(|h| h.comment.clone()))
                .unwrap_or_default(),
            created: rec.config.created.clone().unwrap_or_default(),
            // Shown below API 1.45 only (the server drops them for newer clients).
            container: Some(extra_str(&rec, "container").unwrap_or_default()),
            container_config: Some(
                rec.config
                    .extra
                    .get("container_config")
                    .and_then(|v| berth_api_types::json::from_value(v.clone()).ok())
                    .unwrap_or_default(),
            ),
            docker_version: extra_str(&rec, "docker_version").unwrap_or_default(),
            author: rec.config.author.clone().unwrap_or_default(),
            config: container_config(&rec),
            architecture: rec.config.architecture.clone(),
            variant: rec.config.variant.clone().unwrap_or_default(),
            os: rec.config.os.clone(),
            os_version: rec.config.os_version.clone().unwrap_or_default(),
            size: api_size(rec.size()),
            virtual_size: None,
            graph_driver: self.graph_driver(&rec),
            root_fs: RootFs {
                kind: "layers".into(),
                layers: rec
                    .config
                    .rootfs
                    .diff_ids
                    .iter()
                    .map(|d| d.to_string())
                    .collect(),
            },
            metadata: ImageMetadata {
                last_tag_time: meta.last_tag_time.unwrap_or_default(),
            },
        })
    }

    fn graph_driver(&self, rec: &ImageRecord) -> DriverData {
        let mut data = std::collections::BTreeMap::new();
        let dirs: Vec<String> = rec
            .top_chain_id()
            .and_then(|top| self.images.snapshots.chain(top.as_str()).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|l| l.path.display().to_string())
            .collect();
        if let Some((upper, lower)) = dirs.split_first() {
            data.insert("UpperDir".to_string(), upper.clone());
            if !lower.is_empty() {
                data.insert("LowerDir".to_string(), lower.join(":"));
            }
        }
        DriverData {
            name: "overlay2".into(),
            data,
        }
    }

    /// `GET /images/{name}/history`: newest step first; the top step carries the image id
    /// and tags, older steps are `<missing>` (their images are not stored separately).
    pub async fn image_history(&self, name: &str) -> Result<Vec<HistoryItem>> {
        let rec = self.resolve(name)?;
        let mut sizes = rec.layers.iter().map(|l| api_size(l.uncompressed_size));
        let mut items: Vec<HistoryItem> = if rec.config.history.is_empty() {
            rec.layers
                .iter()
                .map(|l| HistoryItem {
                    created: created_secs(&rec),
                    size: api_size(l.uncompressed_size),
                    ..Default::default()
                })
                .collect()
        } else {
            rec.config
                .history
                .iter()
                .map(|h| HistoryItem {
                    id: String::new(),
                    created: h.created.as_deref().and_then(parse_rfc3339).unwrap_or(0),
                    created_by: h.created_by.clone().unwrap_or_default(),
                    tags: Vec::new(),
                    size: if h.empty_layer {
                        0
                    } else {
                        sizes.next().unwrap_or(0)
                    },
                    comment: h.comment.clone().unwrap_or_default(),
                })
                .collect()
        };
        items.reverse();
        for item in items.iter_mut() {
            item.id = "<missing>".into();
        }
        // This image owns the newest steps; each stored parent (from `commit`) the steps
        // its own history covers.
        let total = items.len();
        let mut current = Some(rec);
        while let Some(img) = current.take() {
            let steps = img.config.history.len().max(img.layers.len());
            if let Some(item) = total
                .checked_sub(steps)
                .and_then(|i| items.get_mut(i))
                .filter(|item| item.id == "<missing>")
            {
                item.id = img.id.to_string();
                item.tags = self.tags_of(&img.id)?;
            }
            current = self
                .meta(&img.id)
                .parent
                .and_then(|p| berth_content::Digest::parse(&p).ok())
                .and_then(|p| self.images.store.get(&p).ok());
        }
        Ok(items)
    }

    /// `POST /images/{name}/tag`.
    pub async fn image_tag(&self, name: &str, repo: &str, tag: Option<String>) -> Result<()> {
        let rec = self.resolve(name)?;
        let target = match tag.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => format!("{repo}:{t}"),
            None => repo.to_string(),
        };
        let r = parse_reference(&target)?;
        if r.digest().is_some() {
            return Err(EngineError::invalid(
                "refusing to create a tag with a digest reference",
            ));
        }
        let key = format!("{}:{}", r.name(), r.tag().unwrap_or("latest"));
        self.images
            .store
            .tag(&key, &rec.id)
            .map_err(EngineError::from)?;
        self.touch_tag_time(&rec.id);
        self.event("tag", rec.id.as_str(), Some(&r.familiar()));
        Ok(())
    }
}

/// The image's default container config in the API's model (same field names).
pub(crate) fn container_config(rec: &ImageRecord) -> ContainerConfig {
    rec.config
        .config
        .as_ref()
        .and_then(|c| serde_json::to_value(c).ok())
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

fn extra_str(rec: &ImageRecord, key: &str) -> Option<String> {
    rec.config
        .extra
        .get(key)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn labels(rec: &ImageRecord) -> std::collections::BTreeMap<String, String> {
    rec.config
        .config
        .as_ref()
        .and_then(|c| c.labels.clone())
        .unwrap_or_default()
}

/// `label=key` or `label=key=value` terms: all must match.
pub(crate) fn labels_match(rec: &ImageRecord, terms: &[String]) -> bool {
    berth_api_types::labels_match(&labels(rec), terms)
}

/// Creation time of an image in unix seconds (0 when unknown).
pub(crate) fn created_secs(rec: &ImageRecord) -> i64 {
    rec.config
        .created
        .as_deref()
        .and_then(parse_rfc3339)
        .unwrap_or(0)
}

/// Docker's `reference=` filter: a glob (`*`, `?`) against the familiar name with and
/// without tag (`busybox`, `busybox:*`, `*/app:1`).
fn reference_matches(pattern: &str, tag: &str) -> bool {
    let name = Reference::parse(tag)
        .map(|r| r.familiar_name())
        .unwrap_or_default();
    glob(pattern.as_bytes(), tag.as_bytes()) || glob(pattern.as_bytes(), name.as_bytes())
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&p[1..], s) || (!s.is_empty() && s[0] != b'/' && glob(p, &s[1..])),
        (Some(b'?'), Some(c)) if *c != b'/' => glob(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob(&p[1..], &s[1..]),
        _ => false,
    }
}

/// Parses RFC 3339 (`2024-01-02T03:04:05.123456789Z`, `…+02:00`) to unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    berth_units::parse_rfc3339(s).map(|t| t.secs)
}

/// A byte count as the API's `int64` (saturating; no store holds 8 EiB).
fn api_size(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_and_globs() {
        assert_eq!(
            parse_rfc3339("2023-11-14T23:13:20.123456789+01:00"),
            Some(1_700_000_000)
        );
        assert!(glob(b"busy*", b"busybox"));
        assert!(glob(b"busybox:*", b"busybox:latest"));
        assert!(!glob(b"*", b"user/app"));
        assert!(reference_matches("busybox", "busybox:latest"));
        assert!(!reference_matches("alpine", "busybox:latest"));
    }
}
