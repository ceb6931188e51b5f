//! A probe's or guardrail's source (metric, HTTP, Prometheus, TCP, command), checked into
//! the plan's [`ProbeSource`]: exactly one per probe, each with its own rules.

use std::path::PathBuf;

use super::check::{DEFAULT_COMMAND_TIMEOUT, DEFAULT_HTTP_TIMEOUT, check_target, non_empty, positive, strings};
use super::diag::Sink;
use super::expect::SourceKind;
use super::plan::*;
use super::spec::*;
use super::yaml::Span;

/// The sources a probe or guardrail may name; exactly one must be present.
pub(super) type Sources<'a> = (
    &'a Option<MetricSpec>,
    &'a Option<HttpSpec>,
    &'a Option<PrometheusSpec>,
    &'a Option<TcpSpec>,
    &'a Option<CommandSpec>,
);

pub(super) trait HasSpan {
    fn span(&self) -> Span;
}
impl HasSpan for ProbeSpec {
    fn span(&self) -> Span {
        self.span
    }
}
impl HasSpan for GuardrailSpec {
    fn span(&self) -> Span {
        self.span
    }
}

pub(super) fn source(
    sink: &mut Sink<'_>,
    name: &str,
    (metric, http, prometheus, tcp, command): Sources<'_>,
    at: &dyn HasSpan,
    targets: &[&str],
) -> Option<(ProbeSource, SourceKind)> {
    let count = [metric.is_some(), http.is_some(), prometheus.is_some(), tcp.is_some(), command.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if count == 0 && sink.has_error_within(at.span()) {
        return None;
    }
    if count != 1 {
        let what = if count == 0 { "needs" } else { "takes exactly" };
        let mut span = at.span();
        span.end = span.start;
        sink.error(span, format!("`{name}` {what} one source: metric, http, prometheus, tcp or command"));
        return None;
    }
    if let Some(m) = metric {
        return metric_source(sink, m, targets).map(|s| (s, SourceKind::Metric));
    }
    if let Some(h) = http {
        let url = url(sink, h.url.as_ref())?;
        let method = h.method.as_ref().map_or_else(|| "GET".to_string(), |m| http_method(sink, m));
        let timeout = positive(sink, h.timeout.as_ref()).unwrap_or(DEFAULT_HTTP_TIMEOUT);
        let headers = h.headers.as_ref().map(strings).unwrap_or_default();
        return Some((ProbeSource::Http { url, method, timeout, headers }, SourceKind::Http));
    }
    if let Some(p) = prometheus {
        let url = url(sink, p.url.as_ref())?;
        let query = p.query.as_ref().map(|q| non_empty(sink, q, "query"))?;
        let timeout = positive(sink, p.timeout.as_ref()).unwrap_or(DEFAULT_HTTP_TIMEOUT);
        let bearer_token_env = p.bearer_token_env.as_ref().map(|b| b.value.clone());
        return Some((ProbeSource::Prometheus { url, query, timeout, bearer_token_env }, SourceKind::Prometheus));
    }
    if let Some(t) = tcp {
        let address = t.address.as_ref().and_then(|a| tcp_address(sink, a))?;
        let timeout = positive(sink, t.timeout.as_ref()).unwrap_or(DEFAULT_HTTP_TIMEOUT);
        return Some((ProbeSource::Tcp { address, timeout }, SourceKind::Tcp));
    }
    let c = command.as_ref()?;
    let run = c.run.as_ref()?;
    if run.value.is_empty() {
        sink.error(run.span, "`run` is empty; give the program and its arguments, as in `[curl, -sf, URL]`");
    }
    let argv = run.value.iter().map(|a| a.value.0.clone()).collect();
    let timeout = positive(sink, c.timeout.as_ref()).unwrap_or(DEFAULT_COMMAND_TIMEOUT);
    Some((ProbeSource::Command { argv, timeout }, SourceKind::Command))
}

/// A `host:port` address: a host (a name, an IPv4 address or a bracketed IPv6 one) and a port 1..65535.
fn tcp_address(sink: &mut Sink<'_>, address: &Spanned<String>) -> Option<String> {
    let text = address.value.trim();
    let valid = text.rsplit_once(':').is_some_and(|(host, port)| {
        let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
            None => !host.is_empty() && !host.contains(':') && !host.contains(char::is_whitespace),
        };
        host_ok && port.parse::<u16>().is_ok_and(|p| p > 0)
    });
    if valid {
        Some(text.to_string())
    } else {
        sink.error(
            address.span,
            format!(
                "`{text}` is not a `host:port` address, such as `127.0.0.1:5432`, `[::1]:5432` or `db.internal:5432`"
            ),
        );
        None
    }
}

fn metric_source(sink: &mut Sink<'_>, m: &MetricSpec, targets: &[&str]) -> Option<ProbeSource> {
    let host = m.host.as_ref()?;
    let metric = match host.value {
        HostMetricWord::CpuPercent => HostMetric::CpuPercent,
        HostMetricWord::MemoryPercent => HostMetric::MemoryPercent,
        HostMetricWord::DiskUsedPercent => HostMetric::DiskUsedPercent,
        HostMetricWord::Load1 => HostMetric::Load1,
        HostMetricWord::Load1PerCore => HostMetric::Load1PerCore,
        HostMetricWord::ProcessCount => HostMetric::ProcessCount,
    };
    match (m.path.present(), metric) {
        (None, HostMetric::DiskUsedPercent) if m.path == Field::Absent => {
            sink.error(host.span, "`disk_used_percent` needs a `path`")
        }
        (Some(p), HostMetric::DiskUsedPercent) if !p.value.starts_with('/') => {
            sink.error(p.span, format!("`path` must be absolute, found `{}`", p.value))
        }
        (Some(p), m) if m != HostMetric::DiskUsedPercent => {
            sink.error(p.span, format!("`path` applies to `disk_used_percent` only, not `{}`", m.name()))
        }
        _ => {}
    }
    match (m.name.present(), metric) {
        (None, HostMetric::ProcessCount) if m.name == Field::Absent => {
            sink.error(host.span, "`process_count` needs a `name` (the exact process name)")
        }
        (Some(n), m) if m != HostMetric::ProcessCount => {
            sink.error(n.span, format!("`name` applies to `process_count` only, not `{}`", m.name()))
        }
        _ => {}
    }
    if let Some(t) = &m.target {
        check_target(sink, t, targets);
    }
    Some(ProbeSource::Metric {
        metric,
        path: m.path.present().map(|p| PathBuf::from(&p.value)),
        process: m.name.present().map(|n| n.value.clone()),
        target: m.target.as_ref().map(|t| t.value.clone()),
    })
}

fn url(sink: &mut Sink<'_>, url: Option<&Spanned<String>>) -> Option<String> {
    let url = url?;
    if !(url.value.starts_with("http://") || url.value.starts_with("https://")) {
        sink.error(url.span, format!("expected an http:// or https:// URL, found `{}`", url.value));
    }
    Some(url.value.clone())
}

fn http_method(sink: &mut Sink<'_>, m: &Spanned<String>) -> String {
    const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    let upper = m.value.to_ascii_uppercase();
    if !METHODS.contains(&upper.as_str()) {
        sink.error(m.span, format!("unknown HTTP method `{}`; expected one of: {}", m.value, METHODS.join(", ")));
    }
    upper
}
