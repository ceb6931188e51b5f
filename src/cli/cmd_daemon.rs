//! `faultdrill daemon`: serve the v1 API on this host.

use std::io::Write;
use std::path::Path;

use crate::daemon::{DaemonConfig, DaemonError, DaemonFlags, TlsFiles};

use super::args::DaemonArgs;
use super::edge::InvalidInput;

pub fn run(args: DaemonArgs, state_dir: &Path) -> anyhow::Result<u8> {
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key, client_ca: args.client_ca }),
        _ => None,
    };
    let flags = DaemonFlags {
        listen: args.listen,
        token_file: args.token_file,
        name: args.name,
        tls,
        allow_plaintext: args.allow_plaintext,
        policy: args.policy,
        retention: args.retention.retention(),
    };
    let config = DaemonConfig::new(flags, state_dir).map_err(invalid)?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).max_blocking_threads(16).enable_all().build()?;
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    runtime.block_on(crate::daemon::serve(config, |addr| {
        // One line on stdout, so scripts (and tests listening on port 0) learn the address.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "faultdrill daemon listening on {scheme}://{addr}");
        let _ = out.flush();
    }))?;
    Ok(crate::exit::PASSED)
}

fn invalid(e: DaemonError) -> anyhow::Error {
    match e {
        DaemonError::Config(message) => InvalidInput(message).into(),
        other => other.into(),
    }
}
