#!/usr/bin/env python3
"""docker-py against berth and against Docker's own daemon: the same calls, the same answers.

Usage: fidelity.py CASE BERTH_HOST [DOCKERD_HOST]

Driven by crates/engine/tests/api_fidelity.rs. Both daemons have busybox:latest loaded.
Each case runs its calls on every daemon given and asserts that berth answers as Docker
does (Docker 20.10 speaks API 1.41 at most, so comparisons pin 1.41; berth-only checks use
newer versions). Plain asserts; any failure exits non-zero with a traceback.
"""

import json
import os
import sys

import docker
from docker import APIClient
from docker.errors import APIError

CASE = sys.argv[1]
HOSTS = {"berth": sys.argv[2]}
if len(sys.argv) > 3:
    HOSTS["docker"] = sys.argv[3]
PREFIX = os.environ.get("BERTH_TEST_PREFIX", "fid")


def api(host, version="1.41"):
    return APIClient(base_url=host, version=version, timeout=60)


def post_json(c, path, body, **params):
    """A raw POST with exactly this JSON (docker-py would drop None values)."""
    r = c._post(c._url(path), data=json.dumps(body), params=params,
                headers={"Content-Type": "application/json"})
    return r.status_code, (r.json() if r.content else None)


def each(fn):
    """{daemon: fn(daemon, host)} for every daemon under test."""
    return {name: fn(name, host) for name, host in HOSTS.items()}


def same(what, results):
    vals = list(results.values())
    assert all(v == vals[0] for v in vals), "%s differs: %s" % (what, json.dumps(results, indent=1, sort_keys=True))
    return vals[0]


# ---- null means "not set" -------------------------------------------------------------

CREATE_WITH_NULLS = {
    "Image": "busybox", "Cmd": ["true"], "Hostname": None, "Domainname": None, "User": None,
    "AttachStdin": None, "AttachStdout": None, "AttachStderr": None, "ExposedPorts": None,
    "Tty": None, "OpenStdin": None, "StdinOnce": None, "Env": None, "Entrypoint": None,
    "Volumes": None, "WorkingDir": None, "NetworkDisabled": None, "OnBuild": None,
    "Labels": None, "StopSignal": None, "StopTimeout": None, "Shell": None,
    "Healthcheck": {"Test": ["CMD", "true"], "Interval": None, "Timeout": None,
                    "Retries": None, "StartPeriod": None},
    "HostConfig": {
        "Binds": None, "ContainerIDFile": None, "LogConfig": None, "NetworkMode": "none",
        "PortBindings": None, "RestartPolicy": None, "AutoRemove": None, "VolumeDriver": None,
        "VolumesFrom": None, "CapAdd": None, "CapDrop": None, "Dns": None, "DnsOptions": None,
        "DnsSearch": None, "ExtraHosts": None, "GroupAdd": None, "IpcMode": None, "Cgroup": None,
        "Links": None, "OomScoreAdj": None, "PidMode": None, "Privileged": None,
        "PublishAllPorts": None, "ReadonlyRootfs": None, "SecurityOpt": None, "StorageOpt": None,
        "Tmpfs": None, "UTSMode": None, "UsernsMode": None, "ShmSize": None, "Sysctls": None,
        "Runtime": None, "Isolation": None, "Memory": None, "MemorySwap": None,
        "MemoryReservation": None, "NanoCpus": None, "CpuShares": None, "CpuPeriod": None,
        "CpuQuota": None, "CpusetCpus": None, "CpusetMems": None, "Devices": None,
        "DeviceCgroupRules": None, "DeviceRequests": None, "BlkioWeight": None,
        "BlkioWeightDevice": None, "PidsLimit": None, "Ulimits": None, "OomKillDisable": None,
        "Init": None, "Mounts": None, "MaskedPaths": None, "ReadonlyPaths": None,
        "ConsoleSize": None, "CgroupnsMode": None,
    },
    "NetworkingConfig": {"EndpointsConfig": None},
}


