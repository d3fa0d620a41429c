//! `berth context …` and the docker CLI v28 on one context store (a private HOME, never the
//! real ~/.docker): a context made by one is listed, inspected, used, exported and imported
//! by the other, with the same output; `--context X ps` reaches the server either way.
#![cfg(test)]

mod support;

use std::path::{Path, PathBuf};

use support::{FakeEngine, Out, TestServer};

const DOCKER: &str = "/usr/local/bin/docker";

fn has_docker() -> bool {
    if Path::new(DOCKER).is_file() {
        return true;
    }
    assert!(
        std::env::var("CI").is_err(),
        "the docker CLI oracle is required in CI"
    );
    false
}

struct Clis {
    home: PathBuf,
}

impl Clis {
    fn new(s: &TestServer) -> Clis {
        let home = s.dir.path().join("home");
        std::fs::create_dir_all(&home).expect("home");
        Clis { home }
    }
    async fn berth(&self, args: &[&str]) -> Out {
        self.prog(berth_testkit::berth_bin(), args).await
    }
    async fn docker(&self, args: &[&str]) -> Out {
        self.prog(PathBuf::from(DOCKER), args).await
    }
    async fn prog(&self, prog: PathBuf, args: &[&str]) -> Out {
        let home = self.home.clone();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            support::run_cli(&prog, &home, Some(&home), &args, b"")
        })
        .await
        .expect("cli task")
    }
    /// Both CLIs, same store: identical stdout, stderr and exit code. The default context's
    /// endpoint is each one's own socket: it reads `<default>` and table padding is not
    /// compared on lines that have it.
    async fn same(&self, args: &[&str]) -> Out {
        let mut b = self.berth(args).await;
        let mut d = self.docker(args).await;
        let norm = |s: &str, own: &str| -> String {
            s.lines()
                .map(|l| match l.contains(own) {
                    true => l
                        .replace(own, "<default>")
                        .split("  ")
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .collect::<Vec<_>>()
                        .join("  "),
                    false => l.to_string(),
                })
                .map(|l| l + "\n")
                .collect()
        };
        b.stdout = norm(&b.stdout, "unix:///run/berth/berth.sock");
        d.stdout = norm(&d.stdout, "unix:///var/run/docker.sock");
        assert_eq!(b.stdout, d.stdout, "stdout of {args:?}");
        assert_eq!(b.stderr, d.stderr, "stderr of {args:?}");
        assert_eq!(b.code, d.code, "exit code of {args:?}");
        b
    }
}

