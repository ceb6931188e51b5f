//! Reading a policy file through the positioned loader: every problem at once,
//! as `file:line:col`, and every rule remembering its line for refusals.
//!
//! ```yaml
//! version: 1
//! faults: [cpu-burn, disk-fill, network-partition]   # absent: every fault
//! max_duration: 30m                                  # default 24h
//! disk_fill: {paths: [/var/tmp/drills], max_percent: 90}
//! io_fault: {paths: [/srv/myapp/data]}                # where io faults may mount; absent: any
//! processes: [myapp, {pattern: "^/usr/bin/myapp "}]  # absent: any (built-in refusals apply)
//! command_probes: false                              # default false
//! exec: {commands: [/usr/bin/redis-cli]}             # programs `exec` may run; default none
//! probes:
//!   destinations: [127.0.0.0/8, prometheus.internal] # absent: anywhere not blocked
//!   blocked: [169.254.0.0/16, fe80::/10, fd00:ec2::254, 100.100.100.200]   # the default
//!   secrets: [{env: PROM_TOKEN, url: "https://prometheus.internal:9090/"}]
//! tcp_proxy: {privileged_ports: false, upstreams: [127.0.0.0/8]}
//! limits: {runs: 4, injections: 64}
//! ```

use crate::experiment::positioned::{Diagnostics, Fields, Node, Sink, Value, closest, parse};
use std::path::{Path, PathBuf};

use super::address::{Block, Destination};
use super::rules::{Policy, ProcessRule, Ruled, SecretRule};

const TOP: &[&str] = &[
    "version",
    "faults",
    "max_duration",
    "disk_fill",
    "io_fault",
    "processes",
    "command_probes",
    "exec",
    "probes",
    "tcp_proxy",
    "limits",
];

/// The daemon's own token never leaves it, whatever a policy lists.
pub const NEVER_SENT: &[&str] = &["FAULTDRILL_TOKEN"];

/// Loads and checks a policy file.
pub fn load(path: &Path) -> Result<Policy, Diagnostics> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Diagnostics::whole_file(&origin, format!("cannot read the policy file: {e}")))?;
    let mut policy = parse_str(&origin, &text)?;
    policy.origin = Some(path.to_path_buf());
    Ok(policy)
}

/// Checks policy text; `origin` names it in diagnostics.
pub fn parse_str(origin: &str, text: &str) -> Result<Policy, Diagnostics> {
    let mut sink = Sink::new(origin, text);
    let mut policy = Policy { origin: Some(PathBuf::from(origin)), ..Policy::default() };
    match parse(text) {
        Ok(root) => decode(&mut sink, &root, &mut policy),
        Err(e) => sink.error(e.span, e.message),
    }
    if sink.is_empty() { Ok(policy) } else { Err(Diagnostics { items: sink.finish() }) }
}

fn decode(sink: &mut Sink<'_>, root: &Node, p: &mut Policy) {
    if matches!(root.value, Value::Null) {
        return;
    }
    let Some(f) = Fields::read(sink, root, "the policy", TOP) else { return };
    if let Some(n) = f.required(sink, "version") {
        if n.scalar() != Some("1") {
            sink.error(n.span, format!("expected `1` for `version`, found {}", n.describe()));
        }
    }
    if let Some(n) = f.get("faults") {
        p.faults = strings(sink, n, "faults").map(|names| {
            let known: Vec<&str> = crate::fault::all_faults().iter().map(|f| f.info().name).collect();
            for (name, span) in &names {
                if !known.contains(&name.as_str()) {
                    let hint = closest(name, known.iter().copied())
                        .map_or(String::new(), |c| format!("; did you mean `{c}`?"));
                    sink.error(*span, format!("unknown fault `{name}` in `faults`{hint}"));
                }
            }
            ruled(n, "faults", names.into_iter().map(|(s, _)| s).collect())
        });
    }
    if let Some(n) = f.get("max_duration") {
        match n.scalar().map(|t| (t, humantime::parse_duration(t))) {
            Some((t, Ok(d))) if !d.is_zero() => {
                p.max_duration = ruled(n, "max_duration", t.to_string());
                p.max_duration_value = d;
            }
            _ => sink.error(
                n.span,
                format!("expected a positive duration such as `30m` for `max_duration`, found {}", n.describe()),
            ),
        }
    }
    if let Some(n) = f.get("command_probes") {
        if let Some(b) = boolean(sink, n, "command_probes") {
            p.command_probes = ruled(n, "command_probes", b);
        }
    }
    if let Some(n) = f.get("exec") {
        exec(sink, n, p);
    }
    if let Some(n) = f.get("processes") {
        p.processes = processes(sink, n).map(|list| ruled(n, "processes", list));
    }
    if let Some(n) = f.get("disk_fill") {
        disk_fill(sink, n, p);
    }
    if let Some(n) = f.get("io_fault") {
        if let Some(f) = Fields::read(sink, n, "`io_fault`", &["paths"]) {
            if let Some(n) = f.get("paths") {
                let paths = absolute_paths(sink, n, "io_fault.paths");
                p.io_fault_paths = paths.map(|kept| ruled(n, "io_fault.paths", kept));
            }
        }
    }
    if let Some(n) = f.get("probes") {
        probes(sink, n, p);
    }
    if let Some(n) = f.get("tcp_proxy") {
        tcp_proxy(sink, n, p);
    }
    if let Some(n) = f.get("limits") {
        limits(sink, n, p);
    }
}

