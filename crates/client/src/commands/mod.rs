//! The commands. Each takes the [`Ctx`] and its parsed flags, prints like docker, and
//! returns the exit code (or a [`CliError`]).

pub mod build;
pub mod completion;
mod container;
pub mod context;
pub(crate) mod cp;
pub(crate) mod image;
pub mod network;
mod run;
pub mod stats;
pub(crate) mod system;
pub mod volume;

pub use container::export;
pub use cp::cp;
pub use run::attach;

use std::io::Write;
use std::path::PathBuf;

use berth_api_types::Filters;

use crate::cli::{BuilderCmd, Cli, Cmd, SystemCmd};
use crate::error::{CliError, CliResult};
use crate::host::{self, HostInputs};
use crate::transport::Client;

/// What every command gets.
pub struct Ctx {
    /// The negotiated API client.
    pub client: Client,
    /// The context name in use.
    pub context: String,
    /// The docker config dir (auths).
    pub config_dir: PathBuf,
}

/// Parses `--filter k=v` flags.
pub fn filters(list: &[String]) -> CliResult<Filters> {
    let mut f = Filters::default();
    for item in list {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| CliError::msg("bad format of filter (expected name=value)"))?;
        f.add(k.trim().to_ascii_lowercase().as_str(), v);
    }
    Ok(f)
}

/// Writes to stdout, ignoring a closed pipe.
pub fn out(s: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}

