//! A hostile or flaky registry (an in-test stand-in): clear errors, nothing left behind;
//! retries, the bearer-token flow, search.
#![cfg(test)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use berth_content::{media_types as mt, ContentStore, Descriptor, Digest};
use berth_registry::{
    Client, Credentials, ManifestAccept, Reference, RegistryError, StaticCredentials,
};
use berth_testkit::TempDir;
use common::*;

fn store() -> (TempDir, ContentStore) {
    let dir = TempDir::new("hostile");
    let s = ContentStore::open(&dir.path().join("store")).unwrap();
    (dir, s)
}

const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0},"layers":[]}"#;
const INDEX: &str =
    r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;

async fn serve(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> (StandIn, Client) {
    let s = StandIn::start(Arc::new(handler)).await;
    (s, Client::new(fast_config()).unwrap())
}

#[tokio::test]
async fn blob_with_wrong_bytes_is_refused_and_leaves_nothing() {
    let good = b"the real layer".to_vec();
    let desc = Descriptor::new(mt::OCI_LAYER_TAR, Digest::of(&good), good.len() as u64);
    let (_dir, st) = store();
    // Same length, other bytes.
    let (s, c) = serve(|_| Reply::new(200, &[], b"the evil layer")).await;
    let r = Reference::parse(&format!("{}/x/y:1", s.host())).unwrap();
    let err = c.fetch_blob(&r, &desc, &st, None).await.unwrap_err();
    assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains("digest mismatch"), "{err}");
    assert_empty(&st);

    // A Content-Length that disagrees with the descriptor: refused before writing.
    let (s, c) = serve(|_| Reply::new(200, &[], b"short")).await;
    let r = Reference::parse(&format!("{}/x/y:1", s.host())).unwrap();
    let err = c.fetch_blob(&r, &desc, &st, None).await.unwrap_err();
    assert!(matches!(err, RegistryError::SizeMismatch { .. }), "{err}");
    assert_empty(&st);

    // No length announced, more bytes than the descriptor says.
    let (s, c) = serve(|_| Reply::close_delimited(200, &[], &[7u8; 100_000])).await;
    let r = Reference::parse(&format!("{}/x/y:1", s.host())).unwrap();
    let err = c.fetch_blob(&r, &desc, &st, None).await.unwrap_err();
    assert!(matches!(err, RegistryError::SizeMismatch { .. }), "{err}");
    assert_empty(&st);

    // No length announced, fewer bytes.
    let (s, c) = serve(|_| Reply::close_delimited(200, &[], b"the real")).await;
    let r = Reference::parse(&format!("{}/x/y:1", s.host())).unwrap();
    let err = c.fetch_blob(&r, &desc, &st, None).await.unwrap_err();
    assert!(matches!(err, RegistryError::SizeMismatch { .. }), "{err}");
    assert_empty(&st);
}

#[tokio::test]
async fn manifest_digest_mismatch_and_hostile_digest_header() {
    let (s, c) = serve(|_| {
        Reply::new(
            200,
            &[
                ("Content-Type", mt::OCI_MANIFEST),
                ("Docker-Content-Digest", "sha256:../x"),
            ],
            MANIFEST.as_bytes(),
        )
    })
    .await;
    let r = Reference::parse(&format!("{}/x/y:1", s.host())).unwrap();
    let err = c.resolve(&r).await.unwrap_err();
    assert!(err.to_string().contains("invalid digest"), "{err}");

    let wrong = Digest::of(b"other");
    let wrong2 = wrong.clone();
    let (s, c) = serve(move |_| {
        Reply::new(
            200,
            &[
                ("Content-Type", mt::OCI_MANIFEST),
                ("Docker-Content-Digest", wrong2.as_str()),
            ],
            MANIFEST.as_bytes(),
        )
    })
    .await;
    let r = Reference::parse(&format!("{}/x/y:1", s.host())).unwrap();
    let err = c.resolve(&r).await.unwrap_err();
    assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err}");
    // Asked by digest: the bytes must hash to it whatever the headers say.
    let err = c.resolve(&r.with_digest(wrong)).await.unwrap_err();
    assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err}");
    // A reference with a hostile digest never reaches the network.
    let err = Reference::parse(&format!("{}/x/y@sha256:../x", s.host())).unwrap_err();
    assert!(err.to_string().contains("invalid digest"), "{err}");
}

