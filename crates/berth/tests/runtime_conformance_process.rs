//! Conformance, side by side with runc: what the container's process gets (rlimits,
//! oom_score_adj, sysctls, devices, a read-only root, masked and read-only paths), seccomp
//! profiles without close_range, and security labels the host cannot apply. The table is
//! in docs/runtime.md.
#![cfg(test)]

mod support;

use berth_testkit::{require_program, require_root};
use serde_json::{json, Value};
use support::conformance::{both, ensure, run_ok, Runc};
use support::{Bundle, Rt};

macro_rules! need {
    () => {
        require_root!();
        require_program!("runc");
    };
}

#[test]
fn runtime_conformance_rlimits() {
    need!();
    both("rlimits", Runc::Passes, |rt| {
        let mut b = Bundle::on(rt, &["sh", "-c", "ulimit -Sn; ulimit -Hn; ulimit -Sc"]);
        b.spec["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}
        ]);
        let out = run_ok(&b)?;
        ensure(
            out.split_whitespace().collect::<Vec<_>>() == ["321", "654", "0"],
            || out,
        )
    });
}

#[test]
fn runtime_conformance_oom_score_adj() {
    need!();
    both("oomScoreAdj", Runc::Passes, |rt| {
        let mut b = Bundle::on(rt, &["cat", "/proc/self/oom_score_adj"]);
        b.spec["process"]["oomScoreAdj"] = json!(423);
        let out = run_ok(&b)?;
        ensure(out.trim() == "423", || out)
    });
}

#[test]
fn runtime_conformance_sysctls() {
    need!();
    both("sysctl (net and ipc namespaced)", Runc::Passes, |rt| {
        let mut b = Bundle::on(
            rt,
            &[
                "sh",
                "-c",
                "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax",
            ],
        );
        b.spec["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.msgmax": "12345"});
        let out = run_ok(&b)?;
        ensure(
            out.split_whitespace().collect::<Vec<_>>() == ["1", "12345"],
            || out,
        )
    });
}

/// `linux.devices` nodes exist with their numbers and mode; the device cgroup allows the
/// one `resources.devices` allows and denies another.
#[test]
fn runtime_conformance_devices() {
    need!();
    both("devices and the device cgroup", Runc::Passes, |rt| {
        let mut b = Bundle::on(
            rt,
            &[
                "sh",
                "-c",
                "stat -c '%t:%T %a' /dev/berth-null; echo x > /dev/berth-null && echo null-ok; \
                 head -c1 /dev/berth-kmsg >/dev/null 2>&1 || echo kmsg-denied",
            ],
        );
        b.spec["linux"]["devices"] = json!([
            {"path": "/dev/berth-null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640,
             "uid": 0, "gid": 0},
            {"path": "/dev/berth-kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o600}
        ]);
        b.spec["linux"]["resources"]["devices"] = json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}
        ]);
        let out = run_ok(&b)?;
        let want = ["1:3 640", "null-ok", "kmsg-denied"];
        ensure(out.lines().collect::<Vec<_>>() == want, || out)
    });
}

#[test]
fn runtime_conformance_readonly_rootfs() {
    need!();
    both("read-only root", Runc::Passes, |rt| {
        let mut b = Bundle::on(
            rt,
            &[
                "sh",
                "-c",
                "touch /x 2>/dev/null || echo root-ro; echo y > /dev/shm/y && echo shm-rw",
            ],
        );
        b.spec["root"]["readonly"] = json!(true);
        let out = run_ok(&b)?;
        ensure(
            out.lines().collect::<Vec<_>>() == ["root-ro", "shm-rw"],
            || out,
        )?;
        ensure(!b.rootfs().join("x").exists(), || "wrote the rootfs".into())
    });
}

#[test]
fn runtime_conformance_masked_and_readonly_paths() {
    need!();
    both("masked and read-only paths", Runc::Passes, |rt| {
        let b = Bundle::on(
            rt,
            &[
                "sh",
                "-c",
                "echo keys=$(wc -c < /proc/keys); echo firmware=$(ls /sys/firmware | wc -l); \
                 (echo 1 > /proc/sys/vm/overcommit_memory) 2>/dev/null || echo sys-ro",
            ],
        );
        let out = run_ok(&b)?;
        ensure(
            out.lines().collect::<Vec<_>>() == ["keys=0", "firmware=0", "sys-ro"],
            || out,
        )
    });
}

/// Docker's default profile without `close_range`: a profile that allows `close` but not
/// `close_range`, as profiles written before Linux 5.9 do.
fn docker_profile_without_close_range(b: &Bundle) -> Value {
    let caps: Vec<String> = b.spec["process"]["capabilities"]["bounding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let oci = berth_engine::spec::seccomp::default_for(&caps);
    let mut oci = serde_json::to_value(&oci).unwrap();
    for rule in oci["syscalls"].as_array_mut().unwrap() {
        rule["names"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n != "close_range");
    }
    oci
}

/// The container runs its program under a profile that allows close but not
/// close_range (issue 16's first cause).
#[test]
fn runtime_conformance_seccomp_profile_without_close_range() {
    need!();
    both(
        "seccomp profile that lacks close_range",
        Runc::Passes,
        |rt| {
            for nnp in [true, false] {
                let mut b = Bundle::on(rt, &["sh", "-c", "echo running"]);
                b.spec["process"]["noNewPrivileges"] = json!(nnp);
                b.spec["linux"]["seccomp"] = docker_profile_without_close_range(&b);
                let out = run_ok(&b).map_err(|e| format!("noNewPrivileges {nnp}: {e}"))?;
                ensure(out.trim() == "running", || out)?;
            }
            Ok(())
        },
    );
}

/// A profile that denies close_range and nothing else.
#[test]
fn runtime_conformance_seccomp_profile_denying_only_close_range() {
    need!();
    both(
        "seccomp profile that denies only close_range",
        Runc::Passes,
        |rt| {
            for nnp in [true, false] {
                let mut b = Bundle::on(rt, &["sh", "-c", "echo running"]);
                b.spec["process"]["noNewPrivileges"] = json!(nnp);
                b.spec["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["close_range"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]});
                let out = run_ok(&b).map_err(|e| format!("noNewPrivileges {nnp}: {e}"))?;
                ensure(out.trim() == "running", || out)?;
            }
            Ok(())
        },
    );
}

fn refused_at_create(rt: Rt, edit: impl Fn(&mut Value)) -> Result<String, String> {
    let mut b = Bundle::on(rt, &["true"]);
    edit(&mut b.spec);
    match b.try_create() {
        Ok(id) => Err(format!("create succeeded: {}", b.state(&id))),
        Err(e) => Ok(e),
    }
}

/// This host runs neither AppArmor nor SELinux: a spec asking for a profile or label is
/// refused, not run unconfined.
#[test]
fn runtime_conformance_security_labels_without_the_module_are_refused() {
    need!();
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|v| v.starts_with('Y'));
    let selinux = std::path::Path::new("/sys/fs/selinux/enforce").exists();
    if apparmor || selinux {
        eprintln!("not run: this host runs AppArmor or SELinux; the case needs one without");
        return;
    }
    both(
        "AppArmor/SELinux label on a host without them",
        Runc::Passes,
        |rt| {
            let err = refused_at_create(rt, |s| {
                s["process"]["apparmorProfile"] = json!("docker-default")
            })?;
            ensure(err.to_lowercase().contains("apparmor"), || err.clone())?;
            let err = refused_at_create(rt, |s| {
                s["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0")
            })?;
            ensure(err.to_lowercase().contains("selinux"), || err.clone())
        },
    );
}
