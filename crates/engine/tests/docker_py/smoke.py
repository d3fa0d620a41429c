#!/usr/bin/env python3
"""docker-py (the `docker` package) against a berth daemon: containers and images.

Driven by crates/engine/tests/daemon_features.rs with DOCKER_HOST pointing at a private
daemon that has busybox:latest loaded. Assertions are plain asserts; any failure exits
non-zero with a traceback.
"""

import io
import os
import tarfile
import time

import docker

PREFIX = os.environ.get("BERTH_TEST_PREFIX", "py")


def eventually(what, check, tries=100):
    for _ in range(tries):
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("never happened: " + what)


def images(client):
    bb = client.images.get("busybox:latest")
    assert "busybox:latest" in bb.tags, bb.tags
    assert bb.id.startswith("sha256:"), bb.id
    assert any(i.id == bb.id for i in client.images.list()), "busybox not listed"
    assert client.images.list(name="busybox"), "name filter"

    repo = PREFIX + "/bb"
    assert bb.tag(repo, "v1")
    tagged = client.images.get(repo + ":v1")
    assert tagged.id == bb.id
    assert repo + ":v1" in tagged.tags

    hist = bb.history()
    assert len(hist) >= 1 and "CreatedBy" in hist[0], hist

    data = b"".join(tagged.save(named=repo + ":v1"))
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        names = t.getnames()
    assert "manifest.json" in names, names

    client.images.remove(repo + ":v1")
    try:
        client.images.get(repo + ":v1")
        raise AssertionError("tag still there after remove")
    except docker.errors.ImageNotFound:
        pass

    loaded = client.images.load(data)
    assert any(repo + ":v1" in i.tags for i in loaded), [i.tags for i in loaded]
    client.images.remove(repo + ":v1")

    try:
        client.images.get(PREFIX + "/no-such-image:latest")
        raise AssertionError("unknown image found")
    except docker.errors.ImageNotFound:
        pass


def containers(client):
    out = client.containers.run("busybox", ["echo", "hello"], remove=True)
    assert out == b"hello\n", out

    name = PREFIX + "-c1"
    c = client.containers.run(
        "busybox",
        ["sh", "-c", "echo started; echo oops >&2; sleep 1000"],
        detach=True,
        name=name,
        labels={"berth.test": PREFIX},
    )
    c.reload()
    assert c.status == "running", c.status
    assert c.name == name
    listed = client.containers.list(filters={"label": "berth.test=" + PREFIX})
    assert [x.id for x in listed] == [c.id], listed
    assert client.containers.get(name).id == c.id

    # stdout and stderr are separate pipes: their relative order is not fixed.
    eventually("logs", lambda: sorted(c.logs().splitlines()) == [b"oops", b"started"])
    assert c.logs(stderr=False) == b"started\n", c.logs(stderr=False)

    res = c.exec_run(["sh", "-c", "echo $((1 + 2))"])
    assert res.exit_code == 0 and res.output == b"3\n", res
    res = c.exec_run(["sh", "-c", "exit 7"])
    assert res.exit_code == 7, res

    # Archive: put a tar in, get it back.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        body = b"from docker-py\n"
        info = tarfile.TarInfo("pyfile.txt")
        info.size = len(body)
        t.addfile(info, io.BytesIO(body))
    assert c.put_archive("/tmp", buf.getvalue())
    stream, stat = c.get_archive("/tmp/pyfile.txt")
    assert stat["name"] == "pyfile.txt" and stat["size"] == len(body), stat
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as t:
        assert t.extractfile("pyfile.txt").read() == body

    c.stop(timeout=1)
    status = c.wait()
    assert status["StatusCode"] == 137, status
    c.reload()
    assert c.status == "exited", c.status
    assert c.id in [x.id for x in client.containers.list(all=True)]
    assert c.id not in [x.id for x in client.containers.list()]
    c.remove()
    try:
        client.containers.get(name)
        raise AssertionError("container still there after remove")
    except docker.errors.NotFound:
        pass

    c2 = client.containers.run("busybox", ["sh", "-c", "exit 4"], detach=True)
    assert c2.wait()["StatusCode"] == 4
    c2.remove(force=True)

    try:
        client.containers.run("busybox", ["no-such-command"], remove=True)
        raise AssertionError("missing command ran")
    except docker.errors.APIError as e:
        assert "executable file not found" in str(e), str(e)


def main():
    client = docker.from_env()
    assert client.ping()
    assert client.version()["ApiVersion"]
    images(client)
    containers(client)
    print("docker-py: all passed")


if __name__ == "__main__":
    main()
