//! The layering checks of issue 10, run by CI with the other tests (no root, no build of
//! anything: they read the sources).
//!
//! - `engine_modules_have_no_cycles`: the engine's top-level modules (`containers`, `networks`,
//!   `volumes`, `images`, `daemon`, `events`, …) use each other one way only. Every
//!   `crate::x…` path (in `use` or inline, `crate::{a, b}` groups and `super::super::x`
//!   included; comments ignored) is an edge `module -> x`; any cycle fails.
//! - `crates_follow_the_layer_order`: every `berth-*` dependency of a workspace crate
//!   (normal, dev and build) points to a lower row of the layer table in
//!   `docs/architecture.md` (between `<!-- layers -->` and `<!-- /layers -->`), and every
//!   crate under `crates/` is in that table.
//! - `only_the_daemon_speaks_http`: no file of the engine outside `src/daemon/` mentions
//!   `berth_api_server` (code, `use` or doc link): the services take the API's query types
//!   (`berth-api-types`) and return their own streams and sessions; `daemon/` adapts them.
//! - `wire_types_stay_at_the_edges`: only the crates that speak the Engine API (server,
//!   client, engine, compose, CLI formatting, the binary) depend on `berth-api-types`.
#![cfg(test)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The source without `//` comments (doc comments included: intra-doc links are no uses).
fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    for line in src.lines() {
        let mut in_str = false;
        let mut prev = '\0';
        let mut cut = line.len();
        for (i, ch) in line.char_indices() {
            if ch == '"' && prev != '\\' {
                in_str = !in_str;
            }
            if !in_str && ch == '/' && prev == '/' {
                cut = i - 1;
                break;
            }
            prev = ch;
        }
        out.push_str(&line[..cut]);
        out.push('\n');
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn ident_at(s: &str) -> &str {
    let end = s.find(|c: char| !is_ident(c)).unwrap_or(s.len());
    &s[..end]
}

/// The first idents of a `{a, b::c, d::{e}}` group (`s` starts after the `{`).
fn group_heads(s: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expect = true;
    for (i, ch) in s.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => expect = true,
            c if expect && depth == 0 && is_ident(c) => {
                heads.push(ident_at(&s[i..]).to_string());
                expect = false;
            }
            _ => {}
        }
    }
    heads
}

