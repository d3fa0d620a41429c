//! The real docker CLI (v28) driving the image endpoints of [`ImageService`] through the
//! API server (a test engine that serves only images): load, images, tag, history, image
//! inspect, save, push/pull via a local registry, rmi (untag, delete, 404), prune.
#![cfg(test)]

mod images_support;

use std::path::PathBuf;
use std::process::Output;
use std::sync::Arc;

use berth_api_server::{bind_unix, ApiServer, ServerConfig};
use berth_engine::images::ImageService;
use berth_registry::RegistryConfig;
use berth_testkit::registry::{DockerRegistry, RegistryOptions, REGISTRY_BIN};
use berth_testkit::{image_tar, require_program, require_root, TempDir};

struct Daemon {
    dir: TempDir,
    socket: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

fn start() -> Daemon {
    let dir = TempDir::new("imgcli");
    let socket = dir.path().join("api.sock");
    let svc = ImageService::new(
        &dir.path().join("root"),
        RegistryConfig::default(),
        Arc::new(|_| {}),
        Arc::new(berth_engine::images::NoUsers),
    )
    .unwrap();
    let engine = Arc::new(images_support::ImagesOnly(Arc::new(svc)));
    let listener = bind_unix(&socket, 0o660).unwrap();
    let server = ApiServer::new(engine, ServerConfig::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = server
            .serve_unix(listener, async move {
                let _ = stopped.await;
            })
            .await;
    });
    Daemon {
        dir,
        socket,
        stop: Some(stop),
    }
}

async fn docker(d: &Daemon, args: &[&str]) -> Output {
    let host = format!("unix://{}", d.socket.display());
    let config = d.dir.path().join("docker-config");
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new("docker")
            .arg("-H")
            .arg(&host)
            .args(&args)
            .env("DOCKER_CONFIG", &config)
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env("DOCKER_CLI_HINTS", "false")
            .output()
            .expect("run docker")
    })
    .await
    .unwrap()
}

