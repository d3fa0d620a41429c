//! docker's command-line surface as clap definitions.

use clap::{ArgAction, Args, Parser, Subcommand};

/// Global options and the command.
#[derive(Debug, Parser)]
#[command(
    name = "berth",
    about = "A self-sufficient runtime for containers",
    version,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Daemon socket to connect to.
    #[arg(short = 'H', long = "host", global = true)]
    pub host: Vec<String>,
    /// Name of the context to use.
    #[arg(short = 'c', long = "context", global = true)]
    pub context: Option<String>,
    /// Location of client config files.
    #[arg(long = "config", global = true)]
    pub config: Option<String>,
    /// Enable debug mode.
    #[arg(short = 'D', long = "debug", global = true)]
    pub debug: bool,
    /// Set the logging level.
    #[arg(short = 'l', long = "log-level", global = true)]
    pub log_level: Option<String>,
    /// Use TLS; implied by --tlsverify.
    #[arg(long = "tls", global = true)]
    pub tls: bool,
    /// Use TLS and verify the remote.
    #[arg(long = "tlsverify", global = true, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub tlsverify: Option<bool>,
    /// Trust certs signed only by this CA.
    #[arg(long = "tlscacert", global = true)]
    pub tlscacert: Option<std::path::PathBuf>,
    /// Path to TLS certificate file.
    #[arg(long = "tlscert", global = true)]
    pub tlscert: Option<std::path::PathBuf>,
    /// Path to TLS key file.
    #[arg(long = "tlskey", global = true)]
    pub tlskey: Option<std::path::PathBuf>,
    /// The command.
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// `--format` and `-q` shared by list commands.
#[derive(Debug, Args, Default, Clone)]
pub struct ListFmt {
    /// Format output using a custom template ('table', 'json' or a Go template).
    #[arg(long)]
    pub format: Option<String>,
    /// Only display IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Filter output based on conditions provided.
    #[arg(short, long = "filter")]
    pub filter: Vec<String>,
}

/// Container configuration flags of `run` and `create`.
#[derive(Debug, Args, Default, Clone)]
#[command(disable_help_flag = true)]
pub struct CreateOpts {
    /// Print usage.
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables.
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Working directory inside the container.
    #[arg(short, long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short, long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Set meta data on a container.
    #[arg(short, long = "label")]
    pub label: Vec<String>,
    /// Restart policy to apply when a container exits.
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Run an init inside the container.
    #[arg(long)]
    pub init: bool,
    /// Command to run to check health.
    #[arg(long = "health-cmd")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h).
    #[arg(long = "health-interval")]
    pub health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h).
    #[arg(long = "health-timeout")]
    pub health_timeout: Option<String>,
    /// Start period for the container to initialize before starting health-retries countdown.
    #[arg(long = "health-start-period")]
    pub health_start_period: Option<String>,
    /// Time between running the check during the start period (ms|s|m|h).
    #[arg(long = "health-start-interval")]
    pub health_start_interval: Option<String>,
    /// Consecutive failures needed to report unhealthy.
    #[arg(long = "health-retries")]
    pub health_retries: Option<i64>,
    /// Disable any container-specified HEALTHCHECK.
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// Attach to STDIN, STDOUT or STDERR.
    #[arg(short, long = "attach")]
    pub attach: Vec<String>,
    /// Keep STDIN open even if not attached.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// Publish a container's port(s) to the host.
    #[arg(short, long = "publish")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Expose a port or a range of ports.
    #[arg(long)]
    pub expose: Vec<String>,
    /// Bind mount a volume.
    #[arg(short, long = "volume")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount to the container.
    #[arg(long)]
    pub mount: Vec<String>,
    /// Mount volumes from the specified container(s).
    #[arg(long = "volumes-from")]
    pub volumes_from: Vec<String>,
    /// Mount a tmpfs directory.
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Connect a container to a network.
    #[arg(long, alias = "net")]
    pub network: Option<String>,
    /// Add network-scoped alias for the container.
    #[arg(long = "network-alias", alias = "net-alias")]
    pub network_alias: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104).
    #[arg(long)]
    pub ip: Option<String>,
    /// Set custom DNS search domains.
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// Set DNS options.
    #[arg(long = "dns-option", alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// Container host name.
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Memory limit.
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Number of CPUs.
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<i64>,
    /// Tune container pids limit (set -1 for unlimited).
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    /// Add Linux capabilities.
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities.
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container.
    #[arg(long)]
    pub privileged: bool,
    /// Mount the container's root filesystem as read only.
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Security options.
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Signal to stop the container.
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container.
    #[arg(long = "stop-timeout")]
    pub stop_timeout: Option<i64>,
    /// Add a custom host-to-IP mapping (host:ip).
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Set custom DNS servers.
    #[arg(long)]
    pub dns: Vec<String>,
    /// Logging driver for the container.
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Log driver options.
    #[arg(long = "log-opt")]
    pub log_opt: Vec<String>,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Pull image before running ("always", "missing", "never").
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Set platform if server is multi-platform capable.
    #[arg(long)]
    pub platform: Option<String>,
    /// Suppress the pull output.
    #[arg(short, long)]
    pub quiet: bool,
    /// IMAGE [COMMAND] [ARG...] (one list, so flags after the image belong to the command).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true,
        value_name = "IMAGE [COMMAND] [ARG...]"
    )]
    pub args: Vec<String>,
    /// The image (filled by [`CreateOpts::split_args`]).
    #[arg(skip)]
    pub image: String,
    /// The command (filled by [`CreateOpts::split_args`]).
    #[arg(skip)]
    pub command: Vec<String>,
}