#[tokio::test]
async fn index_where_a_manifest_was_asked_and_content_type_mismatch() {
    let (s, c) =
        serve(|_| Reply::new(200, &[("Content-Type", mt::OCI_INDEX)], INDEX.as_bytes())).await;
    let r = Reference::parse(&format!("{}/x/y:1", s.host())).unwrap();
    let d = Digest::of(INDEX.as_bytes());
    let err = c
        .fetch_manifest(
            &r,
            &d,
            Some(INDEX.len() as u64),
            ManifestAccept::ImageManifest,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("got an index"), "{err}");
    // As a tag, an index is fine.
    assert!(c.resolve(&r).await.unwrap().is_index());
    // Size from a descriptor must match.
    let err = c
        .fetch_manifest(&r, &d, Some(3), ManifestAccept::Any)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::SizeMismatch { .. }), "{err}");

    let (s, c) = serve(|_| {
        Reply::new(
            200,
            &[("Content-Type", mt::DOCKER_MANIFEST)],
            MANIFEST.as_bytes(),
        )
    })
    .await;
    let r = Reference::parse(&format!("{}/x/y:1", s.host())).unwrap();
    let err = c.resolve(&r).await.unwrap_err();
    assert!(
        err.to_string().contains("disagrees with the Content-Type"),
        "{err}"
    );

    let both = r#"{"schemaVersion":2,"manifests":[],"config":{},"layers":[]}"#;
    let (s, c) = serve(move |_| Reply::new(200, &[], both.as_bytes())).await;
    let r = Reference::parse(&format!("{}/x/y:1", s.host())).unwrap();
    let err = c.resolve(&r).await.unwrap_err();
    assert!(err.to_string().contains("both"), "{err}");
}

#[tokio::test]
async fn transient_errors_are_retried_and_permanent_ones_are_not() {
    let data = b"layer bytes".to_vec();
    let desc = Descriptor::new(mt::OCI_LAYER_TAR, Digest::of(&data), data.len() as u64);
    let (_dir, st) = store();
    let calls = Arc::new(AtomicUsize::new(0));
    let calls2 = calls.clone();
    let body = data.clone();
    let (s, c) = serve(move |_| match calls2.fetch_add(1, Ordering::SeqCst) {
        0 => Reply::new(503, &[], b"busy"),
        1 => Reply::new(429, &[("Retry-After", "0")], b"slow down"),
        // A connection cut mid-body (announces more than it sends).
        2 => Reply(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nlayer".to_vec()),
        _ => Reply::new(200, &[], &body),
    })
    .await;
    let r = Reference::parse(&format!("{}/x/y:1", s.host())).unwrap();
    c.fetch_blob(&r, &desc, &st, None).await.unwrap();
    assert_eq!(st.read_blob(&desc.digest).unwrap(), data);
    assert!(calls.load(Ordering::SeqCst) >= 4);
    assert_eq!(st.ingest_count(), 0);

    let (_dir2, st2) = store();
    let (s, c) = serve(|_| Reply::new(500, &[], b"down")).await;
    let r = Reference::parse(&format!("{}/x/y:1", s.host())).unwrap();
    let err = c.fetch_blob(&r, &desc, &st2, None).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(s.requests().len(), 4, "max_attempts requests");
    assert_empty(&st2);

    let (s, c) = serve(|_| {
        Reply::new(
            404,
            &[],
            br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}"#,
        )
    })
    .await;
    let r = Reference::parse(&format!("{}/x/y:1", s.host())).unwrap();
    let err = c.fetch_blob(&r, &desc, &st2, None).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(s.requests().len(), 1, "404 is not retried");
}