fn disk_fill(sink: &mut Sink<'_>, node: &Node, p: &mut Policy) {
    let Some(f) = Fields::read(sink, node, "`disk_fill`", &["paths", "max_percent"]) else { return };
    if let Some(n) = f.get("paths") {
        p.disk_fill_paths = absolute_paths(sink, n, "disk_fill.paths").map(|kept| ruled(n, "disk_fill.paths", kept));
    }
    if let Some(n) = f.get("max_percent") {
        match n.scalar().and_then(|t| t.parse::<f64>().ok()).filter(|v| (1.0..=99.0).contains(v)) {
            Some(v) => p.disk_fill_max_percent = Some(ruled(n, "disk_fill.max_percent", v)),
            None => sink.error(
                n.span,
                format!("expected a percent from 1 to 99 for `disk_fill.max_percent`, found {}", n.describe()),
            ),
        }
    }
}

/// A list of absolute paths without `..` (each wrong one reported, the rest kept).
fn absolute_paths(sink: &mut Sink<'_>, n: &Node, what: &str) -> Option<Vec<PathBuf>> {
    let paths = strings(sink, n, what)?;
    let mut kept = Vec::new();
    for (path, span) in paths {
        if !path.starts_with('/') || path.split('/').any(|c| c == "..") {
            sink.error(span, format!("`{path}` in `{what}` must be an absolute path without `..`"));
        } else {
            kept.push(PathBuf::from(path));
        }
    }
    Some(kept)
}

fn exec(sink: &mut Sink<'_>, node: &Node, p: &mut Policy) {
    let Some(f) = Fields::read(sink, node, "`exec`", &["commands"]) else { return };
    let Some(n) = f.get("commands") else { return };
    let Some(kept) = absolute_paths(sink, n, "exec.commands") else { return };
    p.exec_commands = ruled(n, "exec.commands", kept);
}

fn probes(sink: &mut Sink<'_>, node: &Node, p: &mut Policy) {
    let Some(f) = Fields::read(sink, node, "`probes`", &["destinations", "blocked", "secrets"]) else { return };
    if let Some(n) = f.get("destinations") {
        if let Some(list) = destinations(sink, n, "probes.destinations") {
            p.destination_values = list.iter().map(|(d, _)| d.clone()).collect();
            p.destinations = Some(ruled(n, "probes.destinations", list.into_iter().map(|(_, t)| t).collect()));
        }
    }
    if let Some(n) = f.get("blocked") {
        if let Some(list) = strings(sink, n, "probes.blocked") {
            let mut blocks = Vec::new();
            for (text, span) in &list {
                match Block::parse(text) {
                    Ok(b) => blocks.push(b),
                    Err(e) => sink.error(*span, e),
                }
            }
            p.blocked_values = blocks;
            p.blocked = ruled(n, "probes.blocked", list.into_iter().map(|(t, _)| t).collect());
        }
    }
    if let Some(n) = f.get("secrets") {
        let Value::Seq(items) = &n.value else {
            sink.error(n.span, format!("expected a list for `probes.secrets`, found {}", n.describe()));
            return;
        };
        let mut secrets = Vec::new();
        for item in items {
            let Some(f) = Fields::read(sink, item, "a secret", &["env", "url"]) else { continue };
            let env = f.required(sink, "env").and_then(|n| text(sink, n, "env"));
            let url = f.required(sink, "url").and_then(|n| text(sink, n, "url"));
            let (Some((env, env_span)), Some((url, url_span))) = (env, url) else { continue };
            if NEVER_SENT.contains(&env.as_str()) {
                sink.error(env_span, format!("`{env}` is the daemon's own token: it is never sent to a probe"));
                continue;
            }
            if super::address::url_host(&url).is_err() {
                sink.error(url_span, format!("expected an http(s) URL prefix for `url`, found `{url}`"));
                continue;
            }
            secrets.push(SecretRule { env, url });
        }
        p.secrets = ruled(n, "probes.secrets", secrets);
    }
}