def nulls(name, host):
    c = api(host)
    n = PREFIX + "-nulls"
    status, body = post_json(c, "/containers/create", CREATE_WITH_NULLS, name=n)
    assert status == 201, (name, status, body)
    i = c.inspect_container(n)
    seen = {
        "Healthcheck": i["Config"].get("Healthcheck"),
        "Env is a list": isinstance(i["Config"].get("Env"), list),
        "Memory": i["HostConfig"]["Memory"],
        "RestartPolicy": i["HostConfig"]["RestartPolicy"]["Name"],
        "AutoRemove": i["HostConfig"]["AutoRemove"],
        "Privileged": i["HostConfig"]["Privileged"],
    }
    # update, exec create, volume and network create with nulls
    status, body = post_json(c, "/containers/%s/update" % n,
                             {"Memory": None, "CpuShares": None, "RestartPolicy": None,
                              "PidsLimit": None, "BlkioWeight": None})
    seen["update"] = status
    assert status == 200, (name, status, body)
    c.start(n)
    c.wait(n)
    status, body = post_json(c, "/volumes/create",
                             {"Name": PREFIX + "-vol", "Driver": None, "DriverOpts": None,
                              "Labels": None})
    seen["volume create"] = status
    assert status == 201, (name, status, body)
    c.remove_volume(PREFIX + "-vol")
    status, body = post_json(c, "/networks/create",
                             {"Name": PREFIX + "-net", "Driver": None, "Options": None,
                              "Labels": None, "Internal": None, "Attachable": None})
    seen["network create"] = status
    assert status == 201, (name, status, body)
    c.remove_network(PREFIX + "-net")
    # docker-py's own healthcheck type sends None durations as null
    hc = c.create_container("busybox", "true", name=PREFIX + "-hc",
                            healthcheck={"test": ["CMD", "true"], "interval": None,
                                         "timeout": None, "retries": None,
                                         "start_period": None},
                            host_config=c.create_host_config(network_mode="none"))
    seen["docker-py healthcheck"] = c.inspect_container(hc["Id"])["Config"]["Healthcheck"]
    c.remove_container(hc["Id"])
    c.remove_container(n, force=True)
    return seen


# ---- keys match fields case-insensitively ---------------------------------------------

def keys(name, host):
    c = api(host)
    n = PREFIX + "-case"
    status, body = post_json(c, "/containers/create", {
        "image": "busybox", "cmd": ["sleep", "1"], "WORKINGDIR": "/tmp",
        "labels": {"MixedCase": "kept"},
        "hostconfig": {"memory": 16777216, "networkmode": "none", "restartpolicy":
                       {"name": "on-failure", "maximumretrycount": 2}},
    }, name=n)
    assert status == 201, (name, status, body)
    i = c.inspect_container(n)
    c.remove_container(n, force=True)
    return {
        "Cmd": i["Config"]["Cmd"], "WorkingDir": i["Config"]["WorkingDir"],
        "Labels": i["Config"]["Labels"], "Memory": i["HostConfig"]["Memory"],
        "RestartPolicy": i["HostConfig"]["RestartPolicy"],
    }


def case_keys():
    print("nulls:", same("null fields", each(nulls)))
    print("keys:", same("case-insensitive keys", each(keys)))
    # docker-py's own spelling of CpuRealtimePeriod/Runtime (berth only: Docker 20.10
    # refuses them on a kernel without real-time group scheduling, after reading them).
    c = api(HOSTS["berth"], "1.44")
    hc = c.create_host_config(network_mode="none", cpu_rt_period=1000000, cpu_rt_runtime=950000)
    assert "CPURealtimePeriod" in hc, hc
    try:
        cid = c.create_container("busybox", "true", host_config=hc)["Id"]
        h = c.inspect_container(cid)["HostConfig"]
        assert h["CpuRealtimePeriod"] == 1000000, h
        assert h["CpuRealtimeRuntime"] == 950000, h
        c.remove_container(cid)
    except APIError as e:
        # Refusing it is fine if the message is about the kernel, not a dropped field.
        assert "real-time" in str(e) or "realtime" in str(e).lower(), e


