//! Shared test helpers: a generated image, push/pull helpers, a raw HTTP stand-in server.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use berth_content::{media_types as mt, ContentStore, Descriptor, Digest};
use berth_registry::{Client, Reference, RegistryConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A small image in a content store: config + 2 layers + OCI manifest.
pub struct TestImage {
    pub manifest: Vec<u8>,
    pub manifest_digest: Digest,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

impl TestImage {
    pub fn blobs(&self) -> Vec<Descriptor> {
        let mut v = vec![self.config.clone()];
        v.extend(self.layers.iter().cloned());
        v
    }
}

/// Writes a unique image (`seed` makes the bytes differ between tests) into `store`.
pub fn make_image(store: &ContentStore, seed: &str, layer_size: usize) -> TestImage {
    let mut layers = Vec::new();
    for i in 0..2u8 {
        let mut bytes = format!("layer {i} of {seed}\n").into_bytes();
        let mut x: u32 = 2_463_534_242 ^ u32::from(i);
        while bytes.len() < layer_size {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            bytes.push((x & 0xff) as u8);
        }
        let d = store.write_blob(&bytes).unwrap();
        layers.push(Descriptor::new(mt::OCI_LAYER_TAR, d, bytes.len() as u64));
    }
    let diff_ids: Vec<String> = layers.iter().map(|l| format!("\"{}\"", l.digest)).collect();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["SEED={seed}"]}},"rootfs":{{"type":"layers","diff_ids":[{}]}}}}"#,
        diff_ids.join(",")
    );
    let cd = store.write_blob(config.as_bytes()).unwrap();
    let config = Descriptor::new(mt::OCI_CONFIG, cd, config.len() as u64);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": mt::OCI_MANIFEST,
        "config": config,
        "layers": layers,
    });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let manifest_digest = store.write_blob(&manifest).unwrap();
    TestImage {
        manifest,
        manifest_digest,
        config,
        layers,
    }
}

/// Pushes every blob, then the manifest; returns the manifest digest the client computed.
pub async fn push_image(
    client: &Client,
    r: &Reference,
    store: &ContentStore,
    img: &TestImage,
) -> Digest {
    for d in img.blobs() {
        client.push_blob(r, &d, store, None, None).await.unwrap();
    }
    client
        .push_manifest(r, mt::OCI_MANIFEST, &img.manifest)
        .await
        .unwrap()
}

/// Resolves and pulls an image into `store`; returns its manifest digest.
pub async fn pull_image(client: &Client, r: &Reference, store: &ContentStore) -> Digest {
    let m = client.resolve(r).await.unwrap();
    assert!(!m.is_index());
    #[derive(serde::Deserialize)]
    struct Manifest {
        config: Descriptor,
        layers: Vec<Descriptor>,
    }
    let parsed: Manifest = serde_json::from_slice(&m.bytes).unwrap();
    let mut blobs = vec![parsed.config];
    blobs.extend(parsed.layers);
    client.pull_blobs(r, &blobs, store, 3, None).await.unwrap();
    for b in &blobs {
        store.verify(&b.digest).unwrap();
    }
    store.write_blob(&m.bytes).unwrap();
    m.digest
}

/// A client with fast retries.
pub fn fast_config() -> RegistryConfig {
    RegistryConfig {
        retry_delay: std::time::Duration::from_millis(10),
        ..RegistryConfig::default()
    }
}

/// A request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Lowercase header names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

/// A raw HTTP reply (the stand-in writes exactly these bytes, then closes).
pub struct Reply(pub Vec<u8>);

impl Reply {
    /// A reply with Content-Length.
    pub fn new(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Self {
        let mut r = format!(
            "HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            r.push_str(&format!("{k}: {v}\r\n"));
        }
        r.push_str("\r\n");
        let mut bytes = r.into_bytes();
        bytes.extend_from_slice(body);
        Reply(bytes)
    }

    /// A reply whose body ends when the connection closes (no length announced).
    pub fn close_delimited(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Self {
        let mut r = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
        for (k, v) in headers {
            r.push_str(&format!("{k}: {v}\r\n"));
        }
        r.push_str("\r\n");
        let mut bytes = r.into_bytes();
        bytes.extend_from_slice(body);
        Reply(bytes)
    }
}

pub type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// A tiny HTTP/1.1 server on 127.0.0.1 answering with a handler; one request per connection.
pub struct StandIn {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl StandIn {
    pub async fn start(handler: Handler) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let handler = handler.clone();
                let seen = seen2.clone();
                tokio::spawn(async move {
                    let Some(req) = read_request(&mut sock).await else {
                        return;
                    };
                    seen.lock().unwrap().push(req.clone());
                    let reply = handler(&req);
                    let _ = sock.write_all(&reply.0).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        StandIn { port, seen, task }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?.to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Seen {
        method,
        target,
        headers,
        body,
    })
}

/// Asserts the store holds nothing: no blob, no ingest file.
pub fn assert_empty(store: &ContentStore) {
    assert!(
        store.list().unwrap().is_empty(),
        "blobs left: {:?}",
        store.list()
    );
    assert_eq!(store.ingest_count(), 0, "ingest files left");
}
