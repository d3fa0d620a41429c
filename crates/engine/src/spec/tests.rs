//! [`build_for`] end to end, without root: a rootfs with `/etc/passwd` and `/etc/group` in a
//! temporary directory, fixed host facts.

use std::path::{Path, PathBuf};

use berth_api_types::{ContainerConfig, HostConfig, StrSlice};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::*;

struct Rootfs(PathBuf);

impl Rootfs {
    fn new(tag: &str) -> Rootfs {
        let dir = std::env::temp_dir().join(format!("berth-spec-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(
            dir.join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nwww:x:33:33::/:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("etc/group"),
            "root:x:0:\nwww:x:33:\nextra:x:50:www\n",
        )
        .unwrap();
        Rootfs(dir)
    }
}

impl Drop for Rootfs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const FACTS: HostFacts = HostFacts {
    cgroup_v2: false,
    swap_accounting: true,
};

fn spec_of(rootfs: &Path, config: &ContainerConfig, host: &HostConfig) -> Result<Spec, String> {
    let etc = [("/etc/hosts".to_string(), "/run/c/hosts".to_string())];
    build_for(
        &SpecInput {
            id: "0123456789abcdef",
            config,
            host,
            args: &["sh".to_string()],
            rootfs,
            etc_files: &etc,
        },
        FACTS,
    )
}

#[test]
fn a_plain_container_gets_dockers_defaults() {
    let root = Rootfs::new("plain");
    let s = spec_of(&root.0, &ContainerConfig::default(), &HostConfig::default()).unwrap();
    assert_eq!(s.version(), OCI_VERSION);
    assert_eq!(s.hostname().as_deref(), Some("0123456789ab"));
    assert!(s.annotations().is_none());
    let p = s.process().clone().unwrap();
    assert_eq!((p.user().uid(), p.user().gid()), (0, 0));
    assert_eq!(p.cwd(), Path::new("/"));
    assert_eq!(p.terminal(), Some(false));
    assert_eq!(p.no_new_privileges(), Some(false));
    assert!(p.rlimits().is_none());
    assert_eq!(process_caps(&s).len(), DEFAULT_CAPS.len());
    let linux = s.linux().clone().unwrap();
    assert_eq!(linux.namespaces().as_ref().unwrap().len(), 5);
    assert_eq!(
        linux.cgroups_path().as_deref(),
        Some(Path::new("/berth/0123456789abcdef"))
    );
    assert!(linux.seccomp().is_some() && linux.devices().is_none() && linux.sysctl().is_none());
    assert_eq!(
        linux
            .resources()
            .as_ref()
            .unwrap()
            .devices()
            .as_ref()
            .unwrap()
            .len(),
        3
    );
    let mounts = s.mounts().clone().unwrap();
    assert_eq!(mounts.len(), 8);
    assert_eq!(mounts[7].destination(), Path::new("/etc/hosts"));
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["ociVersion"], "1.0.2");
    assert!(json["process"]["user"].get("additionalGids").is_none());
    assert_eq!(json["root"]["path"], root.0.display().to_string());
}

#[test]
fn config_and_host_settings_reach_the_spec() {
    let root = Rootfs::new("settings");
    let config = ContainerConfig {
        user: "www".into(),
        tty: true,
        working_dir: "/srv".into(),
        hostname: "web".into(),
        ..Default::default()
    };
    let mut host = HostConfig {
        group_add: Some(vec!["7".into()]),
        cap_add: Some(StrSlice(vec!["NET_ADMIN".into()])),
        readonly_rootfs: true,
        network_mode: "host".into(),
        oom_score_adj: 100,
        security_opt: Some(vec![
            "no-new-privileges".into(),
            "seccomp=unconfined".into(),
        ]),
        sysctls: Some([("kernel.shmmax".to_string(), "1".to_string())].into()),
        ..Default::default()
    };
    host.resources.memory = 64 << 20;
    let s = spec_of(&root.0, &config, &host).unwrap();
    let p = s.process().clone().unwrap();
    assert_eq!((p.user().uid(), p.user().gid()), (33, 33));
    assert_eq!(p.user().additional_gids().as_deref(), Some(&[50, 7][..]));
    assert_eq!(p.cwd(), Path::new("/srv"));
    assert_eq!(p.env().as_ref().unwrap().last().unwrap(), "TERM=xterm");
    assert_eq!(p.oom_score_adj(), Some(100));
    assert_eq!(p.no_new_privileges(), Some(true));
    assert!(process_caps(&s).contains(&"CAP_NET_ADMIN".to_string()));
    assert_eq!(s.hostname().as_deref(), Some("web"));
    assert_eq!(s.root().as_ref().unwrap().readonly(), Some(true));
    let linux = s.linux().clone().unwrap();
    assert!(linux.seccomp().is_none());
    assert!(!linux
        .namespaces()
        .iter()
        .flatten()
        .any(|n| n.typ() == LinuxNamespaceType::Network));
    assert_eq!(linux.sysctl().as_ref().unwrap()["kernel.shmmax"], "1");
    let res = linux.resources().clone().unwrap();
    assert_eq!(res.memory().unwrap().limit(), Some(64 << 20));
    let hosts = &s.mounts().clone().unwrap()[7];
    assert_eq!(hosts.options().as_ref().unwrap().last().unwrap(), "ro");
}

#[test]
fn privileged_containers_get_everything() {
    let root = Rootfs::new("privileged");
    let host = HostConfig {
        privileged: true,
        ..Default::default()
    };
    let s = spec_of(&root.0, &ContainerConfig::default(), &host).unwrap();
    assert_eq!(process_caps(&s).len(), all_caps().len());
    let linux = s.linux().clone().unwrap();
    assert!(linux.seccomp().is_none());
    assert!(linux.masked_paths().as_ref().unwrap().is_empty());
    assert!(linux.readonly_paths().as_ref().unwrap().is_empty());
}

#[test]
fn bad_settings_are_refused_with_dockers_messages() {
    let root = Rootfs::new("refused");
    let config = ContainerConfig {
        user: "nobody".into(),
        ..Default::default()
    };
    assert!(spec_of(&root.0, &config, &HostConfig::default())
        .unwrap_err()
        .starts_with("unable to find user nobody"));
    let host = HostConfig {
        group_add: Some(vec!["nogroup".into()]),
        ..Default::default()
    };
    assert!(spec_of(&root.0, &ContainerConfig::default(), &host)
        .unwrap_err()
        .starts_with("Unable to find group nogroup"));
    let host = HostConfig {
        sysctls: Some([("kernel.panic".to_string(), "1".to_string())].into()),
        ..Default::default()
    };
    assert!(spec_of(&root.0, &ContainerConfig::default(), &host).is_err());
}
