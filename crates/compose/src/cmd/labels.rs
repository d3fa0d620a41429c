//! Compose v2's labels and names: a project started by berth is the same project to
//! `docker compose`, and the other way round.

/// `com.docker.compose.project`.
pub const PROJECT: &str = "com.docker.compose.project";
/// `com.docker.compose.service`.
pub const SERVICE: &str = "com.docker.compose.service";
/// `com.docker.compose.container-number`.
pub const NUMBER: &str = "com.docker.compose.container-number";
/// `com.docker.compose.oneoff` (`True`/`False`).
pub const ONEOFF: &str = "com.docker.compose.oneoff";
/// `com.docker.compose.config-hash`.
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
/// `com.docker.compose.project.working_dir`.
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
/// `com.docker.compose.project.config_files`.
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
/// `com.docker.compose.project.environment_file`.
pub const ENV_FILE: &str = "com.docker.compose.project.environment_file";
/// `com.docker.compose.depends_on`.
pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
/// `com.docker.compose.version`.
pub const VERSION: &str = "com.docker.compose.version";
/// `com.docker.compose.image` (the image digest the container was made from).
pub const IMAGE: &str = "com.docker.compose.image";
/// `com.docker.compose.container-number`'s sibling for networks: the network key.
pub const NETWORK: &str = "com.docker.compose.network";
/// The volume key.
pub const VOLUME: &str = "com.docker.compose.volume";
/// `com.docker.compose.replace` (the container this one replaced).
pub const REPLACE: &str = "com.docker.compose.replace";
/// `com.docker.compose.config-hash` of networks and volumes.
pub const RESOURCE_HASH: &str = "com.docker.compose.config-hash";

/// `<project>-<service>-<n>` (the separator is `-` since Compose v2).
pub fn container_name(project: &str, service: &str, n: u32) -> String {
    format!("{project}-{service}-{n}")
}
