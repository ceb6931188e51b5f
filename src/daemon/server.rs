//! Starting and stopping the daemon: recover, listen (plain or TLS), reap,
//! and on SIGTERM/SIGINT stop listening and roll back everything still live.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum_server::Handle;
use tracing::{error, info, warn};

use crate::engine::LocalHost;
use crate::journal::Journal;

use super::config::{DaemonConfig, DaemonError};
use super::metrics::Metrics;
use super::state::AppState;
use super::{reaper, routes};

/// How long running runs get to roll back when the daemon stops.
const RUN_GRACE: Duration = Duration::from_secs(20);

/// How long open connections (event streams) may linger after a stop signal.
const DRAIN: Duration = Duration::from_secs(2);

/// Serves until SIGTERM or SIGINT, then rolls back what is live and returns.
/// `on_listen` is told the bound address (tests listen on port 0).
pub async fn serve(config: DaemonConfig, on_listen: impl FnOnce(SocketAddr)) -> Result<(), DaemonError> {
    crate::client::install_crypto_provider();
    // Before anything can be injected, so a stop signal always rolls back.
    let signals = Signals::install().map_err(DaemonError::Serve)?;
    let journal = Arc::new(Journal::open(&config.state_dir)?);
    let host = LocalHost::new(journal).with_identity(&config.name, vec![config.listen.port()], Vec::new());
    let metrics = Metrics::new();
    recover(&host, &metrics).await;

    let listener = std::net::TcpListener::bind(config.listen)
        .map_err(|source| DaemonError::Bind { addr: config.listen, source })?;
    let local = listener.local_addr().map_err(DaemonError::Serve)?;
    let state = Arc::new(AppState {
        host: host.clone(),
        name: config.name.clone(),
        port: local.port(),
        token: config.token.clone(),
        started: Instant::now(),
        metrics,
        mutate: tokio::sync::Mutex::new(()),
        reaper_wake: tokio::sync::Notify::new(),
        runs: Default::default(),
        state_dir: config.state_dir.clone(),
    });
    let reaper = tokio::spawn(reaper::run(state.clone()));
    let app = routes::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let handle: Handle<SocketAddr> = Handle::new();
    tokio::spawn(stop_on_signal(handle.clone(), signals));

    let served = match &config.tls {
        Some(tls) => {
            let rustls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
                .await
                .map_err(|source| DaemonError::Tls { cert: tls.cert.clone(), key: tls.key.clone(), source })?;
            let server = axum_server::from_tcp_rustls(listener, rustls).map_err(DaemonError::Serve)?;
            info!(addr = %local, name = %config.name, "Listening (TLS).");
            on_listen(local);
            server.handle(handle).serve(app).await
        }
        None => {
            let server = axum_server::from_tcp(listener).map_err(DaemonError::Serve)?;
            info!(addr = %local, name = %config.name, "Listening.");
            on_listen(local);
            server.handle(handle).serve(app).await
        }
    };
    // Runs roll back their own injections first (in their order, with their report).
    state.runs.stop_all("the daemon is stopping", RUN_GRACE).await;
    reaper.abort();
    // Whatever happened to the listener, leave nothing injected behind.
    let stopped = {
        let _guard = state.mutate.lock().await;
        state.host.recover_all("the daemon is stopping").await
    };
    match stopped {
        Ok(results) => report_rollbacks(&results, &state.metrics, "stopping"),
        Err(e) => error!(error = %crate::engine::error_chain(&e), "Could not roll back on stop."),
    }
    served.map_err(DaemonError::Serve)
}

/// Rolls back what a previous daemon left pending or active (DESIGN §4 rule 5).
async fn recover(host: &LocalHost, metrics: &Metrics) {
    match host.recover_all("daemon restarted: rolling back what the previous daemon left").await {
        Ok(results) => report_rollbacks(&results, metrics, "starting"),
        Err(e) => error!(error = %crate::engine::error_chain(&e), "Could not read the journal to recover."),
    }
}

fn report_rollbacks(results: &[crate::engine::RollbackResult], metrics: &Metrics, when: &str) {
    for r in results {
        metrics.rollback(r);
        match &r.outcome {
            Ok(_) => warn!(injection = %r.id, fault = %r.fault, when, "Rolled back a live injection."),
            Err(e) => error!(injection = %r.id, fault = %r.fault, error = %e, when, "Rollback failed."),
        }
    }
}

/// SIGTERM and SIGINT, caught from the moment the daemon starts.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals { term: signal(SignalKind::terminate())?, int: signal(SignalKind::interrupt())? })
    }
}

async fn stop_on_signal(handle: Handle<SocketAddr>, mut signals: Signals) {
    tokio::select! {
        _ = signals.term.recv() => info!("SIGTERM: stopping."),
        _ = signals.int.recv() => info!("SIGINT: stopping."),
    }
    handle.graceful_shutdown(Some(DRAIN));
}
