//! The typed instructions a Dockerfile parses to. Values are kept as written (quotes and
//! `$VAR`s included) where Docker substitutes variables at build time; [`crate::shell`]
//! expands them with the stage's ARGs and ENVs.

use serde::Serialize;

use crate::directives::Directives;
use crate::heredoc::Heredoc;
use crate::mount::NetworkMode;

/// A parsed Dockerfile: directives, the ARGs before the first FROM, the stages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dockerfile {
    /// The parser directives (`# syntax=`, `# escape=`, `# check=`).
    pub directives: Directives,
    /// ARG instructions before the first FROM (usable in FROM lines).
    pub meta_args: Vec<Instruction>,
    /// The stages, in file order.
    pub stages: Vec<Stage>,
}

/// One `FROM` and the instructions that follow it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    /// `AS name`, lower-cased.
    pub name: Option<String>,
    /// The base: an image reference, a previous stage's name or `scratch` (unexpanded).
    pub base: String,
    /// `--platform=` (unexpanded).
    pub platform: Option<String>,
    /// The FROM line, trimmed.
    pub original: String,
    /// 1-based line of the FROM.
    pub line: usize,
    /// The instructions after the FROM, up to the next one.
    pub instructions: Vec<Instruction>,
}

/// One instruction and where it was.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Instruction {
    /// 1-based first line.
    pub line: usize,
    /// 1-based last line (continuations and heredocs included).
    pub end_line: usize,
    /// The instruction as written (continuations joined), for build output and history.
    pub original: String,
    /// The typed instruction.
    pub command: Command,
}

/// What an instruction does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "UPPERCASE")]
pub enum Command {
    /// `RUN`.
    Run(Run),
    /// `CMD`.
    Cmd(CommandLine),
    /// `ENTRYPOINT`.
    Entrypoint(CommandLine),
    /// `SHELL ["exe", "arg"]` (JSON form only).
    Shell {
        /// The shell and its arguments.
        shell: Vec<String>,
    },
    /// `LABEL key=value …`.
    Label {
        /// The labels, in order.
        labels: Vec<KeyValue>,
    },
    /// `MAINTAINER name` (deprecated; becomes the image's author).
    Maintainer {
        /// The author.
        name: String,
    },
    /// Ports as written, sorted as BuildKit sorts them.
    Expose {
        /// `port[/proto]` values.
        ports: Vec<String>,
    },
    /// `ENV key=value …` (or the legacy `ENV key value`).
    Env {
        /// The variables, in order.
        vars: Vec<KeyValue>,
    },
    /// `ADD`.
    Add(FileCopy),
    /// `COPY`.
    Copy(FileCopy),
    /// `VOLUME path …` (JSON or shell form).
    Volume {
        /// The mount points.
        paths: Vec<String>,
    },
    /// `USER user[:group]`.
    User {
        /// The user as written (unexpanded).
        user: String,
    },
    /// `WORKDIR path`.
    Workdir {
        /// The directory as written (relative to the previous WORKDIR when not absolute).
        path: String,
    },
    /// `ARG name[=default] …`.
    Arg {
        /// The names and defaults.
        args: Vec<ArgDef>,
    },
    /// `ONBUILD`.
    Onbuild(Onbuild),
    /// `STOPSIGNAL signal`.
    Stopsignal {
        /// The signal name or number as written.
        signal: String,
    },
    /// `HEALTHCHECK`.
    Healthcheck(Healthcheck),
}

impl Command {
    /// The keyword, upper-case (`RUN`).
    pub fn keyword(&self) -> &'static str {
        match self {
            Self::Run(_) => "RUN",
            Self::Cmd(_) => "CMD",
            Self::Entrypoint(_) => "ENTRYPOINT",
            Self::Shell { .. } => "SHELL",
            Self::Label { .. } => "LABEL",
            Self::Maintainer { .. } => "MAINTAINER",
            Self::Expose { .. } => "EXPOSE",
            Self::Env { .. } => "ENV",
            Self::Add(_) => "ADD",
            Self::Copy(_) => "COPY",
            Self::Volume { .. } => "VOLUME",
            Self::User { .. } => "USER",
            Self::Workdir { .. } => "WORKDIR",
            Self::Arg { .. } => "ARG",
            Self::Onbuild(_) => "ONBUILD",
            Self::Stopsignal { .. } => "STOPSIGNAL",
            Self::Healthcheck(_) => "HEALTHCHECK",
        }
    }
}

/// The JSON (exec) form or the shell form of RUN, CMD and ENTRYPOINT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CommandLine {
    /// `["exe", "arg"]`: run as is.
    Exec(Vec<String>),
    /// A command line run by the stage's shell (`/bin/sh -c` by default).
    Shell(String),
}

/// `RUN [--mount=…] [--network=…] [--security=…] <command>` and its heredocs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    /// The command.
    pub command: CommandLine,
    /// Heredocs the command reads (`RUN <<EOF`).
    pub heredocs: Vec<Heredoc>,
    /// `--mount` values as written; [`crate::parse_mount`] reads them once variables are known.
    pub mounts: Vec<String>,
    /// `--network=`.
    pub network: Option<NetworkMode>,
    /// `--security=insecure|sandbox`.
    pub security: Option<String>,
}

/// `name=value` of ENV and LABEL (both unexpanded, quotes kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyValue {
    /// The name.
    pub key: String,
    /// The value.
    pub value: String,
}

/// One name of an ARG, with its default (unexpanded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArgDef {
    /// The name.
    pub name: String,
    /// The default value, when one is given.
    pub default: Option<String>,
}

/// COPY and ADD.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileCopy {
    /// Source paths, globs or URLs (unexpanded).
    pub sources: Vec<String>,
    /// Heredoc sources (`COPY <<EOF /file`).
    pub inline: Vec<InlineSource>,
    /// The destination (unexpanded; relative to WORKDIR when not absolute).
    pub dest: String,
    /// `--from=` (COPY only).
    pub from: Option<String>,
    /// `--chown=user[:group]`.
    pub chown: Option<String>,
    /// `--chmod=` (octal or symbolic).
    pub chmod: Option<String>,
    /// `--link`.
    pub link: bool,
    /// `--parents` (COPY only).
    pub parents: bool,
    /// `--exclude=` patterns.
    pub exclude: Vec<String>,
    /// `--checksum=` (ADD only).
    pub checksum: Option<String>,
    /// `--keep-git-dir` (ADD only).
    pub keep_git_dir: bool,
    /// The arguments were a JSON array.
    pub json: bool,
}

/// A heredoc used as a COPY/ADD source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InlineSource {
    /// The file name (the heredoc's terminator word).
    pub name: String,
    /// The body (`<<-` tabs already stripped).
    pub data: String,
    /// Substitute variables in the body (the word was not quoted).
    pub expand: bool,
}

/// `ONBUILD <instruction>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Onbuild {
    /// What goes into the image's `OnBuild` list (the instruction text).
    pub expression: String,
    /// The parsed trigger instruction.
    pub command: Box<Command>,
}

/// `HEALTHCHECK NONE` or `HEALTHCHECK [options] CMD …`; durations in nanoseconds (0 = unset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Healthcheck {
    /// `["NONE"]`, `["CMD", args…]` or `["CMD-SHELL", command]`.
    pub test: Vec<String>,
    /// `--interval=`.
    pub interval: i64,
    /// `--timeout=`.
    pub timeout: i64,
    /// `--start-period=`.
    pub start_period: i64,
    /// `--start-interval=`.
    pub start_interval: i64,
    /// `--retries=` (0 = unset).
    pub retries: i64,
}
