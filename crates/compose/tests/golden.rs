//! Golden tests: every case under tests/golden/ is loaded by berth and printed as `config`,
//! `config --format json` and `config --hash '*'`; the expected files were written by Docker
//! Compose v2 itself (tests/golden/regen.sh). The cases include the course's projects and
//! examples from the Compose Specification.
#![cfg(test)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_compose::cli::{Cli, Cmd};
use berth_compose::cmd::config::{render, ConfigArgs};
use berth_compose::file::{self, Options};
use clap::Parser;

/// Where the cases run from: `config --hash` hashes absolute paths (build contexts, binds),
/// so the expected hashes hold only at the fixed place regen.sh ran Compose v2 from.
const GOLDEN_ROOT: &str = "/tmp/berth-compose-golden";

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|src| {
            let case = Path::new(GOLDEN_ROOT).join(src.file_name().unwrap());
            let _ = std::fs::remove_dir_all(&case);
            copy_tree(&src, &case);
            case
        })
        .collect();
    v.sort();
    v
}

fn options(case: &Path) -> (Options, Cli) {
    let mut argv = vec!["compose".to_string()];
    if let Ok(a) = std::fs::read_to_string(case.join("args")) {
        argv.extend(a.lines().map(String::from));
    }
    argv.push("config".into());
    let cli = Cli::try_parse_from(&argv).unwrap();
    let mut environ = BTreeMap::from([("HOME".to_string(), "/home/user".to_string())]);
    if let Ok(e) = std::fs::read_to_string(case.join("env")) {
        for l in e.lines() {
            if let Some((k, v)) = l.split_once('=') {
                environ.insert(k.into(), v.into());
            }
        }
    }
    let opts = Options {
        files: cli.files.clone(),
        project_name: cli.project_name.clone(),
        project_directory: cli.project_directory.clone(),
        env_files: cli.env_files.clone(),
        profiles: cli.profiles.clone(),
        services: Vec::new(),
        environ,
        cwd: case.to_path_buf(),
    };
    (opts, cli)
}

#[test]
fn config_output_matches_compose_v2() {
    let mut failures = Vec::new();
    for case in cases() {
        let (opts, cli) = options(&case);
        let Some(Cmd::Config(_)) = cli.cmd else {
            unreachable!()
        };
        let loaded = match file::load(&opts) {
            Ok(l) => l,
            Err(e) => {
                failures.push(format!("{}: {e}", case.display()));
                continue;
            }
        };
        for (kind, args) in [
            ("yaml", ConfigArgs::default()),
            (
                "json",
                ConfigArgs {
                    format: Some("json".into()),
                    ..Default::default()
                },
            ),
            (
                "hash",
                ConfigArgs {
                    hash: Some("*".into()),
                    ..Default::default()
                },
            ),
        ] {
            let want = std::fs::read_to_string(case.join(format!("expected.{kind}"))).unwrap();
            let got = render(&loaded, &args)
                .unwrap()
                .unwrap_or_default()
                .replace(&case.display().to_string(), "@DIR@");
            if got != want {
                let out = std::env::temp_dir().join(format!(
                    "golden-{}.{kind}",
                    case.file_name().unwrap().to_string_lossy()
                ));
                std::fs::write(&out, &got).unwrap();
                failures.push(format!(
                    "{} ({kind}): differs; got {}",
                    case.display(),
                    out.display()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