fn tcp_proxy(sink: &mut Sink<'_>, node: &Node, p: &mut Policy) {
    let Some(f) = Fields::read(sink, node, "`tcp_proxy`", &["privileged_ports", "upstreams"]) else { return };
    if let Some(n) = f.get("privileged_ports") {
        if let Some(b) = boolean(sink, n, "tcp_proxy.privileged_ports") {
            p.privileged_ports = ruled(n, "tcp_proxy.privileged_ports", b);
        }
    }
    if let Some(n) = f.get("upstreams") {
        if let Some(list) = destinations(sink, n, "tcp_proxy.upstreams") {
            p.upstream_values = Some(list.iter().map(|(d, _)| d.clone()).collect());
            p.upstreams = Some(ruled(n, "tcp_proxy.upstreams", list.into_iter().map(|(_, t)| t).collect()));
        }
    }
}

fn limits(sink: &mut Sink<'_>, node: &Node, p: &mut Policy) {
    let Some(f) = Fields::read(sink, node, "`limits`", &["runs", "injections"]) else { return };
    for (key, rule) in [("runs", "limits.runs"), ("injections", "limits.injections")] {
        let Some(n) = f.get(key) else { continue };
        match n.scalar().and_then(|t| t.parse::<usize>().ok()).filter(|v| (1..=10_000).contains(v)) {
            Some(v) if key == "runs" => p.max_runs = ruled(n, rule, v),
            Some(v) => p.max_injections = ruled(n, rule, v),
            None => sink
                .error(n.span, format!("expected a whole number from 1 to 10000 for `{rule}`, found {}", n.describe())),
        }
    }
}

fn processes(sink: &mut Sink<'_>, node: &Node) -> Option<Vec<ProcessRule>> {
    let Value::Seq(items) = &node.value else {
        sink.error(node.span, format!("expected a list of process names for `processes`, found {}", node.describe()));
        return None;
    };
    let mut out = Vec::new();
    for item in items {
        match &item.value {
            Value::Scalar { text, .. } if !text.is_empty() && text.len() <= 15 => {
                out.push(ProcessRule::Name(text.clone()))
            }
            Value::Scalar { .. } => sink.error(
                item.span,
                format!(
                    "expected a process name of 1 to 15 characters (as /proc/PID/comm shows it), found {}",
                    item.describe()
                ),
            ),
            Value::Map(_) => {
                let Some(f) = Fields::read(sink, item, "a process rule", &["pattern"]) else { continue };
                if let Some((pattern, span)) = f.required(sink, "pattern").and_then(|n| text(sink, n, "pattern")) {
                    match regex::Regex::new(&pattern) {
                        Ok(_) => out.push(ProcessRule::Pattern(pattern)),
                        Err(e) => sink.error(span, format!("`{pattern}` is not a valid pattern: {e}")),
                    }
                }
            }
            _ => sink.error(item.span, format!("expected a process name or {{pattern: …}}, found {}", item.describe())),
        }
    }
    Some(out)
}

fn destinations(sink: &mut Sink<'_>, node: &Node, what: &str) -> Option<Vec<(Destination, String)>> {
    let list = strings(sink, node, what)?;
    let mut out = Vec::new();
    for (text, span) in list {
        match Destination::parse(&text) {
            Ok(d) => out.push((d, text)),
            Err(e) => sink.error(span, format!("{e} in `{what}`")),
        }
    }
    Some(out)
}

