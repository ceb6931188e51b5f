//! What a daemon is started with, checked before anything listens.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::policy::Policy;
use super::private_files::{check_private, secure_state_dir};
use super::tokens::{Tokens, generated_token};

/// Why the daemon could not start or serve. Reads after "failed to ".
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// A bad flag or file given by the operator (exit 64).
    #[error("{0}")]
    Config(String),
    #[error("open the journal")]
    Journal(#[from] crate::journal::JournalError),
    #[error("listen on {addr}; is another daemon using the port?")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("load the TLS certificate {cert} and key {key}")]
    Tls {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("serve the API")]
    Serve(#[source] std::io::Error),
}

/// A certificate and its private key (PEM files), and optionally the CA that
/// client certificates must chain to (mTLS).
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

/// The daemon's flags, as given.
#[derive(Clone, Debug, Default)]
pub struct DaemonFlags {
    pub listen: String,
    pub token_file: Option<PathBuf>,
    pub name: Option<String>,
    pub tls: Option<TlsFiles>,
    pub allow_plaintext: bool,
    pub policy: Option<PathBuf>,
    /// How much history the journal keeps.
    pub retention: crate::journal::Retention,
}

/// A checked daemon configuration.
#[derive(Clone, Debug)]
pub struct DaemonConfig {
    pub listen: SocketAddr,
    /// Every token the daemon accepts, with its name and role.
    pub tokens: Tokens,
    /// This host's name in injection records and metrics.
    pub name: String,
    pub state_dir: PathBuf,
    pub tls: Option<TlsFiles>,
    pub policy: Policy,
    pub retention: crate::journal::Retention,
}

impl DaemonConfig {
    /// Checks the flags and the state dir, and finds the tokens: `--token-file`, else
    /// `FAULTDRILL_TOKEN`, else the daemon's own token at `<state-dir>/token` (made if
    /// missing). A non-loopback address needs TLS unless `--allow-plaintext`.
    pub fn new(flags: DaemonFlags, state_dir: &Path) -> Result<DaemonConfig, DaemonError> {
        let listen_text = &flags.listen;
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            DaemonError::Config(format!(
                "parse --listen `{listen_text}`: expected IP:PORT, e.g. 127.0.0.1:7878 or [::]:7878"
            ))
        })?;
        if flags.tls.is_none() && !listen.ip().is_loopback() && !flags.allow_plaintext {
            return Err(DaemonError::Config(format!(
                "listen on {listen} without TLS: tokens and requests would cross the network in clear text; \
                 give --tls-cert and --tls-key (deploy/README.md shows how), or --allow-plaintext on a network you trust"
            )));
        }
        secure_state_dir(state_dir)?;
        let tokens = match (&flags.token_file, std::env::var("FAULTDRILL_TOKEN").ok()) {
            (Some(path), _) => {
                check_private(path)?;
                Tokens::load(path)?
            }
            (None, Some(secret)) => Tokens::single(&secret, "FAULTDRILL_TOKEN")?,
            (None, None) => generated_token(state_dir)?,
        };
        let policy = match &flags.policy {
            Some(path) => super::policy::load(path).map_err(|d| DaemonError::Config(d.to_string()))?,
            None => Policy::default(),
        };
        let name = flags.name.filter(|n| !n.trim().is_empty()).unwrap_or_else(hostname);
        Ok(DaemonConfig {
            listen,
            tokens,
            name,
            state_dir: state_dir.to_path_buf(),
            tls: flags.tls,
            policy,
            retention: flags.retention,
        })
    }
}

/// The machine's host name, from the kernel.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(listen: &str, plaintext: bool) -> Result<DaemonConfig, String> {
        let dir = tempfile::tempdir().unwrap();
        let flags = DaemonFlags {
            listen: listen.into(),
            allow_plaintext: plaintext,
            name: Some("h".into()),
            ..DaemonFlags::default()
        };
        DaemonConfig::new(flags, &dir.path().join("state")).map_err(|e| e.to_string())
    }

    #[test]
    fn anything_but_loopback_needs_tls_or_an_explicit_plaintext_flag() {
        assert!(config("127.0.0.1:7878", false).is_ok());
        assert!(config("[::1]:7878", false).is_ok());
        let refused = config("0.0.0.0:7878", false).unwrap_err();
        assert!(refused.contains("without TLS") && refused.contains("--allow-plaintext"), "{refused}");
        assert!(config("10.1.2.3:7878", false).is_err());
        assert!(config("0.0.0.0:7878", true).is_ok());
    }

    #[test]
    fn bad_addresses_are_refused() {
        assert!(config("localhost", false).unwrap_err().contains("expected IP:PORT"));
    }
}
