//! Store tests: CRUD, transactions, names, prefixes, and simulated crashes.

use std::fs;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Rec {
    name: String,
    n: u32,
}

fn tmp() -> berth_testkit::TempDir {
    berth_testkit::TempDir::new("berth-meta-")
}

const A: &str = "4f6c0000000000000000000000000000000000000000000000000000000000aa";
const B: &str = "4f6d0000000000000000000000000000000000000000000000000000000000bb";

#[test]
fn put_get_list_delete_survive_reopen() {
    let dir = tmp();
    let s = Store::open(dir.path()).unwrap();
    let g1 = s
        .put(
            "container",
            A,
            &Rec {
                name: "a".into(),
                n: 1,
            },
        )
        .unwrap();
    let g2 = s
        .put(
            "container",
            B,
            &Rec {
                name: "b".into(),
                n: 2,
            },
        )
        .unwrap();
    assert!(g2 > g1);
    s.put("image-ref", "localhost:5000/lib/busybox:1", &"sha256:x")
        .unwrap();
    assert_eq!(s.get::<Rec>("container", A).unwrap().unwrap().n, 1);
    assert_eq!(s.keys("container"), vec![A.to_string(), B.to_string()]);
    assert!(s.delete("container", B).unwrap());
    assert!(!s.delete("container", B).unwrap());
    drop(s);

    let s = Store::open(dir.path()).unwrap();
    let list = s.list::<Rec>("container").unwrap();
    assert_eq!(
        list,
        vec![(
            A.to_string(),
            Rec {
                name: "a".into(),
                n: 1
            }
        )]
    );
    assert_eq!(
        s.get::<String>("image-ref", "localhost:5000/lib/busybox:1")
            .unwrap()
            .as_deref(),
        Some("sha256:x")
    );
    assert!(s.generation() >= g1);
    assert!(s.get::<Rec>("container", B).unwrap().is_none());
    // Wrong type is a codec error naming the record.
    let e = s.get::<u32>("container", A).unwrap_err();
    assert!(e.to_string().contains(A), "{e}");
    assert!(s.put("Bad Kind", "k", &1).is_err());
}