fn ruled<T>(node: &Node, rule: &'static str, value: T) -> Ruled<T> {
    Ruled { value, rule, line: Some(node.span.start.line) }
}

fn strings(sink: &mut Sink<'_>, node: &Node, what: &str) -> Option<Vec<(String, crate::experiment::positioned::Span)>> {
    let Value::Seq(items) = &node.value else {
        sink.error(node.span, format!("expected a list for `{what}`, found {}", node.describe()));
        return None;
    };
    Some(items.iter().filter_map(|n| text(sink, n, what)).collect())
}

fn text(sink: &mut Sink<'_>, node: &Node, what: &str) -> Option<(String, crate::experiment::positioned::Span)> {
    match node.scalar() {
        Some(t) => Some((t.to_string(), node.span)),
        None => {
            sink.error(node.span, format!("expected a string for `{what}`, found {}", node.describe()));
            None
        }
    }
}

fn boolean(sink: &mut Sink<'_>, node: &Node, what: &str) -> Option<bool> {
    match node.scalar() {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => {
            sink.error(node.span, format!("expected `true` or `false` for `{what}`, found {}", node.describe()));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_full_policy_reads_with_each_rule_on_its_line() {
        let text = "version: 1\nfaults: [disk-fill, cpu-burn]\nmax_duration: 30m\ndisk_fill: {paths: [/var/tmp/drills], max_percent: 90}\nprocesses: [myapp, {pattern: '^/usr/bin/myapp '}]\ncommand_probes: true\nprobes:\n  destinations: [127.0.0.0/8, prom.internal]\n  secrets: [{env: PROM_TOKEN, url: 'http://127.0.0.1:9090/'}]\ntcp_proxy: {privileged_ports: true, upstreams: [127.0.0.1]}\nlimits: {runs: 2, injections: 8}\n";
        let p = parse_str("policy.yaml", text).unwrap();
        assert_eq!(p.faults.as_ref().unwrap().line, Some(2));
        assert_eq!(p.max_duration_value, Duration::from_secs(1800));
        assert_eq!(p.disk_fill_paths.as_ref().unwrap().line, Some(4));
        assert_eq!(p.disk_fill_max_percent.as_ref().unwrap().value, 90.0);
        assert_eq!(p.processes.as_ref().unwrap().value.len(), 2);
        assert!(p.command_probes.value);
        assert_eq!(p.destination_values.len(), 2);
        assert_eq!(p.secrets.value[0].env, "PROM_TOKEN");
        assert!(p.privileged_ports.value);
        assert_eq!((p.max_runs.value, p.max_injections.value), (2, 8));
    }

    #[test]
    fn every_problem_is_reported_at_its_place() {
        let text = "version: 1\nfaults: [disk-fil]\nmax_duration: forever\ndisk_fill: {paths: [relative]}\nprobes:\n  destinations: [10.0.0.1/8]\n  secrets: [{env: FAULTDRILL_TOKEN, url: 'http://x/'}]\ncolour: red\n";
        let e = parse_str("policy.yaml", text).unwrap_err().to_string();
        for wanted in [
            "policy.yaml:2:",
            "did you mean `disk-fill`",
            "policy.yaml:3:",
            "positive duration",
            "policy.yaml:4:",
            "absolute path",
            "policy.yaml:6:",
            "host bits",
            "policy.yaml:7:",
            "the daemon's own token",
            "policy.yaml:8:",
            "unknown key `colour`",
        ] {
            assert!(e.contains(wanted), "missing {wanted:?} in:\n{e}");
        }
    }

    #[test]
    fn the_example_policy_in_deploy_loads() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/policy.yaml");
        let p = load(std::path::Path::new(path)).unwrap_or_else(|d| panic!("{d}"));
        assert!(!p.command_probes.value);
        assert_eq!(p.disk_fill_max_percent.unwrap().value, 90.0);
    }

    #[test]
    fn an_empty_file_is_the_default_policy() {
        let p = parse_str("p.yaml", "").unwrap();
        assert!(!p.command_probes.value);
        assert!(p.faults.is_none());
    }
}
