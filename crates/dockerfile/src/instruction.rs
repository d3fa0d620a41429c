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
    pub directives: Directives,
    /// ARG instructions before the first FROM (usable in FROM lines).
    pub meta_args: Vec<Instruction>,
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
    pub line: usize,
    pub instructions: Vec<Instruction>,
}

/// One instruction and where it was.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Instruction {
    pub line: usize,
    pub end_line: usize,
    /// The instruction as written (continuations joined), for build output and history.
    pub original: String,
    pub command: Command,
}

/// What an instruction does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "UPPERCASE")]
pub enum Command {
    Run(Run),
    Cmd(CommandLine),
    Entrypoint(CommandLine),
    /// `SHELL ["exe", "arg"]` (JSON form only).
    Shell {
        shell: Vec<String>,
    },
    Label {
        labels: Vec<KeyValue>,
    },
    Maintainer {
        name: String,
    },
    /// Ports as written, sorted as BuildKit sorts them.
    Expose {
        ports: Vec<String>,
    },
    Env {
        vars: Vec<KeyValue>,
    },
    Add(FileCopy),
    Copy(FileCopy),
    Volume {
        paths: Vec<String>,
    },
    User {
        user: String,
    },
    Workdir {
        path: String,
    },
    Arg {
        args: Vec<ArgDef>,
    },
    Onbuild(Onbuild),
    Stopsignal {
        signal: String,
    },
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
    Exec(Vec<String>),
    Shell(String),
}

/// `RUN [--mount=…] [--network=…] [--security=…] <command>` and its heredocs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub command: CommandLine,
    pub heredocs: Vec<Heredoc>,
    /// `--mount` values as written; [`crate::parse_mount`] reads them once variables are known.
    pub mounts: Vec<String>,
    pub network: Option<NetworkMode>,
    /// `--security=insecure|sandbox`.
    pub security: Option<String>,
}

/// `name=value` of ENV and LABEL (both unexpanded, quotes kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// One name of an ARG, with its default (unexpanded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArgDef {
    pub name: String,
    pub default: Option<String>,
}

/// COPY and ADD.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileCopy {
    /// Source paths, globs or URLs (unexpanded).
    pub sources: Vec<String>,
    /// Heredoc sources (`COPY <<EOF /file`).
    pub inline: Vec<InlineSource>,
    pub dest: String,
    /// `--from=` (COPY only).
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    /// `--parents` (COPY only).
    pub parents: bool,
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
    pub command: Box<Command>,
}

/// `HEALTHCHECK NONE` or `HEALTHCHECK [options] CMD …`; durations in nanoseconds (0 = unset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Healthcheck {
    /// `["NONE"]`, `["CMD", args…]` or `["CMD-SHELL", command]`.
    pub test: Vec<String>,
    pub interval: i64,
    pub timeout: i64,
    pub start_period: i64,
    pub start_interval: i64,
    pub retries: i64,
}
