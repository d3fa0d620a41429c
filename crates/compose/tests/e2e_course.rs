//! The course's Docker Compose project, as the course writes it (`redis-app` from `image:
//! 'redis'`, `node-app` from `build: .` publishing port 8081), with stand-ins built from
//! Debian packages: one `debootstrap --variant=minbase bookworm` with redis-server and
//! python3 (berth_testkit::debian, cached per machine). The `redis` image is built from it
//! with the docker CLI; the app is a small Python HTTP server that counts visits in redis,
//! reached by the service name on the project network, built by berth's builder
//! (`POST /build`) from `build: .`. Then `up -d`, `ps`, `down`, data surviving in a
//! volume, and `down -v`, through `berth compose` on berth's daemon.
#![cfg(test)]

mod support;

use berth_testkit::daemon::stderr;
use support::{free_port, http_line, ok, ok_output, Setup};

/// The course's file (a volume added for redis's data, a port free on this machine).
const COURSE: &str = r#"version: '3'
services:

  redis-app: # dns name pour l'application node
    image: 'redis'
    volumes:
      - data:/data

  node-app:
    build: . # cible le Dockerfile (dossier courant)
    ports:
      - "${PORT}:8081"
    depends_on:
      - redis-app

volumes:
  data:
"#;

/// The app: `GET /` increments `visits` in redis (RESP over a socket to `redis-app:6379`).
const APP: &str = r#"import http.server, socket

def visits():
    with socket.create_connection(("redis-app", 6379), timeout=5) as s:
        s.sendall(b"INCR visits\r\n")
        reply = s.makefile("rb").readline()
    return int(reply[1:])

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("Number of visits is %d\n" % visits()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

http.server.ThreadingHTTPServer(("", 8081), Handler).serve_forever()
"#;

fn visits(port: u16) -> String {
    http_line(port, "/", "Number of visits is ")
}

#[test]
fn course_project_with_debian_stand_ins_and_build() {
    let Some(s) = Setup::start(
        "course_project_with_debian_stand_ins_and_build",
        &["debootstrap"],
    ) else {
        return;
    };
    let debian = berth_testkit::debian::image_archive(&["redis-server", "python3"]);
    ok(s.d.docker(&["load", "-i", debian.path.to_str().unwrap()]));
    // the course's `redis` image
    let redis = s.project(
        "redis-image",
        &[(
            "Dockerfile",
            &format!(
                "FROM {}\nCMD [\"redis-server\", \"--protected-mode\", \"no\", \"--dir\", \"/data\", \"--appendonly\", \"yes\", \"--appendfsync\", \"always\"]\n",
                debian.tag
            ),
        )],
    );
    ok(s.d.docker(&["build", "-t", "redis", redis.to_str().unwrap()]));

    let port = free_port();
    let env = format!("PORT={port}\n");
    let dockerfile = format!(
        "FROM {}\nWORKDIR /app\nCOPY app.py .\nCMD [\"python3\", \"app.py\"]\n",
        debian.tag
    );
    let app = s.project(
        "course",
        &[
            ("docker-compose.yml", COURSE),
            ("Dockerfile", &dockerfile),
            ("app.py", APP),
            (".env", &env),
        ],
    );

    // up -d builds node-app, makes the network and the volume, starts both
    let err = stderr(&ok_output(s.compose(&app, &["up", "-d"])));
    assert!(err.contains(" Network course_default Created"), "{err}");
    assert!(err.contains(" Volume \"course_data\" Created"), "{err}");
    assert!(
        err.contains(" Container course-node-app-1 Started"),
        "{err}"
    );
    ok(s.d.docker(&["image", "inspect", "course-node-app"]));
    assert_eq!(visits(port), "Number of visits is 1");
    assert_eq!(visits(port), "Number of visits is 2");

    // ps, from the directory holding the file
    assert_eq!(
        ok(s.compose(&app, &["ps", "--format", "{{.Name}} {{.Image}} {{.State}}"])),
        "course-node-app-1 course-node-app running\ncourse-redis-app-1 redis running\n"
    );
    // redis is not published; the app is, on the course's container port
    assert_eq!(
        ok(s.compose(&app, &["port", "node-app", "8081"])).trim(),
        format!("0.0.0.0:{port}")
    );

    // down keeps the volume: the count goes on after up
    ok(s.compose(&app, &["down"]));
    assert_eq!(ok(s.compose(&app, &["ps", "-a", "-q"])), "");
    ok(s.compose(&app, &["up", "-d"]));
    assert_eq!(visits(port), "Number of visits is 3");

    // an unchanged up rebuilds nothing and recreates nothing
    let err = stderr(&ok_output(s.compose(&app, &["up", "-d"])));
    assert!(!err.contains("Recreate") && !err.contains("Built"), "{err}");

    // down -v removes the volume too
    ok(s.compose(&app, &["down", "-v"]));
    assert_eq!(support::leftovers(&s.d, "course"), "");
}