async fn server() -> TestServer {
    let f = FakeEngine::default();
    f.add("web", "busybox", &["sleep", "100"], true);
    TestServer::start(f).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contexts_are_shared_with_the_docker_cli_both_ways() {
    if !has_docker() {
        return;
    }
    let s = server().await;
    let c = Clis::new(&s);
    let host = format!("host={}", s.host());

    // Made by berth, used by docker; made by docker, used by berth.
    let o = c
        .berth(&[
            "context",
            "create",
            "b1",
            "--description",
            "made by berth",
            "--docker",
            &host,
        ])
        .await;
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (0, "b1\n", "Successfully created context \"b1\"\n")
    );
    let o = c
        .docker(&["context", "create", "d1", "--docker", &host])
        .await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    for ctx in ["b1", "d1"] {
        let args = ["--context", ctx, "ps", "--format", "{{.Names}}"];
        let (b, d) = (c.berth(&args).await, c.docker(&args).await);
        assert_eq!((b.code, b.stdout.as_str()), (0, "web\n"), "{}", b.stderr);
        assert_eq!((d.code, d.stdout.as_str()), (0, "web\n"), "{}", d.stderr);
    }
    // Byte-identical store entries: meta.json written by either reads the same.
    let meta = |name: &str| {
        let o = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "printf %s {name} | sha256sum | cut -d' ' -f1 | tr -d '\\n'"
            ))
            .output()
            .expect("sha256sum");
        let hash = String::from_utf8_lossy(&o.stdout).into_owned();
        std::fs::read_to_string(
            c.home
                .join(".docker/contexts/meta")
                .join(hash)
                .join("meta.json"),
        )
        .expect("meta.json")
    };
    assert_eq!(
        meta("b1"),
        format!(
            r#"{{"Name":"b1","Metadata":{{"Description":"made by berth"}},"Endpoints":{{"docker":{{"Host":"{}","SkipTLSVerify":false}}}}}}"#,
            s.host()
        )
    );
    assert_eq!(
        meta("d1"),
        format!(
            r#"{{"Name":"d1","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{}","SkipTLSVerify":false}}}}}}"#,
            s.host()
        )
    );

    c.same(&["context", "ls"]).await;
    c.same(&["context", "ls", "-q"]).await;
    c.same(&["context", "ls", "--format", "json"]).await;
    c.same(&[
        "context",
        "ls",
        "--format",
        "{{.Name}}: {{.DockerEndpoint}}",
    ])
    .await;
    c.same(&["context", "inspect", "b1", "d1"]).await;
    c.same(&["context", "inspect", "default"]).await;
    c.same(&[
        "context",
        "inspect",
        "-f",
        "{{.Name}} {{.Endpoints.docker.Host}}",
        "b1",
    ])
    .await;
    c.same(&["context", "show"]).await;

    // `use` by one is the current context of the other; plain `ps` then goes there.
    let o = c.berth(&["context", "use", "d1"]).await;
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (0, "d1\n", "Current context is now \"d1\"\n")
    );
    assert_eq!(c.docker(&["context", "show"]).await.stdout, "d1\n");
    let o = c.berth(&["ps", "--format", "{{.Names}}"]).await;
    assert_eq!((o.code, o.stdout.as_str()), (0, "web\n"), "{}", o.stderr);
    c.same(&["context", "ls"]).await;
    assert_eq!(c.docker(&["context", "use", "b1"]).await.code, 0);
    assert_eq!(c.berth(&["context", "show"]).await.stdout, "b1\n");

    // Export by one, import by the other (files and stdout/stdin).
    let o = c.berth(&["context", "export", "b1"]).await;
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (0, "Written file \"b1.dockercontext\"\n")
    );
    let o = c
        .docker(&["context", "import", "b2", "b1.dockercontext"])
        .await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        c.docker(&["context", "export", "d1", "d1.tar"]).await.code,
        0
    );
    let o = c.berth(&["context", "import", "d2", "d1.tar"]).await;
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (0, "d2\n", "Successfully imported context \"d2\"\n")
    );
    c.same(&["context", "inspect", "b2", "d2"]).await;
    let o = c
        .docker(&["--context", "d2", "ps", "--format", "{{.Names}}"])
        .await;
    assert_eq!(o.stdout, "web\n", "{}", o.stderr);

    // Errors: same words, same exit codes, nothing changed.
    c.same(&["context", "create", "b1", "--docker", &host])
        .await;
    c.same(&["context", "create", "x", "--docker", &host]).await;
    c.same(&["context", "create", "default", "--docker", &host])
        .await;
    c.same(&["context", "create", "bad", "--docker", "hots=x"])
        .await;
    c.same(&["context", "use", "nope"]).await;
    c.same(&["context", "inspect", "nope"]).await;
    c.same(&["context", "rm", "nope"]).await;
    c.same(&["context", "rm", "b1"]).await;
    c.same(&["--context", "nope", "ps"]).await;
    c.same(&["context", "ls", "-q"]).await;

    // rm: the current one needs -f and then falls back to default.
    let o = c.berth(&["context", "rm", "-f", "b1", "b2"]).await;
    assert_eq!((o.code, o.stdout.as_str()), (0, "b1\nb2\n"), "{}", o.stderr);
    assert_eq!(c.docker(&["context", "show"]).await.stdout, "default\n");
    assert_eq!(c.docker(&["context", "rm", "d2"]).await.code, 0);
    c.same(&["context", "ls", "-q"]).await;
}
