//! `GET /version`: the engine's answer completed with what `docker version` prints.

use berth_api_types::{build_info, ComponentVersion, SystemVersion};

use crate::version::ApiVersion;

/// Fills what the engine left empty: the API range, this build's facts, and the `Engine`
/// component's `Details`, which is where `docker version` reads "API version", "Go version",
/// "Git commit", "Built", "OS/Arch" and "Experimental" (all strings, as Docker sends them).
pub fn complete_version(mut v: SystemVersion, experimental: bool) -> SystemVersion {
    let build = build_info::get();
    let fill = |field: &mut String, value: &str| {
        if field.is_empty() {
            *field = value.to_string();
        }
    };
    fill(&mut v.api_version, &ApiVersion::MAX.to_string());
    fill(&mut v.min_api_version, &ApiVersion::MIN.to_string());
    fill(&mut v.git_commit, build.git_commit);
    fill(&mut v.build_time, build.build_time);
    if v.go_version.is_empty() || v.go_version == "rust" {
        v.go_version = build.rustc.to_string();
    }
    v.experimental |= experimental;
    if v.components.is_empty() {
        v.components.push(ComponentVersion {
            name: "Engine".into(),
            version: v.version.clone(),
            details: None,
        });
    }
    let facts = [
        ("ApiVersion", v.api_version.clone()),
        ("Arch", v.arch.clone()),
        ("BuildTime", v.build_time.clone()),
        ("Experimental", v.experimental.to_string()),
        ("GitCommit", v.git_commit.clone()),
        ("GoVersion", v.go_version.clone()),
        ("KernelVersion", v.kernel_version.clone()),
        ("MinAPIVersion", v.min_api_version.clone()),
        ("Os", v.os.clone()),
    ];
    if let Some(engine) = v.components.iter_mut().find(|c| c.name == "Engine") {
        let details = engine.details.get_or_insert_with(Default::default);
        for (k, value) in facts {
            details.entry(k.to_string()).or_insert(value);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_details_are_what_docker_version_prints() {
        let v = complete_version(
            SystemVersion {
                version: "0.1.0".into(),
                os: "linux".into(),
                arch: "amd64".into(),
                kernel_version: "6.1.0".into(),
                go_version: "rust".into(),
                ..Default::default()
            },
            false,
        );
        let d = v.components[0].details.as_ref().unwrap();
        assert_eq!(v.components[0].name, "Engine");
        assert_eq!(d["ApiVersion"], "1.47");
        assert_eq!(d["MinAPIVersion"], "1.24");
        assert_eq!(d["Os"], "linux");
        assert_eq!(d["Arch"], "amd64");
        assert_eq!(d["KernelVersion"], "6.1.0");
        assert_eq!(d["Experimental"], "false");
        assert!(d["GoVersion"].starts_with("rust"), "{d:?}");
        assert!(d.contains_key("GitCommit") && d.contains_key("BuildTime"));
    }
}
