//! The network sinks' connections: TCP, or TLS (rustls, ring provider)
//! trusting the configured CA or else the system's roots.

use std::sync::Arc;
use std::time::Duration;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::config::ClientTls;
use super::tls::certificates;

/// A connection, over TLS or not.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Where a sink connects, and how.
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    /// With TLS: the connector and the name the certificate must show.
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
}

impl Endpoint {
    /// `tls` is `Some` for TLS (its fields may all be defaults); errors
    /// name `at`, the sink's config path.
    pub fn new(
        at: &str,
        host: &str,
        port: u16,
        tls: Option<&ClientTls>,
    ) -> Result<Endpoint, String> {
        let tls = match tls {
            None => None,
            Some(t) => {
                let config = client_config(t).map_err(|e| format!("{at}.tls: {e}"))?;
                let name = t.server_name.as_deref().unwrap_or(host);
                let name = ServerName::try_from(name.to_string())
                    .map_err(|e| format!("{at}.tls.server_name: `{name}`: {e}"))?;
                Some((tokio_rustls::TlsConnector::from(config), name))
            }
        };
        Ok(Endpoint {
            host: host.to_string(),
            port,
            tls,
        })
    }

    /// Connects (and shakes hands), within `timeout`.
    pub async fn connect(&self, timeout: Duration) -> Result<Box<dyn Stream>, String> {
        let connect = async {
            let tcp = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|e| format!("cannot connect to {}:{}: {e}", self.host, self.port))?;
            let _ = tcp.set_nodelay(true);
            match &self.tls {
                None => Ok(Box::new(tcp) as Box<dyn Stream>),
                Some((connector, name)) => {
                    let tls = connector
                        .connect(name.clone(), tcp)
                        .await
                        .map_err(|e| format!("TLS with {}:{}: {e}", self.host, self.port))?;
                    Ok(Box::new(tls) as Box<dyn Stream>)
                }
            }
        };
        match tokio::time::timeout(timeout, connect).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "no connection to {}:{} within {timeout:?}",
                self.host, self.port
            )),
        }
    }
}

/// Trusts `ca` (only it) when given, else the system's roots; presents
/// the client certificate when given.
fn client_config(tls: &ClientTls) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    match &tls.ca {
        Some(ca) => {
            for cert in certificates(ca)? {
                roots
                    .add(cert)
                    .map_err(|e| format!("ca: {}: {e}", ca.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found.errors.first().map(|e| format!(": {e}"));
                return Err(format!(
                    "no system root certificates found{}; give ca",
                    why.unwrap_or_default()
                ));
            }
        }
    }
    // As the webhook's server side (tls.rs): ring needs no C toolchain.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let config = match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("key: {}: no private key read: {e}", key.display()))?;
            builder
                .with_client_auth_cert(certificates(cert)?, key)
                .map_err(|e| format!("cert: {e}"))?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// This machine's name, for the HOSTNAME of syslog messages and the
/// `host` of Splunk events.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; the name is cut at it.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(name) if r == 0 && !name.is_empty() => name.to_string(),
        _ => "localhost".to_string(),
    }
}
