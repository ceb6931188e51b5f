//! TLS set-up shared by every HTTP client and server: rustls with the `ring` provider.

use std::sync::Once;

/// Installs rustls's `ring` provider as the process default (once; later calls do nothing).
/// reqwest and axum-server are built without a default provider, so this runs before either.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another provider is already installed: that one is used.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
