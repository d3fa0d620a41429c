//! The content store's contract: layout, verification, atomicity, dedup, gc.
#![cfg(test)]

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use berth_content::{ContentError, ContentStore, Descriptor, Digest};
use berth_testkit::TempDir;

fn store() -> (TempDir, ContentStore) {
    let dir = TempDir::new("content");
    let store = ContentStore::open(&dir.path().join("store")).unwrap();
    (dir, store)
}

#[test]
fn writes_in_oci_layout_and_reads_back() {
    let (_dir, s) = store();
    let d = s.write_blob(b"hello").unwrap();
    assert_eq!(d, Digest::of(b"hello"));
    assert_eq!(
        s.path(&d),
        s.root().join("blobs/sha256").join(d.hex()),
        "OCI image-layout path"
    );
    assert!(s.contains(&d));
    assert_eq!(s.size(&d), Some(5));
    assert_eq!(s.read_blob(&d).unwrap(), b"hello");
    s.verify(&d).unwrap();
    let layout = std::fs::read_to_string(s.root().join("oci-layout")).unwrap();
    assert!(layout.contains("imageLayoutVersion"));
    assert_eq!(s.list().unwrap(), vec![d.clone()]);
    assert_eq!(s.ingest_count(), 0);
    // Dedup: the same bytes again are one blob.
    assert_eq!(s.write_blob(b"hello").unwrap(), d);
    let mut w = s.writer(Some((&d, 5))).unwrap();
    w.write_all(b"hello").unwrap();
    assert_eq!(w.commit().unwrap(), d);
    assert_eq!(s.list().unwrap().len(), 1);
    assert_eq!(s.ingest_count(), 0);
}

#[test]
fn missing_blob_is_not_found() {
    let (_dir, s) = store();
    let d = Digest::of(b"absent");
    assert!(!s.contains(&d));
    assert_eq!(s.size(&d), None);
    assert!(s.read_blob(&d).unwrap_err().is_not_found());
    assert!(s.open_blob(&d).unwrap_err().is_not_found());
    assert!(s.delete(&d).unwrap_err().is_not_found());
}

#[test]
fn wrong_digest_is_refused_and_leaves_nothing() {
    let (_dir, s) = store();
    let claimed = Digest::of(b"good");
    let mut w = s.writer(Some((&claimed, 4))).unwrap();
    w.write_all(b"evil").unwrap();
    let err = w.commit().unwrap_err();
    assert!(matches!(err, ContentError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains(claimed.as_str()));
    assert!(!s.contains(&claimed));
    assert!(s.list().unwrap().is_empty());
    assert_eq!(s.ingest_count(), 0);
}

#[test]
fn too_many_bytes_are_refused_as_they_arrive() {
    let (_dir, s) = store();
    let d = Digest::of(b"abc");
    let mut w = s.writer(Some((&d, 3))).unwrap();
    w.write_all(b"ab").unwrap();
    let err = w.write_all(b"cd").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert_eq!(w.written(), 2, "the overflowing chunk was not written");
    let err = w.commit().unwrap_err();
    assert!(
        matches!(err, ContentError::SizeMismatch { expected: 3, .. }),
        "{err}"
    );
    assert!(s.list().unwrap().is_empty());
    assert_eq!(s.ingest_count(), 0);
}

#[test]
fn too_few_bytes_are_refused() {
    let (_dir, s) = store();
    let d = Digest::of(b"abc");
    let mut w = s.writer(Some((&d, 3))).unwrap();
    w.write_all(b"ab").unwrap();
    let err = w.commit().unwrap_err();
    assert!(
        matches!(
            err,
            ContentError::SizeMismatch {
                expected: 3,
                actual: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(!s.contains(&d));
    assert_eq!(s.ingest_count(), 0);
}

#[test]
fn dropped_writer_leaves_no_temp_file() {
    let (_dir, s) = store();
    let mut w = s.writer(None).unwrap();
    w.write_all(b"partial").unwrap();
    assert_eq!(s.ingest_count(), 1);
    drop(w);
    assert_eq!(s.ingest_count(), 0);
    assert!(s.list().unwrap().is_empty());
}

#[test]
fn concurrent_writers_of_one_digest_agree() {
    let (_dir, s) = store();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let d = Digest::of(&data);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let mut w = s.writer(Some((&d, data.len() as u64))).unwrap();
                for chunk in data.chunks(7_000) {
                    w.write_all(chunk).unwrap();
                }
                assert_eq!(w.commit().unwrap(), d);
            });
        }
    });
    assert_eq!(s.list().unwrap(), vec![d.clone()]);
    s.verify(&d).unwrap();
    assert_eq!(s.ingest_count(), 0);
}

