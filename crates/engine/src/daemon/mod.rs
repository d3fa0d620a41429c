//! `berth daemon`: flags and daemon.json, the tokio runtime, the API listeners (unix
//! sockets; TCP only with mutual TLS, [`tls`]), signals (SIGTERM/SIGINT stop cleanly: they
//! stop the containers, or leave them running with `live-restore`; SIGHUP reloads daemon.json's reloadable keys), the pid file,
//! crash recovery ([`crate::containers::reconcile`], [`crate::images::recover`]) and live
//! restore of running containers.

pub mod activation;
pub mod adapt;
pub mod config;
pub mod engine;
pub mod services;
pub mod tls;

use std::ffi::OsString;
use std::sync::Arc;

use berth_api_server::{bind_unix, ApiServer, ServerConfig};
use clap::Parser;

use config::Flags;
use engine::Berth;

/// Entry point of `berth daemon`.
pub fn main(args: Vec<OsString>) -> i32 {
    let mut argv = vec![OsString::from("berth daemon")];
    argv.extend(args);
    let flags = match Flags::try_parse_from(argv) {
        Ok(f) => f,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 1 } else { 0 };
        }
    };
    let cfg = match config::resolve(&flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("berth daemon: {e}");
            return 1;
        }
    };
    // Before any thread exists: the activated sockets are taken from the environment.
    let activated = match activation::listeners(&cfg.fd_hosts) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("berth daemon: {e}");
            return 1;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("berth daemon: tokio: {e}");
            return 1;
        }
    };
    match rt.block_on(run(cfg, activated)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("berth daemon: {e}");
            1
        }
    }
}

async fn run(
    mut cfg: config::DaemonConfig,
    activated: Vec<std::os::unix::net::UnixListener>,
) -> Result<(), String> {
    // Bad certificates fail the start before anything else happens.
    let tls_config = match (&cfg.tls, cfg.tcp.is_empty()) {
        (Some(files), false) => Some(tls::server_config(files).map_err(|e| e.to_string())?),
        (None, false) => return Err("tcp:// hosts need --tlsverify".into()),
        _ => None,
    };
    // As dockerd: files the daemon creates get 0644/0755 unless they say otherwise.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    if let Some(remap) = cfg.userns_remap.clone() {
        let mapping = crate::remap::IdMapping::setup(&remap)?;
        eprintln!(
            "berth daemon: User namespaces: ID ranges will be mapped to subuid/subgid ranges of: {}:{}",
            mapping.user, mapping.group
        );
        // As dockerd: everything of a remapped daemon lives in `<data-root>/<uid>.<gid>`,
        // which the remapped root may traverse.
        crate::layout::Layout::secure_outer_root(&cfg.data_root, mapping.root_gid())
            .map_err(|e| e.to_string())?;
        cfg.data_root = cfg.data_root.join(mapping.store_dir_name());
        cfg.remap = Some(std::sync::Arc::new(mapping));
    }
    let layout = crate::layout::Layout {
        data_root: cfg.data_root.clone(),
        exec_root: cfg.exec_root.clone(),
        gid: cfg.remap.as_ref().map(|m| m.root_gid()),
    };
    layout.secure().map_err(|e| e.to_string())?;
    for dir in ["containers", "runtime"] {
        layout
            .traversable_dir(&cfg.exec_root.join(dir))
            .map_err(|e| e.to_string())?;
    }
    if let Some(p) = &cfg.pidfile {
        if let Ok(old) = std::fs::read_to_string(p) {
            if let Ok(pid) = old.trim().parse::<i32>() {
                if std::path::Path::new(&format!("/proc/{pid}")).exists()
                    && u32::try_from(pid).ok() != Some(std::process::id())
                {
                    return Err(format!(
                        "pid file found, ensure berth daemon is not running or delete {}",
                        p.display()
                    ));
                }
            }
        }
        std::fs::write(p, format!("{}", std::process::id()))
            .map_err(|e| format!("write {}: {e}", p.display()))?;
    }
    let services = services::Services::build(&cfg).await?;
    // The stores made their directories: give the new ones the table's modes too.
    layout.secure().map_err(|e| e.to_string())?;
    services.recover().await?;
    let networks = services.networks.clone();
    let berth = Arc::new(Berth::new(cfg.clone(), services));
    let server = ApiServer::new(berth.clone(), ServerConfig::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut serving = Vec::new();
    for path in &cfg.sockets {
        let listener =
            bind_unix(path, 0o660).map_err(|e| format!("listen on {}: {e}", path.display()))?;
        set_group(path);
        let server = server.clone();
        let mut rx = stop_rx.clone();
        serving.push(tokio::spawn(async move {
            let _ = server
                .serve_unix(listener, async move {
                    let _ = rx.wait_for(|v| *v).await;
                })
                .await;
        }));
    }
    // Sockets from systemd keep the owner, group and mode berth.socket gave them.
    for l in activated {
        let listener =
            tokio::net::UnixListener::from_std(l).map_err(|e| format!("socket activation: {e}"))?;
        let server = server.clone();
        let mut rx = stop_rx.clone();
        serving.push(tokio::spawn(async move {
            let _ = server
                .serve_unix(listener, async move {
                    let _ = rx.wait_for(|v| *v).await;
                })
                .await;
        }));
    }
    if let Some(tls_config) = tls_config {
        for addr in &cfg.tcp {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("listen on tcp://{addr}: {e}"))?;
            let server = server.clone();
            let mut rx = stop_rx.clone();
            let (config, debug) = (tls_config.clone(), cfg.debug);
            serving.push(tokio::spawn(async move {
                tls::serve(server, listener, config, debug, async move {
                    let _ = rx.wait_for(|v| *v).await;
                })
                .await;
            }));
        }
    }
    if cfg.debug {
        eprintln!(
            "berth daemon: API listening on {:?} and tcp {:?}",
            cfg.sockets, cfg.tcp
        );
    }
    activation::notify("READY=1");
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => berth.reload(),
        }
    }
    activation::notify("STOPPING=1");
    let _ = stop_tx.send(true);
    for s in serving {
        let _ = s.await;
    }
    for path in &cfg.sockets {
        let _ = std::fs::remove_file(path);
    }
    // Without live restore the containers stop with the daemon.
    berth.containers.shutdown().await;
    // Bridges and the nft table go with a clean stop, unless running containers (live
    // restore) still use them; the next start recreates them from the network state.
    if let Err(e) = networks.mgr.shutdown().await {
        eprintln!("berth daemon: removing bridges and firewall table: {e}");
    }
    if let Some(p) = &cfg.pidfile {
        let _ = std::fs::remove_file(p);
    }
    Ok(())
}

/// Gives the socket to group `berth` when that group exists.
fn set_group(path: &std::path::Path) {
    let Ok(groups) = std::fs::read_to_string("/etc/group") else {
        return;
    };
    let gid = groups.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 2 && f[0] == "berth")
            .then(|| f[2].parse::<u32>().ok())
            .flatten()
    });
    if let Some(gid) = gid {
        let _ = std::os::unix::fs::chown(path, None, Some(gid));
    }
}
