//! The listeners' TLS (webhook, syslog input): the server's certificate
//! and key, and the CAs whose client certificates are accepted (rustls,
//! ring provider).

use std::path::Path;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The webhook's TLS configuration (ALPN `http/1.1`; a client
/// certificate optional); errors name the file at fault.
pub fn server_config(
    tls: &super::config::Tls,
    client_ca: Option<&Path>,
) -> Result<Arc<ServerConfig>, String> {
    let server = Server {
        at: "webhook",
        cert: &tls.cert,
        key: &tls.key,
        client_ca,
        ca_at: "webhook.auth.client_ca",
        require_client_cert: false,
        alpn: Some(b"http/1.1"),
    };
    build(&server)
}

/// A syslog listener's TLS configuration (no ALPN: RFC 5425 names none).
pub fn syslog_config(
    at: &str,
    tls: &super::config::SyslogTls,
) -> Result<Arc<ServerConfig>, String> {
    let ca_at = format!("{at}.tls.client_ca");
    let server = Server {
        at: &format!("{at}.tls"),
        cert: &tls.cert,
        key: &tls.key,
        client_ca: tls.client_ca.as_deref(),
        ca_at: &ca_at,
        require_client_cert: tls.require_client_cert,
        alpn: None,
    };
    build(&server)
}

/// What a listener's TLS is made of; `at` and `ca_at` name the config keys.
struct Server<'a> {
    at: &'a str,
    cert: &'a Path,
    key: &'a Path,
    client_ca: Option<&'a Path>,
    ca_at: &'a str,
    require_client_cert: bool,
    alpn: Option<&'static [u8]>,
}

fn build(s: &Server<'_>) -> Result<Arc<ServerConfig>, String> {
    let certs = certificates(s.cert).map_err(|e| format!("{}.cert: {e}", s.at))?;
    let key = PrivateKeyDer::from_pem_file(s.key).map_err(|e| {
        format!(
            "{}.key: {}: no private key read: {e}",
            s.at,
            s.key.display()
        )
    })?;
    // ring builds without a C toolchain of its own (aws-lc-rs needs
    // cmake); rustls deprecates its provider for lacking post-quantum key
    // exchange, which the API server's Go client would otherwise offer.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = match s.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let bad = |e: &dyn std::fmt::Display| format!("{}: {}: {e}", s.ca_at, ca.display());
            let mut roots = RootCertStore::empty();
            for cert in certificates(ca).map_err(|e| format!("{}: {e}", s.ca_at))? {
                roots.add(cert).map_err(|e| bad(&e))?;
            }
            // A webhook client may also come with a bearer token instead:
            // the handler decides, so a missing certificate is not refused
            // here (a presented one must still verify).
            let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider);
            let verifier = match s.require_client_cert {
                true => verifier,
                false => verifier.allow_unauthenticated(),
            };
            let verifier = verifier.build().map_err(|e| bad(&e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("{}: {e}", s.at))?;
    config.alpn_protocols = s.alpn.into_iter().map(<[u8]>::to_vec).collect();
    Ok(Arc::new(config))
}

pub(super) fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bad = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(&e))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(&e))?;
    if certs.is_empty() {
        return Err(bad(&"no PEM certificate in it"));
    }
    Ok(certs)
}
