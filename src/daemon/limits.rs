//! Connection limits, applied before any byte is read or any token checked: a cap on
//! open connections in all and per peer address, and an idle timeout, so that a flood
//! of half-open or slow connections cannot take the file descriptors a rollback needs.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// Open connections at once, from everyone.
pub const MAX_CONNECTIONS: usize = 1024;
/// Open connections at once from one address.
pub const MAX_PER_PEER: usize = 128;
/// A connection that neither sends nor receives a byte for this long is closed
/// (event streams send a keep-alive every 15 s).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest a client may take to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Counts {
    total: usize,
    per_peer: HashMap<IpAddr, usize>,
}

/// Counts open connections; shared by every accepted stream.
#[derive(Clone, Default)]
pub struct ConnectionLimits {
    counts: Arc<Mutex<Counts>>,
    /// Connections refused so far (exported on `/metrics`).
    refused: prometheus_client::metrics::counter::Counter,
}

impl ConnectionLimits {
    pub fn new(refused: prometheus_client::metrics::counter::Counter) -> ConnectionLimits {
        ConnectionLimits { counts: Arc::default(), refused }
    }

    fn admit(&self, peer: IpAddr) -> Option<Slot> {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let mine = c.per_peer.get(&peer).copied().unwrap_or(0);
        if c.total >= MAX_CONNECTIONS || mine >= MAX_PER_PEER {
            self.refused.inc();
            return None;
        }
        c.total += 1;
        *c.per_peer.entry(peer).or_insert(0) += 1;
        Some(Slot { counts: self.counts.clone(), peer })
    }
}

/// One admitted connection; gives its place back when dropped.
struct Slot {
    counts: Arc<Mutex<Counts>>,
    peer: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_peer.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                c.per_peer.remove(&self.peer);
            }
        }
    }
}

/// An acceptor that admits a connection only within the limits, then wraps it in
/// the idle timeout; `inner` (plain, or TLS) runs after it.
#[derive(Clone)]
pub struct LimitingAcceptor<A> {
    pub limits: ConnectionLimits,
    pub inner: A,
}

impl<A, S> Accept<TcpStream, S> for LimitingAcceptor<A>
where
    A: Accept<Limited, S> + Clone + Send + 'static,
    A::Future: Send,
    S: Send + 'static,
{
    type Stream = A::Stream;
    type Service = A::Service;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let peer = stream.peer_addr().map(|a| a.ip().to_canonical());
        let slot = peer.ok().and_then(|ip| self.limits.admit(ip));
        let inner = self.inner.clone();
        Box::pin(async move {
            let Some(slot) = slot else {
                // Dropping the stream closes it at once: no descriptor is kept.
                return Err(io::Error::other("connection limit reached"));
            };
            let _ = stream.set_nodelay(true);
            inner.accept(Limited::new(stream, slot), service).await
        })
    }
}

/// A TCP stream that holds its place in the limits and closes itself when idle.
pub struct Limited {
    stream: TcpStream,
    _slot: Slot,
    idle: Pin<Box<Sleep>>,
}

impl Limited {
    fn new(stream: TcpStream, slot: Slot) -> Limited {
        Limited { stream, _slot: slot, idle: Box::pin(tokio::time::sleep(IDLE_TIMEOUT)) }
    }

    fn touch(&mut self) {
        self.idle.as_mut().reset(Instant::now() + IDLE_TIMEOUT);
    }
}

impl AsyncRead for Limited {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    self.touch();
                }
                Poll::Ready(r)
            }
            Poll::Pending => match self.idle.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "idle connection closed"))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for Limited {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.stream).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Raises this process's open-file limit to its hard limit, so the connection caps,
/// not the descriptor limit, are what a flood runs into.
pub fn raise_fd_limit() -> Option<u64> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).ok()?;
    }
    Some(hard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_over_its_share_is_refused_and_a_closed_slot_is_given_back() {
        let limits = ConnectionLimits::default();
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let slots: Vec<Slot> = (0..MAX_PER_PEER).map(|_| limits.admit(a).unwrap()).collect();
        assert!(limits.admit(a).is_none(), "one over the per-peer cap");
        assert!(limits.admit("127.0.0.1".parse().unwrap()).is_some(), "another peer still gets in");
        drop(slots);
        assert!(limits.admit(a).is_some());
        assert_eq!(limits.refused.get(), 1);
    }
}