/// The top-level modules a file at module path `module` (e.g. `["containers", "ops"]`) names.
fn used_modules(src: &str, module: &[String]) -> BTreeSet<String> {
    let src = strip_comments(src);
    let mut used = BTreeSet::new();
    let mut add_path = |rest: &str| {
        if let Some(group) = rest.strip_prefix('{') {
            used.extend(group_heads(group));
        } else {
            let id = ident_at(rest);
            if !id.is_empty() {
                used.insert(id.to_string());
            }
        }
    };
    for (i, _) in src.match_indices("crate::") {
        if i > 0 && is_ident(src[..i].chars().next_back().unwrap_or(' ')) {
            continue; // `berth_crate::` or similar
        }
        add_path(&src[i + "crate::".len()..]);
    }
    // `super::super::x` from depth 2 is `crate::x`.
    let depth = module.len();
    if depth >= 2 {
        let ups = "super::".repeat(depth);
        for (i, _) in src.match_indices(&ups) {
            if i > 0 && is_ident(src[..i].chars().next_back().unwrap_or(' ')) {
                continue;
            }
            let rest = &src[i + ups.len()..];
            if !rest.starts_with("super::") {
                add_path(rest);
            }
        }
    }
    used
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Module path of a file under `src` (`containers/mod.rs` -> `[containers]`).
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// Strongly connected components with more than one member (Tarjan would do; the graph has a
/// dozen nodes, so reachability is enough).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(n) = todo.pop() {
            for m in edges.get(&n).into_iter().flatten() {
                if seen.insert(m.clone()) {
                    todo.push(m.clone());
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&String, BTreeSet<String>> =
        edges.keys().map(|k| (k, reach(k))).collect();
    let mut out: Vec<BTreeSet<String>> = Vec::new();
    for (k, r) in &reached {
        if !r.contains(*k) {
            continue;
        }
        let scc: BTreeSet<String> = r
            .iter()
            .filter(|m| reached.get(m).is_some_and(|back| back.contains(*k)))
            .cloned()
            .collect();
        if !out.contains(&scc) {
            out.push(scc);
        }
    }
    out
}

#[test]
fn engine_modules_have_no_cycles() {
    let src = repo().join("crates/engine/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut why: BTreeMap<(String, String), String> = BTreeMap::new();
    let tops: BTreeSet<String> = files
        .iter()
        .filter_map(|f| module_path(&src, f).first().cloned())
        .filter(|m| m != "lib")
        .collect();
    for file in &files {
        let module = module_path(&src, file);
        let Some(top) = module.first().filter(|m| *m != "lib") else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for used in used_modules(&text, &module) {
            if used != *top && tops.contains(&used) {
                edges.entry(top.clone()).or_default().insert(used.clone());
                why.entry((top.clone(), used))
                    .or_insert_with(|| file.strip_prefix(&src).unwrap().display().to_string());
            }
        }
    }
    let found = cycles(&edges);
    let explain = |scc: &BTreeSet<String>| {
        let mut lines = Vec::new();
        for a in scc {
            for b in edges
                .get(a)
                .into_iter()
                .flatten()
                .filter(|b| scc.contains(*b))
            {
                lines.push(format!("  {a} -> {b} ({})", why[&(a.clone(), b.clone())]));
            }
        }
        lines.join("\n")
    };
    let report: Vec<String> = found.iter().map(explain).collect();
    assert!(
        found.is_empty(),
        "the engine's top-level modules use each other in a cycle:\n{}",
        report.join("\n\n")
    );
}

/// `[dependencies]`, `[dev-dependencies]`, `[build-dependencies]` (target-specific ones too):
/// the `berth*` crates a manifest names.
fn berth_deps(manifest: &str) -> BTreeSet<String> {
    let mut deps = BTreeSet::new();
    let mut in_deps = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line.ends_with("dependencies]");
            continue;
        }
        if in_deps && line.starts_with("berth") {
            let key = line
                .split(|c: char| c == '=' || c == '.' || c.is_whitespace())
                .next()
                .unwrap_or_default();
            deps.insert(key.to_string());
        }
    }
    deps
}

fn package_name(manifest: &str) -> String {
    manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("name = \""))
        .and_then(|rest| rest.split('"').next())
        .expect("package name")
        .to_string()
}

/// Rows of the layer table, top first: `| row | crate, crate |` lines between the markers.
fn layer_table(doc: &str) -> Vec<(String, Vec<String>)> {
    let start = doc
        .find("<!-- layers -->")
        .expect("<!-- layers --> in architecture.md");
    let end = doc.find("<!-- /layers -->").expect("<!-- /layers -->");
    doc[start..end]
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            // `| row | crates |`: cells = ["", row, crates, ""]
            if cells.len() < 4 || cells[1].is_empty() || cells[1].starts_with("---") {
                return None;
            }
            let crates: Vec<String> = cells[2]
                .split(',')
                .map(|c| c.trim().trim_matches('`').to_string())
                .filter(|c| !c.is_empty())
                .collect();
            (cells[1] != "row").then(|| (cells[1].to_string(), crates))
        })
        .collect()
}