#[tokio::test]
async fn bearer_token_flow_like_docker_hub() {
    // Token server: basic creds required, grants "tok-<scope>".
    let tokens = StandIn::start(Arc::new(|req: &Seen| {
        let auth = req
            .headers
            .get("authorization")
            .cloned()
            .unwrap_or_default();
        if auth != "Basic dTpw" {
            return Reply::new(401, &[], br#"{"details":"incorrect username or password"}"#);
        }
        assert!(req.target.contains("service=reg.test"), "{}", req.target);
        let scope = req
            .target
            .split("scope=")
            .nth(1)
            .unwrap_or("none")
            .split('&')
            .next()
            .unwrap();
        Reply::new(
            200,
            &[],
            format!(r#"{{"token":"tok-{scope}","expires_in":300}}"#).as_bytes(),
        )
    }))
    .await;
    let realm = format!("{}/token", tokens.url());
    let registry = StandIn::start(Arc::new(move |req: &Seen| {
        let want = "Bearer tok-repository%3Aa%2Fb%3Apull";
        if req.headers.get("authorization").map(String::as_str) == Some(want) {
            Reply::new(
                200,
                &[("Content-Type", mt::OCI_MANIFEST)],
                MANIFEST.as_bytes(),
            )
        } else {
            let challenge =
                format!(r#"Bearer realm="{realm}",service="reg.test",scope="repository:a/b:pull""#);
            Reply::new(401, &[("WWW-Authenticate", &challenge)], b"{}")
        }
    }))
    .await;
    let r = Reference::parse(&format!("{}/a/b:1", registry.host())).unwrap();
    let creds = StaticCredentials([(registry.host(), Credentials::basic("u", "p"))].into());
    let c = Client::with_credentials(fast_config(), Arc::new(creds)).unwrap();
    let m = c.resolve(&r).await.unwrap();
    assert_eq!(m.bytes, MANIFEST.as_bytes());
    c.resolve(&r).await.unwrap();
    assert_eq!(tokens.requests().len(), 1, "the token is cached per scope");
    assert_eq!(
        registry.requests().len(),
        3,
        "one challenge, then two authorised GETs"
    );

    let wrong = StaticCredentials([(registry.host(), Credentials::basic("u", "bad"))].into());
    let c = Client::with_credentials(fast_config(), Arc::new(wrong)).unwrap();
    let err = c.resolve(&r).await.unwrap_err();
    assert!(err.is_unauthorized(), "{err}");
    assert!(err.to_string().contains("incorrect username"), "{err}");
}

#[tokio::test]
async fn search_uses_the_v1_api_shape() {
    let (s, c) = serve(|req| {
        assert!(req.target.starts_with("/v1/search?q=busy%20box&n=2"), "{}", req.target);
        Reply::new(
            200,
            &[("Content-Type", "application/json")],
            br#"{"num_results":3,"query":"busy box","results":[
                {"name":"busybox","description":"tiny","star_count":42,"is_official":true,"is_automated":false},
                {"name":"u/busybox","description":"","star_count":1,"is_official":false,"is_automated":false},
                {"name":"u/extra","star_count":0}]}"#,
        )
    })
    .await;
    let res = c.search(&s.host(), "busy box", 2).await.unwrap();
    assert_eq!(res.num_results, 3);
    assert_eq!(res.results.len(), 2);
    assert_eq!(res.results[0].name, "busybox");
    assert!(res.results[0].is_official);
    assert_eq!(res.results[0].star_count, 42);
}

#[test]
fn credential_helpers_are_run_like_docker() {
    use berth_registry::{CredentialProvider, DockerConfig};
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("credhelper");
    let helper = dir.path().join("docker-credential-fake");
    std::fs::write(
        &helper,
        "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread server\ncase \"$server\" in\n\
         https://index.docker.io/v1/) echo '{\"ServerURL\":\"x\",\"Username\":\"hub\",\"Secret\":\"s1\"}';;\n\
         tok.example) echo '{\"ServerURL\":\"x\",\"Username\":\"<token>\",\"Secret\":\"refresh\"}';;\n\
         *) echo 'credentials not found in native keychain'; exit 1;;\nesac\n",
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = DockerConfig::from_json(
        r#"{"credHelpers":{"tok.example":"fake"},"credsStore":"fake","auths":{"plain.example":{"auth":"dTpw"}}}"#,
    )
    .unwrap()
    .with_helper_dir(dir.path());
    assert_eq!(
        cfg.get("docker.io").unwrap(),
        Some(Credentials::basic("hub", "s1"))
    );
    assert_eq!(
        cfg.get("tok.example").unwrap(),
        Some(Credentials::IdentityToken("refresh".into()))
    );
    // Not in the store: falls back to `auths`.
    assert_eq!(
        cfg.get("plain.example").unwrap(),
        Some(Credentials::basic("u", "p"))
    );
    assert_eq!(cfg.get("none.example").unwrap(), None);
}
