#!/usr/bin/env python3
"""docker-py's `images.build` against one daemon (berth or Docker's), driven by
crates/engine/tests/build_clients.rs. Prints one JSON object describing what was built
(config fields, layer counts, log markers) so the test can compare two daemons; any
failed assertion exits non-zero with a traceback.

argv: <context dir>
"""

import io
import json
import sys
import tarfile

import docker

ctx = sys.argv[1]
client = docker.from_env(version="1.41")
out = {}


def summary(image):
    c = image.attrs["Config"]
    return {
        "Cmd": c.get("Cmd"),
        "Env": c.get("Env"),
        "Labels": c.get("Labels"),
        "WorkingDir": c.get("WorkingDir"),
        "User": c.get("User"),
        "Layers": len(image.attrs["RootFS"]["Layers"]),
    }


def streams(logs):
    return "".join(l.get("stream", "") for l in logs)


# A directory context with build args, labels and a tag.
image, logs = client.images.build(
    path=ctx, tag="pybuild:one", buildargs={"GREETING": "hi from py"}, labels={"via": "docker-py"}, rm=True
)
text = streams(logs)
assert "Successfully built" in text, text
assert "pybuild:one" in image.tags, image.tags
out["dir"] = summary(image)
out["greeting"] = client.containers.run(image.id, ["cat", "/greeting"], remove=True).decode()

# The same again: all cache, same id.
again, logs = client.images.build(path=ctx, tag="pybuild:one", buildargs={"GREETING": "hi from py"}, labels={"via": "docker-py"})
assert again.id == image.id, (again.id, image.id)
# (Counting "Using cache" would differ: dockerd's classic builder also walks the unused
# stage, berth skips it.)
out["cached_rebuild_ran"] = streams(logs).count("Running in")

# --target.
first, _ = client.images.build(path=ctx, tag="pybuild:first", target="first")
out["target"] = summary(first)

# A bare Dockerfile as a file object (no context).
bare, _ = client.images.build(fileobj=io.BytesIO(b"FROM busybox\nENV BARE=1\nCMD [\"true\"]\n"), tag="pybuild:bare")
out["bare"] = summary(bare)

# A gzip'd tar as a custom context.
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:gz") as t:
    for name, data in [("Dockerfile", b"FROM busybox\nCOPY f /f\n"), ("f", b"custom\n")]:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
buf.seek(0)
custom, _ = client.images.build(fileobj=buf, custom_context=True, encoding="gzip", tag="pybuild:custom")
out["custom"] = client.containers.run(custom.id, ["cat", "/f"], remove=True).decode()

# A failing RUN raises BuildError with the step's code; nothing is tagged.
try:
    client.images.build(fileobj=io.BytesIO(b"FROM busybox\nRUN exit 3\n"), tag="pybuild:broken")
    raise AssertionError("the failing build succeeded")
except docker.errors.BuildError as e:
    out["failure"] = str(e.msg)
try:
    client.images.get("pybuild:broken")
    raise AssertionError("a failed build was tagged")
except docker.errors.ImageNotFound:
    pass

print(json.dumps(out, sort_keys=True))
