//! The stage graph: which stage each stage depends on (its FROM, `COPY --from`,
//! `RUN --mount=from=`), which stages the target needs, and in what order they can run.

use std::collections::BTreeSet;

use berth_dockerfile::{parse_mount, Command, Dockerfile};

use crate::error::{BuildError, Result};

/// What a name in `FROM` / `--from` refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A previous stage, by index.
    Stage(usize),
    /// An image reference (unexpanded as written).
    Image(String),
    /// `scratch`: an empty root.
    Scratch,
}

/// Resolves a `FROM`/`--from` name (already expanded) against the stages before `before`.
pub fn resolve_name(df: &Dockerfile, name: &str, before: usize) -> Source {
    let lower = name.to_ascii_lowercase();
    if let Some(i) = df.stages[..before]
        .iter()
        .rposition(|s| s.name.as_deref() == Some(lower.as_str()))
    {
        return Source::Stage(i);
    }
    if let Ok(i) = name.parse::<usize>() {
        if i < before {
            return Source::Stage(i);
        }
    }
    if lower == "scratch" {
        return Source::Scratch;
    }
    Source::Image(name.to_string())
}

/// The stage index a target names (default: the last stage).
pub fn target_index(df: &Dockerfile, target: Option<&str>) -> Result<usize> {
    match target.filter(|t| !t.is_empty()) {
        None => Ok(df.stages.len() - 1),
        Some(t) => df
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(t.to_ascii_lowercase().as_str()))
            .ok_or_else(|| {
                BuildError::Invalid(format!("failed to reach build target {t} in Dockerfile"))
            }),
    }
}

/// Stages a stage uses, given each stage's base (already expanded by the caller).
pub fn dependencies(df: &Dockerfile, index: usize, base: &Source) -> BTreeSet<usize> {
    let mut deps = BTreeSet::new();
    if let Source::Stage(i) = base {
        deps.insert(*i);
    }
    for inst in &df.stages[index].instructions {
        let names: Vec<String> = match &inst.command {
            Command::Copy(c) => c.from.iter().cloned().collect(),
            Command::Run(r) => r
                .mounts
                .iter()
                .filter_map(|m| parse_mount(m, &mut |v| Ok(v.to_string())).ok())
                .filter_map(|m| m.from)
                .collect(),
            _ => Vec::new(),
        };
        for name in names {
            if let Source::Stage(i) = resolve_name(df, &name, index) {
                deps.insert(i);
            }
        }
    }
    deps
}

/// The stages `target` needs (itself included), ascending.
pub fn needed(deps: &[BTreeSet<usize>], target: usize) -> BTreeSet<usize> {
    let mut out = BTreeSet::new();
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if out.insert(i) {
            todo.extend(deps[i].iter().copied());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn df(src: &str) -> Dockerfile {
        berth_dockerfile::parse(src).unwrap()
    }

    #[test]
    fn names_and_needs() {
        let d = df("FROM alpine AS a\nRUN x\nFROM busybox AS b\nRUN y\nFROM a AS c\nCOPY --from=b /x /x\nFROM scratch AS unused\nCOPY --from=0 /a /a\n");
        assert_eq!(resolve_name(&d, "a", 2), Source::Stage(0));
        assert_eq!(resolve_name(&d, "A", 2), Source::Stage(0));
        assert_eq!(resolve_name(&d, "1", 2), Source::Stage(1));
        assert_eq!(resolve_name(&d, "c", 2), Source::Image("c".into()));
        assert_eq!(resolve_name(&d, "scratch", 2), Source::Scratch);
        let bases: Vec<Source> = d
            .stages
            .iter()
            .enumerate()
            .map(|(i, s)| resolve_name(&d, &s.base, i))
            .collect();
        let deps: Vec<_> = (0..4).map(|i| dependencies(&d, i, &bases[i])).collect();
        assert_eq!(deps[2], BTreeSet::from([0, 1]));
        assert_eq!(deps[3], BTreeSet::from([0]));
        let t = target_index(&d, Some("c")).unwrap();
        assert_eq!(needed(&deps, t), BTreeSet::from([0, 1, 2]));
        assert_eq!(target_index(&d, None).unwrap(), 3);
        assert_eq!(
            target_index(&d, Some("nope")).unwrap_err().to_string(),
            "failed to reach build target nope in Dockerfile"
        );
    }
}
