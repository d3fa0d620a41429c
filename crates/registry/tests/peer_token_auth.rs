//! The bearer-token flow against a real `docker-registry` configured for token auth, with
//! a token server run by the test (ES256 JWTs signed with a key whose self-signed
//! certificate is the registry's `rootcertbundle`).
#![cfg(test)]

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use berth_content::ContentStore;
use berth_registry::{Client, Credentials, Reference, StaticCredentials};
use berth_testkit::registry::{DockerRegistry, RegistryOptions, TokenAuth, REGISTRY_BIN};
use berth_testkit::{require_program, TempDir};
use common::*;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

const ISSUER: &str = "berth-test-issuer";
const SERVICE: &str = "berth-test-registry";

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "openssl {args:?}");
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes a percent-encoded query value.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_token_auth_round_trip() {
    require_program!(REGISTRY_BIN);
    require_program!("openssl");
    let keys = TempDir::new("tokenkeys");
    openssl(
        keys.path(),
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=berth-token-signer",
        ],
    );
    openssl(
        keys.path(),
        &[
            "pkcs8", "-topk8", "-nocrypt", "-in", "key.pem", "-outform", "DER", "-out", "key.der",
        ],
    );
    openssl(
        keys.path(),
        &[
            "x509", "-in", "cert.pem", "-outform", "DER", "-out", "cert.der",
        ],
    );
    let pkcs8 = std::fs::read(keys.path().join("key.der")).unwrap();
    let cert_der = std::fs::read(keys.path().join("cert.der")).unwrap();
    let rng = ring::rand::SystemRandom::new();
    let key =
        Arc::new(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng).unwrap());
    let x5c = base64::engine::general_purpose::STANDARD.encode(&cert_der);

    // Token server: user "berth"/"pw" gets what it asks for; anonymous gets nothing.
    let tokens = StandIn::start(Arc::new(move |req: &Seen| {
        let authed =
            req.headers.get("authorization").map(String::as_str) == Some("Basic YmVydGg6cHc=");
        let query = req.target.split_once('?').map_or("", |(_, q)| q);
        let mut access = Vec::new();
        for pair in query.split('&') {
            let Some(("scope", v)) = pair.split_once('=') else {
                continue;
            };
            for scope in unescape(v).split(' ') {
                let parts: Vec<&str> = scope.split(':').collect();
                if parts.len() == 3 && parts[0] == "repository" && authed {
                    access.push(serde_json::json!({
                        "type": "repository", "name": parts[1],
                        "actions": parts[2].split(',').collect::<Vec<_>>()
                    }));
                }
            }
        }
        if !authed && req.headers.contains_key("authorization") {
            return Reply::new(401, &[], br#"{"details":"bad credentials"}"#);
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "x5c": [x5c]});
        let claims = serde_json::json!({
            "iss": ISSUER, "sub": "berth", "aud": SERVICE,
            "exp": now + 300, "nbf": now - 10, "iat": now,
            "jti": berth_testkit::unique_name("jti"), "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let sig = key
            .sign(&ring::rand::SystemRandom::new(), signing_input.as_bytes())
            .unwrap();
        let jwt = format!("{signing_input}.{}", b64url(sig.as_ref()));
        Reply::new(
            200,
            &[("Content-Type", "application/json")],
            serde_json::json!({"token": jwt, "expires_in": 300})
                .to_string()
                .as_bytes(),
        )
    }))
    .await;

    let reg = DockerRegistry::start(&RegistryOptions {
        token: Some(TokenAuth {
            realm: format!("{}/token", tokens.url()),
            service: SERVICE.into(),
            issuer: ISSUER.into(),
            rootcertbundle: keys.path().join("cert.pem"),
        }),
        ..Default::default()
    });
    let dir = TempDir::new("tokenstores");
    let src = ContentStore::open(&dir.path().join("a")).unwrap();
    let dst = ContentStore::open(&dir.path().join("b")).unwrap();
    let img = make_image(&src, "token", 40_000);
    let r = Reference::parse(&format!("{}/berth/token:v1", reg.host())).unwrap();

    // Anonymous: the token carries no access, the registry refuses.
    let anonymous = Client::new(fast_config()).unwrap();
    let err = anonymous.resolve(&r).await.unwrap_err();
    assert!(err.is_unauthorized(), "{err}\n{}", reg.log());

    let creds = StaticCredentials([(reg.host(), Credentials::basic("berth", "pw"))].into());
    let client = Client::with_credentials(fast_config(), Arc::new(creds)).unwrap();
    assert_eq!(
        push_image(&client, &r, &src, &img).await,
        img.manifest_digest
    );
    assert_eq!(pull_image(&client, &r, &dst).await, img.manifest_digest);
    anonymous
        .login(&reg.host(), Credentials::basic("berth", "pw"))
        .await
        .unwrap();
    assert!(tokens.requests().iter().any(|q| q
        .target
        .contains("scope=repository%3Aberth%2Ftoken%3Apull%2Cpush")));
}
