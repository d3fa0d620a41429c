//! Second pass: nodes -> typed instructions, with BuildKit's checks and messages.

use berth_units::{format_go_duration, parse_go_duration};

use crate::error::ParseError;
use crate::flags::{Flags, Kind};
use crate::heredoc::parse_heredoc;
use crate::instruction::*;
use crate::mount::{parse_mount, NetworkMode};
use crate::node::{parse_nodes, Node};

const INSTRUCTIONS: [&str; 18] = [
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Parses a whole Dockerfile.
pub fn parse(src: &str) -> Result<Dockerfile, ParseError> {
    let (directives, nodes) = parse_nodes(src)?;
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for node in &nodes {
        let at = |m: String| ParseError::new(node.start_line, m);
        if node.keyword.eq_ignore_ascii_case("from") {
            stages.push(parse_from(node).map_err(at)?);
            continue;
        }
        let command = parse_command(node).map_err(at)?;
        let instruction = Instruction {
            line: node.start_line,
            end_line: node.end_line,
            original: node.original.trim().to_string(),
            command,
        };
        match stages.last_mut() {
            Some(stage) => stage.instructions.push(instruction),
            None if matches!(instruction.command, Command::Arg { .. }) => {
                meta_args.push(instruction)
            }
            None => return Err(at("no build stage in current context".into())),
        }
    }
    Ok(Dockerfile {
        directives,
        meta_args,
        stages,
    })
}

fn parse_from(node: &Node) -> Result<Stage, String> {
    let args = &node.args;
    let name = match args.len() {
        3 if args[1].eq_ignore_ascii_case("as") => {
            let name = args[2].to_ascii_lowercase();
            if !valid_stage_name(&name) {
                return Err(format!(
                    "invalid name for build stage: {:?}, name can't start with a number or contain symbols",
                    args[2]
                ));
            }
            Some(name)
        }
        1 => None,
        _ => return Err("FROM requires either one or three arguments".into()),
    };
    let flags = Flags::parse(&node.flags, &[("platform", Kind::String)])?;
    Ok(Stage {
        name,
        base: args[0].clone(),
        platform: flags.string("platform"),
        original: node.original.trim().to_string(),
        line: node.start_line,
        instructions: Vec::new(),
    })
}

/// `^[a-z][a-z0-9-_.]*$`
fn valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

fn no_flags(node: &Node) -> Result<(), String> {
    Flags::parse(&node.flags, &[]).map(|_| ())
}

fn exactly_one(node: &Node, name: &str) -> Result<String, String> {
    match node.args.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(format!("{name} requires exactly one argument")),
    }
}

fn at_least_one(node: &Node, name: &str) -> Result<(), String> {
    if node.args.is_empty() && node.pairs.is_empty() {
        Err(format!("{name} requires at least one argument"))
    } else {
        Ok(())
    }
}

fn command_line(node: &Node) -> CommandLine {
    if node.json {
        CommandLine::Exec(node.args.clone())
    } else {
        CommandLine::Shell(node.args.first().cloned().unwrap_or_default())
    }
}

fn key_values(node: &Node, name: &str) -> Result<Vec<KeyValue>, String> {
    at_least_one(node, name)?;
    node.pairs
        .iter()
        .map(|(k, v)| {
            if k.is_empty() {
                Err(format!("{name} names can not be blank"))
            } else {
                Ok(KeyValue {
                    key: k.clone(),
                    value: v.clone(),
                })
            }
        })
        .collect()
}