# ---- responses follow the requested API version ---------------------------------------

def image_shapes(name, host):
    c = api(host)
    i = c.inspect_image("busybox:latest")
    listed = [x for x in c.images(all=True) if x["Id"] == i["Id"]][0]
    # An untagged image: a commit without a repository.
    ctr = c.create_container("busybox", "true", host_config=c.create_host_config(network_mode="none"))
    untagged = c.commit(ctr["Id"])["Id"]
    c.remove_container(ctr["Id"])
    dangling = [x for x in c.images(all=True) if x["Id"] == untagged]
    c.remove_image(untagged)
    return {
        "inspect keys": sorted(i.keys()),
        "ContainerConfig keys": sorted((i.get("ContainerConfig") or {}).keys()),
        "Container": i.get("Container"),
        "VirtualSize == Size": i.get("VirtualSize") == i["Size"],
        "list keys": sorted(listed.keys()),
        "dangling tags": [(d["RepoTags"], d["RepoDigests"]) for d in dangling],
    }


def alias_shapes(name, host):
    c = api(host)
    net = PREFIX + "-aliases"
    c.create_network(net)
    n = PREFIX + "-al"
    cid = c.create_container(
        "busybox", "sleep 30", name=n, host_config=c.create_host_config(network_mode=net),
        networking_config=c.create_networking_config(
            {net: c.create_endpoint_config(aliases=["web"])}))["Id"]
    c.start(cid)
    got = c.inspect_container(cid)["NetworkSettings"]["Networks"][net]["Aliases"]
    c.remove_container(cid, force=True)
    c.remove_network(net)
    return sorted(a if a != cid[:12] else "<short id>" for a in got)


def case_versions():
    print("images:", same("image shapes at 1.41", each(image_shapes)))
    print("aliases:", same("aliases at 1.41", each(alias_shapes)))
    b = api(HOSTS["berth"], "1.44")
    i = b.inspect_image("busybox:latest")
    assert "ContainerConfig" in i and "Container" in i, i.keys()
    assert "VirtualSize" not in i, i.keys()
    for v in ("1.45", "1.47"):
        i = api(HOSTS["berth"], v).inspect_image("busybox:latest")
        assert "ContainerConfig" not in i and "Container" not in i, (v, i.keys())
    assert all("VirtualSize" not in x for x in api(HOSTS["berth"], "1.44").images())
    assert all(x["RepoTags"] != ["<none>:<none>"] for x in api(HOSTS["berth"], "1.43").images())


# ---- swarm endpoints outside a swarm ---------------------------------------------------

SWARM_CALLS = [
    ("GET", "/swarm"), ("POST", "/swarm/leave"), ("POST", "/swarm/update"),
    ("GET", "/swarm/unlockkey"), ("POST", "/swarm/unlock"), ("GET", "/nodes"),
    ("GET", "/nodes/x"), ("DELETE", "/nodes/x"), ("GET", "/services"), ("GET", "/services/x"),
    ("DELETE", "/services/x"), ("GET", "/services/x/logs?stdout=1"), ("GET", "/tasks"),
    ("GET", "/tasks/x"), ("POST", "/swarm/update?version=3"), ("POST", "/swarm/update?version=x"),
    ("GET", "/secrets"), ("GET", "/secrets/x"), ("DELETE", "/secrets/x"), ("GET", "/configs"),
    ("GET", "/configs/x"), ("DELETE", "/configs/x"), ("POST", "/services/create"),
    ("POST", "/secrets/create"), ("POST", "/configs/create"),
]