#[test]
fn an_unsynced_put_replaces_the_record_and_survives_reopen() {
    let dir = tmp();
    let s = Store::open(dir.path()).unwrap();
    let rec = |n| Rec {
        name: "a".into(),
        n,
    };
    let g1 = s.put("container", A, &rec(1)).unwrap();
    let g2 = s.put_unsynced("container", A, &rec(2)).unwrap();
    assert!(g2 > g1);
    assert_eq!(s.get::<Rec>("container", A).unwrap(), Some(rec(2)));
    drop(s);
    // What a crashed daemon's successor reads: the page cache holds the new record.
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.get::<Rec>("container", A).unwrap(), Some(rec(2)));
    assert!(s.generation() >= g2);
    let leftovers: Vec<_> = fs::read_dir(dir.path().join("records/container"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn sync_record_keeps_the_current_record_and_ignores_a_missing_one() {
    let dir = tmp();
    let s = Store::open(dir.path()).unwrap();
    let rec = |n| Rec {
        name: "a".into(),
        n,
    };
    s.put("container", A, &rec(1)).unwrap();
    s.put_unsynced("container", A, &rec(2)).unwrap();
    s.sync_record("container", A).unwrap();
    assert_eq!(s.get::<Rec>("container", A).unwrap(), Some(rec(2)));
    s.delete("container", A).unwrap();
    s.sync_record("container", A).unwrap();
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.get::<Rec>("container", A).unwrap(), None);
}

#[test]
fn names_are_unique_and_resolve_like_docker() {
    let dir = tmp();
    let s = Store::open(dir.path()).unwrap();
    let mut t = s.transaction();
    t.put("container", A, &json!({"Name": "/web"})).unwrap();
    t.claim_name("container", "/web", A).unwrap();
    t.commit().unwrap();
    let mut t = s.transaction();
    t.put("container", B, &json!({"Name": "/web"})).unwrap();
    t.claim_name("container", "web", B).unwrap();
    let err = t.commit().unwrap_err();
    assert!(matches!(err, MetadataError::NameInUse { .. }));
    assert!(err
        .to_string()
        .contains("The container name \"/web\" is already in use by container \"4f6c"));
    // The failed transaction wrote nothing.
    assert!(!s.contains("container", B));
    assert!(s.transaction().claim_name("container", "x", B).is_err());

    s.put("container", B, &json!({"Name": "/db"})).unwrap();
    assert_eq!(s.resolve("container", A).unwrap(), A);
    assert_eq!(s.resolve("container", "web").unwrap(), A);
    assert_eq!(s.resolve("container", "/web").unwrap(), A);
    assert_eq!(s.resolve("container", "4f6c").unwrap(), A);
    assert_eq!(s.resolve("container", "4f6d0").unwrap(), B);
    assert!(matches!(
        s.resolve("container", "4f6").unwrap_err(),
        MetadataError::Ambiguous { .. }
    ));
    assert_eq!(
        s.resolve("container", "4f6").unwrap_err().to_string(),
        "multiple IDs found with provided prefix: 4f6"
    );
    assert!(matches!(
        s.resolve("container", "zz").unwrap_err(),
        MetadataError::NotFound { .. }
    ));
    assert!(matches!(
        s.resolve("container", "").unwrap_err(),
        MetadataError::NotFound { .. }
    ));
    assert_eq!(s.name_owner("container", "/web").as_deref(), Some(A));
    assert_eq!(
        s.names("container"),
        vec![("web".to_string(), A.to_string())]
    );
}

#[test]
fn rename_is_one_atomic_transaction() {
    let dir = tmp();
    let s = Store::open(dir.path()).unwrap();
    let mut t = s.transaction();
    t.put("container", A, &json!({"Name": "/old"})).unwrap();
    t.claim_name("container", "old", A).unwrap();
    t.commit().unwrap();

    let mut t = s.transaction();
    t.release_name("container", "/old").unwrap();
    t.claim_name("container", "/new", A).unwrap();
    t.put("container", A, &json!({"Name": "/new"})).unwrap();
    t.commit().unwrap();
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.resolve("container", "new").unwrap(), A);
    assert!(s.name_owner("container", "old").is_none());
    assert_eq!(
        s.get::<serde_json::Value>("container", A).unwrap().unwrap()["Name"],
        "/new"
    );
    // Swapping two names in one transaction works (each released then claimed).
    s.put("container", B, &json!({})).unwrap();
    let mut t = s.transaction();
    t.claim_name("container", "other", B).unwrap();
    t.commit().unwrap();
    let mut t = s.transaction();
    t.release_name("container", "new").unwrap();
    t.release_name("container", "other").unwrap();
    t.claim_name("container", "new", B).unwrap();
    t.claim_name("container", "other", A).unwrap();
    t.commit().unwrap();
    assert_eq!(s.name_owner("container", "new").as_deref(), Some(B));
}

fn rename_txn(s: &Store) -> Transaction<'_> {
    let mut t = s.transaction();
    t.release_name("container", "old").unwrap();
    t.claim_name("container", "new", A).unwrap();
    t.put("container", A, &json!({"Name": "/new"})).unwrap();
    t
}

fn setup_old(dir: &std::path::Path) -> Store {
    let s = Store::open(dir).unwrap();
    let mut t = s.transaction();
    t.put("container", A, &json!({"Name": "/old"})).unwrap();
    t.claim_name("container", "old", A).unwrap();
    t.commit().unwrap();
    s
}

#[test]
fn crash_before_commit_point_keeps_the_old_state() {
    let dir = tmp();
    let s = setup_old(dir.path());
    rename_txn(&s)
        .commit_and_crash_at(CrashPoint::BeforeCommit)
        .unwrap();
    assert!(dir.path().join("journal.tmp").exists());
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    assert!(
        !dir.path().join("journal.tmp").exists(),
        "uncommitted journal is discarded"
    );
    assert_eq!(s.resolve("container", "old").unwrap(), A);
    assert!(s.name_owner("container", "new").is_none());
    assert_eq!(
        s.get::<serde_json::Value>("container", A).unwrap().unwrap()["Name"],
        "/old"
    );
}