/// Parses one instruction other than FROM.
pub(crate) fn parse_command(node: &Node) -> Result<Command, String> {
    let keyword = node.keyword.to_ascii_uppercase();
    Ok(match keyword.as_str() {
        "RUN" => parse_run(node)?,
        "CMD" => {
            no_flags(node)?;
            Command::Cmd(command_line(node))
        }
        "ENTRYPOINT" => {
            no_flags(node)?;
            Command::Entrypoint(command_line(node))
        }
        "SHELL" => {
            no_flags(node)?;
            if node.args.is_empty() {
                return Err("SHELL requires at least one argument".into());
            }
            if !node.json {
                return Err(format!(
                    "SHELL requires the arguments to be in JSON form ({})",
                    node.original.trim()
                ));
            }
            Command::Shell {
                shell: node.args.clone(),
            }
        }
        "LABEL" => {
            no_flags(node)?;
            Command::Label {
                labels: key_values(node, "LABEL")?,
            }
        }
        "ENV" => {
            no_flags(node)?;
            Command::Env {
                vars: key_values(node, "ENV")?,
            }
        }
        "MAINTAINER" => {
            let name = exactly_one(node, "MAINTAINER")?;
            no_flags(node)?;
            Command::Maintainer { name }
        }
        "EXPOSE" => {
            at_least_one(node, "EXPOSE")?;
            no_flags(node)?;
            let mut ports = node.args.clone();
            ports.sort();
            Command::Expose { ports }
        }
        "ADD" | "COPY" => parse_file_copy(node, keyword == "ADD")?,
        "VOLUME" => {
            at_least_one(node, "VOLUME")?;
            no_flags(node)?;
            let paths = node
                .args
                .iter()
                .map(|v| {
                    let v = v.trim();
                    if v.is_empty() {
                        Err("VOLUME specified can not be an empty string".to_string())
                    } else {
                        Ok(v.to_string())
                    }
                })
                .collect::<Result<_, _>>()?;
            Command::Volume { paths }
        }
        "USER" => {
            let user = exactly_one(node, "USER")?;
            no_flags(node)?;
            Command::User { user }
        }
        "WORKDIR" => {
            let path = exactly_one(node, "WORKDIR")?;
            no_flags(node)?;
            Command::Workdir { path }
        }
        "STOPSIGNAL" => {
            let signal = exactly_one(node, "STOPSIGNAL")?;
            no_flags(node)?;
            Command::Stopsignal { signal }
        }
        "ARG" => {
            at_least_one(node, "ARG")?;
            no_flags(node)?;
            let args = node
                .args
                .iter()
                .map(|arg| match arg.split_once('=') {
                    Some(("", _)) => Err("ARG names can not be blank".to_string()),
                    Some((k, v)) => Ok(ArgDef {
                        name: k.to_string(),
                        default: Some(v.to_string()),
                    }),
                    None => Ok(ArgDef {
                        name: arg.clone(),
                        default: None,
                    }),
                })
                .collect::<Result<_, _>>()?;
            Command::Arg { args }
        }
        "ONBUILD" => parse_onbuild(node)?,
        "HEALTHCHECK" => parse_healthcheck(node)?,
        _ => {
            let mut message = format!("unknown instruction: {keyword}");
            if let Some(s) = suggest(&keyword) {
                message.push_str(&format!(" (did you mean {s}?)"));
            }
            return Err(message);
        }
    })
}

fn parse_run(node: &Node) -> Result<Command, String> {
    let flags = Flags::parse(
        &node.flags,
        &[
            ("mount", Kind::Strings),
            ("network", Kind::String),
            ("security", Kind::String),
        ],
    )?;
    if node.args.is_empty() {
        return Err("RUN requires at least one argument".into());
    }
    let mounts = flags.strings("mount");
    for spec in &mounts {
        // Values may use build args; check the structure now when nothing is left to expand.
        if !spec.contains('$') || spec.contains("from=$") {
            parse_mount(spec, &mut |v| Ok(v.to_string()))?;
        }
    }
    let network = flags
        .string("network")
        .map(|n| NetworkMode::parse(&n))
        .transpose()?;
    let security = flags.string("security");
    if let Some(s) = &security {
        if s != "insecure" && s != "sandbox" {
            return Err(format!("unsupported security mode {s:?}"));
        }
    }
    let command = command_line(node);
    if !node.heredocs.is_empty() && matches!(command, CommandLine::Exec(_)) {
        return Err("parsing produced an invalid run command".into());
    }
    Ok(Command::Run(Run {
        command,
        heredocs: node.heredocs.clone(),
        mounts,
        network,
        security,
    }))
}

fn parse_file_copy(node: &Node, add: bool) -> Result<Command, String> {
    let name = if add { "ADD" } else { "COPY" };
    if node.args.len() < 2 {
        return Err(format!(
            "{name} requires at least two arguments, but only one was provided. Destination could not be determined"
        ));
    }
    let allowed: &[(&str, Kind)] = if add {
        &[
            ("chown", Kind::String),
            ("chmod", Kind::String),
            ("link", Kind::Bool),
            ("keep-git-dir", Kind::Bool),
            ("checksum", Kind::String),
            ("exclude", Kind::Strings),
        ]
    } else {
        &[
            ("chown", Kind::String),
            ("from", Kind::String),
            ("chmod", Kind::String),
            ("link", Kind::Bool),
            ("parents", Kind::Bool),
            ("exclude", Kind::Strings),
        ]
    };
    let flags = Flags::parse(&node.flags, allowed)?;
    let (dest, srcs) = node.args.split_last().expect("two arguments");
    if parse_heredoc(dest).is_some() {
        return Err(format!("{name} cannot accept a heredoc as a destination"));
    }
    let mut sources = Vec::new();
    let mut inline = Vec::new();
    for src in srcs {
        match parse_heredoc(src).filter(|_| !node.json) {
            Some(h) => {
                let body = node
                    .heredocs
                    .iter()
                    .find(|d| d.name == h.name)
                    .map(|d| d.body())
                    .unwrap_or_default();
                inline.push(InlineSource {
                    name: h.name,
                    data: body,
                    expand: h.expand,
                });
            }
            None => sources.push(src.clone()),
        }
    }
    let checksum = flags.string("checksum");
    if let Some(c) = &checksum {
        let remote = sources.len() == 1
            && ["http://", "https://", "git@", "git://"]
                .iter()
                .any(|p| sources[0].starts_with(p))
            || sources.len() == 1 && sources[0].contains(".git");
        if !remote {
            return Err("checksum can't be specified for non-HTTP(S) sources".into());
        }
        if c.is_empty() {
            return Err("checksum can't be empty".into());
        }
    }
    Ok(FileCopy {
        sources,
        inline,
        dest: dest.clone(),
        from: flags.string("from"),
        chown: flags.string("chown"),
        chmod: flags.string("chmod"),
        link: flags.bool("link"),
        parents: flags.bool("parents"),
        exclude: flags.strings("exclude"),
        checksum,
        keep_git_dir: flags.bool("keep-git-dir"),
        json: node.json,
    })
    .map(|c| {
        if add {
            Command::Add(c)
        } else {
            Command::Copy(c)
        }
    })
}

