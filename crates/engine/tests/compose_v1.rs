//! Debian's docker-compose v1 (1.29, docker-py underneath) driving a multi-service project
//! through its whole life on berth's daemon and on Docker's own daemon (dockerd 20.10 on a
//! private socket), expecting the same outcome at every step: up with networks, volumes, a
//! healthcheck and depends_on conditions, scale, recreate, run, exec, pause/unpause, kill,
//! rm and down (issue 11). v1 is pinned to API 1.44 on berth (`COMPOSE_API_VERSION`), as it
//! must be on Docker 25 and later; dockerd 20.10 speaks 1.41 at most, so there v1 negotiates.
#![cfg(test)]

use std::path::Path;
use std::process::{Command, Output};

use berth_testkit::daemon::{self, stderr, stdout, Daemon, DOCKER_CLI};
use berth_testkit::dockerd::Dockerd;
use berth_testkit::TempDir;

const PROJECT: &str = r#"
version: "2.4"
services:
  db:
    image: busybox
    command: ["sh", "-c", "echo up > /data/state; touch /tmp/ok; exec sleep 600"]
    volumes:
      - data:/data
    networks: [back]
    healthcheck:
      test: ["CMD", "test", "-e", "/tmp/ok"]
      interval: 1s
      timeout: 2s
      retries: 30
  web:
    image: busybox
    command: sleep 600
    environment:
      ROLE: web
    depends_on:
      db:
        condition: service_healthy
    networks:
      back:
        aliases: [www]
      front: {}
  worker:
    image: busybox
    command: sleep 600
    depends_on:
      web:
        condition: service_started
    networks: [front]
    volumes:
      - data:/data:ro
volumes:
  data: {}
networks:
  back: {}
  front: {}
"#;

/// One daemon under test: its `DOCKER_HOST` and the API version v1 is pinned to.
struct Side<'a> {
    name: &'a str,
    host: String,
    api: Option<&'a str>,
    config: &'a Path,
}

impl Side<'_> {
    fn compose(&self, dir: &Path, args: &[&str]) -> Output {
        let mut c = Command::new("docker-compose");
        c.args(args)
            .current_dir(dir)
            .env("DOCKER_HOST", &self.host)
            .env("DOCKER_CONFIG", self.config)
            .env_remove("COMPOSE_PROJECT_NAME")
            .env_remove("COMPOSE_FILE")
            .stdin(std::process::Stdio::null());
        match self.api {
            Some(v) => c.env("COMPOSE_API_VERSION", v),
            None => c.env_remove("COMPOSE_API_VERSION"),
        };
        c.output().expect("run docker-compose")
    }

    /// `docker-compose …` that must succeed; its stdout.
    fn ok(&self, dir: &Path, args: &[&str]) -> String {
        let o = self.compose(dir, args);
        assert!(
            o.status.success(),
            "{}: docker-compose {args:?}: exit {:?}\nstdout: {}\nstderr: {}",
            self.name,
            o.status,
            stdout(&o),
            stderr(&o)
        );
        stdout(&o)
    }

    fn docker(&self, args: &[&str]) -> Output {
        Command::new(DOCKER_CLI)
            .arg("-H")
            .arg(&self.host)
            .args(args)
            .env("DOCKER_CONFIG", self.config)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run docker")
    }

    /// The project's containers as sorted `name state` lines.
    fn states(&self, project: &str) -> Vec<String> {
        let o = self.docker(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=com.docker.compose.project={project}"),
            "--format",
            "{{.Names}} {{.State}}",
        ]);
        assert!(o.status.success(), "{}: {}", self.name, stderr(&o));
        let mut v: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
        v.sort();
        v
    }

    fn inspect(&self, name: &str, format: &str) -> String {
        let o = self.docker(&["inspect", "--format", format, name]);
        assert!(o.status.success(), "{}: {}", self.name, stderr(&o));
        stdout(&o).trim().to_string()
    }
}

