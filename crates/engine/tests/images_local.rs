//! ImageService against a temp data root: load a busybox docker-archive, list, inspect,
//! tag, history, save → load round trip, delete/untag semantics and errors, prune, commit.
#![cfg(test)]

use std::sync::{Arc, Mutex};

use berth_api_server::{ImageDeleteOptions, ImageListOptions};
use berth_api_types::{EventMessage, Filters, JsonMessage};
use berth_engine::error::ErrorKind;
use berth_engine::images::{EventFn, ImageService, ImageUser, ImageUsers};
use berth_registry::RegistryConfig;
use berth_testkit::{image_tar, require_root, TempDir};

struct Fixture {
    _dir: TempDir,
    svc: ImageService,
    users: Arc<Users>,
    events: Arc<Mutex<Vec<EventMessage>>>,
    archive: image_tar::ArchiveInfo,
}

/// The containers using images, as a test sets them.
type UserFn = Box<dyn Fn(&str) -> Option<ImageUser> + Send + Sync>;

#[derive(Default)]
struct Users(Mutex<Option<UserFn>>);

impl ImageUsers for Users {
    fn user_of(&self, image_id: &str) -> Option<ImageUser> {
        self.0.lock().unwrap().as_ref().and_then(|f| f(image_id))
    }
}

impl Users {
    fn set(&self, f: impl Fn(&str) -> Option<ImageUser> + Send + Sync + 'static) {
        *self.0.lock().unwrap() = Some(Box::new(f));
    }
}

fn fixture() -> Fixture {
    let dir = TempDir::new("imgsvc");
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let f: EventFn = Arc::new(move |e| sink.lock().unwrap().push(e));
    let users = Arc::new(Users::default());
    let svc = ImageService::new(
        &dir.path().join("root"),
        RegistryConfig::default(),
        f,
        users.clone(),
    )
    .unwrap();
    let archive = image_tar::busybox_archive(&dir.path().join("bb.tar"), &["busybox:latest"]);
    Fixture {
        _dir: dir,
        svc,
        users,
        events,
        archive,
    }
}

async fn drain(mut rx: tokio::sync::mpsc::Receiver<JsonMessage>) -> Vec<JsonMessage> {
    let mut out = Vec::new();
    while let Some(m) = rx.recv().await {
        out.push(m);
    }
    out
}

