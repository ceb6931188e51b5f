//! The resolver behind dns-fault, run as a helper process (`faultdrill helper dns
//! --injection ID ...`) inside the target's network namespace. The fault's nft
//! table redirects every query to port 53 here; matched names get the fault's
//! effect, every other query is forwarded to the real upstream over the same
//! transport (UDP or TCP) and answered with what it says.
//!
//! Its upstream sockets carry [`DNS_MARK`] (`SO_MARK`), which the table lets
//! through unredirected; setting a mark needs CAP_NET_ADMIN, so once bound it
//! drops root to the helper user (`nobody`) keeping that one capability. It
//! only listens on loopback (127.0.0.1 and ::1), parses with hickory-proto, says
//! `listening PORT FAMILIES` on stdout once bound, stops faulting at its
//! deadline and exits [`GRACE`] later.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::socket::{setsockopt, sockopt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::debug;

use super::dns_match::{Decision, Effect, NamePattern, Rules, failure_reply};
use crate::platform::linux::helpers;
use crate::platform::linux::privileges::{self, PrivilegeError};

/// The socket mark of the resolver's own upstream traffic ("fdns"): the redirect skips it.
pub const DNS_MARK: u32 = 0x6664_6e73;

/// How long the resolver keeps forwarding, faulting nothing, after its deadline:
/// whoever removes the redirect at the deadline does so before the port closes.
pub const GRACE: Duration = Duration::from_secs(3);

/// How long an upstream may take to answer one forwarded query.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a TCP connection may stay silent before the resolver closes it (RFC 7766 §6.2.3).
const TCP_IDLE: Duration = Duration::from_secs(10);

/// Queries (and TCP connections) handled at once; past it, new ones go unanswered,
/// as from an overloaded resolver, instead of piling up without bound.
const IN_FLIGHT: usize = 1024;

/// The helper's command line; built by the fault and parsed by `faultdrill helper dns`.
#[derive(Clone, Debug, PartialEq, clap::Args)]
pub struct DnsArgs {
    /// The injection this resolver belongs to (how rollback finds it).
    #[arg(long)]
    pub injection: String,
    /// Unix milliseconds at which the resolver stops faulting (it exits a little later).
    #[arg(long)]
    pub deadline_ms: i64,
    /// Where unmatched queries go.
    #[arg(long)]
    pub upstream: SocketAddr,
    /// A name or `*.domain` wildcard to hit (repeatable).
    #[arg(long = "name", required = true)]
    pub names: Vec<String>,
    /// nxdomain, servfail, timeout, delay or wrong-address.
    #[arg(long)]
    pub effect: String,
    /// The delay of `delay`, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub delay_ms: u64,
    /// The addresses of `wrong-address` (repeatable).
    #[arg(long = "address")]
    pub addresses: Vec<IpAddr>,
}

impl DnsArgs {
    /// The words after `faultdrill helper dns`.
    pub fn to_argv(&self) -> Vec<String> {
        let mut argv = vec![
            "--injection".into(),
            self.injection.clone(),
            "--deadline-ms".into(),
            self.deadline_ms.to_string(),
            "--upstream".into(),
            self.upstream.to_string(),
            "--effect".into(),
            self.effect.clone(),
            "--delay-ms".into(),
            self.delay_ms.to_string(),
        ];
        for name in &self.names {
            argv.extend(["--name".into(), name.clone()]);
        }
        for addr in &self.addresses {
            argv.extend(["--address".into(), addr.to_string()]);
        }
        argv
    }

    /// The rules these arguments describe.
    pub fn rules(&self) -> Result<Rules, String> {
        let names = self.names.iter().map(|n| NamePattern::parse(n)).collect::<Result<Vec<_>, _>>()?;
        let effect = match self.effect.as_str() {
            "nxdomain" => Effect::Nxdomain,
            "servfail" => Effect::Servfail,
            "timeout" => Effect::Timeout,
            "delay" => Effect::Delay(Duration::from_millis(
                self.delay_ms.min(crate::experiment::MAX_DURATION.as_millis() as u64),
            )),
            "wrong-address" if !self.addresses.is_empty() => Effect::WrongAddress(self.addresses.clone()),
            "wrong-address" => return Err("wrong-address needs at least one --address".into()),
            other => {
                return Err(format!("unknown effect `{other}`; use one of {}", super::dns_match::EFFECTS.join(", ")));
            }
        };
        Ok(Rules { names, effect })
    }
}

