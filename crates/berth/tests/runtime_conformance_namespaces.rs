//! Conformance, side by side with runc: namespaces joined by path (checked against their
//! type, the mount namespace included), rootfs propagation, uid and gid mappings. The table
//! is in docs/runtime.md.
#![cfg(test)]

mod support;

use std::path::{Path, PathBuf};

use berth_testkit::{require_program, require_root};
use serde_json::json;
use support::conformance::{
    both, create_start_wait, ensure, grant, join_namespace, run_ok, Outcome, Runc,
};
use support::{Bundle, Rt};

macro_rules! need {
    () => {
        require_root!();
        require_program!("runc");
        require_program!("unshare");
    };
}

use support::conformance::NsHolder;

#[test]
fn runtime_conformance_join_network_namespace_by_path() {
    need!();
    both("network namespace joined by path", Runc::Passes, |rt| {
        let holder = NsHolder::new(&["--net"]);
        let mut b = Bundle::on(rt, &["readlink", "/proc/self/ns/net"]);
        join_namespace(&mut b, "network", &holder.ns("net"));
        let out = run_ok(&b)?;
        ensure(out.trim() == holder.ns_id("net"), || {
            format!("joined {out}, not {}", holder.ns_id("net"))
        })
    });
}

#[test]
fn runtime_conformance_namespace_path_of_another_type_is_refused() {
    need!();
    both("namespace path of another type", Runc::Passes, |rt| {
        let holder = NsHolder::new(&["--net"]);
        let mut b = Bundle::on(rt, &["true"]);
        join_namespace(&mut b, "ipc", &holder.ns("net"));
        let err = match b.try_create() {
            Ok(id) => return Err(format!("create succeeded: {}", b.state(&id))),
            Err(e) => e,
        };
        ensure(err.contains("ipc"), || {
            format!("error does not say ipc: {err}")
        })?;
        let listed = support::stdout(&b.berth(&["list", "-q"]));
        ensure(listed.trim().is_empty(), || {
            format!("left behind: {listed}")
        })
    });
}

/// The rootfs is set up within the joined mount namespace (as runc does); the container
/// works there. Each runtime gets a fresh namespace: pivot_root changes its root.
#[test]
fn runtime_conformance_join_mount_namespace_by_path() {
    need!();
    both("mount namespace joined by path", Runc::Passes, |rt| {
        let holder = NsHolder::new(&["--mount", "--propagation", "private"]);
        let mut b = Bundle::on(rt, &["sh", "-c", "readlink /proc/self/ns/mnt; echo works"]);
        join_namespace(&mut b, "mount", &holder.ns("mnt"));
        let out = create_start_wait(&b)?;
        ensure(out.contains("works"), || out.clone())?;
        ensure(out.contains(&holder.ns_id("mnt")), || {
            format!("not in {}: {out}", holder.ns_id("mnt"))
        })
    });
}

#[test]
fn runtime_conformance_no_mount_namespace_is_refused() {
    need!();
    both(
        "no mount namespace: refused by create",
        Runc::Passes,
        |rt| {
            let mut b = Bundle::on(rt, &["true"]);
            b.spec["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .retain(|n| n["type"] != "mount");
            let err = match b.try_create() {
                Ok(id) => return Err(format!("create succeeded: {}", b.state(&id))),
                Err(e) => e,
            };
            ensure(err.to_lowercase().contains("namespace"), || err.clone())
        },
    );
}

/// A bind mount of `dir` onto itself, made shared, undone on drop: a rootfs the host
/// shares, so the propagation the container's root gets becomes visible.
struct SharedMount(PathBuf);

impl SharedMount {
    fn new(dir: &Path) -> SharedMount {
        let run = |args: &[&str]| {
            let st = std::process::Command::new("mount").args(args).status();
            assert!(st.unwrap().success(), "mount {args:?}");
        };
        let d = dir.to_str().unwrap();
        run(&["--bind", d, d]);
        let guard = SharedMount(dir.to_path_buf());
        run(&["--make-shared", d]);
        guard
    }
}

impl Drop for SharedMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .args(["-R", "-l"])
            .arg(&self.0)
            .status();
    }
}

