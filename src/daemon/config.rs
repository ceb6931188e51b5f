//! What a daemon is started with, checked before anything listens.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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

/// A certificate and its private key (PEM files).
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A checked daemon configuration.
#[derive(Clone, Debug)]
pub struct DaemonConfig {
    pub listen: SocketAddr,
    /// The bearer token; `None` only on a loopback address.
    pub token: Option<String>,
    /// This host's name in injection records and metrics.
    pub name: String,
    pub state_dir: PathBuf,
    pub tls: Option<TlsFiles>,
}

impl DaemonConfig {
    /// Checks the flags: a parseable address, a non-empty token, and a token
    /// whenever the address is not loopback (an open remote API is an RCE).
    pub fn new(
        listen: &str,
        token: Option<String>,
        name: Option<String>,
        state_dir: &Path,
        tls: Option<TlsFiles>,
    ) -> Result<DaemonConfig, DaemonError> {
        let listen: SocketAddr = listen.parse().map_err(|_| {
            DaemonError::Config(format!(
                "parse --listen `{listen}`: expected IP:PORT, e.g. 127.0.0.1:7878 or [::]:7878"
            ))
        })?;
        if let Some(t) = &token {
            if t.is_empty() {
                return Err(DaemonError::Config("use the token: it is empty; put a long random secret in it".into()));
            }
        }
        if token.is_none() && !listen.ip().is_loopback() {
            return Err(DaemonError::Config(format!(
                "listen on {listen} without a token: a non-loopback address needs --token-file or FAULTDRILL_TOKEN \
                 (anyone who can reach the port could inject faults)"
            )));
        }
        let name = name.filter(|n| !n.trim().is_empty()).unwrap_or_else(hostname);
        Ok(DaemonConfig { listen, token, name, state_dir: state_dir.to_path_buf(), tls })
    }
}

/// Reads the token from `file`, else from `FAULTDRILL_TOKEN`; trimmed.
pub fn read_token(file: Option<&Path>) -> Result<Option<String>, DaemonError> {
    let token = match file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| DaemonError::Config(format!("read the token file {}: {e}", path.display())))?,
        ),
        None => std::env::var("FAULTDRILL_TOKEN").ok(),
    };
    Ok(token.map(|t| t.trim().to_string()))
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

    fn config(listen: &str, token: Option<&str>) -> Result<DaemonConfig, String> {
        DaemonConfig::new(listen, token.map(String::from), Some("h".into()), Path::new("/tmp"), None)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn loopback_needs_no_token_but_anything_else_does() {
        assert!(config("127.0.0.1:7878", None).is_ok());
        assert!(config("[::1]:7878", None).is_ok());
        let refused = config("0.0.0.0:7878", None).unwrap_err();
        assert!(refused.contains("needs --token-file or FAULTDRILL_TOKEN"), "{refused}");
        assert!(config("10.1.2.3:7878", None).is_err());
        assert!(config("0.0.0.0:7878", Some("s3cret")).is_ok());
    }

    #[test]
    fn bad_addresses_and_empty_tokens_are_refused() {
        assert!(config("localhost", None).unwrap_err().contains("expected IP:PORT"));
        assert!(config("127.0.0.1:7878", Some("")).unwrap_err().contains("empty"));
    }
}