/// Why the resolver could not run. Reads after "failed to ".
#[derive(Debug, thiserror::Error)]
pub enum ResolverError {
    #[error("start the resolver: {0}")]
    Invalid(String),
    #[error("listen on loopback for DNS: {0}")]
    Listen(#[source] std::io::Error),
    #[error("start the resolver's runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// Root could not be dropped after binding: the resolver refuses to run as root.
    #[error(transparent)]
    DropRoot(#[from] PrivilegeError),
}

/// The loopback sockets the redirect sends queries to, all on one port.
struct Listeners {
    port: u16,
    udp: Vec<std::net::UdpSocket>,
    tcp: Vec<std::net::TcpListener>,
}

impl Listeners {
    /// UDP and TCP on 127.0.0.1 and (where this namespace has it) ::1, on one free port.
    fn bind() -> std::io::Result<Listeners> {
        let mut last = None;
        for _ in 0..20 {
            let udp4 = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
            let port = udp4.local_addr()?.port();
            let tcp4 = match std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
                Ok(t) => t,
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            };
            let mut listeners = Listeners { port, udp: vec![udp4], tcp: vec![tcp4] };
            match (
                std::net::UdpSocket::bind((Ipv6Addr::LOCALHOST, port)),
                std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, port)),
            ) {
                (Ok(u), Ok(t)) => {
                    listeners.udp.push(u);
                    listeners.tcp.push(t);
                }
                (Err(e), _) | (_, Err(e)) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    last = Some(e);
                    continue;
                }
                // No IPv6 loopback in this namespace: IPv4 only (the table says so).
                _ => {}
            }
            return Ok(listeners);
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no free port")))
    }

    fn families(&self) -> &'static str {
        if self.udp.len() > 1 { "ipv4,ipv6" } else { "ipv4" }
    }
}

/// Runs the resolver until its deadline plus [`GRACE`] (the body of `faultdrill helper dns`).
pub fn run_resolver(args: DnsArgs) -> Result<(), ResolverError> {
    let rules = args.rules().map_err(ResolverError::Invalid)?;
    let Some(left) = helpers::become_helper(args.deadline_ms, GRACE) else { return Ok(()) };
    let listeners = Listeners::bind().map_err(ResolverError::Listen)?;
    privileges::drop_root_keeping_net_admin()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ResolverError::Runtime)?;
    runtime.block_on(async move {
        let now = Instant::now();
        let resolver = Arc::new(Resolver {
            rules,
            upstream: args.upstream,
            fault_until: now + left,
            in_flight: Arc::new(Semaphore::new(IN_FLIGHT)),
        });
        for socket in listeners.udp.iter() {
            let socket = socket.try_clone().and_then(nonblocking).and_then(UdpSocket::from_std);
            tokio::spawn(serve_udp(Arc::new(socket.map_err(ResolverError::Listen)?), resolver.clone()));
        }
        for listener in listeners.tcp.iter() {
            let listener = listener.try_clone().and_then(nonblocking_tcp).and_then(TcpListener::from_std);
            tokio::spawn(serve_tcp(listener.map_err(ResolverError::Listen)?, resolver.clone()));
        }
        {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            // The fault waits for this line to point its redirect here.
            let _ = writeln!(out, "listening {} {}", listeners.port, listeners.families());
            let _ = out.flush();
        }
        // The fault stops reading stderr once it has that line.
        helpers::silence_stderr();
        tokio::time::sleep_until(now + left + GRACE).await;
        Ok(())
    })
}

fn nonblocking(s: std::net::UdpSocket) -> std::io::Result<std::net::UdpSocket> {
    s.set_nonblocking(true).map(|()| s)
}

fn nonblocking_tcp(s: std::net::TcpListener) -> std::io::Result<std::net::TcpListener> {
    s.set_nonblocking(true).map(|()| s)
}

/// What every query handler shares.
struct Resolver {
    rules: Rules,
    upstream: SocketAddr,
    /// From then on everything is forwarded.
    fault_until: Instant,
    /// Permits for queries and connections in flight (see [`IN_FLIGHT`]).
    in_flight: Arc<Semaphore>,
}

impl Resolver {
    /// The reply to `query`, or `None` to say nothing.
    async fn respond(&self, query: &[u8], over_tcp: bool) -> Option<Vec<u8>> {
        let decision = if Instant::now() < self.fault_until {
            self.rules.decide(query)
        } else {
            Decision::Forward(Duration::ZERO)
        };
        let delay = match decision {
            Decision::Answer(reply) => return Some(reply),
            Decision::Drop => return None,
            Decision::Forward(delay) => delay,
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let forwarded = if over_tcp { self.forward_tcp(query).await } else { self.forward_udp(query).await };
        match forwarded {
            Ok(reply) => Some(reply),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => None,
            Err(e) => {
                debug!(upstream = %self.upstream, error = %e, "Upstream failed; answering SERVFAIL.");
                failure_reply(query)
            }
        }
    }

    async fn forward_udp(&self, query: &[u8]) -> std::io::Result<Vec<u8>> {
        let local: SocketAddr =
            if self.upstream.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (Ipv6Addr::UNSPECIFIED, 0).into() };
        let socket = std::net::UdpSocket::bind(local)?;
        setsockopt(&socket, sockopt::Mark, &DNS_MARK)?;
        let socket = UdpSocket::from_std(nonblocking(socket)?)?;
        socket.connect(self.upstream).await?;
        socket.send(query).await?;
        let mut buf = vec![0u8; 65_535];
        // A connected socket hears only the upstream.
        let n = timed(socket.recv(&mut buf)).await?;
        buf.truncate(n);
        Ok(buf)
    }