#[test]
fn crash_after_commit_point_is_completed_on_open() {
    for applied in 0..=3 {
        let dir = tmp();
        let s = setup_old(dir.path());
        rename_txn(&s)
            .commit_and_crash_at(CrashPoint::AfterApplying(applied))
            .unwrap();
        assert!(dir.path().join("journal").exists());
        drop(s);
        let s = Store::open(dir.path()).unwrap();
        assert!(!dir.path().join("journal").exists());
        assert_eq!(
            s.resolve("container", "new").unwrap(),
            A,
            "applied {applied}"
        );
        assert!(
            s.name_owner("container", "old").is_none(),
            "applied {applied}"
        );
        assert_eq!(
            s.get::<serde_json::Value>("container", A).unwrap().unwrap()["Name"],
            "/new"
        );
    }
}

#[test]
fn leftover_temp_files_are_ignored_and_removed() {
    let dir = tmp();
    let s = Store::open(dir.path()).unwrap();
    s.put("container", A, &json!({"ok": true})).unwrap();
    drop(s);
    // A crash mid-write of a record leaves a half-written temp file beside the record.
    let kind_dir = dir.path().join("records/container");
    let tmp_file = kind_dir.join(format!("{A}.json.tmp"));
    fs::write(&tmp_file, b"{\"generation\": 9, \"val").unwrap();
    let tmp_new = kind_dir.join(format!("{B}.json.tmp"));
    fs::write(&tmp_new, b"{").unwrap();
    let s = Store::open(dir.path()).unwrap();
    assert!(!tmp_file.exists() && !tmp_new.exists());
    assert_eq!(s.keys("container"), vec![A.to_string()]);
    assert_eq!(
        s.get::<serde_json::Value>("container", A).unwrap().unwrap()["ok"],
        true
    );
}

#[test]
fn corrupt_record_is_reported_with_its_path() {
    let dir = tmp();
    let s = Store::open(dir.path()).unwrap();
    s.put("volume", "data", &json!({})).unwrap();
    drop(s);
    fs::write(dir.path().join("records/volume/data.json"), b"garbage").unwrap();
    let e = Store::open(dir.path()).unwrap_err();
    assert!(e.to_string().contains("records/volume/data.json"), "{e}");
}

#[test]
fn a_name_too_long_for_a_file_name_is_claimed_resolved_and_released() {
    // Docker takes any length of `[a-zA-Z0-9][a-zA-Z0-9_.-]+`; the name index must too.
    let dir = tmp();
    let long = format!("/{}", "a".repeat(10_000));
    {
        let s = Store::open(dir.path()).unwrap();
        let mut t = s.transaction();
        t.put(
            "container",
            A,
            &Rec {
                name: long.clone(),
                n: 1,
            },
        )
        .unwrap()
        .claim_name("container", &long, A)
        .unwrap();
        t.commit().unwrap();
        assert_eq!(s.resolve("container", &long).unwrap(), A);
        assert!(!dir.path().join("journal").exists());
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.resolve("container", &long).unwrap(), A);
    assert_eq!(s.name_owner("container", &long).as_deref(), Some(A));
    let mut t = s.transaction();
    t.delete("container", A).unwrap();
    t.release_name("container", &long).unwrap();
    t.commit().unwrap();
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    assert!(s.name_owner("container", &long).is_none());
    assert!(s.keys("container-names").is_empty());
}

#[test]
fn records_and_directories_are_private_to_root() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tmp();
    let root = dir.path().join("metadata");
    let s = Store::open(&root).unwrap();
    s.put(
        "container",
        A,
        &Rec {
            name: "secret".into(),
            n: 1,
        },
    )
    .unwrap();
    let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&root), 0o700);
    assert_eq!(mode(&root.join("records")), 0o700);
    assert_eq!(mode(&root.join("records/container")), 0o700);
    assert_eq!(
        mode(&root.join(format!("records/container/{A}.json"))),
        0o600
    );
}
