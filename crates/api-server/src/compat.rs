//! Docker's API-version gates: what a request to `/v1.NN/…` sends and gets at NN.
//!
//! The engine answers in the newest shape (1.47) and takes every field; this module adapts a
//! response to the version the client asked for, and drops or refuses request fields that
//! version does not have, as Docker's routers do (`versions.LessThan(version, "1.NN")` in
//! moby's `api/server/router`, and the API's version history). One function per endpoint.

use berth_api_types::{
    ContainerCreateRequest, ContainerInspect, ContainerSummary, ExecConfig, ImageInspect,
    ImageSummary, SystemDf, SystemInfo, UpdateConfig,
};

use crate::error::{ApiError, ApiResult};
use crate::version::ApiVersion;

/// `GET /images/{name}/json`.
pub fn image_inspect(mut i: ImageInspect, v: ApiVersion) -> ImageInspect {
    if !v.at_least(44) {
        i.virtual_size = Some(i.size);
        if i.created.is_empty() {
            // Before 1.44 a missing `Created` was Go's zero time.
            i.created = "0001-01-01T00:00:00Z".into();
        }
    }
    if v.at_least(45) {
        i.container = None;
        i.container_config = None;
    } else {
        // Below 1.45 both are always there (compose v1 reads `ContainerConfig.Volumes`).
        i.container.get_or_insert_with(String::new);
        i.container_config.get_or_insert_with(Default::default);
    }
    i
}

/// `GET /images/json`.
pub fn image_list(mut list: Vec<ImageSummary>, v: ApiVersion) -> Vec<ImageSummary> {
    for i in &mut list {
        image_summary(i, v);
    }
    list
}

fn image_summary(i: &mut ImageSummary, v: ApiVersion) {
    if !v.at_least(43) && i.repo_tags.is_empty() && i.repo_digests.is_empty() {
        i.repo_tags = vec!["<none>:<none>".into()];
        i.repo_digests = vec!["<none>@<none>".into()];
    }
    i.virtual_size = (!v.at_least(44)).then_some(i.size);
}

/// `GET /system/df`.
pub fn system_df(mut df: SystemDf, v: ApiVersion) -> SystemDf {
    for i in &mut df.images {
        i.virtual_size = (!v.at_least(44)).then_some(i.size);
    }
    df
}

/// `GET /containers/{id}/json`.
pub fn container_inspect(mut c: ContainerInspect, v: ApiVersion) -> ContainerInspect {
    if !v.at_least(45) {
        // Before 1.45 the aliases on a user-defined network also list the short id and the
        // hostname (compose v1 reconnects a container whose aliases lack its short id).
        let short: String = c.id.chars().take(12).collect();
        let hostname = c.config.hostname.clone();
        for (name, ep) in c.network_settings.networks.iter_mut() {
            if !user_defined(name) {
                continue;
            }
            let aliases = ep.aliases.get_or_insert_with(Vec::new);
            for extra in [&short, &hostname] {
                if !extra.is_empty() && !aliases.contains(extra) {
                    aliases.push(extra.clone());
                }
            }
        }
    }
    c
}

/// A network name that is not one of the predefined modes (Docker's `IsUserDefined`).
fn user_defined(name: &str) -> bool {
    !matches!(name, "" | "default" | "bridge" | "host" | "none") && !name.starts_with("container:")
}

/// `GET /containers/json`.
pub fn container_list(mut list: Vec<ContainerSummary>, v: ApiVersion) -> Vec<ContainerSummary> {
    if !v.at_least(46) {
        for c in &mut list {
            c.host_config.annotations = None;
        }
    }
    list
}

/// `GET /info`.
pub fn info(mut i: SystemInfo, v: ApiVersion) -> SystemInfo {
    if !v.at_least(47) {
        if let Some(r) = i.registry_config.as_mut() {
            r.allow_nondistributable_artifacts_cidrs
                .get_or_insert_with(Vec::new);
            r.allow_nondistributable_artifacts_hostnames
                .get_or_insert_with(Vec::new);
        }
    }
    i
}

/// `POST /containers/create`: fields the requested version does not have are ignored, and
/// combinations it refuses are refused with Docker's messages.
pub fn container_create(body: &mut ContainerCreateRequest, v: ApiVersion) -> ApiResult<()> {
    let host = body.host_config.get_or_insert_with(Default::default);
    let mounts = host.mounts.as_deref_mut().unwrap_or_default();
    if !v.at_least(40) {
        for m in mounts.iter_mut() {
            if let Some(b) = m.bind_options.as_mut() {
                b.non_recursive = false;
            }
        }
        if host.ipc_mode.is_empty() {
            // Older clients expect containers' IPC to be shareable by default.
            host.ipc_mode = "shareable".into();
        }
    }
    if !v.at_least(42) {
        for m in mounts.iter_mut() {
            if let Some(b) = m.bind_options.as_mut() {
                b.create_mountpoint = false;
            }
            // Not validated before 1.42: options of another mount type are dropped.
            if m.kind != "volume" {
                m.volume_options = None;
            }
            if m.kind != "tmpfs" {
                m.tmpfs_options = None;
            }
        }
        host.console_size = [0, 0];
    } else {
        for m in mounts.iter() {
            for (set, kind, field) in [
                (m.volume_options.is_some(), "volume", "VolumeOptions"),
                (m.bind_options.is_some(), "bind", "BindOptions"),
                (m.tmpfs_options.is_some(), "tmpfs", "TmpfsOptions"),
            ] {
                if set && m.kind != kind {
                    return Err(ApiError::invalid(format!(
                        "{field} must not be specified on mount type {:?}",
                        m.kind
                    )));
                }
            }
        }
    }
    if !v.at_least(43) {
        host.annotations = None;
    }
    if !v.at_least(44) {
        if let Some(h) = body.config.healthcheck.as_mut() {
            h.start_interval = 0;
        }
        for m in mounts.iter() {
            if m.kind == "bind"
                && m.bind_options
                    .as_ref()
                    .is_some_and(|b| b.read_only_force_recursive)
            {
                return Err(ApiError::invalid(
                    "BindOptions.ReadOnlyForceRecursive needs API v1.44 or newer",
                ));
            }
        }
        if let Some(endpoints) = body
            .networking_config
            .as_ref()
            .map(|n| &n.endpoints_config)
            .filter(|e| e.len() > 1)
        {
            let names: Vec<&str> = endpoints.keys().map(String::as_str).collect();
            return Err(ApiError::invalid(format!(
                "Container cannot be created with multiple network endpoints: {}",
                names.join(", ")
            )));
        }
    }
    if !v.at_least(45)
        && mounts.iter().any(|m| {
            m.volume_options
                .as_ref()
                .is_some_and(|o| !o.subpath.is_empty())
        })
    {
        return Err(ApiError::invalid(
            "VolumeOptions.Subpath needs API v1.45 or newer",
        ));
    }
    if !v.at_least(46) {
        for m in mounts.iter_mut() {
            if let Some(t) = m.tmpfs_options.as_mut() {
                t.options = None;
            }
        }
    }
    Ok(())
}

/// `POST /containers/{id}/update`.
pub fn container_update(u: &mut UpdateConfig, v: ApiVersion) {
    if !v.at_least(40) {
        u.resources.pids_limit = None;
    }
}

/// `POST /containers/{id}/exec`.
pub fn exec_create(c: &mut ExecConfig, v: ApiVersion) {
    if !v.at_least(42) {
        c.console_size = None;
    }
}

#[cfg(test)]
mod tests;