async fn ok(d: &Daemon, args: &[&str]) -> String {
    let out = docker(d, args).await;
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_docker_cli_image_commands() {
    require_root!();
    require_program!("docker");
    require_program!(REGISTRY_BIN);
    let reg = DockerRegistry::start(&RegistryOptions::default());
    let d = start();
    let archive = image_tar::busybox_archive(&d.dir.path().join("bb.tar"), &["busybox:latest"]);
    let tar = archive.path.display().to_string();
    let short = &archive.image_id[7..19];

    assert!(ok(&d, &["load", "-i", &tar])
        .await
        .contains("Loaded image: busybox:latest"));
    let images = ok(
        &d,
        &["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"],
    )
    .await;
    assert_eq!(images.trim(), format!("busybox:latest {short}"));

    let repo = format!("{}/cli/bb", reg.host());
    ok(&d, &["tag", "busybox", &format!("{repo}:v1")]).await;
    let tags = ok(&d, &["images", "--format", "{{.Repository}}:{{.Tag}}"]).await;
    assert!(tags.contains(&format!("{repo}:v1")), "{tags}");

    let history = ok(&d, &["history", "--no-trunc", "busybox"]).await;
    assert!(history.contains("berth-testkit layer 0"), "{history}");
    assert!(history.contains(&archive.image_id), "{history}");

    let inspect = ok(
        &d,
        &[
            "image",
            "inspect",
            "--format",
            "{{.Id}} {{.Os}} {{json .Config.Cmd}} {{.RootFS.Type}}",
            "busybox",
        ],
    )
    .await;
    assert_eq!(
        inspect.trim(),
        format!("{} linux [\"sh\"] layers", archive.image_id)
    );

    let saved = d.dir.path().join("saved.tar");
    ok(&d, &["save", "-o", &saved.display().to_string(), "busybox"]).await;
    let names: Vec<String> = tar::Archive::new(std::fs::File::open(&saved).unwrap())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(names.contains(&"manifest.json".to_string()), "{names:?}");

    let push = ok(&d, &["push", &format!("{repo}:v1")]).await;
    assert!(push.contains("v1: digest: sha256:"), "{push}");

    let rmi = ok(&d, &["rmi", &format!("{repo}:v1")]).await;
    assert!(rmi.contains(&format!("Untagged: {repo}:v1")), "{rmi}");
    let rmi = ok(&d, &["rmi", "busybox"]).await;
    assert!(rmi.contains("Untagged: busybox:latest"), "{rmi}");
    assert!(
        rmi.contains(&format!("Deleted: {}", archive.image_id)),
        "{rmi}"
    );
    assert_eq!(ok(&d, &["images", "-q"]).await.trim(), "");

    let pull = ok(&d, &["pull", &format!("{repo}:v1")]).await;
    assert!(pull.contains("Pull complete"), "{pull}");
    assert!(
        pull.contains(&format!("Status: Downloaded newer image for {repo}:v1")),
        "{pull}"
    );
    let pull = ok(&d, &["pull", &format!("{repo}:v1")]).await;
    assert!(pull.contains("Image is up to date"), "{pull}");

    let missing = docker(&d, &["rmi", "nosuch"]).await;
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("No such image: nosuch:latest"), "{err}");
    let missing = docker(&d, &["pull", &format!("{}/no/such:1", reg.host())]).await;
    assert!(!missing.status.success());

    // Load the saved archive back, then prune the dangling copy away.
    let load = ok(&d, &["load", "-i", &saved.display().to_string()]).await;
    assert!(load.contains("Loaded image: busybox:latest"), "{load}");
    ok(&d, &["rmi", &format!("{repo}:v1")]).await;
    ok(&d, &["rmi", "busybox"]).await;
    ok(&d, &["load", "-i", &saved.display().to_string()]).await;
    ok(&d, &["tag", "busybox", "keep:1"]).await;
    ok(&d, &["rmi", "busybox"]).await;
    let prune = ok(&d, &["image", "prune", "-f"]).await;
    assert!(prune.contains("Total reclaimed space"), "{prune}");
    let left = ok(&d, &["images", "--format", "{{.Repository}}:{{.Tag}}"]).await;
    assert_eq!(left.trim(), "keep:1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_docker_cli_import_and_login() {
    require_root!();
    require_program!("docker");
    require_program!(REGISTRY_BIN);
    require_program!("htpasswd");
    let d = start();
    let rootfs = d.dir.path().join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    berth_testkit::busybox::make_rootfs(&rootfs);
    let tar = d.dir.path().join("rootfs.tar");
    std::fs::write(&tar, image_tar::layer_tar(&rootfs)).unwrap();
    let id = ok(
        &d,
        &[
            "import",
            "--change",
            "CMD [\"sh\"]",
            "-m",
            "imported by test",
            &tar.display().to_string(),
            "imported:1",
        ],
    )
    .await;
    assert!(id.trim().starts_with("sha256:"), "{id}");
    let inspect = ok(
        &d,
        &[
            "image",
            "inspect",
            "--format",
            "{{.Id}} {{.Comment}} {{json .Config.Cmd}}",
            "imported:1",
        ],
    )
    .await;
    assert_eq!(
        inspect.trim(),
        format!("{} imported by test [\"sh\"]", id.trim())
    );

    let reg = DockerRegistry::start(&RegistryOptions {
        htpasswd: Some(("alice".into(), "s3cret".into())),
        ..Default::default()
    });
    let login = |password: &'static str| {
        let host = format!("unix://{}", d.socket.display());
        let config = d.dir.path().join("docker-config");
        let server = reg.host();
        tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let mut child = std::process::Command::new("docker")
                .args([
                    "-H",
                    &host,
                    "login",
                    "-u",
                    "alice",
                    "--password-stdin",
                    &server,
                ])
                .env("DOCKER_CONFIG", &config)
                .env_remove("DOCKER_HOST")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(password.as_bytes())
                .unwrap();
            child.wait_with_output().unwrap()
        })
    };
    let target = format!("{}/private/img:1", reg.host());
    ok(&d, &["tag", "imported:1", &target]).await;
    let denied = docker(&d, &["push", &target]).await;
    let out = String::from_utf8_lossy(&denied.stdout).into_owned()
        + &String::from_utf8_lossy(&denied.stderr);
    assert!(
        !denied.status.success() && out.contains("unauthorized"),
        "{out}"
    );
    let bad = login("wrong").await.unwrap();
    assert!(!bad.status.success());
    let good = login("s3cret").await.unwrap();
    assert!(
        String::from_utf8_lossy(&good.stdout).contains("Login Succeeded"),
        "{}{}",
        String::from_utf8_lossy(&good.stdout),
        String::from_utf8_lossy(&good.stderr)
    );
    // The CLI stored the credentials and sends them with the push (X-Registry-Auth).
    let push = ok(&d, &["push", &target]).await;
    assert!(push.contains("1: digest: sha256:"), "{push}");
    ok(&d, &["rmi", &target]).await;
    let pull = ok(&d, &["pull", &target]).await;
    assert!(pull.contains("Status: "), "{pull}");
    ok(&d, &["image", "inspect", &target]).await;
}
