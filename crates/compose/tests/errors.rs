//! Bad files: each file under tests/errors/ fails to load with the message in expected.txt
//! (file, line and column, the key path, and for an unknown key the nearest valid one).
#![cfg(test)]

use std::collections::BTreeMap;
use std::path::Path;

use berth_compose::file::{self, Options};

#[test]
fn bad_files_name_file_line_and_key() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/errors");
    let expected = std::fs::read_to_string(dir.join("expected.txt")).unwrap();
    let mut failures = Vec::new();
    for line in expected.lines() {
        let (name, want) = line.split_once(": ").unwrap();
        let opts = Options {
            files: vec![dir.join(name)],
            environ: BTreeMap::from([("HOME".into(), "/home/user".into())]),
            cwd: dir.clone(),
            ..Default::default()
        };
        match file::load(&opts) {
            Ok(_) => failures.push(format!("{name}: loaded")),
            Err(e) => {
                let got = e.to_string().replace(&dir.display().to_string(), "@DIR@");
                if got != want {
                    failures.push(format!("{name}:\n  want {want}\n  got  {got}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
