//! The TCP proxy behind tcp-proxy-latency, run as a helper process
//! (`faultdrill helper proxy --injection ID ...`): it forwards `listen` to
//! `upstream`, holding client data for a latency (with jitter), capping each
//! direction's rate, and resetting a share of connections. It needs no root,
//! says `listening ADDR` on stdout once bound, and exits at its deadline.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::platform::linux::privileges::{self, PrivilegeError};
use crate::platform::linux::splice;

/// The helper's command line; built by the fault and parsed by `faultdrill helper proxy`.
#[derive(Clone, Debug, PartialEq, clap::Args)]
pub struct ProxyArgs {
    /// The injection this proxy belongs to (how rollback finds it).
    #[arg(long)]
    pub injection: String,
    /// Unix milliseconds at which the proxy exits by itself.
    #[arg(long)]
    pub deadline_ms: i64,
    /// Address to accept clients on.
    #[arg(long)]
    pub listen: SocketAddr,
    /// Address (`host:port`) to forward to.
    #[arg(long)]
    pub upstream: String,
    /// Added to each client-to-upstream chunk, so once to every round trip.
    #[arg(long, default_value_t = 0)]
    pub latency_us: u64,
    /// Uniform random variation of the latency, plus or minus.
    #[arg(long, default_value_t = 0)]
    pub jitter_us: u64,
    /// Cap of each direction of each connection, in bytes per second.
    #[arg(long)]
    pub rate_bytes: Option<u64>,
    /// Share of connections reset right after they are accepted.
    #[arg(long, default_value_t = 0.0)]
    pub reset_percent: f64,
}

impl ProxyArgs {
    /// The words after `faultdrill helper proxy`.
    pub fn to_argv(&self) -> Vec<String> {
        let mut argv = vec![
            "--injection".into(),
            self.injection.clone(),
            "--deadline-ms".into(),
            self.deadline_ms.to_string(),
            "--listen".into(),
            self.listen.to_string(),
            "--upstream".into(),
            self.upstream.clone(),
            "--latency-us".into(),
            self.latency_us.to_string(),
            "--jitter-us".into(),
            self.jitter_us.to_string(),
            "--reset-percent".into(),
            self.reset_percent.to_string(),
        ];
        if let Some(rate) = self.rate_bytes {
            argv.extend(["--rate-bytes".into(), rate.to_string()]);
        }
        argv
    }

    fn is_transparent(&self) -> bool {
        self.latency_us == 0 && self.jitter_us == 0 && self.rate_bytes.is_none()
    }
}

/// Why the proxy could not run. Reads after "failed to ".
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("listen on {addr}: {source}; is the port free?")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("start the proxy's runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// Root could not be dropped after binding: the proxy refuses to run as root.
    #[error(transparent)]
    DropRoot(#[from] PrivilegeError),
}

/// Runs the proxy until its deadline (the body of `faultdrill helper proxy`).
///
/// It binds first, then (started as root) becomes the helper user for good,
/// before any thread exists: relaying traffic needs no privilege.
pub fn run_proxy(args: ProxyArgs) -> Result<(), ProxyError> {
    let listener = std::net::TcpListener::bind(args.listen)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|source| ProxyError::Listen { addr: args.listen, source })?;
    privileges::drop_root()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ProxyError::Runtime)?;
    runtime.block_on(async move {
        let listener = TcpListener::from_std(listener).map_err(ProxyError::Runtime)?;
        serve(listener, args).await
    })
}

fn until_deadline(deadline_ms: i64) -> Duration {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    Duration::from_millis(deadline_ms.saturating_sub(now).max(0) as u64)
}

async fn serve(listener: TcpListener, args: ProxyArgs) -> Result<(), ProxyError> {
    let bound = listener.local_addr().unwrap_or(args.listen);
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        // The parent waits for this line; after it, nobody reads stdout any more.
        let _ = writeln!(out, "listening {bound}");
        let _ = out.flush();
    }
    let deadline = tokio::time::sleep(until_deadline(args.deadline_ms));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    let args = args.clone();
                    tokio::spawn(async move { handle(client, args).await });
                }
                Err(e) => {
                    warn!(error = %e, "Accept failed.");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
}