impl CreateOpts {
    /// Splits `args` into image and command.
    pub fn split_args(&mut self) {
        let mut it = std::mem::take(&mut self.args).into_iter();
        self.image = it.next().unwrap_or_default();
        self.command = it.collect();
    }
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Create and run a new container from an image.
    Run {
        /// Run container in background and print container ID.
        #[arg(short, long)]
        detach: bool,
        /// Automatically remove the container when it exits.
        #[arg(long)]
        rm: bool,
        /// Proxy received signals to the process.
        #[arg(long = "sig-proxy", default_value_t = true, action = ArgAction::Set)]
        sig_proxy: bool,
        #[command(flatten)]
        /// The container's options (the same as `create`).
        opts: CreateOpts,
    },
    /// Create a new container.
    Create {
        #[command(flatten)]
        /// The container's options.
        opts: CreateOpts,
    },
    /// Start one or more stopped containers.
    Start {
        /// Attach STDOUT/STDERR and forward signals.
        #[arg(short, long)]
        attach: bool,
        /// Attach container's STDIN.
        #[arg(short, long)]
        interactive: bool,
        /// Override the key sequence for detaching a container.
        #[arg(long = "detach-keys")]
        detach_keys: Option<String>,
        #[arg(required = true)]
        /// The containers (names or ids).
        containers: Vec<String>,
    },
    /// Stop one or more running containers.
    Stop {
        /// Seconds to wait before killing the container.
        #[arg(short, long = "timeout", alias = "time")]
        timeout: Option<i64>,
        /// Signal to send to the container.
        #[arg(short, long)]
        signal: Option<String>,
        #[arg(required = true)]
        /// The containers (names or ids).
        containers: Vec<String>,
    },
    /// Restart one or more containers.
    Restart {
        /// Seconds to wait before killing the container.
        #[arg(short, long = "timeout", alias = "time")]
        timeout: Option<i64>,
        /// Signal to send to the container.
        #[arg(short, long)]
        signal: Option<String>,
        #[arg(required = true)]
        /// The containers (names or ids).
        containers: Vec<String>,
    },
    /// Kill one or more running containers.
    Kill {
        /// Signal to send to the container.
        #[arg(short, long)]
        signal: Option<String>,
        #[arg(required = true)]
        /// The containers (names or ids).
        containers: Vec<String>,
    },
    /// Pause all processes within one or more containers.
    Pause {
        #[arg(required = true)]
        /// The containers (names or ids).
        containers: Vec<String>,
    },
    /// Unpause all processes within one or more containers.
    Unpause {
        #[arg(required = true)]
        /// The containers (names or ids).
        containers: Vec<String>,
    },
    /// Remove one or more containers.
    Rm {
        /// Force the removal of a running container.
        #[arg(short, long)]
        force: bool,
        /// Remove anonymous volumes associated with the container.
        #[arg(short, long)]
        volumes: bool,
        /// Remove the specified link.
        #[arg(short, long)]
        link: bool,
        #[arg(required = true)]
        /// The containers (names or ids).
        containers: Vec<String>,
    },
    /// List containers.
    Ps {
        /// Show all containers.
        #[arg(short, long)]
        all: bool,
        /// Show n last created containers.
        #[arg(short = 'n', long = "last", default_value_t = -1)]
        last: i64,
        /// Show the latest created container.
        #[arg(short = 'l', long)]
        latest: bool,
        /// Display total file sizes.
        #[arg(short, long)]
        size: bool,
        /// Don't truncate output.
        #[arg(long = "no-trunc")]
        no_trunc: bool,
        #[command(flatten)]
        /// --format and --quiet.
        fmt: ListFmt,
    },
    /// Fetch the logs of a container.
    Logs {
        /// Follow log output.
        #[arg(short, long)]
        follow: bool,
        /// Show logs since timestamp or relative (e.g. 42m).
        #[arg(long)]
        since: Option<String>,
        /// Show logs before a timestamp or relative.
        #[arg(long)]
        until: Option<String>,
        /// Show timestamps.
        #[arg(short, long)]
        timestamps: bool,
        /// Number of lines to show from the end of the logs.
        #[arg(short = 'n', long, default_value = "all")]
        tail: String,
        /// Show extra details.
        #[arg(long)]
        details: bool,
        /// The container (name or id).
        container: String,
    },
    /// Attach local standard input, output, and error streams to a running container.
    Attach {
        /// Do not attach STDIN.
        #[arg(long = "no-stdin")]
        no_stdin: bool,
        /// Proxy all received signals to the process.
        #[arg(long = "sig-proxy", default_value_t = true, action = ArgAction::Set)]
        sig_proxy: bool,
        /// Override the key sequence for detaching a container.
        #[arg(long = "detach-keys")]
        detach_keys: Option<String>,
        /// The container (name or id).
        container: String,
    },
    /// Execute a command in a running container.
    Exec {
        /// Detached mode: run command in the background.
        #[arg(short, long)]
        detach: bool,
        /// Keep STDIN open even if not attached.
        #[arg(short, long)]
        interactive: bool,
        /// Allocate a pseudo-TTY.
        #[arg(short, long)]
        tty: bool,
        /// Set environment variables.
        #[arg(short, long = "env")]
        env: Vec<String>,
        /// Read in a file of environment variables.
        #[arg(long = "env-file")]
        env_file: Vec<String>,
        /// Working directory inside the container.
        #[arg(short, long = "workdir")]
        workdir: Option<String>,
        /// Username or UID.
        #[arg(short, long)]
        user: Option<String>,
        /// Give extended privileges to the command.
        #[arg(long)]
        privileged: bool,
        /// Override the key sequence for detaching a container.
        #[arg(long = "detach-keys")]
        detach_keys: Option<String>,
        /// CONTAINER COMMAND [ARG...]
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true, num_args = 2.., value_name = "CONTAINER COMMAND [ARG...]")]
        command: Vec<String>,
    },
    /// Display the running processes of a container.
    Top {
        /// CONTAINER [ps OPTIONS]
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            required = true,
            value_name = "CONTAINER [ps OPTIONS]"
        )]
        ps_args: Vec<String>,
    },
    /// Display a live stream of container(s) resource usage statistics.
    Stats {
        /// Show all containers (default shows just running).
        #[arg(short = 'a', long)]
        all: bool,
        /// Disable streaming stats and only pull the first result.
        #[arg(long = "no-stream")]
        no_stream: bool,
        /// Do not truncate output.
        #[arg(long = "no-trunc")]
        no_trunc: bool,
        /// Format output using a custom template ('table', 'table TEMPLATE', 'json', or a Go template).
        #[arg(long)]
        format: Option<String>,
        /// CONTAINER...
        containers: Vec<String>,
    },
    /// Inspect changes to files or directories on a container's filesystem.
    Diff {
        /// The container (name or id).
        container: String,
    },
    /// Copy files/folders between a container and the local filesystem.
    Cp {
        /// Archive mode (copy all uid/gid information).
        #[arg(short, long)]
        archive: bool,
        /// Always follow symbol link in SRC_PATH.
        #[arg(short = 'L', long = "follow-link")]
        follow_link: bool,
        /// Suppress progress output during copy.
        #[arg(short, long)]
        quiet: bool,
        /// CONTAINER:SRC_PATH or a local path (- for a tar stream on STDIN).
        src: String,
        /// CONTAINER:DEST_PATH or a local path (- for a tar stream on STDOUT).
        dst: String,
    },
    /// Export a container's filesystem as a tar archive.
    Export {
        /// Write to a file, instead of STDOUT.
        #[arg(short, long)]
        output: Option<String>,
        /// The container (name or id).
        container: String,
    },
    /// Create a new image from a container's changes.
    Commit {
        /// Commit message.
        #[arg(short, long)]
        message: Option<String>,
        /// Author.
        #[arg(short, long)]
        author: Option<String>,
        /// Apply Dockerfile instruction to the created image.
        #[arg(short, long)]
        change: Vec<String>,
        /// Pause container during commit.
        #[arg(short, long, default_value_t = true, action = ArgAction::Set)]
        pause: bool,
        /// The container (name or id).
        container: String,
        /// REPOSITORY[:TAG] of the new image.
        repository: Option<String>,
    },
    /// Return low-level information on Docker objects.
    Inspect {
        /// Format output using a custom template.
        #[arg(short, long)]
        format: Option<String>,
        /// Display total file sizes if the type is container.
        #[arg(short, long)]
        size: bool,
        /// Return JSON for specified type.
        #[arg(long = "type")]
        kind: Option<String>,
        #[arg(required = true)]
        /// Names or ids of the objects.
        names: Vec<String>,
    },
    /// Block until one or more containers stop, then print their exit codes.
    Wait {
        #[arg(required = true)]
        /// The containers (names or ids).
        containers: Vec<String>,
    },
    /// Rename a container.
    Rename {
        /// The container (name or id).
        container: String,
        /// Its new name.
        new_name: String,
    },
    /// Update configuration of one or more containers.
    Update {
        /// Block IO (relative weight), between 10 and 1000, or 0 to disable.
        #[arg(long = "blkio-weight")]
        blkio_weight: Option<u16>,
        /// Limit CPU CFS (Completely Fair Scheduler) period.
        #[arg(long = "cpu-period")]
        cpu_period: Option<i64>,
        /// Limit CPU CFS (Completely Fair Scheduler) quota.
        #[arg(long = "cpu-quota", allow_hyphen_values = true)]
        cpu_quota: Option<i64>,
        /// Limit the CPU real-time period in microseconds.
        #[arg(long = "cpu-rt-period")]
        cpu_rt_period: Option<i64>,
        /// Limit the CPU real-time runtime in microseconds.
        #[arg(long = "cpu-rt-runtime")]
        cpu_rt_runtime: Option<i64>,
        /// CPU shares (relative weight).
        #[arg(short = 'c', long = "cpu-shares")]
        cpu_shares: Option<i64>,
        /// Number of CPUs.
        #[arg(long)]
        cpus: Option<String>,
        /// CPUs in which to allow execution (0-3, 0,1).
        #[arg(long = "cpuset-cpus")]
        cpuset_cpus: Option<String>,
        /// MEMs in which to allow execution (0-3, 0,1).
        #[arg(long = "cpuset-mems")]
        cpuset_mems: Option<String>,
        /// Memory limit.
        #[arg(short, long)]
        memory: Option<String>,
        /// Memory soft limit.
        #[arg(long = "memory-reservation")]
        memory_reservation: Option<String>,
        /// Swap limit equal to memory plus swap: -1 to enable unlimited swap.
        #[arg(long = "memory-swap", allow_hyphen_values = true)]
        memory_swap: Option<String>,
        /// Tune container pids limit (set -1 for unlimited).
        #[arg(long = "pids-limit", allow_hyphen_values = true)]
        pids_limit: Option<i64>,
        /// Restart policy to apply when a container exits.
        #[arg(long)]
        restart: Option<String>,
        #[arg(required = true)]
        /// The containers (names or ids).
        containers: Vec<String>,
    },
    /// List port mappings or a specific mapping for the container.
    Port {
        /// The container (name or id).
        container: String,
        /// PRIVATE_PORT[/PROTO] to show.
        port: Option<String>,
    },
    /// Download an image from a registry.
    Pull {
        /// Download all tagged images in the repository.
        #[arg(short, long = "all-tags")]
        all_tags: bool,
        /// Suppress verbose output.
        #[arg(short, long)]
        quiet: bool,
        /// Set platform.
        #[arg(long)]
        platform: Option<String>,
        /// NAME[:TAG|@DIGEST] of the image.
        image: String,
    },
    /// Upload an image to a registry.
    Push {
        /// Push all tags.
        #[arg(short, long = "all-tags")]
        all_tags: bool,
        /// Suppress verbose output.
        #[arg(short, long)]
        quiet: bool,
        /// NAME[:TAG] of the image.
        image: String,
    },
    /// List images.
    Images {
        /// Show all images.
        #[arg(short, long)]
        all: bool,
        /// Show digests.
        #[arg(long)]
        digests: bool,
        /// Don't truncate output.
        #[arg(long = "no-trunc")]
        no_trunc: bool,
        #[command(flatten)]
        /// --format and --quiet.
        fmt: ListFmt,
        /// Only the images of this REPOSITORY[:TAG].
        repository: Option<String>,
    },
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag {
        /// SOURCE_IMAGE[:TAG].
        source: String,
        /// TARGET_IMAGE[:TAG].
        target: String,
    },
    /// Remove one or more images.
    Rmi {
        /// Force removal of the image.
        #[arg(short, long)]
        force: bool,
        /// Do not delete untagged parents.
        #[arg(long = "no-prune")]
        no_prune: bool,
        #[arg(required = true)]
        /// The images (names or ids).
        images: Vec<String>,
    },
    /// Show the history of an image.
    History {
        /// Print sizes and dates in human readable format.
        #[arg(short = 'H', long, default_value_t = true, action = ArgAction::Set)]
        human: bool,
        /// Don't truncate output.
        #[arg(long = "no-trunc")]
        no_trunc: bool,
        /// Only show image IDs.
        #[arg(short, long)]
        quiet: bool,
        /// Format output.
        #[arg(long)]
        format: Option<String>,
        /// The image (name or id).
        image: String,
    },
    /// Save one or more images to a tar archive.
    Save {
        /// Write to a file, instead of STDOUT.
        #[arg(short, long)]
        output: Option<String>,
        #[arg(required = true)]
        /// The images (names or ids).
        images: Vec<String>,
    },
    /// Load an image from a tar archive or STDIN.
    Load {
        /// Read from tar archive file, instead of STDIN.
        #[arg(short, long)]
        input: Option<String>,
        /// Suppress the load output.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Import the contents from a tarball to create a filesystem image.
    Import {
        /// Apply Dockerfile instruction to the created image.
        #[arg(short, long)]
        change: Vec<String>,
        /// Set commit message for imported image.
        #[arg(short, long)]
        message: Option<String>,
        /// Set platform.
        #[arg(long)]
        platform: Option<String>,
        /// A tarball: a file, a URL, or - for STDIN.
        file: String,
        /// REPOSITORY[:TAG] of the new image.
        repository: Option<String>,
    },
    /// Log in to a registry.
    Login {
        /// Username.
        #[arg(short, long)]
        username: Option<String>,
        /// Password.
        #[arg(short, long)]
        password: Option<String>,
        /// Take the password from stdin.
        #[arg(long = "password-stdin")]
        password_stdin: bool,
        /// The registry (Docker Hub by default).
        server: Option<String>,
    },
    /// Log out from a registry.
    Logout {
        /// The registry (Docker Hub by default).
        server: Option<String>,
    },
    /// Search Docker Hub for images.
    Search {
        /// Filter output based on conditions provided.
        #[arg(short, long = "filter")]
        filter: Vec<String>,
        /// Max number of search results.
        #[arg(long)]
        limit: Option<i64>,
        /// Don't truncate output.
        #[arg(long = "no-trunc")]
        no_trunc: bool,
        /// Pretty-print search using a Go template.
        #[arg(long)]
        format: Option<String>,
        /// What to search for.
        term: String,
    },
    /// Display system-wide information.
    Info {
        /// Format output using a custom template.
        #[arg(short, long)]
        format: Option<String>,
    },
    /// Show the berth version information.
    Version {
        /// Format output using a custom template.
        #[arg(short, long)]
        format: Option<String>,
    },
    /// Get real time events from the server.
    Events {
        /// Show all events created since timestamp.
        #[arg(long)]
        since: Option<String>,
        /// Stream events until this timestamp.
        #[arg(long)]
        until: Option<String>,
        /// Filter output based on conditions provided.
        #[arg(short, long = "filter")]
        filter: Vec<String>,
        /// Format output using a custom template.
        #[arg(long)]
        format: Option<String>,
    },
    /// Manage networks.
    Network {
        #[command(subcommand)]
        /// The network command.
        cmd: crate::commands::network::NetworkCmd,
    },
    /// Build an image from a Dockerfile (docker buildx's flags).
    Build(crate::commands::build::BuildArgs),
    /// Manage builds (prune the build cache).
    Builder {
        #[command(subcommand)]
        /// The builder command.
        cmd: BuilderCmd,
    },
    /// Manage berth (df, prune, info, events).
    System {
        #[command(subcommand)]
        /// The system command.
        cmd: SystemCmd,
    },
    /// Manage volumes.
    Volume {
        #[command(subcommand)]
        /// The volume command.
        cmd: crate::commands::volume::VolumeCmd,
    },
    /// Manage contexts (docker's store in ~/.docker/contexts, shared with the docker CLI).
    Context {
        #[command(subcommand)]
        /// The context command.
        cmd: crate::commands::context::ContextCmd,
    },
    /// Generate the autocompletion script for the specified shell.
    Completion {
        /// bash, zsh, fish, powershell or elvish.
        shell: clap_complete::Shell,
    },
    /// Run the berth daemon, serving the Docker Engine API (`berth daemon --help`).
    Daemon {
        /// The daemon's flags.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run the OCI runtime, runc-compatible (`berth runtime --help`).
    Runtime {
        /// The runtime's command and flags.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Remove stopped containers (`container prune`).
    #[command(name = "container-prune", hide = true)]
    ContainerPrune {
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        force: bool,
        #[arg(long = "filter")]
        /// Provide filter values (e.g. "until=<timestamp>").
        filter: Vec<String>,
    },
    /// Remove unused images (`image prune`).
    #[command(name = "image-prune", hide = true)]
    ImagePrune {
        /// Remove all unused images, not just dangling ones.
        #[arg(short, long)]
        all: bool,
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        force: bool,
        #[arg(long = "filter")]
        /// Provide filter values (e.g. "until=<timestamp>").
        filter: Vec<String>,
    },
}

/// `builder` subcommands.
#[derive(Debug, Subcommand)]
pub enum BuilderCmd {
    /// Remove build cache.
    Prune {
        /// Remove all unused build cache, not just dangling ones.
        #[arg(short, long)]
        all: bool,
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        force: bool,
        /// Provide filter values (e.g. "until=24h").
        #[arg(long = "filter")]
        filter: Vec<String>,
        /// Amount of disk space to keep for cache.
        #[arg(long = "keep-storage")]
        keep_storage: Option<String>,
    },
}

/// `system` subcommands.
#[derive(Debug, Subcommand)]
pub enum SystemCmd {
    /// Show docker disk usage.
    Df {
        /// Show detailed information on space usage.
        #[arg(short, long)]
        verbose: bool,
        /// Format output.
        #[arg(long)]
        format: Option<String>,
    },
    /// Remove unused data.
    Prune {
        /// Remove all unused images not just dangling ones.
        #[arg(short, long)]
        all: bool,
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        force: bool,
        /// Prune anonymous volumes.
        #[arg(long)]
        volumes: bool,
        #[arg(long = "filter")]
        /// Provide filter values (e.g. "label=<key>=<value>").
        filter: Vec<String>,
    },
}

/// Rewrites `container X` / `image X` / `system info|events` into the flat command names.
pub fn normalize(args: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.into_iter();
    if let Some(a0) = it.next() {
        out.push(a0);
    }
    let rest: Vec<String> = it.collect();
    // Skip global flags to find the command position.
    let mut i = 0;
    while i < rest.len() && rest[i].starts_with('-') {
        let takes_value = matches!(
            rest[i].as_str(),
            "-H" | "--host"
                | "-c"
                | "--context"
                | "--config"
                | "-l"
                | "--log-level"
                | "--tlscacert"
                | "--tlscert"
                | "--tlskey"
        );
        i += if takes_value { 2 } else { 1 };
    }
    let i = i.min(rest.len());
    out.extend_from_slice(&rest[..i]);
    let cmd = rest.get(i).map(String::as_str);
    let sub = rest.get(i + 1).map(String::as_str);
    let mapped: Option<&[&str]> = match (cmd, sub) {
        (Some("container"), Some("ls" | "list" | "ps")) => Some(&["ps"]),
        (Some("container"), Some("prune")) => Some(&["container-prune"]),
        (Some("container"), Some("inspect")) => Some(&["inspect", "--type", "container"]),
        (Some("container"), Some(s)) if !s.starts_with('-') => Some(&[]),
        (Some("image"), Some("ls" | "list")) => Some(&["images"]),
        (Some("image"), Some("rm" | "remove")) => Some(&["rmi"]),
        (Some("image"), Some("prune")) => Some(&["image-prune"]),
        (Some("image"), Some("inspect")) => Some(&["inspect", "--type", "image"]),
        (Some("image"), Some(s)) if !s.starts_with('-') => Some(&[]),
        (Some("network"), Some("inspect")) => Some(&["inspect", "--type", "network"]),
        (Some("volume"), Some("inspect")) => Some(&["inspect", "--type", "volume"]),
        (Some("system"), Some("info")) => Some(&["info"]),
        (Some("buildx"), Some("build" | "b")) => Some(&["build"]),
        (Some("buildx"), Some("prune")) => Some(&["builder", "prune"]),
        (Some("system"), Some("events")) => Some(&["events"]),
        _ => None,
    };
    match mapped {
        Some([]) => out.extend_from_slice(&rest[i + 1..]),
        Some(m) => {
            out.extend(m.iter().map(|s| s.to_string()));
            out.extend_from_slice(&rest[i + 2..]);
        }
        None => out.extend_from_slice(&rest[i..]),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Vec<String> {
        normalize(s.split(' ').map(String::from).collect())
    }

    #[test]
    fn subcommand_forms() {
        assert_eq!(n("berth container ls -a"), ["berth", "ps", "-a"]);
        assert_eq!(
            n("berth -H unix:///x image ls"),
            ["berth", "-H", "unix:///x", "images"]
        );
        assert_eq!(n("berth image rm x"), ["berth", "rmi", "x"]);
        assert_eq!(n("berth container rm -f x"), ["berth", "rm", "-f", "x"]);
        assert_eq!(
            n("berth image inspect x"),
            ["berth", "inspect", "--type", "image", "x"]
        );
        assert_eq!(n("berth system df"), ["berth", "system", "df"]);
        assert_eq!(n("berth ps"), ["berth", "ps"]);
    }

    #[test]
    fn parses_run_flags() {
        let cli = Cli::try_parse_from(n(
            "berth run --rm -it -e A=1 -h host -p 80:80 busybox sh -c true",
        ))
        .unwrap();
        let Cmd::Run { rm, mut opts, .. } = cli.cmd else {
            panic!()
        };
        opts.split_args();
        assert!(rm && opts.interactive && opts.tty);
        assert_eq!(opts.hostname.as_deref(), Some("host"));
        assert_eq!(opts.image, "busybox");
        assert_eq!(opts.command, ["sh", "-c", "true"]);
    }
}
