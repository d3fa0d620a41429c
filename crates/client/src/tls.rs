//! TLS to a `tcp://` daemon, as the docker CLI does it: `--tlsverify` (or
//! `$DOCKER_TLS_VERIFY`) checks the daemon's certificate against `--tlscacert`; `--tls` alone
//! encrypts without checking it; either way the client certificate (`--tlscert`/`--tlskey`)
//! is presented when its files exist. Default files come from `$DOCKER_CERT_PATH`, else
//! the docker config dir (`ca.pem`, `cert.pem`, `key.pem`).
//!
//! rustls with the `ring` provider, like the daemon and the registry client.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::error::{CliError, CliResult};

/// The TLS flags and environment (kept explicit so it is testable).
#[derive(Debug, Clone, Default)]
pub struct TlsInputs {
    /// `--tls`.
    pub tls: bool,
    /// `--tlsverify[=bool]` when given.
    pub tlsverify: Option<bool>,
    /// `--tlscacert`.
    pub ca: Option<PathBuf>,
    /// `--tlscert`.
    pub cert: Option<PathBuf>,
    /// `--tlskey`.
    pub key: Option<PathBuf>,
    /// `$DOCKER_TLS_VERIFY`.
    pub env_tls_verify: Option<String>,
    /// `$DOCKER_CERT_PATH`.
    pub env_cert_path: Option<String>,
    /// The docker config dir (default place of the files).
    pub config_dir: PathBuf,
}

/// How to speak TLS to the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Check the daemon's certificate against `ca`.
    pub verify: bool,
    /// The CA file.
    pub ca: PathBuf,
    /// Client certificate and key, when present.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// Docker's rules: TLS is on with `--tls`, with `--tlsverify` given at all, or with
/// `$DOCKER_TLS_VERIFY` set; verification with `--tlsverify` (default from the variable).
pub fn settings(i: &TlsInputs) -> Option<TlsSettings> {
    let env_verify = i.env_tls_verify.as_deref().is_some_and(|v| !v.is_empty());
    let verify = i.tlsverify.unwrap_or(env_verify);
    if !(i.tls || i.tlsverify.is_some() || verify) {
        return None;
    }
    let dir = i
        .env_cert_path
        .as_deref()
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| i.config_dir.clone());
    // A default client file that does not exist is no client certificate (docker's rule);
    // one named by a flag must exist.
    let pick = |flag: &Option<PathBuf>, name: &str| match flag {
        Some(p) => Some(p.clone()),
        None => Some(dir.join(name)).filter(|p| p.exists()),
    };
    let cert = pick(&i.cert, "cert.pem");
    let key = pick(&i.key, "key.pem");
    Some(TlsSettings {
        verify,
        ca: i.ca.clone().unwrap_or_else(|| dir.join("ca.pem")),
        client: cert.zip(key),
    })
}

fn read_certs(path: &Path, what: &str) -> CliResult<Vec<CertificateDer<'static>>> {
    let err =
        |e: String| CliError::msg(format!("could not read {what} \"{}\": {e}", path.display()));
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no certificate in it".into()));
    }
    Ok(certs)
}

/// The rustls client configuration for `s`.
pub fn client_config(s: &TlsSettings) -> CliResult<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| CliError::msg(format!("TLS: {e}")))?;
    let builder = if s.verify {
        let mut roots = rustls::RootCertStore::empty();
        for c in read_certs(&s.ca, "CA certificate")? {
            roots
                .add(c)
                .map_err(|e| CliError::msg(format!("could not read CA certificate: {e}")))?;
        }
        builder.with_root_certificates(roots)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServer(provider)))
    };
    let config = match &s.client {
        Some((cert, key)) => {
            let chain = read_certs(cert, "client certificate")?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                CliError::msg(format!(
                    "could not read client key \"{}\": {e}",
                    key.display()
                ))
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| CliError::msg(format!("invalid client certificate: {e}")))?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The server name to check the daemon's certificate for (`host` of `host:port`).
pub fn server_name(addr: &str) -> CliResult<ServerName<'static>> {
    let host = match addr.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => addr,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string())
        .map_err(|e| CliError::msg(format!("invalid daemon host name {host:?}: {e}")))
}

/// `--tls` without `--tlsverify`: encrypt, but accept any daemon certificate (docker's
/// `InsecureSkipVerify`). Signatures are still checked, so the handshake is sound.
#[derive(Debug)]
struct AcceptAnyServer(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_rules_for_turning_tls_on() {
        let dir = std::env::temp_dir().join(format!("berth-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut i = TlsInputs {
            config_dir: dir.clone(),
            ..Default::default()
        };
        assert_eq!(settings(&i), None);
        i.env_tls_verify = Some("1".into());
        let s = settings(&i).unwrap();
        assert!(s.verify);
        assert_eq!(s.ca, dir.join("ca.pem"));
        assert_eq!(
            s.client, None,
            "default client files that do not exist are skipped"
        );
        std::fs::write(dir.join("cert.pem"), "x").unwrap();
        std::fs::write(dir.join("key.pem"), "x").unwrap();
        assert_eq!(
            settings(&i).unwrap().client,
            Some((dir.join("cert.pem"), dir.join("key.pem")))
        );
        i.tlsverify = Some(false);
        let s = settings(&i).unwrap();
        assert!(!s.verify, "--tlsverify=false still means TLS, unverified");
        i = TlsInputs {
            tls: true,
            env_cert_path: Some("/certs".into()),
            config_dir: dir.clone(),
            ..Default::default()
        };
        let s = settings(&i).unwrap();
        assert!(!s.verify);
        assert_eq!(s.ca, PathBuf::from("/certs/ca.pem"));
        std::fs::remove_dir_all(dir).unwrap();
        assert!(matches!(
            server_name("127.0.0.1:2376").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("daemon.test:2376").unwrap(),
            ServerName::DnsName(_)
        ));
        assert!(matches!(
            server_name("[::1]:2376").unwrap(),
            ServerName::IpAddress(_)
        ));
    }
}
