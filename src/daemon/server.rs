//! Starting and stopping the daemon: recover, listen (plain or TLS), reap,
//! and on SIGTERM/SIGINT stop listening and roll back everything still live.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum_server::Handle;
use axum_server::accept::DefaultAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use tracing::{error, info, warn};

use crate::engine::LocalHost;
use crate::journal::Journal;

use super::audit::AuditLog;
use super::config::{DaemonConfig, DaemonError};
use super::limits::{self, ConnectionLimits, LimitingAcceptor};
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
    // Everything the daemon creates (journal, reports, sockets, audit) is its own only.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    limits::raise_fd_limit();
    let journal = Arc::new(Journal::open(&config.state_dir)?);
    // A journal made before the umask was set (an older daemon) is tightened too.
    super::private_files::make_private(journal.path()).map_err(DaemonError::Serve)?;
    let audit = AuditLog::open(&config.state_dir).map_err(|e| DaemonError::Config(crate::engine::error_chain(&e)))?;
    let host = LocalHost::new(journal).with_identity(&config.name, vec![config.listen.port()], Vec::new());
    let metrics = Metrics::new();
    recover(&host, &metrics).await;

    let listener = std::net::TcpListener::bind(config.listen)
        .map_err(|source| DaemonError::Bind { addr: config.listen, source })?;
    let local = listener.local_addr().map_err(DaemonError::Serve)?;
    let refused = metrics.connections_refused.clone();
    let state = Arc::new(AppState {
        host: host.clone(),
        name: config.name.clone(),
        port: local.port(),
        tokens: config.tokens.clone(),
        policy: config.policy.clone(),
        audit,
        connections: ConnectionLimits::new(refused),
        started: Instant::now(),
        metrics,
        mutate: tokio::sync::Mutex::new(()),
        reaper_wake: tokio::sync::Notify::new(),
        runs: Default::default(),
        alerts: Default::default(),
        state_dir: config.state_dir.clone(),
        retention: config.retention,
    });
    let reaper = tokio::spawn(reaper::run(state.clone()));
    tokio::spawn(super::retention::run(state.clone()));
    let app = routes::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let handle: Handle<SocketAddr> = Handle::new();
    tokio::spawn(stop_on_signal(handle.clone(), signals));

    let callers: Vec<String> = config.tokens.callers().map(|c| format!("{} ({})", c.name, c.role)).collect();
    info!(tokens = %config.tokens.origin, callers = %callers.join(", "), policy = %policy_origin(&config), "Callers and policy.");
    let served = match &config.tls {
        Some(tls) => {
            let rustls = crate::tls::server_config(&tls.cert, &tls.key, tls.client_ca.as_deref())
                .map_err(|source| DaemonError::Tls { cert: tls.cert.clone(), key: tls.key.clone(), source })?;
            let acceptor = LimitingAcceptor {
                limits: state.connections.clone(),
                inner: RustlsAcceptor::new(RustlsConfig::from_config(rustls)),
            };
            let mut server = axum_server::from_tcp(listener)
                .map_err(DaemonError::Serve)?
                .acceptor(acceptor)
                .first_request_timeout(limits::HEADER_TIMEOUT);
            configure(&mut server);
            info!(addr = %local, name = %config.name, mtls = tls.client_ca.is_some(), "Listening (TLS).");
            on_listen(local);
            server.handle(handle).serve(app).await
        }
        None => {
            if !local.ip().is_loopback() {
                warn!(addr = %local, "Listening WITHOUT TLS on a non-loopback address (--allow-plaintext): tokens cross the network in clear text.");
            }
            let mut server = axum_server::from_tcp(listener)
                .map_err(DaemonError::Serve)?
                .acceptor(LimitingAcceptor { limits: state.connections.clone(), inner: DefaultAcceptor })
                .first_request_timeout(limits::HEADER_TIMEOUT);
            configure(&mut server);
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

/// Timeouts no client can stretch: the headers of every request, and the first request.
fn configure<A>(server: &mut axum_server::Server<std::net::SocketAddr, A>) {
    use hyper_util::rt::TokioTimer;
    server.http_builder().http1().timer(TokioTimer::new()).header_read_timeout(limits::HEADER_TIMEOUT);
    server.http_builder().http2().timer(TokioTimer::new()).max_concurrent_streams(64);
}

fn policy_origin(config: &DaemonConfig) -> String {
    config.policy.origin.as_ref().map_or_else(|| "built-in default".into(), |p| p.display().to_string())
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