async fn load(f: &Fixture, path: &std::path::Path) -> Vec<String> {
    drain(f.svc.load_file(path).await.unwrap())
        .await
        .into_iter()
        .filter_map(|m| m.stream)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn load_list_inspect_history_tag() {
    require_root!();
    let f = fixture();
    assert_eq!(
        load(&f, &f.archive.path).await,
        vec!["Loaded image: busybox:latest\n"]
    );
    let rec = f.svc.resolve("busybox").unwrap();
    assert_eq!(rec.id.to_string(), f.archive.image_id);
    assert_eq!(
        f.svc.resolve(&f.archive.image_id[7..19]).unwrap().id,
        rec.id
    );

    let list = f.svc.image_list(ImageListOptions::default()).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].repo_tags, vec!["busybox:latest"]);
    assert_eq!(list[0].id, f.archive.image_id);
    assert!(list[0].size > 500_000, "{}", list[0].size);
    assert_eq!(list[0].created, 1_704_164_645); // 2024-01-02T03:04:05Z

    let v = serde_json::to_value(f.svc.image_inspect("busybox:latest").await.unwrap()).unwrap();
    for key in [
        "Id",
        "RepoTags",
        "RepoDigests",
        "Parent",
        "Comment",
        "Created",
        "Config",
        "Architecture",
        "Os",
        "Size",
        "RootFS",
        "GraphDriver",
        "Metadata",
    ] {
        assert!(v.get(key).is_some(), "inspect lacks {key}: {v}");
    }
    assert_eq!(v["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(v["RootFS"]["Type"], "layers");
    assert_eq!(v["RootFS"]["Layers"][0], f.archive.diff_ids[0]);
    assert_eq!(v["GraphDriver"]["Name"], "overlay2");
    assert!(
        std::path::Path::new(v["GraphDriver"]["Data"]["UpperDir"].as_str().unwrap())
            .join("bin/busybox")
            .is_file()
    );
    assert_eq!(v["Os"], "linux");

    let hist = f.svc.image_history("busybox").await.unwrap();
    assert_eq!(hist.len(), 1);
    assert_eq!(hist[0].id, f.archive.image_id);
    assert_eq!(hist[0].tags, vec!["busybox:latest"]);
    assert_eq!(hist[0].created_by, "berth-testkit layer 0");
    assert_eq!(
        u64::try_from(hist[0].size).expect("a size"),
        f.svc.resolve("busybox").unwrap().size()
    );

    f.svc
        .image_tag("busybox", "127.0.0.1:5000/me/bb", Some("v1".into()))
        .await
        .unwrap();
    let tags = f.svc.image_inspect("busybox").await.unwrap().repo_tags;
    assert_eq!(tags, vec!["127.0.0.1:5000/me/bb:v1", "busybox:latest"]);
    let err = f
        .svc
        .image_tag("busybox", "Bad/Name", None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err:?}");
    let err = f.svc.image_tag("nosuch", "x", None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);

    let mut filters = Filters::default();
    filters.add("reference", "busybox");
    let only = f
        .svc
        .image_list(ImageListOptions {
            filters,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(only[0].repo_tags, vec!["busybox:latest"]);
    let mut bad = Filters::default();
    bad.add("color", "red");
    let err = f
        .svc
        .image_list(ImageListOptions {
            filters: bad,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);

    let actions: Vec<String> = f
        .events
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.action.clone())
        .collect();
    assert!(actions.contains(&"load".to_string()) && actions.contains(&"tag".to_string()));
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_images_are_docker_404s() {
    let f = fixture();
    let err = f.svc.resolve("busybox").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.to_string(), "No such image: busybox:latest");
    let err = f.svc.image_inspect("nosuch:1").await.unwrap_err();
    assert_eq!(err.to_string(), "No such image: nosuch:1");
    let err = f
        .svc
        .image_delete("nosuch", ImageDeleteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(f.svc.image_save(vec!["nosuch".into()]).await.is_err());
    // A broken archive is refused and loads nothing.
    let bad = f._dir.path().join("bad.tar");
    std::fs::write(&bad, b"not a tar at all").unwrap();
    assert!(f.svc.load_file(&bad).await.is_err());
    assert!(f
        .svc
        .image_list(ImageListOptions::default())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_untags_then_deletes_and_conflicts() {
    require_root!();
    let f = fixture();
    load(&f, &f.archive.path).await;
    f.svc
        .image_tag("busybox", "other", Some("1".into()))
        .await
        .unwrap();
    let id = f.archive.image_id.clone();

    // By id with two tags: must be forced.
    let err = f
        .svc
        .image_delete(&id[7..19], ImageDeleteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err:?}");
    assert!(
        err.to_string().contains("must be forced"),
        "{}",
        err.to_string()
    );

    // By name with another tag left: only untags.
    let items = f
        .svc
        .image_delete("other:1", ImageDeleteOptions::default())
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_string(&items).unwrap(),
        r#"[{"Untagged":"other:1"}]"#
    );
    assert!(f.svc.resolve(&id).is_ok());

    // In use by a container: 409 unless forced.
    let used = id.clone();
    f.users.set(move |i| {
        (i == used).then(|| ImageUser {
            container_id: String::new(),
            running: false,
        })
    });
    let err = f
        .svc
        .image_delete("busybox", ImageDeleteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    f.users.set(|_| None);

    let chain = f
        .svc
        .resolve("busybox")
        .unwrap()
        .top_chain_id()
        .unwrap()
        .clone();
    assert!(f.svc.images().snapshots.has_layer(chain.as_str()));
    let items = f
        .svc
        .image_delete("busybox", ImageDeleteOptions::default())
        .await
        .unwrap();
    assert_eq!(items[0].untagged.as_deref(), Some("busybox:latest"));
    assert!(items
        .iter()
        .any(|i| i.deleted.as_deref() == Some(id.as_str())));
    assert!(f.svc.resolve(&id).is_err());
    assert!(!f.svc.images().snapshots.has_layer(chain.as_str()));
    assert!(!f
        .svc
        .images()
        .content
        .contains(&berth_content::Digest::parse(&id).unwrap()));
}

#[tokio::test(flavor = "multi_thread")]
async fn save_load_round_trip_and_prune() {
    require_root!();
    let f = fixture();
    load(&f, &f.archive.path).await;
    let mut rx = f.svc.image_save(vec!["busybox".into()]).await.unwrap();
    let mut tar = Vec::new();
    while let Some(chunk) = rx.recv().await {
        tar.extend_from_slice(&chunk.unwrap());
    }
    let names: Vec<String> = tar::Archive::new(&tar[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(names.contains(&"manifest.json".to_string()), "{names:?}");
    assert!(names.contains(&"index.json".to_string()), "{names:?}");

    // Load the saved tar into a second, empty service: same id and tag.
    let dir2 = TempDir::new("imgsvc2");
    let svc2 = ImageService::new(
        dir2.path(),
        RegistryConfig::default(),
        Arc::new(|_| {}),
        Arc::new(berth_engine::images::NoUsers),
    )
    .unwrap();
    let saved = dir2.path().join("saved.tar");
    std::fs::write(&saved, &tar).unwrap();
    let lines: Vec<String> = drain(svc2.load_file(&saved).await.unwrap())
        .await
        .into_iter()
        .filter_map(|m| m.stream)
        .collect();
    assert_eq!(lines, vec!["Loaded image: busybox:latest\n"]);
    assert_eq!(
        svc2.resolve("busybox").unwrap().id.to_string(),
        f.archive.image_id
    );

    // Untagged image: dangling, pruned by the default prune; tagged ones stay.
    svc2.image_delete(
        "busybox",
        ImageDeleteOptions {
            noprune: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let lines: Vec<String> = drain(svc2.load_file(&saved).await.unwrap())
        .await
        .into_iter()
        .filter_map(|m| m.stream)
        .collect();
    assert_eq!(lines, vec!["Loaded image: busybox:latest\n"]);
    svc2.images()
        .store
        .untag("docker.io/library/busybox:latest")
        .unwrap();
    let mut dangling = Filters::default();
    dangling.add("dangling", "true");
    let listed = svc2
        .image_list(ImageListOptions {
            filters: dangling,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].repo_tags.is_empty());
    let pruned = f.svc.image_prune(Filters::default()).await.unwrap();
    assert!(
        pruned.images_deleted.is_none(),
        "tagged image pruned: {pruned:?}"
    );
    let pruned = svc2.image_prune(Filters::default()).await.unwrap();
    let deleted = pruned.images_deleted.unwrap();
    assert!(deleted
        .iter()
        .any(|d| d.deleted.as_deref() == Some(f.archive.image_id.as_str())));
    assert!(pruned.space_reclaimed > 500_000);
    assert!(svc2.resolve(&f.archive.image_id).is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn commit_layer_on_top_of_an_image() {
    require_root!();
    let f = fixture();
    load(&f, &f.archive.path).await;
    let diff = f._dir.path().join("diff");
    std::fs::create_dir_all(diff.join("srv")).unwrap();
    std::fs::write(diff.join("srv/hello.txt"), "hello\n").unwrap();
    let tar_path = f._dir.path().join("diff.tar");
    std::fs::write(&tar_path, image_tar::layer_tar(&diff)).unwrap();
    let config: berth_api_types::ContainerConfig = serde_json::from_value(
        serde_json::json!({"Cmd": ["sh"], "Env": ["A=1"], "Image": "busybox"}),
    )
    .unwrap();
    let opts = berth_api_server::CommitOptions {
        container: "c1".into(),
        repo: Some("mine/app".into()),
        tag: Some("v2".into()),
        comment: Some("added hello".into()),
        author: Some("tester".into()),
        changes: vec![
            "CMD [\"cat\", \"/srv/hello.txt\"]".into(),
            "WORKDIR /srv".into(),
        ],
        ..Default::default()
    };
    let id = f
        .svc
        .commit_layer(&tar_path, Some("busybox"), Some(config), &opts)
        .await
        .unwrap();
    assert!(id.starts_with("sha256:") && id != f.archive.image_id);
    let v = f.svc.image_inspect("mine/app:v2").await.unwrap();
    assert_eq!(v.id, id);
    assert_eq!(v.comment, "added hello");
    assert_eq!(v.author, "tester");
    assert_eq!(
        v.config.cmd.as_ref().unwrap().0,
        vec!["cat", "/srv/hello.txt"]
    );
    assert_eq!(v.config.working_dir, "/srv");
    assert_eq!(v.config.env, Some(vec!["A=1".to_string()]));
    assert_eq!(v.root_fs.layers.len(), 2);
    assert_eq!(v.root_fs.layers[0], f.archive.diff_ids[0]);
    let upper = std::path::PathBuf::from(&v.graph_driver.data["UpperDir"]);
    assert_eq!(
        std::fs::read_to_string(upper.join("srv/hello.txt")).unwrap(),
        "hello\n"
    );
    assert!(std::path::Path::new(&v.graph_driver.data["LowerDir"])
        .join("bin/busybox")
        .is_file());
    let hist = f.svc.image_history("mine/app:v2").await.unwrap();
    assert_eq!(hist.len(), 2);
    assert_eq!(hist[0].id, id);
    assert_eq!(hist[0].comment, "added hello");
    assert_eq!(hist[0].size, 6); // one 6-byte file (directories count 0)
                                 // The older step belongs to the parent image, which is stored: its id and tags.
    assert_eq!(hist[1].id, f.archive.image_id);
    assert_eq!(hist[1].tags, vec!["busybox:latest"]);
    assert_eq!(v.parent, f.archive.image_id);
    assert!(v.metadata.last_tag_time.ends_with('Z'), "{:?}", v.metadata);
    // The parent has a dependent child: not deletable by id, only untagged by name.
    let err = f
        .svc
        .image_delete(
            &f.archive.image_id,
            ImageDeleteOptions {
                force: true,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(
        err.to_string().contains("dependent child images"),
        "{}",
        err.to_string()
    );
    // A running container's image cannot be deleted even with force; a stopped one's can.
    let child = id.clone();
    f.users.set(move |i| {
        (i == child).then(|| ImageUser {
            container_id: "c0ffee".repeat(10),
            running: true,
        })
    });
    let err = f
        .svc
        .image_delete(
            "mine/app:v2",
            ImageDeleteOptions {
                force: true,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("cannot be forced")
            && err.to_string().contains("running container c0ffeec0ffee"),
        "{}",
        err.to_string()
    );
    f.users.set(|_| None);
    // Deleting the commit keeps busybox's shared layer.
    f.svc
        .image_delete("mine/app:v2", ImageDeleteOptions::default())
        .await
        .unwrap();
    assert!(f.svc.resolve("busybox").is_ok());
    let chain = f
        .svc
        .resolve("busybox")
        .unwrap()
        .top_chain_id()
        .unwrap()
        .clone();
    assert!(f.svc.images().snapshots.has_layer(chain.as_str()));
    // A bad --change is a 400 and stores nothing.
    let bad = berth_api_server::CommitOptions {
        changes: vec!["RUN true".into()],
        ..Default::default()
    };
    let err = f
        .svc
        .commit_layer(&tar_path, Some("busybox"), None, &bad)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        f.svc
            .image_list(ImageListOptions::default())
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn import_rootfs_tarball() {
    require_root!();
    let f = fixture();
    let rootfs = f._dir.path().join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    berth_testkit::busybox::make_rootfs(&rootfs);
    let tar_path = f._dir.path().join("rootfs.tar");
    std::fs::write(&tar_path, image_tar::layer_tar(&rootfs)).unwrap();
    let opts = berth_api_server::ImageCreateOptions {
        from_src: Some("-".into()),
        repo: Some("imported".into()),
        tag: Some("1".into()),
        message: Some("from a tarball".into()),
        changes: vec!["CMD [\"sh\"]".into()],
        ..Default::default()
    };
    let msgs = drain(f.svc.import_file(&tar_path, opts).await.unwrap()).await;
    let id = msgs[0].status.clone().unwrap();
    assert!(id.starts_with("sha256:"), "{msgs:?}");
    let v = f.svc.image_inspect("imported:1").await.unwrap();
    assert_eq!(v.id, id);
    assert_eq!(v.comment, "from a tarball");
    assert_eq!(v.config.cmd.as_ref().unwrap().0, vec!["sh"]);
    assert_eq!(
        v.root_fs.layers,
        vec![image_tar::sha256_digest(&std::fs::read(&tar_path).unwrap())]
    );
    let hist = f.svc.image_history("imported:1").await.unwrap();
    assert_eq!(hist[0].comment, "from a tarball");
}
