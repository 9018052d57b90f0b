//! The webhook's TLS: the server's certificate and key, and the CAs whose
//! client certificates are accepted (rustls, ring provider).

use std::path::Path;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The server's TLS configuration; errors name the file at fault.
pub fn server_config(
    tls: &super::config::Tls,
    client_ca: Option<&Path>,
) -> Result<Arc<ServerConfig>, String> {
    let certs = certificates(&tls.cert)?;
    let key = PrivateKeyDer::from_pem_file(&tls.key).map_err(|e| {
        format!(
            "webhook.tls.key: {}: no private key read: {e}",
            tls.key.display()
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
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(ca)? {
                (roots.add(cert))
                    .map_err(|e| format!("webhook.auth.client_ca: {}: {e}", ca.display()))?;
            }
            // A client may also come with a bearer token instead: the
            // handler decides, so a missing certificate is not refused
            // here (a presented one must still verify).
            let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| format!("webhook.auth.client_ca: {}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("webhook.tls: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
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
