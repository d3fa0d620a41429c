//! `docker rmi` (untag vs delete, force, in-use conflicts) and `docker image prune`.

use std::collections::HashSet;

use crate::error::{EngineError, Result};
use berth_api_types::query::ImageDeleteOptions;
use berth_api_types::{Filters, ImageDeleteResponseItem, ImagePruneResponse};
use berth_content::Digest;
use berth_registry::Reference;

use super::inspect::{created_secs, labels_match};
use super::{familiar, ImageService};

fn untagged(name: String) -> ImageDeleteResponseItem {
    ImageDeleteResponseItem {
        untagged: Some(name),
        deleted: None,
    }
}

fn deleted(id: String) -> ImageDeleteResponseItem {
    ImageDeleteResponseItem {
        untagged: None,
        deleted: Some(id),
    }
}

impl ImageService {
    /// `DELETE /images/{name}`. A name removes that tag, and the image once no tag is left;
    /// an id (or prefix) removes the image with all its tags, which needs `force` when it
    /// is tagged in several repositories. An image a container uses is a 409 unless forced.
    pub async fn image_delete(
        &self,
        name: &str,
        opts: ImageDeleteOptions,
    ) -> Result<Vec<ImageDeleteResponseItem>> {
        let id = self.resolve_id(name)?;
        let short = &id.hex()[..12];
        let by_id = is_id_reference(name, &id);
        let names = self.images.store.names_of(&id).map_err(EngineError::from)?;
        let mut out = Vec::new();
        if !by_id {
            let r = Reference::parse(name).map_err(|_| super::no_such_image(name))?;
            if r.digest().is_none() {
                let key = format!("{}:{}", r.name(), r.tag().unwrap_or("latest"));
                if names.len() > 1 || (names.len() == 1 && names[0] != key) {
                    self.images.store.untag(&key).map_err(EngineError::from)?;
                    self.event("untag", id.as_str(), Some(&r.familiar()));
                    out.push(untagged(r.familiar()));
                    return Ok(out);
                }
            }
        } else if names.len() > 1 && !opts.force {
            return Err(EngineError::conflict(format!(
                "conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories"
            )));
        }
        let shown = if by_id {
            short.to_string()
        } else {
            name.to_string()
        };
        if let Some(user) = self.user_of(&id) {
            let c = &user.container_id[..user.container_id.len().min(12)];
            if user.running {
                return Err(EngineError::conflict(format!(
                    "conflict: unable to delete {shown} (cannot be forced) - image is being used by running container {c}"
                )));
            }
            if !opts.force {
                let by = if c.is_empty() {
                    "a container".to_string()
                } else {
                    format!("stopped container {c}")
                };
                return Err(EngineError::conflict(format!(
                    "conflict: unable to delete {shown} (must be forced) - image is being used by {by}"
                )));
            }
        }
        if self.has_children(&id)? {
            if by_id {
                return Err(EngineError::conflict(format!(
                    "conflict: unable to delete {short} (cannot be forced) - image has dependent child images"
                )));
            }
            // By name: the tags go, the image stays for its children.
            for n in self.images.store.names_of(&id).map_err(EngineError::from)? {
                self.images.store.untag(&n).map_err(EngineError::from)?;
                self.event("untag", id.as_str(), Some(&familiar(&n)));
                out.push(untagged(familiar(&n)));
            }
            return Ok(out);
        }
        out.extend(self.delete_image(&id, !opts.noprune)?.0);
        Ok(out)
    }

    /// True when a stored image was committed on top of `id`.
    fn has_children(&self, id: &Digest) -> Result<bool> {
        Ok(self
            .images
            .store
            .list()
            .map_err(EngineError::from)?
            .iter()
            .any(|r| self.meta(&r.id).parent.as_deref() == Some(id.as_str())))
    }

