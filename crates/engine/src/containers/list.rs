//! `GET /containers/json` (`docker ps`): the summaries, filtered, with sizes on request.

use crate::error::Result;
use berth_api_types::query::ContainerListOptions;
use berth_api_types::*;

use super::list_filter::{Cut, ListFilter};
use super::Containers;
use crate::record::{self, ContainerRecord, KIND};

impl Containers {
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
                st.health = self.health.health_of(&rec.id).or(st.health);
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
                s.size_rw = Some(i64::try_from(self.size_rw(&rec.id)).unwrap_or(i64::MAX));
            }
            out.push(s);
            if opts
                .limit
                .is_some_and(|l| l > 0 && i64::try_from(out.len()).is_ok_and(|n| n >= l))
            {
                break;
            }
        }
        Ok(out)
    }

    /// Bytes in the container's own layer, its snapshot's upper directory (hardlinks
    /// counted once, as docker's `directory.Size`): `SizeRw` in `docker ps -s` and
    /// `system df`, and what removing the container frees in a prune; 0 without one.
    pub(super) fn size_rw(&self, id: &str) -> u64 {
        self.images
            .images()
            .snapshots
            .usage(id)
            .map_or(0, |u| u.size)
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
                    .health
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
            && f.get("label")
                .is_none_or(|vs| labels_match(&rec.config.labels.clone().unwrap_or_default(), vs))
    }
}
