//! `berth build`'s flags: docker buildx's.

use clap::Args;

/// `build` / `buildx build` / `image build`.
#[derive(Debug, Clone, Args)]
pub struct BuildArgs {
    /// Name and optionally a tag (format: "name:tag").
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: "PATH/Dockerfile").
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    /// Set build-time variables.
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Set the target build stage to build.
    #[arg(long)]
    pub target: Option<String>,
    /// Do not use cache when building the image.
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Always attempt to pull all referenced images.
    #[arg(long)]
    pub pull: bool,
    /// Suppress the build output and print image ID on success.
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the image ID to a file.
    #[arg(long)]
    pub iidfile: Option<String>,
    /// Set metadata for an image.
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Set the networking mode for the "RUN" instructions during build.
    #[arg(long)]
    pub network: Option<String>,
    /// Add a custom host-to-IP mapping (format: "host:ip").
    #[arg(long = "add-host")]
    pub add_hosts: Vec<String>,
    /// Secret to expose to the build (format: "id=mysecret[,src=/local/secret]").
    #[arg(long = "secret")]
    pub secrets: Vec<String>,
    /// SSH agent socket or keys to expose to the build (format: "default|<id>[=<socket>]").
    #[arg(long = "ssh")]
    pub ssh: Vec<String>,
    /// Set target platform for build (the host's own).
    #[arg(long = "platform")]
    pub platforms: Vec<String>,
    /// External cache sources (e.g., "user/app:cache", "type=registry,ref=user/app").
    #[arg(long = "cache-from")]
    pub cache_from: Vec<String>,
    /// Set type of progress output ("auto", "plain", "tty", "quiet", "rawjson").
    #[arg(long, default_value = "auto")]
    pub progress: String,
    /// Output destination (format: "type=local,dest=path").
    #[arg(short = 'o', long = "output")]
    pub outputs: Vec<String>,
    /// Shorthand for "--output=type=docker".
    #[arg(long)]
    pub load: bool,
    /// Size of "/dev/shm".
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// Accepted for compatibility (intermediate containers are always removed).
    #[arg(long, hide = true, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub rm: bool,
    /// Accepted for compatibility.
    #[arg(long = "force-rm", hide = true)]
    pub force_rm: bool,
    /// Build context: a directory, a git or tarball URL, or "-" (a tar or a Dockerfile on
    /// stdin). Its own arg id: the global `--context` flag is `context` already, and clap
    /// would merge the two.
    #[arg(id = "build_context", value_name = "PATH | URL | -")]
    pub context: String,
}
