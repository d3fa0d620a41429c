//! `compose config`: the canonical model as YAML or JSON, or one list of names.

use std::collections::BTreeSet;

use crate::file::{output, Loaded};

/// `config` flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigArgs {
    /// Format the output. Values: [yaml | json]
    #[arg(long)]
    pub format: Option<String>,
    /// Only validate the configuration, don't print anything
    #[arg(short, long)]
    pub quiet: bool,
    /// Print the service names, one per line.
    #[arg(long)]
    pub services: bool,
    /// Print the volume names, one per line.
    #[arg(long)]
    pub volumes: bool,
    /// Print the network names, one per line.
    #[arg(long)]
    pub networks: bool,
    /// Print the profile names, one per line.
    #[arg(long)]
    pub profiles: bool,
    /// Print the image names, one per line.
    #[arg(long)]
    pub images: bool,
    /// Print the service config hash, one per line.
    #[arg(long)]
    pub hash: Option<String>,
    /// Save to file (default to stdout)
    #[arg(short, long)]
    pub output: Option<String>,
    /// Don't interpolate environment variables (accepted; berth always interpolates)
    #[arg(long, hide = true)]
    pub no_interpolate: bool,
    /// Services to show
    pub service_names: Vec<String>,
}

/// The text `config` prints (None: nothing, as with `-q`).
pub fn render(loaded: &Loaded, args: &ConfigArgs) -> Result<Option<String>, String> {
    let p = &loaded.project;
    if args.quiet {
        return Ok(None);
    }
    let lines = |it: &mut dyn Iterator<Item = String>| {
        let v: Vec<String> = it.map(|s| format!("{s}\n")).collect();
        Some(v.concat())
    };
    if args.services {
        return Ok(lines(&mut p.services.keys().cloned()));
    }
    if args.volumes {
        return Ok(lines(&mut p.volumes.keys().cloned()));
    }
    if args.networks {
        return Ok(lines(&mut p.networks.keys().cloned()));
    }
    if args.profiles {
        let all: BTreeSet<String> = p
            .services
            .values()
            .chain(loaded.disabled.values())
            .flat_map(|s| s.profiles.iter().cloned())
            .collect();
        return Ok(lines(&mut all.into_iter()));
    }
    if args.images {
        return Ok(lines(&mut p.services.values().map(|s| {
            if s.image.is_empty() {
                format!("{}-{}", p.name, s.name)
            } else {
                s.image.clone()
            }
        })));
    }
    if let Some(h) = &args.hash {
        let wanted: Vec<&str> = h.split(',').map(str::trim).collect();
        let mut out = String::new();
        for (name, s) in &loaded.unresolved {
            if wanted.contains(&"*") || wanted.contains(&name.as_str()) {
                out.push_str(&format!("{name} {}\n", output::config_hash(s)));
            }
        }
        return Ok(Some(out));
    }
    let mut project = p.clone();
    if !args.service_names.is_empty() {
        for n in &args.service_names {
            if !project.services.contains_key(n) {
                return Err(format!("no such service: {n}"));
            }
        }
        project
            .services
            .retain(|n, _| args.service_names.contains(n));
    }
    match args.format.as_deref() {
        None | Some("yaml") => Ok(Some(output::yaml(&project))),
        Some("json") => Ok(Some(output::json(&project))),
        Some(f) => Err(format!("unsupported format {f:?}")),
    }
}
