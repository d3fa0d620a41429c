//! `--cache-from`: steps found in the history of local images (pulled or loaded), as Docker's
//! classic builder's image cache does it (`image/cache`): a source image matches a step when
//! the current state's history and diff ids are a prefix of the source's, and the source's
//! next history entry was made by the same instruction (`created_by`). The step then takes
//! that history entry and, unless it is an empty layer, the source's next layer.

use berth_image::config::History;

use crate::backend::{ImageState, Layer};

/// What a source image gives a step.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The source image's history entry for the step.
    pub history: History,
    /// The layer the step made (none for a metadata step).
    pub layer: Option<Layer>,
}

fn same_history(a: &History, b: &History) -> bool {
    a.created == b.created
        && a.created_by == b.created_by
        && a.author == b.author
        && a.comment == b.comment
        && a.empty_layer == b.empty_layer
}

/// Whether `source` continues `parent`.
fn continues(source: &ImageState, parent: &ImageState) -> bool {
    let (sh, ph) = (&source.config.history, &parent.config.history);
    if sh.is_empty() || ph.len() >= sh.len() {
        return false;
    }
    let (sd, pd) = (
        &source.config.rootfs.diff_ids,
        &parent.config.rootfs.diff_ids,
    );
    if pd.len() > sd.len() || source.layers.len() != sd.len() {
        return false;
    }
    ph.iter().zip(sh).all(|(a, b)| same_history(a, b)) && pd.iter().zip(sd).all(|(a, b)| a == b)
}

/// The first source that has the step `created_by` right after `parent`.
pub fn probe(parent: &ImageState, sources: &[ImageState], created_by: &str) -> Option<Hit> {
    for source in sources {
        if !continues(source, parent) {
            continue;
        }
        let index = parent.config.history.len();
        let entry = &source.config.history[index];
        if entry.created_by.as_deref().unwrap_or("") != created_by {
            continue;
        }
        // The parent's diff ids are a prefix of the source's: its next layer is the step's.
        let layer = if entry.empty_layer {
            None
        } else {
            match source.layers.get(parent.layers.len()) {
                Some(l) => Some(l.clone()),
                None => continue,
            }
        };
        return Some(Hit {
            history: entry.clone(),
            layer,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_image::ImageConfig;

    fn h(by: &str, empty: bool) -> History {
        History {
            created: Some("2024-01-01T00:00:00Z".into()),
            created_by: Some(by.into()),
            author: None,
            comment: None,
            empty_layer: empty,
        }
    }

    fn state(history: Vec<History>, layers: &[&str]) -> ImageState {
        let mut config = ImageConfig {
            history,
            ..ImageConfig::default()
        };
        let layers: Vec<Layer> = layers
            .iter()
            .map(|d| Layer {
                diff_id: format!("sha256:{}", d.repeat(64)),
                chain_id: format!("sha256:{}", d.repeat(64)),
                size: 1,
            })
            .collect();
        for l in &layers {
            config.rootfs.diff_ids.push(l.diff_id.parse().unwrap());
        }
        ImageState { config, layers }
    }

    #[test]
    fn a_source_continuing_the_parent_gives_its_next_entry() {
        let parent = state(vec![h("base", false)], &["a"]);
        let source = state(
            vec![h("base", false), h("ENV", true), h("RUN x", false)],
            &["a", "b"],
        );
        let hit = probe(&parent, std::slice::from_ref(&source), "ENV").unwrap();
        assert_eq!(hit.layer, None);
        assert!(probe(&parent, std::slice::from_ref(&source), "RUN x").is_none());
        let mid = state(vec![h("base", false), h("ENV", true)], &["a"]);
        let hit = probe(&mid, std::slice::from_ref(&source), "RUN x").unwrap();
        assert_eq!(
            hit.layer.unwrap().diff_id,
            format!("sha256:{}", "b".repeat(64))
        );
        // A different base (history differs) matches nothing.
        let other = state(vec![h("other", false)], &["a"]);
        assert!(probe(&other, &[source], "ENV").is_none());
    }
}