fn parse_onbuild(node: &Node) -> Result<Command, String> {
    let Some(sub) = &node.sub else {
        return Err("ONBUILD requires at least one argument".into());
    };
    no_flags(node)?;
    let trigger = sub.keyword.to_ascii_uppercase();
    match trigger.as_str() {
        "ONBUILD" => return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into()),
        "MAINTAINER" | "FROM" => {
            return Err(format!("{trigger} isn't allowed as an ONBUILD trigger"))
        }
        _ => {}
    }
    let mut sub = (**sub).clone();
    sub.heredocs = node.heredocs.clone();
    let command = parse_command(&sub)?;
    let trimmed = node.original.trim_start();
    let mut expression = trimmed
        .get(7..)
        .filter(|_| trimmed[..7].eq_ignore_ascii_case("onbuild"))
        .unwrap_or(trimmed)
        .trim_start()
        .to_string();
    for heredoc in &node.heredocs {
        expression.push('\n');
        expression.push_str(&heredoc.content);
        expression.push_str(&heredoc.name);
    }
    Ok(Command::Onbuild(Onbuild {
        expression,
        command: Box::new(command),
    }))
}

fn parse_healthcheck(node: &Node) -> Result<Command, String> {
    let Some(first) = node.args.first() else {
        return Err("HEALTHCHECK requires at least one argument".into());
    };
    let typ = first.to_ascii_uppercase();
    let args = &node.args[1..];
    if typ == "NONE" {
        if !args.is_empty() {
            return Err("HEALTHCHECK NONE takes no arguments".into());
        }
        no_flags(node)?;
        return Ok(Command::Healthcheck(Healthcheck {
            test: vec!["NONE".into()],
            interval: 0,
            timeout: 0,
            start_period: 0,
            start_interval: 0,
            retries: 0,
        }));
    }
    let names = [
        "interval",
        "timeout",
        "start-period",
        "start-interval",
        "retries",
    ];
    let allowed: Vec<(&str, Kind)> = names.iter().map(|n| (*n, Kind::String)).collect();
    let flags = Flags::parse(&node.flags, &allowed)?;
    if typ != "CMD" {
        return Err(format!("Unknown type {typ:?} in HEALTHCHECK (try CMD)"));
    }
    if args.is_empty() || (!node.json && args.iter().all(|a| a.trim().is_empty())) {
        return Err("Missing command after HEALTHCHECK CMD".into());
    }
    let test = if node.json {
        std::iter::once("CMD".to_string())
            .chain(args.iter().cloned())
            .collect()
    } else {
        vec!["CMD-SHELL".to_string(), args.join(" ")]
    };
    let interval = |name: &str| -> Result<i64, String> {
        let Some(v) = flags.string(name).filter(|v| !v.is_empty()) else {
            return Ok(0);
        };
        let d = parse_go_duration(&v).map_err(|e| e.to_string())?;
        const MIN: i64 = 1_000_000;
        if d != 0 && d < MIN {
            return Err(format!(
                "Interval {name:?} cannot be less than {}",
                format_go_duration(MIN)
            ));
        }
        Ok(d)
    };
    let retries = match flags.string("retries").filter(|v| !v.is_empty()) {
        None => 0,
        Some(v) => {
            let n: i64 = v
                .parse()
                .ok()
                .filter(|n: &i64| i32::try_from(*n).is_ok())
                .ok_or_else(|| format!("strconv.ParseInt: parsing {v:?}: invalid syntax"))?;
            if n < 0 {
                return Err(format!("--retries cannot be negative ({n})"));
            }
            n
        }
    };
    Ok(Command::Healthcheck(Healthcheck {
        test,
        interval: interval("interval")?,
        timeout: interval("timeout")?,
        start_period: interval("start-period")?,
        start_interval: interval("start-interval")?,
        retries,
    }))
}

/// The closest instruction name (Levenshtein distance ≤ 2, case-insensitive).
fn suggest(word: &str) -> Option<&'static str> {
    let word = word.to_ascii_uppercase();
    INSTRUCTIONS
        .iter()
        .map(|c| (levenshtein(&word, c), *c))
        .filter(|(d, _)| *d <= 2 && *d < word.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