#[test]
fn crates_follow_the_layer_order() {
    let doc = std::fs::read_to_string(repo().join("docs/architecture.md")).unwrap();
    let table = layer_table(&doc);
    assert!(table.len() > 3, "layer table too short: {table:?}");
    // Row index: 0 is the top.
    let mut row_of: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (_, crates)) in table.iter().enumerate() {
        for c in crates {
            let name = if c == "berth" {
                c.clone()
            } else {
                format!("berth-{c}")
            };
            assert!(
                row_of.insert(name, i).is_none(),
                "{c} is twice in the table"
            );
        }
    }
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(repo().join("crates")).unwrap() {
        let manifest_path = entry.unwrap().path().join("Cargo.toml");
        let Ok(manifest) = std::fs::read_to_string(&manifest_path) else {
            continue;
        };
        let name = package_name(&manifest);
        let Some(&row) = row_of.get(&name) else {
            problems.push(format!(
                "{name} is not in the layer table of docs/architecture.md"
            ));
            continue;
        };
        // A crate may name itself as a dev-dependency to turn on its own test features.
        for dep in berth_deps(&manifest).into_iter().filter(|d| *d != name) {
            match row_of.get(&dep) {
                None => problems.push(format!("{name} -> {dep}: {dep} is not in the table")),
                Some(&d) if d <= row => problems.push(format!(
                    "{name} ({}) -> {dep} ({}): dependencies point to lower rows only",
                    table[row].0, table[d].0
                )),
                Some(_) => {}
            }
        }
    }
    assert!(
        problems.is_empty(),
        "crate layering:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn only_the_daemon_speaks_http() {
    let src = repo().join("crates/engine/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50, "engine sources not found under {src:?}");
    let daemon = src.join("daemon");
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| !f.starts_with(&daemon))
        .filter(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .contains("berth_api_server")
        })
        .map(|f| f.strip_prefix(&src).unwrap().display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "berth_api_server is the daemon's (crates/engine/src/daemon/) alone; mentioned in: {}",
        offenders.join(", ")
    );
}

#[test]
fn wire_types_stay_at_the_edges() {
    const SPEAK_THE_API: [&str; 7] = [
        "berth",
        "berth-compose",
        "berth-client",
        "berth-engine",
        "berth-api-server",
        "berth-cli-format",
        "berth-api-types",
    ];
    let mut offenders = Vec::new();
    for entry in std::fs::read_dir(repo().join("crates")).unwrap() {
        let Ok(manifest) = std::fs::read_to_string(entry.unwrap().path().join("Cargo.toml")) else {
            continue;
        };
        let name = package_name(&manifest);
        if !SPEAK_THE_API.contains(&name.as_str())
            && berth_deps(&manifest).contains("berth-api-types")
        {
            offenders.push(name);
        }
    }
    assert!(
        offenders.is_empty(),
        "these crates depend on berth-api-types, but only the API's edges may (they keep \
         their own types; the engine converts): {offenders:?}"
    );
}

#[test]
fn the_checks_see_what_they_should() {
    let m = |s: &str| s.split("::").map(str::to_string).collect::<Vec<_>>();
    let src = "use crate::{events::EventBus, record::{self, X}};\n\
               // crate::commented\n\
               let s = \"a\"; // crate::also_commented\n\
               fn f() { crate::crash::point(\"x\"); super::super::images::Y; }\n\
               use berth_crate::nothing;";
    let used = used_modules(src, &m("containers::ops"));
    let want: BTreeSet<String> = ["events", "record", "crash", "images"]
        .map(String::from)
        .into();
    assert_eq!(used, want);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    edges.entry("a".into()).or_default().insert("b".into());
    edges.entry("b".into()).or_default().insert("c".into());
    assert!(cycles(&edges).is_empty());
    edges.entry("c".into()).or_default().insert("a".into());
    assert_eq!(cycles(&edges).len(), 1);
    let deps = berth_deps(
        "[dependencies]\nberth-a = { path = \"x\" }\nberth-b.workspace = true\nserde = \"1\"\n\
         [dev-dependencies]\nberth-testkit = { path = \"t\" }\n[features]\nberth-x = []\n",
    );
    assert_eq!(
        deps,
        ["berth-a", "berth-b", "berth-testkit"]
            .map(String::from)
            .into()
    );
}