def swarm(name, host):
    c = api(host)
    out = {}
    for method, path in SWARM_CALLS:
        body = "{}" if method == "POST" else None
        resp = c.request(method, c._url(path), data=body,
                         headers={"Content-Type": "application/json"} if body else None)
        msg = resp.json().get("message") if resp.content else None
        out["%s %s" % (method, path)] = (resp.status_code, msg)
    client = docker.DockerClient(base_url=host, version="1.41")
    out["leave(force=True)"] = client.swarm.leave(force=True)
    try:
        client.nodes.list()
        out["nodes.list"] = "no error"
    except APIError as e:
        out["nodes.list"] = (e.status_code, e.explanation)
    return out


def case_swarm():
    print("swarm:", same("swarm answers", each(swarm)))


# ---- containers: exec framing and exit codes, create options ------------------------------

def started(c, name, **kw):
    ctr = c.create_container("busybox", ["sleep", "600"], name=name, **kw)
    c.start(ctr)
    return ctr["Id"]


def exec_cases(name, host):
    c = api(host)
    cid = started(c, "%s-exec-%s" % (PREFIX, name))
    out = {}
    try:
        # Created with a tty, started with Tty:false: the stream is multiplexed (demux
        # separates it); the tty merged stderr into stdout.
        e = c.exec_create(cid, ["sh", "-c", "echo out; echo err >&2"], tty=True)
        res = c.exec_start(e, tty=False, demux=True)
        out["tty exec, start Tty:false"] = [x.replace(b"\r", b"").decode() if x else x for x in res]
        # Created without a tty, started with Tty:true: raw output.
        e = c.exec_create(cid, ["sh", "-c", "echo raw"], tty=False)
        out["no-tty exec, start Tty:true"] = c.exec_start(e, tty=True).decode()
        e = c.exec_create(cid, ["sh", "-c", "echo a; echo b >&2; exit 3"])
        out["plain demux"] = [x.decode() if x else x for x in c.exec_start(e, demux=True)]
        out["plain exit"] = c.exec_inspect(e)["ExitCode"]
        # A program that cannot start: the exec's exit code.
        for prog in ["/nonexistent", "/etc", "nonexistent-in-path"]:
            e = c.exec_create(cid, [prog])
            c.exec_start(e)
            out["exit of %s" % prog] = c.exec_inspect(e)["ExitCode"]
    finally:
        c.remove_container(cid, force=True)
    return out


def case_exec():
    print("exec:", same("exec answers", each(exec_cases)))


def create_error(c, **host_kw):
    try:
        ctr = c.create_container("busybox", ["true"], host_config=c.create_host_config(**host_kw))
    except APIError as e:
        return (e.status_code, e.explanation)
    c.remove_container(ctr, force=True)
    return "created"


def create_options(name, host):
    c = api(host)
    out = {}
    out["log driver nope"] = create_error(c, log_config={"Type": "nope"})
    # Docker 20.10 words it "Unknown runtime specified nope"; 25 and later as berth does.
    status, msg = create_error(c, runtime="nope")
    out["runtime nope"] = status
    if name == "berth":
        assert msg == "unknown or invalid runtime name: nope", msg
    # GroupAdd: numbers and names from the image's /etc/group.
    ctr = c.create_container("busybox", ["id", "-G"], host_config=c.create_host_config(
        group_add=[1234, "nogroup"]))
    c.start(ctr)
    c.wait(ctr)
    out["id -G"] = c.logs(ctr).decode().split()
    out["runtime shown"] = c.inspect_container(ctr)["HostConfig"]["Runtime"] != ""
    c.remove_container(ctr, force=True)
    ctr = c.create_container("busybox", ["id", "-G"], host_config=c.create_host_config(
        group_add=["nosuchgroup"]))
    try:
        c.start(ctr)
        out["unknown group"] = "started"
    except APIError as e:
        out["unknown group"] = "Unable to find group nosuchgroup" in e.explanation
    c.remove_container(ctr, force=True)
    return out


def case_create_options():
    print("create options:", same("create answers", each(create_options)))


{"keys": case_keys, "versions": case_versions, "swarm": case_swarm, "exec": case_exec,
 "create_options": case_create_options}[CASE]()
print("fidelity %s: all passed" % CASE)
