//! tcp-proxy-latency: a userspace TCP proxy from `listen` to `upstream` that adds
//! latency, jitter, a bandwidth cap and connection resets. No root, any kernel.
//!
//! The proxy runs as a helper process tagged with the injection id (so rollback
//! stops it) that exits by itself at the deadline. Apply returns only once the
//! proxy is listening. It listens on loopback unless `listen` names another
//! address, and, started by root, drops to an unprivileged user once bound.

use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use crate::experiment::{ParamKind, ParamSpec, Params};
use crate::platform::linux::helpers;

use super::context::{Applied, Fault, FaultError, FaultInfo, InjectContext, Prepared};
use super::net_proxy::ProxyArgs;
use super::net_scope::parse_rate;
use super::undo::Undo;

/// Adds latency to TCP connections through a proxy.
pub struct TcpProxyLatency;

static INFO: FaultInfo = FaultInfo {
    name: "tcp-proxy-latency",
    summary: "proxy TCP from listen to upstream, adding latency, jitter, a rate cap and resets (no root)",
    params: &[
        ParamSpec {
            name: "listen",
            kind: ParamKind::Text,
            default: None,
            required: true,
            doc: "address to accept clients on, e.g. 127.0.0.1:15432; a port alone (15432 or :15432) listens on 127.0.0.1 only",
        },
        ParamSpec {
            name: "upstream",
            kind: ParamKind::Text,
            default: None,
            required: true,
            doc: "host:port to forward to",
        },
        ParamSpec {
            name: "latency",
            kind: ParamKind::Duration,
            default: None,
            required: false,
            doc: "added to every request's round trip (client-to-upstream data is held this long)",
        },
        ParamSpec {
            name: "jitter",
            kind: ParamKind::Duration,
            default: None,
            required: false,
            doc: "random variation of the latency, plus or minus",
        },
        ParamSpec {
            name: "bandwidth",
            kind: ParamKind::Text,
            default: None,
            required: false,
            doc: "cap of each direction of each connection, e.g. 1mbit",
        },
        ParamSpec {
            name: "reset",
            kind: ParamKind::Percent { min: 0.0, max: 100.0 },
            default: None,
            required: false,
            doc: "share of connections reset as soon as they are accepted",
        },
    ],
    is_held: true,
};

/// How long apply waits for the proxy to say it is listening.
const STARTUP: Duration = Duration::from_secs(5);

impl Fault for TcpProxyLatency {
    fn info(&self) -> &'static FaultInfo {
        &INFO
    }

    fn check(&self, params: &Params) -> Result<(), String> {
        if let Some(listen) = params.text("listen") {
            parse_listen(listen).map_err(|m| format!("parameter `listen`: {m}"))?;
        }
        if let Some(upstream) = params.text("upstream") {
            let port = upstream.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok());
            port.ok_or_else(|| format!("parameter `upstream`: `{upstream}` needs a port, as host:port"))?;
        }
        if let Some(rate) = params.text("bandwidth") {
            parse_rate(rate).map_err(|m| format!("parameter `bandwidth`: {m}"))?;
        }
        Ok(())
    }

    fn prepare(&self, params: &Params, cx: &InjectContext) -> Result<Prepared, FaultError> {
        self.check(params).map_err(FaultError::Refused)?;
        let micros = |name| params.duration(name).map_or(0, |d| d.as_micros() as u64);
        let args = ProxyArgs {
            injection: cx.injection.to_string(),
            deadline_ms: cx.deadline.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64),
            listen: listen_address(params)
                .ok_or_else(|| FaultError::Refused("parameter `listen`: missing or not an address".into()))?,
            upstream: params.get("upstream")?,
            latency_us: micros("latency"),
            jitter_us: micros("jitter"),
            rate_bytes: params.text("bandwidth").and_then(|r| parse_rate(r).ok()).map(|bits| (bits / 8).max(1)),
            reset_percent: params.get::<Option<f64>>("reset")?.unwrap_or(0.0),
        };
        let mut argv = vec!["helper".to_string(), "proxy".to_string()];
        argv.extend(args.to_argv());
        let exe = cx.exe.clone();
        let preview = vec![format!("{} {}", exe.display(), argv.join(" "))];
        let undo = Undo::stop_helpers(&cx.injection);
        Ok(Prepared { undo, preview, apply: Box::new(move || start(&exe, &argv)) })
    }
}

/// The address the proxy of checked `params` listens on (for a daemon's policy:
/// its port and whether it is loopback).
pub fn listen_address(params: &Params) -> Option<SocketAddr> {
    params.text("listen").and_then(|l| parse_listen(l).ok())
}

/// `HOST:PORT` as given, or a port alone (`15432`, `:15432`) on 127.0.0.1: a
/// proxy is reachable from elsewhere only when its address says so.
fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    let port = text.strip_prefix(':').unwrap_or(text);
    if let Ok(port) = port.parse::<u16>() {
        return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    }
    text.parse::<SocketAddr>().map_err(|_| {
        format!("`{text}` is not an address such as 127.0.0.1:15432, or a port such as 15432 (on 127.0.0.1)")
    })
}

/// Starts the helper in its own process group and waits until it says it listens.
fn start(exe: &std::path::Path, argv: &[String]) -> Result<Applied, FaultError> {
    let mut child = Command::new(exe)
        .args(argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| FaultError::io(format!("start the proxy helper `{}`", exe.display()), e))?;
    crate::failpoint::hit("apply.mid");
    let line = helpers::first_line(&mut child, STARTUP);
    if line.starts_with("listening ") {
        return Ok(Applied::by_helpers([helpers::started(child)]));
    }
    let said = helpers::abandon(child);
    Err(FaultError::Apply {
        context: format!("start the proxy: it did not start listening within {STARTUP:?}: {said}"),
        source: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_alone_listens_on_loopback() {
        for text in ["15432", ":15432", " 15432 "] {
            assert_eq!(parse_listen(text), Ok("127.0.0.1:15432".parse().unwrap()), "{text}");
        }
        assert_eq!(parse_listen("0.0.0.0:81"), Ok("0.0.0.0:81".parse().unwrap()));
        assert_eq!(parse_listen("[::1]:80"), Ok("[::1]:80".parse().unwrap()));
        for bad in ["", "localhost:80", "127.0.0.1", "70000", "[::1]"] {
            assert!(parse_listen(bad).is_err(), "{bad}");
        }
    }
}
