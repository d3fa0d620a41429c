//! Golden tests: every `tests/golden/<name>.Dockerfile` (the Dockerfile reference's own
//! examples and edge cases) against `<name>.golden`, the instructions it parses to as JSON.
//! `BLESS=1 cargo test -p berth-dockerfile --test golden` rewrites the goldens; review the
//! diff before committing.
#![cfg(test)]

use std::path::Path;

fn render(src: &str) -> String {
    match berth_dockerfile::parse(src) {
        Ok(df) => serde_json::to_string_pretty(&df).expect("serialize") + "\n",
        Err(e) => format!("error: {e}\n"),
    }
}

#[test]
fn golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let bless = std::env::var_os("BLESS").is_some();
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("golden dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "Dockerfile"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "golden cases missing");
    let mut failed = Vec::new();
    for case in cases {
        let src = std::fs::read_to_string(&case).expect("read case");
        let got = render(&src);
        let golden = case.with_extension("golden");
        if bless {
            std::fs::write(&golden, &got).expect("write golden");
            continue;
        }
        let want = std::fs::read_to_string(&golden)
            .unwrap_or_else(|_| panic!("{} has no golden; run with BLESS=1", case.display()));
        if got != want {
            eprintln!("--- {}\n{got}", case.display());
            failed.push(case.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    assert!(failed.is_empty(), "goldens differ: {failed:?}");
}