    async fn forward_tcp(&self, query: &[u8]) -> std::io::Result<Vec<u8>> {
        let socket = if self.upstream.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        setsockopt(&socket, sockopt::Mark, &DNS_MARK)?;
        let mut stream = timed(socket.connect(self.upstream)).await?;
        write_framed(&mut stream, query).await?;
        timed(read_framed(&mut stream))
            .await?
            .ok_or_else(|| std::io::Error::other("the upstream closed the connection"))
    }
}

async fn timed<T>(work: impl Future<Output = std::io::Result<T>>) -> std::io::Result<T> {
    tokio::time::timeout(UPSTREAM_TIMEOUT, work).await.unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

async fn serve_udp(socket: Arc<UdpSocket>, resolver: Arc<Resolver>) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, client) = match socket.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(e) => {
                debug!(error = %e, "Receive failed.");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(permit) = resolver.in_flight.clone().try_acquire_owned() else { continue };
        let query = buf[..n].to_vec();
        let (socket, resolver) = (socket.clone(), resolver.clone());
        tokio::spawn(async move {
            if let Some(reply) = resolver.respond(&query, false).await {
                let _ = socket.send_to(&reply, client).await;
            }
            drop(permit);
        });
    }
}

async fn serve_tcp(listener: TcpListener, resolver: Arc<Resolver>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let Ok(permit) = resolver.in_flight.clone().try_acquire_owned() else { continue };
                let resolver = resolver.clone();
                tokio::spawn(async move {
                    serve_connection(stream, resolver).await;
                    drop(permit);
                });
            }
            Err(e) => {
                debug!(error = %e, "Accept failed.");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Answers the queries of one TCP connection in turn, until the client closes it.
async fn serve_connection(mut stream: TcpStream, resolver: Arc<Resolver>) {
    while let Ok(Ok(Some(query))) = tokio::time::timeout(TCP_IDLE, read_framed(&mut stream)).await {
        if let Some(reply) = resolver.respond(&query, true).await {
            if write_framed(&mut stream, &reply).await.is_err() {
                return;
            }
        }
    }
}

/// One DNS message over TCP: a two-byte length, then the message (RFC 1035 §4.2.2).
/// `None` at a clean end of stream.
async fn read_framed(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match stream.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut message).await?;
    Ok(Some(message))
}

async fn write_framed(stream: &mut TcpStream, message: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(message.len()).map_err(|_| std::io::Error::other("a DNS message over 64 KiB"))?;
    let mut framed = Vec::with_capacity(message.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(message);
    stream.write_all(&framed).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: DnsArgs,
    }

    #[test]
    fn argv_round_trips_through_clap() {
        let args = DnsArgs {
            injection: "i-abc".into(),
            deadline_ms: 123,
            upstream: "127.0.0.1:53".parse().unwrap(),
            names: vec!["db.example.com".into(), "*.internal.test".into()],
            effect: "wrong-address".into(),
            delay_ms: 0,
            addresses: vec!["10.0.0.9".parse().unwrap(), "fd00::9".parse().unwrap()],
        };
        let parsed = Wrapper::try_parse_from(std::iter::once("x".to_string()).chain(args.to_argv())).unwrap();
        assert_eq!(parsed.args, args);
        assert!(matches!(parsed.args.rules().unwrap().effect, Effect::WrongAddress(a) if a.len() == 2));
    }

    #[test]
    fn bad_arguments_are_refused_before_anything_listens() {
        let mut args = Wrapper::try_parse_from([
            "x",
            "--injection",
            "i",
            "--deadline-ms",
            "1",
            "--upstream",
            "127.0.0.1:53",
            "--name",
            "a.test",
            "--effect",
            "wrong-address",
        ])
        .unwrap()
        .args;
        assert!(args.rules().unwrap_err().contains("--address"));
        args.effect = "explode".into();
        assert!(args.rules().unwrap_err().contains("nxdomain"));
        args.effect = "nxdomain".into();
        args.names.push("a..b".into());
        assert!(args.rules().is_err());
    }
}
