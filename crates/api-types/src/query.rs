//! Query parameters (and a few headers) of the Engine API's endpoints, typed: what the
//! api-server parses from a request and the engine's services take. Filters are
//! [`Filters`].

use std::collections::BTreeMap;

use crate::common::Filters;

/// `condition` of `POST /containers/{id}/wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WaitCondition {
    /// "not-running" (default): returns at once when not running.
    #[default]
    NotRunning,
    /// "next-exit": the next exit, even when not running now.
    NextExit,
    /// "removed": when the container is removed.
    Removed,
}

/// Query of `GET /containers/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerListOptions {
    /// Include stopped containers.
    pub all: bool,
    /// Only the N most recent (implies all).
    pub limit: Option<i64>,
    /// Compute SizeRw/SizeRootFs.
    pub size: bool,
    /// Filters (status, name, id, label, ancestor, exited, before, since, ...).
    pub filters: Filters,
}

/// Query of `POST /containers/create`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerCreateOptions {
    /// Requested name (without checking; the engine validates `/?[a-zA-Z0-9][a-zA-Z0-9_.-]+`).
    pub name: Option<String>,
    /// Platform ("linux/amd64").
    pub platform: Option<String>,
}

/// Query of `GET /containers/{id}/logs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogsOptions {
    /// Keep streaming new output.
    pub follow: bool,
    /// Include stdout.
    pub stdout: bool,
    /// Include stderr.
    pub stderr: bool,
    /// Only since this time (unix seconds with fraction, or RFC 3339, as sent).
    pub since: Option<String>,
    /// Only until this time.
    pub until: Option<String>,
    /// Prefix each line with its RFC 3339 nano timestamp.
    pub timestamps: bool,
    /// "all" or a number of lines from the end.
    pub tail: Option<String>,
}

/// Query of stop and restart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StopOptions {
    /// Signal instead of the container's stop signal.
    pub signal: Option<String>,
    /// Seconds before SIGKILL (None = the container's StopTimeout or 10; -1 = forever).
    pub timeout: Option<i64>,
}

/// Query of `POST /containers/{id}/attach`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttachOptions {
    /// Stream live output (else only replay logs).
    pub stream: bool,
    /// Replay the log first.
    pub logs: bool,
    /// Attach stdin.
    pub stdin: bool,
    /// Attach stdout.
    pub stdout: bool,
    /// Attach stderr.
    pub stderr: bool,
    /// Detach key sequence override ("ctrl-p,ctrl-q").
    pub detach_keys: Option<String>,
}

/// Options of `GET /containers/{id}/stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsOptions {
    /// Keep sending a sample every second (default true).
    pub stream: bool,
    /// With `stream=false`: answer at once, without waiting for a second sample to fill
    /// `precpu_stats`.
    pub one_shot: bool,
}

/// Query of `DELETE /containers/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerDeleteOptions {
    /// Kill a running container first.
    pub force: bool,
    /// Remove anonymous volumes.
    pub volumes: bool,
    /// Remove a legacy link instead.
    pub link: bool,
}

/// Query of `PUT /containers/{id}/archive`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchivePutOptions {
    /// Directory in the container to extract into.
    pub path: String,
    /// Refuse to replace a directory with a non-directory and vice versa.
    pub no_overwrite_dir_non_dir: bool,
    /// Keep the archive's uid/gid.
    pub copy_uid_gid: bool,
}

/// Query of `GET /images/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageListOptions {
    /// Include intermediate images.
    pub all: bool,
    /// Filters (dangling, label, before, since, reference, until).
    pub filters: Filters,
    /// Compute SharedSize.
    pub shared_size: bool,
    /// Include digests.
    pub digests: bool,
}

/// Query of `POST /images/create` (pull when `from_image`, import when `from_src`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageCreateOptions {
    /// Image to pull.
    pub from_image: Option<String>,
    /// Source to import ("-" = the request body, or a URL).
    pub from_src: Option<String>,
    /// Repository for an import.
    pub repo: Option<String>,
    /// Tag or digest.
    pub tag: Option<String>,
    /// Commit message of an import.
    pub message: Option<String>,
    /// Dockerfile instructions applied to an import.
    pub changes: Vec<String>,
    /// Platform.
    pub platform: Option<String>,
}