/// Runs `f` for every name, printing errors docker-style; exit 1 if any failed.
pub async fn for_each<F, Fut>(names: &[String], mut f: F) -> CliResult<i32>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = CliResult<()>>,
{
    let mut failed = false;
    for n in names {
        match f(n.clone()).await {
            Ok(()) => {}
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

/// Resolves the endpoint, negotiates, and runs the command.
pub async fn dispatch(cli: Cli) -> CliResult<i32> {
    let config_dir = cli
        .config
        .clone()
        .map(PathBuf::from)
        .unwrap_or_else(host::default_config_dir);
    let inputs = HostInputs {
        hosts: cli.host.clone(),
        context: cli.context.clone(),
        env_host: std::env::var("DOCKER_HOST").ok(),
        env_context: std::env::var("DOCKER_CONTEXT").ok(),
        config_dir: config_dir.clone(),
    };
    if let Cmd::Completion { shell } = cli.cmd {
        out_bytes(&completion::script(shell));
        return Ok(0);
    }
    if let Cmd::Context { cmd } = cli.cmd {
        let env = context::ContextEnv {
            store: crate::context_store::Store::new(&config_dir),
            inputs,
        };
        return context::run(&env, cmd);
    }
    let endpoint = host::resolve(&inputs)?;
    let flag_tls = crate::tls::settings(&crate::tls::TlsInputs {
        tls: cli.tls,
        tlsverify: cli.tlsverify,
        ca: cli.tlscacert.clone(),
        cert: cli.tlscert.clone(),
        key: cli.tlskey.clone(),
        env_tls_verify: std::env::var("DOCKER_TLS_VERIFY").ok(),
        env_cert_path: std::env::var("DOCKER_CERT_PATH").ok(),
        config_dir: config_dir.clone(),
    });
    let tls = endpoint.tls.clone().or(flag_tls);
    let mut client = Client::with_tls(&endpoint.host, tls.as_ref())?;
    let ctx_for = |client: Client| Ctx {
        client,
        context: endpoint.context.clone(),
        config_dir: config_dir.clone(),
    };
    // Commands that work without a daemon.
    match &cli.cmd {
        // Listed in `--help`; the `berth` binary runs them before the client sees them.
        Cmd::Daemon { .. } | Cmd::Runtime { .. } => return Err(CliError::msg(
            "the daemon and the runtime are run by the berth binary: berth daemon, berth runtime",
        )),
        Cmd::Logout { server } => return system::logout(&ctx_for(client), server.as_deref()),
        Cmd::Version { format } => {
            let pinned = std::env::var("DOCKER_API_VERSION").ok();
            if let Some(v) = &pinned {
                client.set_version(v);
            }
            let ok = pinned.is_some() || client.negotiate().await.is_ok();
            return system::version(&ctx_for(client), format.as_deref(), ok).await;
        }
        _ => {}
    }
    match std::env::var("DOCKER_API_VERSION") {
        Ok(v) if !v.is_empty() => client.set_version(&v),
        _ => {
            if let Err(e) = client.negotiate().await {
                // `docker run` reports every failure, an unreachable daemon too, as
                // "docker: …" with the usage hint and status 125.
                return Err(match cli.cmd {
                    Cmd::Run { .. } => run::status_error("run", e),
                    _ => e,
                });
            }
        }
    }
    let ctx = ctx_for(client);
    match cli.cmd {
        Cmd::Run {
            detach,
            rm,
            sig_proxy,
            mut opts,
        } => {
            opts.split_args();
            run::run(&ctx, opts, detach, rm, sig_proxy).await
        }
        Cmd::Create { mut opts } => {
            opts.split_args();
            run::create_cmd(&ctx, opts).await
        }
        Cmd::Start {
            attach,
            interactive,
            detach_keys,
            containers,
        } => run::start(&ctx, attach, interactive, detach_keys, containers).await,
        Cmd::Attach {
            no_stdin,
            sig_proxy,
            detach_keys,
            container,
        } => run::attach(&ctx, &container, !no_stdin, sig_proxy, detach_keys).await,
        Cmd::Exec {
            detach,
            interactive,
            tty,
            env,
            env_file,
            workdir,
            user,
            privileged,
            detach_keys,
            mut command,
        } => {
            let container = command.remove(0);
            run::exec(
                &ctx,
                run::ExecArgs {
                    detach,
                    interactive,
                    tty,
                    env,
                    env_file,
                    workdir,
                    user,
                    privileged,
                    detach_keys,
                    container,
                    command,
                },
            )
            .await
        }
        Cmd::Stop {
            timeout,
            signal,
            containers,
        } => container::stop_restart(&ctx, "stop", timeout, signal, containers).await,
        Cmd::Restart {
            timeout,
            signal,
            containers,
        } => container::stop_restart(&ctx, "restart", timeout, signal, containers).await,
        Cmd::Kill { signal, containers } => container::kill(&ctx, signal, containers).await,
        Cmd::Pause { containers } => container::simple(&ctx, "pause", containers).await,
        Cmd::Unpause { containers } => container::simple(&ctx, "unpause", containers).await,
        Cmd::Rm {
            force,
            volumes,
            link,
            containers,
        } => container::rm(&ctx, force, volumes, link, containers).await,
        Cmd::Ps {
            all,
            last,
            latest,
            size,
            no_trunc,
            fmt,
        } => container::ps(&ctx, all, last, latest, size, no_trunc, fmt).await,
        Cmd::Logs {
            follow,
            since,
            until,
            timestamps,
            tail,
            details: _,
            container,
        } => container::logs(&ctx, follow, since, until, timestamps, tail, &container).await,
        Cmd::Top { mut ps_args } => {
            let c = ps_args.remove(0);
            container::top(&ctx, &c, ps_args).await
        }
        Cmd::Stats {
            all,
            no_stream,
            no_trunc,
            format,
            containers,
        } => {
            stats::stats(
                &ctx,
                stats::StatsArgs {
                    all,
                    no_stream,
                    no_trunc,
                    format,
                    containers,
                    labels: Vec::new(),
                },
            )
            .await
        }
        Cmd::Diff { container } => container::diff(&ctx, &container).await,
        Cmd::Cp {
            src,
            dst,
            quiet,
            archive,
            follow_link,
        } => cp::cp(&ctx, &src, &dst, quiet, archive, follow_link).await,
        Cmd::Export { output, container } => container::export(&ctx, output, &container).await,
        Cmd::Commit {
            message,
            author,
            change,
            pause,
            container,
            repository,
        } => image::commit(&ctx, message, author, change, pause, &container, repository).await,
        Cmd::Inspect {
            format,
            size,
            kind,
            names,
        } => system::inspect(&ctx, format, size, kind, names).await,
        Cmd::Wait { containers } => container::wait(&ctx, containers).await,
        Cmd::Rename {
            container,
            new_name,
        } => container::rename(&ctx, &container, &new_name).await,
        Cmd::Update {
            blkio_weight,
            cpu_period,
            cpu_quota,
            cpu_rt_period,
            cpu_rt_runtime,
            cpu_shares,
            cpus,
            cpuset_cpus,
            cpuset_mems,
            memory,
            memory_reservation,
            memory_swap,
            pids_limit,
            restart,
            containers,
        } => {
            let args = container::UpdateArgs {
                blkio_weight,
                cpu_period,
                cpu_quota,
                cpu_rt_period,
                cpu_rt_runtime,
                cpu_shares,
                cpus,
                cpuset_cpus,
                cpuset_mems,
                memory,
                memory_reservation,
                memory_swap,
                pids_limit,
                restart,
            };
            container::update(&ctx, args, containers).await
        }
        Cmd::Port { container, port } => container::port(&ctx, &container, port).await,
        Cmd::Pull {
            all_tags,
            quiet,
            platform,
            image,
        } => image::pull_cmd(&ctx, &image, all_tags, quiet, platform).await,
        Cmd::Push {
            all_tags,
            quiet,
            image,
        } => image::push(&ctx, &image, all_tags, quiet).await,
        Cmd::Images {
            all,
            digests,
            no_trunc,
            fmt,
            repository,
        } => image::images(&ctx, all, digests, no_trunc, fmt, repository).await,
        Cmd::Tag { source, target } => image::tag(&ctx, &source, &target).await,
        Cmd::Rmi {
            force,
            no_prune,
            images,
        } => image::rmi(&ctx, force, no_prune, images).await,
        Cmd::History {
            human,
            no_trunc,
            quiet,
            format,
            image,
        } => image::history(&ctx, human, no_trunc, quiet, format, &image).await,
        Cmd::Save { output, images } => image::save(&ctx, output, images).await,
        Cmd::Build(args) => build::build(&ctx, args).await,
        Cmd::Builder {
            cmd:
                BuilderCmd::Prune {
                    all,
                    force,
                    filter,
                    keep_storage,
                },
        } => build::prune(&ctx, all, force, filter, keep_storage).await,
        Cmd::Load { input, quiet } => image::load(&ctx, input, quiet).await,
        Cmd::Import {
            change,
            message,
            platform,
            file,
            repository,
        } => image::import(&ctx, change, message, platform, &file, repository).await,
        Cmd::Login {
            username,
            password,
            password_stdin,
            server,
        } => system::login(&ctx, username, password, password_stdin, server).await,
        Cmd::Logout { .. }
        | Cmd::Version { .. }
        | Cmd::Context { .. }
        | Cmd::Completion { .. }
        | Cmd::Daemon { .. }
        | Cmd::Runtime { .. } => {
            unreachable!("handled above")
        }
        Cmd::Search {
            filter,
            limit,
            no_trunc,
            format,
            term,
        } => system::search(&ctx, filter, limit, no_trunc, format, &term).await,
        Cmd::Info { format } => system::info(&ctx, format).await,
        Cmd::Events {
            since,
            until,
            filter,
            format,
        } => system::events(&ctx, since, until, filter, format).await,
        Cmd::System {
            cmd: SystemCmd::Df { verbose, format },
        } => system::df(&ctx, verbose, format).await,
        Cmd::System {
            cmd:
                SystemCmd::Prune {
                    all,
                    force,
                    volumes,
                    filter,
                },
        } => system::prune(&ctx, all, force, volumes, filter).await,
        Cmd::Network { cmd } => network::run(&ctx, cmd).await,
        Cmd::Volume { cmd } => volume::run(&ctx, cmd).await,
        Cmd::ContainerPrune { force, filter } => container::prune(&ctx, force, filter).await,
        Cmd::ImagePrune { all, force, filter } => image::prune(&ctx, all, force, filter).await,
    }
}

/// Writes raw bytes to stdout.
pub fn out_bytes(b: &[u8]) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(b);
    let _ = o.flush();
}

/// Go's `time.Time.String()` of a unix time in UTC ("2020-09-13 12:26:40 +0000 UTC").
pub fn go_time(unix: i64) -> String {
    let t = berth_cli_format::time::unix_time(unix);
    let r = berth_cli_format::time::format_rfc3339(t);
    // "2020-09-13T12:26:40Z" → "2020-09-13 12:26:40 +0000 UTC"
    format!(
        "{} +0000 UTC",
        r.trim_end_matches('Z').replacen('T', " ", 1)
    )
}

/// Go's json encoder escapes `<`, `>` and `&` (they only occur inside strings).
pub fn go_json_escape(s: &str) -> String {
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}