    /// Removes every reference to `id`, its record, and (with `prune_layers`) the layers no
    /// other image or container uses. Returns the response items and the bytes freed.
    pub(crate) fn delete_image(
        &self,
        id: &Digest,
        prune_layers: bool,
    ) -> Result<(Vec<ImageDeleteResponseItem>, u64)> {
        let rec = self.images.store.get(id).map_err(EngineError::from)?;
        let mut out = Vec::new();
        let mut names = self.images.store.names_of(id).map_err(EngineError::from)?;
        names.sort();
        for n in &names {
            self.images.store.untag(n).map_err(EngineError::from)?;
            self.event("untag", id.as_str(), Some(&familiar(n)));
            out.push(untagged(familiar(n)));
        }
        for d in &rec.repo_digests {
            out.push(untagged(familiar(d)));
        }
        self.images.store.delete(id).map_err(EngineError::from)?;
        self.remove_meta(id);
        self.event("delete", id.as_str(), None);
        out.push(deleted(id.to_string()));
        let mut freed = 0;
        if prune_layers {
            let used: HashSet<Digest> = self
                .images
                .store
                .list()
                .map_err(EngineError::from)?
                .into_iter()
                .flat_map(|r| r.layers.into_iter().map(|l| l.chain_id))
                .collect();
            for layer in rec.layers.iter().rev() {
                if used.contains(&layer.chain_id) {
                    break;
                }
                // Refused while a container snapshot or another layer builds on it.
                if self
                    .images
                    .snapshots
                    .remove_layer(layer.chain_id.as_str())
                    .is_err()
                {
                    break;
                }
                freed += layer.uncompressed_size;
                out.push(deleted(layer.chain_id.to_string()));
            }
            self.remove_unused_blobs(&rec);
        }
        Ok((out, freed))
    }

    /// Deletes the blobs of a removed image that no remaining image refers to.
    fn remove_unused_blobs(&self, rec: &berth_image::ImageRecord) {
        let Ok(records) = self.images.store.list() else {
            return;
        };
        let mut keep: HashSet<Digest> = HashSet::new();
        for r in &records {
            keep.insert(r.id.clone());
            keep.insert(r.manifest_digest.clone());
            keep.extend(r.index_digest.clone());
            for l in &r.layers {
                keep.insert(l.digest.clone());
                keep.insert(l.diff_id.clone());
            }
        }
        let mut mine = vec![rec.id.clone(), rec.manifest_digest.clone()];
        mine.extend(rec.index_digest.clone());
        for l in &rec.layers {
            mine.push(l.digest.clone());
            mine.push(l.diff_id.clone());
        }
        for d in mine {
            if !keep.contains(&d) && self.images.content.contains(&d) {
                let _ = self.images.content.delete(&d);
            }
        }
    }

    /// `POST /images/prune`: dangling images (`dangling=false`: every image no container
    /// uses), optionally limited by `until` and `label`.
    pub async fn image_prune(&self, filters: Filters) -> Result<ImagePruneResponse> {
        if let Some(bad) = filters
            .keys()
            .find(|k| !["dangling", "until", "label", "label!"].contains(k))
        {
            return Err(EngineError::invalid(format!("invalid filter '{bad}'")));
        }
        let only_dangling = !matches!(filters.get("dangling"), [v] if v == "false" || v == "0");
        let until = match filters.get("until") {
            [] => None,
            [v] => Some(parse_until(v)?),
            _ => return Err(EngineError::invalid("only one until filter is allowed")),
        };
        let refs = self.images.store.references().map_err(EngineError::from)?;
        let mut deleted_items = Vec::new();
        let mut reclaimed = 0;
        for rec in self.images.store.list().map_err(EngineError::from)? {
            let tagged = refs.values().any(|v| *v == rec.id);
            if (only_dangling && tagged) || self.in_use(&rec.id) || self.has_children(&rec.id)? {
                continue;
            }
            if until.is_some_and(|u| created_secs(&rec) >= u) {
                continue;
            }
            if !labels_match(&rec, filters.get("label")) {
                continue;
            }
            let negated = filters.get("label!");
            if !negated.is_empty() && labels_match(&rec, negated) {
                continue;
            }
            let (items, freed) = self.delete_image(&rec.id, true)?;
            deleted_items.extend(items);
            reclaimed += freed;
        }
        self.event("prune", "", None);
        Ok(ImagePruneResponse {
            images_deleted: (!deleted_items.is_empty()).then_some(deleted_items),
            space_reclaimed: reclaimed,
        })
    }
}

/// True when `name` designates the image by its id (full, `sha256:` or a prefix) rather
/// than by a reference.
fn is_id_reference(name: &str, id: &Digest) -> bool {
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) && id.hex().starts_with(hex)
}

/// `until` as unix seconds: a timestamp (seconds or RFC 3339) or a Go duration before now
/// (`24h`, `30m`, `10s`).
fn parse_until(v: &str) -> Result<i64> {
    if let Ok(secs) = v.split('.').next().unwrap_or(v).parse::<i64>() {
        return Ok(secs);
    }
    if let Some(t) = super::inspect::parse_rfc3339(v) {
        return Ok(t);
    }
    let now = berth_units::Timestamp::now().secs;
    let (num, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| EngineError::invalid(format!("invalid until filter: {v}")))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(EngineError::invalid(format!("invalid until filter: {v}"))),
    };
    Ok(now - n * mult)
}
