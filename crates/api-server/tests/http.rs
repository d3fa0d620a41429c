//! HTTP-level tests: negotiation, errors, framing, hijack, over a real unix socket.
#![cfg(test)]

use std::path::Path;

use berth_api_server::stream::stdcopy_parse;
use berth_api_server::testing::{FakeEngine, TestServer};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

struct Reply {
    status: u16,
    headers: hyper::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&self.body)))
    }
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

async fn call(
    sock: &Path,
    method: Method,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let stream = UnixStream::connect(sock).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "docker");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if !body.is_empty() {
        req = req.header("content-type", "application/json");
    }
    let resp = sender
        .send_request(req.body(Full::new(Bytes::from(body.to_string()))).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

/// A fake engine holding one stopped container.
fn one_container(name: &str, image: &str, cmd: &[&str], tty: bool) -> FakeEngine {
    let e = FakeEngine::default();
    e.add(name, image, cmd, false);
    e.update(name, |c| c.tty = tty).unwrap();
    e
}

async fn get(sock: &Path, path: &str) -> Reply {
    call(sock, Method::GET, path, "", &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_get_and_head_announce_versions() {
    let s = TestServer::start(FakeEngine::default()).await;
    let r = get(&s.socket, "/_ping").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"OK");
    assert_eq!(r.header("api-version"), "1.47");
    assert_eq!(r.header("builder-version"), "1");
    assert_eq!(r.header("docker-experimental"), "false");
    assert_eq!(r.header("ostype"), "linux");
    assert!(r.header("server").starts_with("berth/"));
    let h = call(&s.socket, Method::HEAD, "/v1.24/_ping", "", &[]).await;
    assert_eq!(h.status, 200);
    assert!(h.body.is_empty());
    assert_eq!(h.header("api-version"), "1.47");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_negotiation_and_errors() {
    let s = TestServer::start(FakeEngine::default()).await;
    let r = get(&s.socket, "/v1.99/version").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "client version 1.99 is too new. Maximum supported API version is 1.47"
    );
    let r = get(&s.socket, "/v1.12/containers/json").await;
    assert_eq!(r.status, 400);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("Minimum supported API version is 1.24"));
    let r = get(&s.socket, "/v1.41/version").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["ApiVersion"], "1.47");
    assert_eq!(r.json()["MinAPIVersion"], "1.24");
    assert_eq!(
        *s.engine.seen_versions.lock().unwrap().last().unwrap(),
        berth_api_server::ApiVersion::new(1, 41)
    );
    get(&s.socket, "/version").await;
    assert_eq!(
        *s.engine.seen_versions.lock().unwrap().last().unwrap(),
        berth_api_server::ApiVersion::MAX
    );

    let r = get(&s.socket, "/v1.47/nonsense").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "page not found");
    let r = get(&s.socket, "/containers/zzz/json").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "No such container: zzz");
    assert_eq!(r.header("content-type"), "application/json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_and_queries_are_400_and_create_nothing() {
    let s = TestServer::start(FakeEngine::default()).await;
    for body in [
        "{not json",
        r#"{"Image":"busybox","Tty":"yes"}"#,
        r#"{"Image":"busybox","Cmd":[1,2]}"#,
        "",
    ] {
        let r = call(
            &s.socket,
            Method::POST,
            "/v1.47/containers/create",
            body,
            &[],
        )
        .await;
        assert_eq!(r.status, 400, "body {body:?}");
        assert!(
            r.json()["message"]
                .as_str()
                .unwrap()
                .starts_with("invalid JSON"),
            "{:?}",
            r.json()
        );
    }
    assert!(s.engine.containers.lock().unwrap().is_empty());
    let r = get(&s.socket, "/containers/json?filters=%7Bbad").await;
    assert_eq!(r.status, 400);
    let r = get(&s.socket, "/containers/json?limit=abc").await;
    assert_eq!(r.status, 400);
    assert!(r.json()["message"].as_str().unwrap().contains("limit"));
    let r = call(
        &s.socket,
        Method::POST,
        "/containers/x/wait?condition=soon",
        "",
        &[],
    )
    .await;
    assert_eq!(r.status, 400);

    let r = call(
        &s.socket,
        Method::POST,
        "/containers/create?name=one",
        r#"{"Image":"busybox","Cmd":"echo hi"}"#,
        &[],
    )
    .await;
    assert_eq!(r.status, 201);
    let id = r.json()["Id"].as_str().unwrap().to_string();
    assert_eq!(r.json()["Warnings"], serde_json::json!([]));
    let r = get(&s.socket, &format!("/containers/{}/json", &id[..12])).await;
    assert_eq!(r.json()["Config"]["Cmd"], serde_json::json!(["echo hi"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_304_204_and_conflict() {
    let s = TestServer::start(one_container("c", "busybox", &["sh"], false)).await;
    let r = call(&s.socket, Method::POST, "/containers/c/stop", "", &[]).await;
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    let r = call(&s.socket, Method::POST, "/containers/c/kill", "", &[]).await;
    assert_eq!(r.status, 409);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("is not running"));
    let r = call(
        &s.socket,
        Method::POST,
        "/containers/c/rename?name=d",
        "",
        &[],
    )
    .await;
    assert_eq!(r.status, 204);
    let r = call(
        &s.socket,
        Method::DELETE,
        "/containers/d?force=1&v=1",
        "",
        &[],
    )
    .await;
    assert_eq!(r.status, 204);
    let r = call(&s.socket, Method::DELETE, "/containers/d", "", &[]).await;
    assert_eq!(r.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_multiplexed_without_tty_and_raw_with_tty() {
    let s = TestServer::start(one_container("plain", "busybox", &["sh"], false)).await;
    s.engine.add("tty", "busybox", &["sh"], false);
    s.engine.update("tty", |c| c.tty = true).unwrap();
    let r = get(&s.socket, "/v1.47/containers/plain/logs?stdout=1&stderr=1").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        "application/vnd.docker.multiplexed-stream"
    );
    let (frames, used) = stdcopy_parse(&r.body);
    assert_eq!(used, r.body.len());
    assert_eq!(
        frames,
        vec![(1, b"out line\n".to_vec()), (2, b"err line\n".to_vec())]
    );
    assert_eq!(&r.body[..8], &[1, 0, 0, 0, 0, 0, 0, 9]);
    let r = get(&s.socket, "/v1.41/containers/plain/logs?stdout=1").await;
    assert_eq!(
        r.header("content-type"),
        "application/vnd.docker.raw-stream"
    );
    let r = get(&s.socket, "/containers/tty/logs?stdout=1&stderr=1").await;
    assert_eq!(r.body, b"out line\nerr line\n");
    let r = get(&s.socket, "/containers/plain/logs").await;
    assert_eq!(r.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_and_events_are_json_lines() {
    let s = TestServer::start(FakeEngine::default()).await;
    // X-Registry-Auth: base64url JSON without padding, as the docker CLI sends it.
    let auth = "eyJ1c2VybmFtZSI6Im1lIiwicGFzc3dvcmQiOiJzZWNyZXQifQ";
    let r = call(
        &s.socket,
        Method::POST,
        "/images/create?fromImage=busybox&tag=latest",
        "",
        &[("X-Registry-Auth", auth)],
    )
    .await;
    assert_eq!(r.status, 200);
    let lines: Vec<serde_json::Value> = r
        .body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 7);
    assert_eq!(lines[4]["status"], "Pull complete");
    assert_eq!(
        s.engine
            .seen_auth
            .lock()
            .unwrap()
            .as_ref()
            .unwrap()
            .username,
        "me"
    );
    let r = call(
        &s.socket,
        Method::POST,
        "/images/create?fromImage=missing",
        "",
        &[],
    )
    .await;
    assert_eq!(r.status, 404);
    let r = call(&s.socket, Method::POST, "/images/create", "", &[]).await;
    assert_eq!(r.status, 400);

    let r = get(
        &s.socket,
        "/events?filters=%7B%22type%22%3A%7B%22image%22%3Atrue%7D%7D",
    )
    .await;
    let text = String::from_utf8(r.body).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["Type"], "image");
    assert_eq!(events[1]["Action"], "start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_names_with_slashes_and_ports_route() {
    let s = TestServer::start(FakeEngine::default()).await;
    let r = get(&s.socket, "/v1.47/images/localhost:5000/lib/busybox:1/json").await;
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["RepoTags"][0], "localhost:5000/lib/busybox:1");
    let r = get(
        &s.socket,
        "/images/localhost%3A5000%2Flib%2Fbusybox%3A1/json",
    )
    .await;
    assert_eq!(r.status, 200);
    let r = get(&s.socket, "/images/busybox/history").await;
    assert_eq!(r.json()[0]["Id"], "<missing>");
    let r = call(&s.socket, Method::DELETE, "/images/busybox:latest", "", &[]).await;
    assert_eq!(r.json()[0]["Untagged"], "busybox:latest");
    let r = call(
        &s.socket,
        Method::POST,
        "/images/busybox/tag?repo=x&tag=y",
        "",
        &[],
    )
    .await;
    assert_eq!(r.status, 201);
    let r = get(&s.socket, "/images/nothing/json").await;
    assert_eq!(r.json()["message"], "No such image: nothing");
    let r = get(&s.socket, "/images/get?names=busybox").await;
    assert_eq!(r.body, b"SAVED");
    let r = call(&s.socket, Method::POST, "/images/load", "0123456789", &[]).await;
    assert!(String::from_utf8_lossy(&r.body).contains("Loaded 10 bytes"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_headers_and_upload() {
    let s = TestServer::start(one_container("c", "busybox", &["sh"], false)).await;
    let r = call(
        &s.socket,
        Method::HEAD,
        "/containers/c/archive?path=/etc/hosts",
        "",
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    use base64::Engine as _;
    let stat = base64::engine::general_purpose::STANDARD
        .decode(r.header("x-docker-container-path-stat"))
        .unwrap();
    let stat: serde_json::Value = serde_json::from_slice(&stat).unwrap();
    assert_eq!(stat["name"], "hosts");
    let r = get(&s.socket, "/containers/c/archive?path=/etc/hosts").await;
    assert_eq!(r.header("content-type"), "application/x-tar");
    assert_eq!(r.body.len() % 512, 0, "a tar stream");
    assert!(r.body.windows(6).any(|w| w == b"hello\n"));
    let r = call(
        &s.socket,
        Method::PUT,
        "/containers/c/archive?path=/tmp",
        "tar-bytes",
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    let puts = s.engine.archive_puts.lock().unwrap().clone();
    assert_eq!(puts.len(), 1);
    assert_eq!(
        (puts[0].path.as_str(), &puts[0].data[..]),
        ("/tmp", &b"tar-bytes"[..])
    );
    let r = call(&s.socket, Method::PUT, "/containers/c/archive", "x", &[]).await;
    assert_eq!(r.status, 400);
}

async fn read_head(stream: &mut UnixStream) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).await.unwrap(),
            1,
            "eof in head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.unwrap();
    (String::from_utf8(buf).unwrap(), rest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_upgrade_gives_101_and_framed_stream() {
    let s = TestServer::start(one_container("c", "busybox", &["cat"], false)).await;
    let mut stream = UnixStream::connect(&s.socket).await.unwrap();
    stream
        .write_all(b"POST /v1.47/containers/c/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    // Send stdin after the upgrade and half-close, like the docker CLI.
    let (mut rd, mut wr) = stream.into_split();
    wr.write_all(b"hello stdin").await.unwrap();
    wr.shutdown().await.unwrap();
    let mut all = Vec::new();
    rd.read_to_end(&mut all).await.unwrap();
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&all[..split]).to_string();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.to_ascii_lowercase().contains("upgrade: tcp"), "{head}");
    assert!(
        head.contains("application/vnd.docker.multiplexed-stream"),
        "{head}"
    );
    let (frames, _) = stdcopy_parse(&all[split..]);
    assert_eq!(frames, vec![(1, b"hello stdin".to_vec())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_without_upgrade_streams_a_200_body() {
    let s = TestServer::start(one_container("c", "busybox", &["cat"], true)).await;
    let mut stream = UnixStream::connect(&s.socket).await.unwrap();
    stream
        .write_all(b"POST /containers/c/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\nHost: docker\r\nConnection: close\r\nContent-Length: 5\r\n\r\nabcde")
        .await
        .unwrap();
    let (head, body) = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("application/vnd.docker.raw-stream"), "{head}");
    // chunked: "5\r\nabcde\r\n0\r\n\r\n"
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("abcde"), "{text}");

    // exec start detached answers at once; attached sends 101 and output.
    let r = call(
        &s.socket,
        Method::POST,
        "/exec/eeee/start",
        r#"{"Detach":true}"#,
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    let r = call(
        &s.socket,
        Method::POST,
        "/exec/xx/start",
        r#"{"Detach":true}"#,
        &[],
    )
    .await;
    assert_eq!(r.json()["message"], "No such exec instance: xx");
    let r = call(
        &s.socket,
        Method::POST,
        "/containers/c/exec",
        r#"{"Cmd":[]}"#,
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    let r = call(
        &s.socket,
        Method::POST,
        "/containers/c/exec",
        r#"{"Cmd":["ls"]}"#,
        &[],
    )
    .await;
    assert_eq!(r.status, 201);
}