/// `linux.rootfsPropagation: value`: the container's / gets that propagation (optional
/// fields `want`, none of `not`), receives a mount the host makes under the rootfs after
/// create when `sees_host` (shared, slave), and nothing the container mounts reaches the host.
fn propagation(rt: Rt, value: &str, want: &[&str], not: &[&str], sees_host: bool) -> Outcome {
    let script = "awk '$5==\"/\"' /proc/self/mountinfo | sed 's/ - .*//'; \
                  echo host-mount=$(grep -c ' /mnt ' /proc/self/mountinfo); \
                  mount -t tmpfs inner /m2 && echo mounted";
    let mut b = Bundle::on(rt, &["sh", "-c", script]);
    grant(&mut b, "CAP_SYS_ADMIN");
    b.spec["linux"]["rootfsPropagation"] = json!(value);
    for d in ["mnt", "m2"] {
        std::fs::create_dir_all(b.rootfs().join(d)).unwrap();
    }
    let _shared = SharedMount::new(&b.rootfs());
    let id = b.try_create()?;
    let host_mnt = b.rootfs().join("mnt");
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "hostside"])
        .arg(&host_mnt)
        .status()
        .unwrap();
    assert!(st.success());
    support::conformance::succeeded("start", &b.berth(&["start", &id]))?;
    b.wait_stopped(&id)?;
    let out = b.log(&id);
    let root_line = out.lines().next().unwrap_or_default().to_string();
    for w in want {
        ensure(root_line.contains(w), || format!("/ lacks {w}: {out}"))?;
    }
    for n in not {
        ensure(!root_line.contains(n), || format!("/ has {n}: {out}"))?;
    }
    let seen = out.contains("host-mount=1");
    ensure(seen == sees_host, || {
        format!("host mount seen: {seen}, expected {sees_host}: {out}")
    })?;
    ensure(out.contains("mounted"), || out.clone())?;
    let leaked = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains(b.rootfs().join("m2").to_str().unwrap());
    ensure(!leaked, || "a container mount reached the host".into())
}

#[test]
fn runtime_conformance_rootfs_propagation_shared() {
    need!();
    both("rootfsPropagation shared", Runc::Fails, |rt| {
        propagation(rt, "shared", &["shared:"], &[], true)
    });
}

#[test]
fn runtime_conformance_rootfs_propagation_slave() {
    need!();
    both("rootfsPropagation slave", Runc::Fails, |rt| {
        propagation(rt, "slave", &["master:"], &["shared:"], true)
    });
}

#[test]
fn runtime_conformance_rootfs_propagation_private() {
    need!();
    both("rootfsPropagation private", Runc::Passes, |rt| {
        propagation(
            rt,
            "private",
            &[],
            &["shared:", "master:", "unbindable"],
            false,
        )
    });
}

#[test]
fn runtime_conformance_rootfs_propagation_unbindable() {
    need!();
    both("rootfsPropagation unbindable", Runc::Fails, |rt| {
        propagation(rt, "unbindable", &["unbindable"], &["shared:"], false)
    });
}

/// rootfsPropagation on a rootfs that is a plain directory (not a mount of its own):
/// every value gives a container that runs.
#[test]
fn runtime_conformance_rootfs_propagation_values_on_a_plain_directory() {
    need!();
    both(
        "rootfsPropagation on a plain rootfs directory",
        Runc::Fails,
        |rt| {
            for value in ["shared", "slave", "private", "unbindable"] {
                let mut b = Bundle::on(rt, &["true"]);
                b.spec["linux"]["rootfsPropagation"] = json!(value);
                run_ok(&b).map_err(|e| format!("{value}: {e}"))?;
            }
            Ok(())
        },
    );
}

#[test]
fn runtime_conformance_uid_and_gid_mappings() {
    need!();
    both("uid and gid mappings", Runc::Passes, |rt| {
        let mut b = Bundle::on(
            rt,
            &[
                "sh",
                "-c",
                "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; sleep 100",
            ],
        );
        b.add_namespace("user");
        b.spec["linux"]["uidMappings"] =
            json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        b.spec["linux"]["gidMappings"] =
            json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        let id = b.try_create()?;
        let pid = b.state(&id)["pid"].as_i64().unwrap_or(0);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let ids = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap_or_default()
                .to_string()
        };
        ensure(ids("Uid:") == "100000", || format!("host uid: {status}"))?;
        ensure(ids("Gid:") == "200000", || format!("host gid: {status}"))?;
        let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap_or_default();
        let fields: Vec<&str> = map.split_whitespace().collect();
        ensure(fields == ["0", "100000", "65536"], || {
            format!("uid_map {map}")
        })?;
        let map = std::fs::read_to_string(format!("/proc/{pid}/gid_map")).unwrap_or_default();
        let fields: Vec<&str> = map.split_whitespace().collect();
        ensure(fields == ["0", "200000", "65536"], || {
            format!("gid_map {map}")
        })?;
        support::conformance::succeeded("delete", &b.berth(&["delete", "--force", &id]))
    });
}
