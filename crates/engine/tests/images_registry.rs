//! ImageService against a real local `docker-registry`: push then pull with Docker's
//! progress lines, up-to-date pulls, unknown tags, and `/auth` with htpasswd.
#![cfg(test)]

use std::sync::Arc;

use berth_api_types::query::ImageCreateOptions;
use berth_api_types::{AuthConfig, JsonMessage};
use berth_engine::error::{EngineError, ErrorKind};
use berth_engine::images::ImageService;
use berth_registry::RegistryConfig;
use berth_testkit::registry::{DockerRegistry, RegistryOptions, REGISTRY_BIN};
use berth_testkit::{image_tar, require_program, require_root, TempDir};

async fn drain(mut rx: tokio::sync::mpsc::Receiver<JsonMessage>) -> Vec<JsonMessage> {
    let mut out = Vec::new();
    while let Some(m) = rx.recv().await {
        out.push(m);
    }
    out
}

fn statuses(msgs: &[JsonMessage]) -> Vec<String> {
    msgs.iter().filter_map(|m| m.status.clone()).collect()
}

fn service(dir: &TempDir, name: &str) -> ImageService {
    ImageService::new(
        &dir.path().join(name),
        RegistryConfig::default(),
        Arc::new(|_| {}),
        Arc::new(berth_engine::images::NoUsers),
    )
    .unwrap()
}

async fn pull(svc: &ImageService, image: &str, tag: &str) -> Result<Vec<JsonMessage>, EngineError> {
    let opts = ImageCreateOptions {
        from_image: Some(image.into()),
        tag: Some(tag.into()),
        ..Default::default()
    };
    let rx = svc
        .image_create(None, opts, Box::new(tokio::io::empty()))
        .await?;
    Ok(drain(rx).await)
}

