//! TLS set-up shared by every HTTP client and server: rustls with the `ring` provider.

use std::path::Path;
use std::sync::{Arc, Once};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Installs rustls's `ring` provider as the process default (once; later calls do nothing).
/// reqwest and axum-server are built without a default provider, so this runs before either.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another provider is already installed: that one is used.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A server configuration from PEM files: the certificate chain, its key, and, for
/// mutual TLS, the CA that every client certificate must chain to.
pub fn server_config(cert: &Path, key: &Path, client_ca: Option<&Path>) -> std::io::Result<Arc<rustls::ServerConfig>> {
    install_crypto_provider();
    let bad = |what: &str, path: &Path, e: &dyn std::fmt::Display| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("read the {what} {}: {e}", path.display()))
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad("certificate", cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad("certificate", cert, &e))?;
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| bad("key", key, &e))?;
    let builder = rustls::ServerConfig::builder();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca).map_err(|e| bad("client CA", ca, &e))? {
                roots.add(c.map_err(|e| bad("client CA", ca, &e))?).map_err(|e| bad("client CA", ca, &e))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
                .build()
                .map_err(|e| bad("client CA", ca, &e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, private).map_err(|e| bad("certificate and key", cert, &e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
