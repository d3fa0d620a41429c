//! The API over TCP, only with mutual TLS (`--tlsverify`): the daemon proves itself with
//! `--tlscert`/`--tlskey`, and every client must present a certificate signed by
//! `--tlscacert`. Plain TCP and server-only TLS (`--tls` alone) are refused at start: the
//! Engine API is root on the host, so berth never serves it unauthenticated on a network.
//!
//! rustls with the `ring` provider (see `docs/engine.md` for the choice).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use berth_api_server::ApiServer;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// The certificate files of `--tlsverify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA that signs client certificates (`--tlscacert`).
    pub ca: PathBuf,
    /// The daemon's certificate chain (`--tlscert`).
    pub cert: PathBuf,
    /// The daemon's private key (`--tlskey`).
    pub key: PathBuf,
}

/// A TLS setup problem, with the file it concerns.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("could not read {what} {path}: {reason}")]
    File {
        /// "CA certificate", "certificate", "key".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// rustls refused the combination (e.g. the key does not match the certificate).
    #[error("invalid TLS configuration: {0}")]
    Config(String),
}

fn certs(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |reason: String| TlsError::File {
        what,
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no PEM certificate in it".into()));
    }
    Ok(certs)
}

/// Builds the server side of mutual TLS from the three files.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(&files.ca, "CA certificate")? {
        roots.add(c).map_err(|e| TlsError::File {
            what: "CA certificate",
            path: files.ca.clone(),
            reason: e.to_string(),
        })?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let chain = certs(&files.cert, "certificate")?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| TlsError::File {
        what: "key",
        path: files.key.clone(),
        reason: e.to_string(),
    })?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(Arc::new(config))
}

/// Accepts TLS connections on `listener` until `shutdown` resolves. A client that fails
/// the handshake (no certificate, one not signed by the CA, plain HTTP) is dropped; the
/// handshake has 30 seconds.
pub async fn serve(
    server: ApiServer,
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    debug: bool,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(config);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(s) => s,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                let server = server.clone();
                tokio::spawn(async move {
                    let tls = tokio::time::timeout(Duration::from_secs(30), acceptor.accept(stream)).await;
                    match tls {
                        Ok(Ok(tls)) => {
                            let _ = server.serve_connection(tls).await;
                        }
                        Ok(Err(e)) if debug => {
                            eprintln!("berth daemon: TLS handshake with {peer} failed: {e}");
                        }
                        _ => {}
                    }
                });
            }
        }
    }
}