#[tokio::test(flavor = "multi_thread")]
async fn peer_push_then_pull_with_progress() {
    require_root!();
    require_program!(REGISTRY_BIN);
    let reg = DockerRegistry::start(&RegistryOptions::default());
    let dir = TempDir::new("imgreg");
    let a = service(&dir, "a");
    let archive = image_tar::busybox_archive(&dir.path().join("bb.tar"), &["busybox:latest"]);
    drain(a.load_file(&archive.path).await.unwrap()).await;
    let repo = format!("{}/test/bb", reg.host());
    a.image_tag("busybox", &repo, Some("v1".into()))
        .await
        .unwrap();

    let pushed = drain(a.image_push(None, &repo, Some("v1".into())).await.unwrap()).await;
    assert!(pushed.iter().all(|m| m.error.is_none()), "{pushed:?}");
    let st = statuses(&pushed);
    assert_eq!(st[0], format!("The push refers to repository [{repo}]"));
    assert!(st.iter().any(|s| s == "Preparing"), "{st:?}");
    assert!(st.iter().any(|s| s == "Pushed"), "{st:?}");
    let digest_line = st
        .iter()
        .find(|s| s.starts_with("v1: digest: sha256:"))
        .expect("digest line");
    let digest = digest_line.split_whitespace().nth(2).unwrap().to_string();
    let aux = pushed.iter().find_map(|m| m.aux.clone()).expect("aux");
    assert_eq!(aux["Digest"], digest.as_str());
    assert_eq!(aux["Tag"], "v1");
    let layer_id = &archive.diff_ids[0][7..19];
    assert!(
        pushed.iter().any(|m| m.id.as_deref() == Some(layer_id)),
        "{pushed:?}"
    );

    // Pushing again: the layer is there already.
    let again = statuses(&drain(a.image_push(None, &repo, Some("v1".into())).await.unwrap()).await);
    assert!(
        again.iter().any(|s| s == "Layer already exists"),
        "{again:?}"
    );

    // A fresh service pulls it with Docker's lines.
    let b = service(&dir, "b");
    let msgs = pull(&b, &repo, "v1").await.unwrap();
    assert!(msgs.iter().all(|m| m.error.is_none()), "{msgs:?}");
    assert_eq!(msgs[0].status.as_deref(), Some("Pulling from test/bb"));
    assert_eq!(msgs[0].id.as_deref(), Some("v1"));
    let st = statuses(&msgs);
    for want in [
        "Pulling fs layer",
        "Downloading",
        "Download complete",
        "Pull complete",
    ] {
        assert!(st.iter().any(|s| s == want), "no {want:?} in {st:?}");
    }
    let dl = msgs
        .iter()
        .find(|m| m.status.as_deref() == Some("Downloading"))
        .unwrap();
    let detail = dl.progress_detail.as_ref().unwrap();
    assert!(detail.total.unwrap() > 0 && detail.current.unwrap() <= detail.total.unwrap());
    assert!(dl.progress.as_ref().unwrap().starts_with('['));
    assert_eq!(dl.id.as_deref(), Some(layer_id));
    assert_eq!(st[st.len() - 2], format!("Digest: {digest}"));
    assert_eq!(
        st[st.len() - 1],
        format!("Status: Downloaded newer image for {repo}:v1")
    );
    let inspect = b.image_inspect(&format!("{repo}:v1")).await.unwrap();
    assert_eq!(inspect.id, archive.image_id);
    assert_eq!(inspect.repo_digests, vec![format!("{repo}@{digest}")]);
    // Also reachable by digest.
    assert_eq!(
        b.resolve(&format!("{repo}@{digest}"))
            .unwrap()
            .id
            .to_string(),
        archive.image_id
    );

    let st = statuses(&pull(&b, &repo, "v1").await.unwrap());
    assert_eq!(
        st.last().unwrap(),
        &format!("Status: Image is up to date for {repo}:v1")
    );

    // Unknown tag / repository: an HTTP error before any output, nothing stored.
    let err = pull(&b, &repo, "nosuch").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");
    let err = pull(&b, &format!("{}/no/such", reg.host()), "latest")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");
    // Pushing a tag that does not exist locally.
    let err = a
        .image_push(None, &repo, Some("v9".into()))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("An image does not exist locally with the tag: {repo}")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn peer_auth_checks_credentials() {
    require_program!(REGISTRY_BIN);
    require_program!("htpasswd");
    let reg = DockerRegistry::start(&RegistryOptions {
        htpasswd: Some(("alice".into(), "s3cret".into())),
        ..Default::default()
    });
    let dir = TempDir::new("imgauth");
    let svc = service(&dir, "root");
    let ok = svc
        .auth(AuthConfig {
            username: "alice".into(),
            password: "s3cret".into(),
            serveraddress: reg.host(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ok.status, "Login Succeeded");
    let err = svc
        .auth(AuthConfig {
            username: "alice".into(),
            password: "wrong".into(),
            serveraddress: format!("http://{}", reg.host()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err:?}");
}

/// A one-endpoint stand-in for a registry's v1 search API on 127.0.0.1; returns its
/// address and the request lines it saw.
fn search_stand_in() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            reader.read_line(&mut first).unwrap();
            loop {
                let mut l = String::new();
                if reader.read_line(&mut l).unwrap() == 0 || l == "\r\n" {
                    break;
                }
            }
            log.lock().unwrap().push(first.trim().to_string());
            let body = r#"{"query":"busy","num_results":2,"results":[
                {"name":"library/busybox","description":"tiny","star_count":10,"is_official":true,"is_automated":false},
                {"name":"someone/busy","description":"","star_count":1,"is_official":false,"is_automated":false}]}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn search_a_registry_with_filters() {
    let (addr, seen) = search_stand_in();
    let dir = TempDir::new("imgsearch");
    let svc = service(&dir, "root");
    let all = svc
        .image_search(
            None,
            berth_api_server::ImageSearchOptions {
                term: format!("{addr}/busy"),
                limit: Some(5),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].name, format!("{addr}/library/busybox"));
    assert!(all[0].is_official);
    assert_eq!(all[0].star_count, 10);
    assert!(
        seen.lock().unwrap()[0].starts_with("GET /v1/search?q=busy&n=5 "),
        "{seen:?}"
    );
    let mut filters = berth_api_types::Filters::default();
    filters.add("stars", "5");
    let starred = svc
        .image_search(
            None,
            berth_api_server::ImageSearchOptions {
                term: format!("{addr}/busy"),
                limit: None,
                filters,
            },
        )
        .await
        .unwrap();
    assert_eq!(starred.len(), 1);
    let mut bad = berth_api_types::Filters::default();
    bad.add("color", "red");
    let err = svc
        .image_search(
            None,
            berth_api_server::ImageSearchOptions {
                term: "busy".into(),
                limit: None,
                filters: bad,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}