/// Runs `f` on both daemons at once (v1 is slow to start); returns (berth, docker).
fn on_both<T: Send>(sides: &[Side; 2], f: impl Fn(&Side) -> T + Sync) -> (T, T) {
    std::thread::scope(|s| {
        let b = s.spawn(|| f(&sides[0]));
        let d = f(&sides[1]);
        (b.join().expect("berth side"), d)
    })
}

/// Runs the same step on both daemons; returns (berth, docker) stdout.
fn both(sides: &[Side; 2], dir: &Path, args: &[&str]) -> (String, String) {
    on_both(sides, |s| s.ok(dir, args))
}

/// The same observation on both daemons must agree.
fn same<T: PartialEq + std::fmt::Debug + Send>(
    what: &str,
    sides: &[Side; 2],
    f: impl Fn(&Side) -> T + Sync,
) {
    let (b, d) = on_both(sides, f);
    assert_eq!(b, d, "{what}: berth (left) differs from Docker (right)");
}

#[test]
fn peer_docker_compose_v1_project_lifecycle_as_docker() {
    if !daemon::need(
        "peer_docker_compose_v1_project_lifecycle_as_docker",
        &["docker-compose", "dockerd"],
    ) {
        return;
    }
    let berth = Daemon::start();
    berth.load_busybox();
    let docker = Dockerd::start();
    docker.load_busybox();
    let dir = TempDir::new("compose-v1-life");
    let project = format!("v1{}", berth_testkit::unique_name(""));
    let p = dir.path().join(&project);
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("docker-compose.yml"), PROJECT).unwrap();
    let (bcfg, dcfg) = (dir.path().join("cfg-b"), dir.path().join("cfg-d"));
    let sides = [
        Side {
            name: "berth",
            host: berth.host(),
            api: Some("1.44"),
            config: &bcfg,
        },
        Side {
            name: "docker",
            host: docker.host(),
            api: None,
            config: &dcfg,
        },
    ];
    let c = |svc: &str, n: u32| format!("{project}_{svc}_{n}");

    // up: db must be healthy before web starts, web started before worker.
    both(&sides, &p, &["up", "-d"]);
    same("states after up", &sides, |s| s.states(&project));
    for s in &sides {
        assert_eq!(
            s.inspect(&c("db", 1), "{{.State.Health.Status}}"),
            "healthy"
        );
        assert_eq!(s.states(&project).len(), 3, "{}", s.name);
    }
    same("web's aliases on back", &sides, |s| {
        let a = s.inspect(
            &c("web", 1),
            &format!("{{{{json (index .NetworkSettings.Networks \"{project}_back\").Aliases}}}}"),
        );
        let mut v: Vec<String> = serde_json::from_str(&a).unwrap_or_default();
        v.retain(|x| x == "web" || x == "www");
        v.sort();
        v
    });
    // The services reach each other by name on their shared networks.
    both(
        &sides,
        &p,
        &[
            "exec",
            "-T",
            "web",
            "sh",
            "-c",
            "ping -c1 -W2 db && ping -c1 -W2 worker",
        ],
    );
    let (b, d) = both(&sides, &p, &["exec", "-T", "worker", "cat", "/data/state"]);
    assert_eq!((b.trim(), d.trim()), ("up", "up"));

    // ps lists the three services as Up.
    for s in &sides {
        let ps = s.ok(&p, &["ps"]);
        for svc in ["db", "web", "worker"] {
            assert!(ps.contains(&c(svc, 1)), "{}: {ps}", s.name);
        }
        assert!(ps.contains("Up"), "{}: {ps}", s.name);
    }

    // scale out and back in.
    both(&sides, &p, &["up", "-d", "--scale", "worker=3"]);
    same("states after scale 3", &sides, |s| s.states(&project));
    both(&sides, &p, &["up", "-d", "--scale", "worker=1"]);
    same("states after scale 1", &sides, |s| s.states(&project));

    // recreate: forced, then by a changed config; unchanged keeps the container.
    let id = |s: &Side, n: &str| s.inspect(n, "{{.Id}}");
    let before: Vec<String> = sides.iter().map(|s| id(s, &c("web", 1))).collect();
    both(&sides, &p, &["up", "-d", "--force-recreate", "web"]);
    for (s, old) in sides.iter().zip(&before) {
        assert_ne!(&id(s, &c("web", 1)), old, "{}: web not recreated", s.name);
    }
    let kept: Vec<String> = sides.iter().map(|s| id(s, &c("db", 1))).collect();
    std::fs::write(
        p.join("docker-compose.yml"),
        PROJECT.replace("ROLE: web", "ROLE: frontend"),
    )
    .unwrap();
    both(&sides, &p, &["up", "-d"]);
    for (s, old) in sides.iter().zip(&kept) {
        assert_eq!(&id(s, &c("db", 1)), old, "{}: db recreated", s.name);
        let env = s.inspect(&c("web", 1), "{{json .Config.Env}}");
        assert!(env.contains("ROLE=frontend"), "{}: {env}", s.name);
    }
    same("states after recreate", &sides, |s| s.states(&project));

    // run: a one-off container with the service's networks and volumes, removed after.
    let (b, d) = both(
        &sides,
        &p,
        &[
            "run",
            "--rm",
            "-T",
            "worker",
            "sh",
            "-c",
            "cat /data/state; ping -c1 -W2 web >/dev/null && echo reach",
        ],
    );
    assert_eq!(b, d);
    assert_eq!(b.split_whitespace().collect::<Vec<_>>(), ["up", "reach"]);
    same("exit code of run", &sides, |s| {
        s.compose(&p, &["run", "--rm", "-T", "worker", "sh", "-c", "exit 3"])
            .status
            .code()
    });
    same("states after run", &sides, |s| s.states(&project));

    // exec: exit codes and the environment pass through.
    same("exit code of exec", &sides, |s| {
        s.compose(&p, &["exec", "-T", "db", "sh", "-c", "exit 7"])
            .status
            .code()
    });
    let (b, d) = both(
        &sides,
        &p,
        &[
            "exec",
            "-T",
            "-e",
            "X=1",
            "web",
            "sh",
            "-c",
            "echo $X $ROLE",
        ],
    );
    assert_eq!((b.trim(), d.trim()), ("1 frontend", "1 frontend"));

    // pause / unpause.
    both(&sides, &p, &["pause", "web"]);
    same("states while paused", &sides, |s| s.states(&project));
    for s in &sides {
        assert_eq!(s.inspect(&c("web", 1), "{{.State.Status}}"), "paused");
    }
    both(&sides, &p, &["unpause", "web"]);
    same("states after unpause", &sides, |s| s.states(&project));

    // kill, then rm of the stopped service.
    both(&sides, &p, &["kill", "worker"]);
    same("states after kill", &sides, |s| s.states(&project));
    for s in &sides {
        assert_eq!(s.inspect(&c("worker", 1), "{{.State.Status}}"), "exited");
    }
    both(&sides, &p, &["rm", "-f", "worker"]);
    same("states after rm", &sides, |s| s.states(&project));

    // stop / start, restart.
    both(&sides, &p, &["stop", "-t", "1", "web"]);
    same("states after stop", &sides, |s| s.states(&project));
    both(&sides, &p, &["start", "web"]);
    both(&sides, &p, &["restart", "-t", "1", "db"]);
    same("states after restart", &sides, |s| s.states(&project));

    // down -v removes containers, networks and the volume.
    both(&sides, &p, &["down", "-v", "-t", "1"]);
    same("states after down", &sides, |s| s.states(&project));
    for s in &sides {
        let nets = stdout(&s.docker(&["network", "ls", "--format", "{{.Name}}"]));
        assert!(!nets.contains(&project), "{}: {nets}", s.name);
        let vols = stdout(&s.docker(&["volume", "ls", "--format", "{{.Name}}"]));
        assert!(!vols.contains(&project), "{}: {vols}", s.name);
    }
}