async fn handle(client: TcpStream, args: ProxyArgs) {
    if args.reset_percent > 0.0 && rand::rng().random::<f64>() * 100.0 < args.reset_percent {
        // Linger 0 makes the close send a RST instead of a FIN.
        let _ = client.set_zero_linger();
        drop(client);
        return;
    }
    let upstream = match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(&args.upstream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return debug!(upstream = %args.upstream, error = %e, "Upstream refused."),
        Err(_) => return debug!(upstream = %args.upstream, "Upstream connect timed out."),
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    if args.is_transparent() {
        // Nothing to add: let the kernel move the bytes (no copies through user space).
        let (c, u) = (&client, &upstream);
        let _ = tokio::join!(splice::forward(c, u), splice::forward(u, c));
        return;
    }
    let (client_r, client_w) = client.into_split();
    let (upstream_r, upstream_w) = upstream.into_split();
    let up = Shaping { latency_us: args.latency_us, jitter_us: args.jitter_us, rate_bytes: args.rate_bytes };
    let down = Shaping { latency_us: 0, jitter_us: 0, rate_bytes: args.rate_bytes };
    tokio::join!(pipe(client_r, upstream_w, up), pipe(upstream_r, client_w, down));
}

/// How far a capped stream may catch up after a pause (its bucket size, in time).
const BURST: Duration = Duration::from_millis(50);

/// What one direction of a connection suffers.
#[derive(Clone, Copy)]
struct Shaping {
    latency_us: u64,
    jitter_us: u64,
    rate_bytes: Option<u64>,
}

impl Shaping {
    fn delay(&self) -> Duration {
        // Bounded as the fault's parameters are, even for a helper started by hand,
        // so `now + delay` can never overflow.
        let most = crate::experiment::MAX_DURATION.as_micros() as u64;
        let mut us = self.latency_us.min(most) as i64;
        if self.jitter_us > 0 {
            let j = self.jitter_us.min(most) as i64;
            us += rand::rng().random_range(-j..=j);
        }
        Duration::from_micros(us.max(0) as u64)
    }

    /// Largest piece written at once, so a capped stream flows smoothly (20 ms worth).
    fn piece(&self) -> usize {
        self.rate_bytes.map_or(usize::MAX, |r| ((r / 50) as usize).max(1024))
    }
}

/// Copies `from` to `to`, holding each chunk until its due time and pacing the
/// bytes to the rate; order is kept. Ends (with a write shutdown) at EOF or error.
async fn pipe<R, W>(mut from: R, mut to: W, shaping: Shaping)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin,
{
    // A capped stream keeps little in flight (bufferbloat would hide the cap's
    // effect behind seconds of queue); a delayed one must hold a latency's worth.
    let (depth, size) =
        if shaping.rate_bytes.is_some() { (4, shaping.piece().min(64 * 1024)) } else { (64, 64 * 1024) };
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(depth);
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; size];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let due = Instant::now() + shaping.delay();
                    if tx.send((due, buf[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut last_due = Instant::now();
    let mut free_at = Instant::now();
    'chunks: while let Some((due, chunk)) = rx.recv().await {
        // Jitter must not reorder the stream.
        last_due = last_due.max(due);
        tokio::time::sleep_until(last_due).await;
        for piece in chunk.chunks(shaping.piece()) {
            if let Some(rate) = shaping.rate_bytes {
                tokio::time::sleep_until(free_at).await;
                // Timer overshoot is paid back by the next pieces; only a stream idle
                // for longer than the burst allowance starts afresh.
                let now = Instant::now();
                if now > free_at + BURST {
                    free_at = now;
                }
                free_at += Duration::from_secs_f64(piece.len() as f64 / rate as f64);
            }
            if to.write_all(piece).await.is_err() {
                break 'chunks;
            }
        }
    }
    let _ = to.shutdown().await;
    reader.abort();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: ProxyArgs,
    }

    #[test]
    fn argv_round_trips_through_clap() {
        let args = ProxyArgs {
            injection: "i-abc".into(),
            deadline_ms: 123,
            listen: "127.0.0.1:9000".parse().unwrap(),
            upstream: "localhost:80".into(),
            latency_us: 100_000,
            jitter_us: 5_000,
            rate_bytes: Some(125_000),
            reset_percent: 2.5,
        };
        let parsed = Wrapper::try_parse_from(std::iter::once("x".to_string()).chain(args.to_argv())).unwrap();
        assert_eq!(parsed.args, args);
    }
}
