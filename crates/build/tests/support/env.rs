//! A fake engine, a cache and a work directory; builds with the classic stream captured.

use std::sync::{Arc, Mutex};

use berth_build::{
    build, prepare, reporting_stages, BuildError, BuildRequest, BuildResult, Cache, Context, Event,
};
use berth_testkit::TempDir;

use super::{context_tar, Fake};

pub const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nredis:x:100:101::/var/lib/redis:/sbin/nologin\n";
pub const GROUP: &str = "root:x:0:\nredis:x:101:redis\n";

pub struct Env {
    pub fake: Arc<Fake>,
    pub cache: Arc<Cache>,
    pub work: TempDir,
}

impl Env {
    pub fn new() -> Self {
        let fake = Fake::new();
        fake.add_image(
            "base",
            &[
                ("/etc/passwd", PASSWD),
                ("/etc/group", GROUP),
                ("/bin/sh", "#!"),
            ],
            &["PATH=/usr/bin:/bin"],
        );
        Self::with_fake(fake)
    }

    /// Another cache and work directory on the same fake engine.
    pub fn with_fake(fake: Arc<Fake>) -> Self {
        let cache = Arc::new(
            Cache::open(fake.dir.path().join(berth_testkit::unique_name("cache-"))).unwrap(),
        );
        Self {
            fake,
            cache,
            work: TempDir::new("berth-build-work-"),
        }
    }

    pub async fn build_with(
        &self,
        files: &[(&str, &str, u32)],
        req: BuildRequest,
    ) -> (Result<BuildResult, BuildError>, Vec<Event>, String) {
        self.build_tar(context_tar(files), req).await
    }

    /// Builds from a context tar.
    pub async fn build_tar(
        &self,
        tar: Vec<u8>,
        req: BuildRequest,
    ) -> (Result<BuildResult, BuildError>, Vec<Event>, String) {
        let spool = self
            .work
            .path()
            .join(format!("ctx-{}", berth_testkit::unique_name("")));
        let ctx = Context::from_tar(tar.as_slice(), &spool).unwrap();
        let prepared = match prepare(ctx, req) {
            Ok(p) => p,
            Err(e) => return (Err(e), Vec::new(), String::new()),
        };
        let events = Arc::new(Mutex::new(Vec::new()));
        let text = Arc::new(Mutex::new(String::new()));
        let t = text.clone();
        let stream = Arc::new(berth_build::classic::ClassicStream::new(
            reporting_stages(&prepared).unwrap(),
            false,
            move |s| t.lock().unwrap().push_str(&s),
        ));
        let ev = events.clone();
        let s2 = stream.clone();
        let progress = Arc::new(move |e: Event| {
            ev.lock().unwrap().push(e.clone());
            s2.event(e);
        });
        let r = build(
            self.fake.clone(),
            self.cache.clone(),
            prepared,
            self.work.path().join("steps"),
            progress,
        )
        .await;
        stream.flush();
        let events = events.lock().unwrap().clone();
        let text = text.lock().unwrap().clone();
        (r, events, text)
    }

    pub async fn build(&self, files: &[(&str, &str, u32)]) -> (BuildResult, Vec<Event>, String) {
        let (r, e, t) = self
            .build_with(
                files,
                BuildRequest {
                    tags: vec!["app:latest".into()],
                    ..BuildRequest::default()
                },
            )
            .await;
        (r.unwrap_or_else(|e| panic!("build failed: {e}\n{t}")), e, t)
    }
}