/// Query of `DELETE /images/{name}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageDeleteOptions {
    /// Remove even if used by stopped containers / has several tags.
    pub force: bool,
    /// Keep untagged parents.
    pub noprune: bool,
}

/// Query of `GET /images/search`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageSearchOptions {
    /// Search term.
    pub term: String,
    /// Max results.
    pub limit: Option<i64>,
    /// Filters (is-official, stars).
    pub filters: Filters,
}

/// Query of `POST /commit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitOptions {
    /// Container id or name.
    pub container: String,
    /// Repository.
    pub repo: Option<String>,
    /// Tag.
    pub tag: Option<String>,
    /// Message.
    pub comment: Option<String>,
    /// Author.
    pub author: Option<String>,
    /// Pause during the commit (default true).
    pub pause: bool,
    /// Dockerfile instructions to apply.
    pub changes: Vec<String>,
}

/// Query of `GET /events`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventsOptions {
    /// Replay from this time (unix seconds, as sent).
    pub since: Option<String>,
    /// Stop at this time.
    pub until: Option<String>,
    /// Filters (type, event, container, image, label, ...).
    pub filters: Filters,
}

/// The `id` of berth's structured build events in the stream.
pub const BUILD_EVENT_ID: &str = "berth.build.event";

/// Query and headers of `POST /build`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// `t` (repeated).
    pub tags: Vec<String>,
    /// Path of the Dockerfile in the context (or a URL's context).
    pub dockerfile: Option<String>,
    /// `buildargs` (JSON; a `null` value takes the daemon's environment, as Docker).
    pub build_args: BTreeMap<String, Option<String>>,
    /// `labels` (JSON).
    pub labels: BTreeMap<String, String>,
    /// `target`: the stage to stop at.
    pub target: Option<String>,
    /// `nocache`.
    pub no_cache: bool,
    /// `pull`: refresh base images.
    pub pull: bool,
    /// Remove intermediate containers after a successful build (default true).
    pub remove: bool,
    /// Always remove intermediate containers.
    pub force_remove: bool,
    /// `q`: only the image id.
    pub quiet: bool,
    /// `cachefrom` (JSON list).
    pub cache_from: Vec<String>,
    /// `networkmode` of RUN steps.
    pub network_mode: Option<String>,
    /// `extrahosts` (repeated; comma-separated lists accepted too).
    pub extra_hosts: Vec<String>,
    /// `shmsize` (bytes).
    pub shm_size: Option<i64>,
    /// `memory` limit of RUN steps (bytes).
    pub memory: Option<i64>,
    /// `memswap` (bytes; -1 unlimited).
    pub memory_swap: Option<i64>,
    /// `cpushares`.
    pub cpu_shares: Option<i64>,
    /// `cpusetcpus`.
    pub cpuset_cpus: Option<String>,
    /// `platform` (`os/arch[/variant]`).
    pub platform: Option<String>,
    /// A git URL or a tarball URL to build from instead of the body.
    pub remote: Option<String>,
    /// `X-Registry-Config`, as sent (base64url JSON: registry → credentials).
    pub registry_config: Option<String>,
    /// `berthprogress=1`.
    pub events: bool,
    /// `X-Berth-Build-Secrets`.
    pub secrets: BTreeMap<String, Vec<u8>>,
    /// `X-Berth-Build-Ssh`.
    pub ssh: BTreeMap<String, String>,
}

/// Query of `POST /build/prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildPruneOptions {
    /// `all`: not only dangling cache.
    pub all: bool,
    /// `keep-storage` (bytes).
    pub keep_storage: Option<i64>,
    /// `until` (seconds), from the filters.
    pub until: Option<u64>,
    /// `id` filters.
    pub ids: Vec<String>,
}