#[test]
fn gc_removes_unreferenced_blobs_and_stale_ingest_only() {
    let (_dir, s) = store();
    let keep = s.write_blob(b"keep").unwrap();
    let drop_me = s.write_blob(b"drop").unwrap();
    // A live writer: its temp file must survive gc.
    let mut live = s.writer(None).unwrap();
    live.write_all(b"in progress").unwrap();
    // A stale ingest file (as a crashed writer leaves it): nobody holds its lock.
    let stale = s.root().join("ingest/stale-1");
    std::fs::write(&stale, b"junk").unwrap();
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(old)
        .unwrap();

    let removed = s.gc(&HashSet::from([keep.clone()])).unwrap();
    assert_eq!(removed, vec![drop_me.clone()]);
    assert!(s.contains(&keep));
    assert!(!s.contains(&drop_me));
    assert!(!stale.exists(), "stale ingest file removed");
    assert_eq!(s.ingest_count(), 1, "the live writer's file survives");
    assert_eq!(live.commit().unwrap(), Digest::of(b"in progress"));
}

#[test]
fn descriptor_serializes_with_oci_field_names() {
    let d = Descriptor::new(
        berth_content::media_types::OCI_LAYER_GZIP,
        Digest::of(b"x"),
        1,
    );
    let json = serde_json::to_string(&d).unwrap();
    assert!(json.contains("\"mediaType\""), "{json}");
    assert!(!json.contains("platform"), "{json}");
    let with_platform = r#"{"mediaType":"m","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0,
        "platform":{"architecture":"arm","os":"linux","variant":"v7","os.features":["x"]}}"#;
    let parsed: Descriptor = serde_json::from_str(with_platform).unwrap();
    let p = parsed.platform.unwrap();
    assert_eq!(p.variant.as_deref(), Some("v7"));
    assert_eq!(p.os_features, vec!["x".to_owned()]);
    let bad = with_platform.replace("sha256:e3b0", "sha256:../x");
    assert!(serde_json::from_str::<Descriptor>(&bad).is_err());
}

/// Environment variable telling the re-executed test binary to act as a writer that gets
/// killed.
const CHILD_ENV: &str = "BERTH_CONTENT_KILL_CHILD_STORE";

#[test]
fn kill_child_writer() {
    // Only does something when re-executed by `kill_9_mid_write_leaves_no_blob`.
    let Ok(root) = std::env::var(CHILD_ENV) else {
        return;
    };
    let s = ContentStore::open(std::path::Path::new(&root)).unwrap();
    let data = vec![7u8; 1 << 20];
    let d = Digest::of(&data);
    let mut w = s.writer(Some((&d, data.len() as u64))).unwrap();
    w.write_all(&data[..1 << 19]).unwrap();
    w.flush().unwrap();
    std::fs::write(std::path::Path::new(&root).join("child-ready"), b"").unwrap();
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn kill_9_mid_write_leaves_no_blob() {
    let (dir, s) = store();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "kill_child_writer", "--nocapture"])
        .env(CHILD_ENV, s.root())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ready = s.root().join("child-ready");
    for _ in 0..600 {
        if ready.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(ready.exists(), "child writer never got going");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let d = Digest::of(&vec![7u8; 1 << 20]);
    assert!(!s.contains(&d), "no blob under a valid name");
    assert!(s.list().unwrap().is_empty());
    assert_eq!(s.ingest_count(), 1, "the half-written temp file is left");
    assert_eq!(s.remove_stale_ingest(Duration::ZERO).unwrap(), 1);
    assert_eq!(s.ingest_count(), 0);
    drop(dir);
}
