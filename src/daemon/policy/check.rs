//! Judging a request against the policy: one injection, or every action and probe of
//! a submitted experiment. The first refusal is returned, naming its rule and line.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use crate::experiment::{ExperimentPlan, Params, ProbeSource};

use super::address::{Destination, resolve, url_host};
use super::rules::{Policy, ProcessRule, Refusal, Ruled};

/// Checks one fault with its params and hold (`None`: instantaneous).
pub async fn check_action(
    policy: &Policy,
    fault: &str,
    params: &Params,
    duration: Option<Duration>,
) -> Result<(), Refusal> {
    if let Some(allowed) = &policy.faults {
        if !allowed.value.iter().any(|f| f == fault) {
            return Err(policy.refuse(
                allowed,
                format!("the fault `{fault}` is not allowed on this daemon (allowed: {})", allowed.value.join(", ")),
            ));
        }
    }
    if let Some(d) = duration {
        if d > policy.max_duration_value {
            return Err(policy.refuse(
                &policy.max_duration,
                format!(
                    "`{fault}` held for {} is longer than {}",
                    humantime::format_duration(d),
                    policy.max_duration.value
                ),
            ));
        }
    }
    match fault {
        "disk-fill" => check_disk_fill(policy, params),
        "io-latency" | "io-error" => check_io_fault(policy, fault, params),
        "dns-fault" => check_dns_upstream(policy, params).await,
        "process-kill" | "process-pause" => check_process(policy, fault, params),
        "tcp-proxy-latency" => check_proxy(policy, params).await,
        "exec" => check_exec(policy, params),
        "http-call" => check_http_call(policy, params).await,
        _ => Ok(()),
    }
}

/// Checks a submitted experiment: every action, every probe and guardrail source.
pub async fn check_plan(policy: &Policy, plan: &ExperimentPlan) -> Result<(), Refusal> {
    for group in &plan.groups {
        for action in &group.actions {
            check_action(policy, &action.fault, &action.params, action.duration)
                .await
                .map_err(|r| Refusal { message: format!("action {}: {}", action.label, r.message), ..r })?;
        }
    }
    let probes =
        plan.steady_state.iter().flat_map(|s| s.probes.iter().map(|p| (format!("probe {}", p.name), &p.source)));
    let guardrails = plan.guardrails.rules.iter().map(|g| (format!("guardrail {}", g.name), &g.source));
    for (what, source) in probes.chain(guardrails).collect::<Vec<_>>() {
        check_source(policy, source).await.map_err(|r| Refusal { message: format!("{what}: {}", r.message), ..r })?;
    }
    Ok(())
}

async fn check_source(policy: &Policy, source: &ProbeSource) -> Result<(), Refusal> {
    match source {
        ProbeSource::Command { argv, .. } if !policy.command_probes.value => Err(policy.refuse(
            &policy.command_probes,
            format!(
                "a `command` source (`{}`) would run as this daemon's user (root); experiments submitted over the API may not run commands",
                argv.first().map_or("", String::as_str)
            ),
        )),
        ProbeSource::Http { url, .. } => check_destination(policy, url, None).await,
        // The same destination rules as an HTTP probe: a URL of the same host and port.
        ProbeSource::Tcp { address, .. } => check_destination(policy, &format!("http://{address}"), None).await,
        ProbeSource::Prometheus { url, bearer_token_env, .. } => {
            check_destination(policy, url, None).await?;
            match bearer_token_env {
                Some(env) => check_secret(policy, env, url),
                None => Ok(()),
            }
        }
        ProbeSource::Command { .. } | ProbeSource::Metric { .. } | ProbeSource::ProbeFailures { .. } => Ok(()),
    }
}

fn check_secret(policy: &Policy, env: &str, url: &str) -> Result<(), Refusal> {
    let rule = &policy.secrets;
    let allowed =
        !super::file::NEVER_SENT.contains(&env) && rule.value.iter().any(|s| s.env == env && url.starts_with(&s.url));
    if allowed {
        Ok(())
    } else {
        Err(policy.refuse(
            rule,
            format!("the daemon's environment variable `{env}` may not be sent to {url}; only a secret the policy ties to that URL may"),
        ))
    }
}

/// Whether `url` may be reached: not blocked, and allowed when a list is set.
/// `upstreams` replaces `destinations` for proxies that have their own list.
async fn check_destination(
    policy: &Policy,
    url: &str,
    upstreams: Option<(&Ruled<Vec<String>>, &[Destination])>,
) -> Result<(), Refusal> {
    let allowed: Option<(&Ruled<Vec<String>>, &[Destination])> =
        upstreams.or(policy.destinations.as_ref().map(|r| (r, policy.destination_values.as_slice())));
    let (host, port) = url_host(url).map_err(|e| policy.refuse(&policy.blocked, e))?;
    let lowered = host.to_ascii_lowercase();
    let name_listed =
        allowed.is_some_and(|(_, list)| list.iter().any(|d| matches!(d, Destination::Name(n) if *n == lowered)));
    let addrs = resolve(&host, port).await.map_err(|e| policy.refuse(&policy.blocked, e))?;
    for ip in addrs {
        let in_list =
            allowed.is_some_and(|(_, list)| list.iter().any(|d| matches!(d, Destination::Block(b) if b.contains(ip))));
        if !in_list && !name_listed && policy.blocked_values.iter().any(|b| b.contains(ip)) {
            return Err(
                policy.refuse(&policy.blocked, format!("{url} reaches {ip}, a link-local or cloud-metadata address"))
            );
        }
        if let Some((rule, _)) = allowed {
            if !in_list && !name_listed {
                return Err(policy.refuse(rule, format!("{url} ({ip}) is not among the allowed destinations")));
            }
        }
    }
    Ok(())
}

fn check_disk_fill(policy: &Policy, params: &Params) -> Result<(), Refusal> {
    let Some(path) = params.text("path") else { return Ok(()) };
    if let Some(rule) = &policy.disk_fill_paths {
        under_a_root(policy, rule, "disk-fill", path)?;
    }
    if let Some(rule) = &policy.disk_fill_max_percent {
        let planned = match (params.number("fill_to_percent"), params.bytes("size")) {
            (Some(p), _) => Some(p),
            (None, Some(size)) => percent_after(Path::new(path), size),
            _ => None,
        };
        match planned {
            Some(p) if p <= rule.value => {}
            Some(p) => {
                return Err(policy.refuse(rule, format!("disk-fill of `{path}` to {p:.1} % is above {} %", rule.value)));
            }
            None => {
                return Err(
                    policy.refuse(rule, format!("disk-fill of `{path}`: its fill level cannot be told in advance"))
                );
            }
        }
    }
    Ok(())
}

/// io-latency or io-error mounts over `path`: it must lie under a directory the policy lists.
fn check_io_fault(policy: &Policy, fault: &str, params: &Params) -> Result<(), Refusal> {
    match (&policy.io_fault_paths, params.text("path")) {
        (Some(rule), Some(path)) => under_a_root(policy, rule, fault, path),
        _ => Ok(()),
    }
}

/// `path` (symlinks and `..` resolved) is one of `rule`'s directories or under one.
fn under_a_root(policy: &Policy, rule: &Ruled<Vec<PathBuf>>, fault: &str, path: &str) -> Result<(), Refusal> {
    let wanted = resolved(Path::new(path));
    let inside = wanted
        .as_ref()
        .is_some_and(|w| rule.value.iter().any(|root| w.starts_with(resolved(root).unwrap_or_else(|| root.clone()))));
    if inside {
        return Ok(());
    }
    let roots: Vec<String> = rule.value.iter().map(|p| p.display().to_string()).collect();
    Err(policy.refuse(rule, format!("{fault} of `{path}` is not under {}", roots.join(", "))))
}

/// dns-fault forwards every query it does not answer to `upstream`, from this root daemon: the
/// resolver is a destination like a probe's (never a blocked, cloud-metadata address; one of
/// `probes.destinations` when the policy lists them).
async fn check_dns_upstream(policy: &Policy, params: &Params) -> Result<(), Refusal> {
    let Some(upstream) = params.text("upstream") else { return Ok(()) };
    let Ok(addr) = crate::fault::dns_upstream(upstream) else { return Ok(()) }; // the fault's own check refuses it
    let url = format!("http://{addr}/");
    check_destination(policy, &url, None)
        .await
        .map_err(|r| Refusal { message: r.message.replace(&url, &format!("dns-fault upstream `{upstream}`")), ..r })
}

/// The path with symlinks and `..` resolved; `None` if it cannot be (a missing path
/// with `..` in it could climb anywhere).
fn resolved(path: &Path) -> Option<PathBuf> {
    if let Ok(real) = std::fs::canonicalize(path) {
        return Some(real);
    }
    let clean = path.is_absolute() && path.components().all(|c| !matches!(c, Component::ParentDir));
    clean.then(|| path.to_path_buf())
}

/// The filesystem's used percent once `size` more bytes are written under `path`.
fn percent_after(path: &Path, size: u64) -> Option<f64> {
    let st = nix::sys::statvfs::statvfs(path).ok()?;
    let frsize = st.fragment_size() as f64;
    let total = st.blocks() as f64 * frsize;
    let used = (st.blocks() - st.blocks_free()) as f64 * frsize;
    (total > 0.0).then(|| (used + size as f64) / total * 100.0)
}

fn check_process(policy: &Policy, fault: &str, params: &Params) -> Result<(), Refusal> {
    let Some(rule) = &policy.processes else { return Ok(()) };
    let names = || {
        rule.value.iter().filter_map(|r| match r {
            ProcessRule::Name(n) => Some(n.as_str()),
            ProcessRule::Pattern(_) => None,
        })
    };
    let allowed = if let Some(name) = params.text("name") {
        names().any(|n| n == name)
    } else if let Some(pattern) = params.text("pattern") {
        rule.value.iter().any(|r| matches!(r, ProcessRule::Pattern(p) if p == pattern))
    } else if let Some(pid) = params.integer("pid") {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        names().any(|n| n == comm.trim_end())
    } else {
        false
    };
    if allowed {
        return Ok(());
    }
    let what = params
        .text("name")
        .map(|n| format!("the process name `{n}`"))
        .or_else(|| params.text("pattern").map(|p| format!("the pattern `{p}`")))
        .unwrap_or_else(|| "that process".into());
    Err(policy.refuse(
        rule,
        format!("{fault} of {what} is not allowed: only the processes the policy lists may be signalled"),
    ))
}

/// Every command of an `exec` action must start with a program the policy lists, by its
/// absolute path: the daemon runs them as root.
fn check_exec(policy: &Policy, params: &Params) -> Result<(), Refusal> {
    let rule = &policy.exec_commands;
    for step in ["inject", "rollback", "verify_injected", "verify_rolled_back"] {
        let Some(program) = params.list(step).first() else { continue };
        if !rule.value.iter().any(|allowed| allowed.as_os_str() == program.as_str()) {
            let allowed = if rule.value.is_empty() {
                "none: exec is off on this daemon".to_string()
            } else {
                rule.value.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            };
            return Err(policy.refuse(
                rule,
                format!(
                    "exec `{step}` would run `{program}` as this daemon's user (root); allowed programs: {allowed}"
                ),
            ));
        }
    }
    Ok(())
}

/// Every request of an `http-call` follows the probes' destination rules, and a header read
/// from the daemon's environment must be a secret the policy ties to that URL.
async fn check_http_call(policy: &Policy, params: &Params) -> Result<(), Refusal> {
    for step in ["inject", "rollback", "verify_injected", "verify_rolled_back"] {
        let Some(request) = params.map(step) else { continue };
        let step = crate::fault::HttpStep::from_param(request, Duration::from_secs(1));
        check_destination(policy, &step.url, None)
            .await
            .map_err(|r| Refusal { message: format!("http-call `{}`: {}", step_name(&step), r.message), ..r })?;
        for env in step.env_names() {
            check_secret(policy, env, &step.url)?;
        }
    }
    Ok(())
}

fn step_name(step: &crate::fault::HttpStep) -> String {
    format!("{} {}", step.method, step.url)
}

async fn check_proxy(policy: &Policy, params: &Params) -> Result<(), Refusal> {
    if let Some(listen) = params.text("listen") {
        let port = listen.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
        if port.is_some_and(|p| p < 1024) && !policy.privileged_ports.value {
            return Err(policy.refuse(
                &policy.privileged_ports,
                format!(
                    "tcp-proxy-latency may not listen on the privileged port of `{listen}`; use a port from 1024 up"
                ),
            ));
        }
    }
    if let Some(upstream) = params.text("upstream") {
        let own = policy.upstreams.as_ref().zip(policy.upstream_values.as_deref());
        check_destination(policy, &format!("http://{upstream}/"), own).await.map_err(|r| Refusal {
            message: r.message.replace(&format!("http://{upstream}/"), &format!("upstream `{upstream}`")),
            ..r
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::file::parse_str;
    use super::*;
    use crate::experiment::RawParams;

    fn params(fault: &str, raw: serde_json::Value) -> Params {
        let raw: RawParams = serde_json::from_value(raw).unwrap();
        Params::check(crate::fault::find_fault(fault).unwrap().info().params, &raw).unwrap()
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
    }

    #[test]
    fn disk_fill_outside_the_allowed_paths_is_refused_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let allowed = dir.path().join("drills");
        std::fs::create_dir(&allowed).unwrap();
        let text = format!("version: 1\ndisk_fill:\n  paths: [{}]\n", allowed.display());
        let policy = parse_str("policy.yaml", &text).unwrap();
        let fill = |path: &Path| params("disk-fill", serde_json::json!({"path": path, "fill_to_percent": 50}));
        let e =
            run(check_action(&policy, "disk-fill", &fill(Path::new("/")), Some(Duration::from_secs(5)))).unwrap_err();
        assert_eq!((e.rule, e.at.as_deref()), ("disk_fill.paths", Some("policy.yaml:3")));
        assert!(run(check_action(&policy, "disk-fill", &fill(&allowed), Some(Duration::from_secs(5)))).is_ok());
        let climb = allowed.join("../..");
        assert!(run(check_action(&policy, "disk-fill", &fill(&climb), Some(Duration::from_secs(5)))).is_err());
    }

    #[test]
    fn io_faults_outside_the_allowed_paths_are_refused_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let allowed = dir.path().join("data");
        std::fs::create_dir_all(allowed.join("shard-1")).unwrap();
        let text = format!("version: 1\nio_fault:\n  paths: [{}]\n", allowed.display());
        let policy = parse_str("policy.yaml", &text).unwrap();
        let hold = Some(Duration::from_secs(5));
        for fault in ["io-latency", "io-error"] {
            let extra = if fault == "io-latency" { ("latency", "10ms") } else { ("errno", "EIO") };
            let io = |path: &Path| params(fault, serde_json::json!({"path": path, extra.0: extra.1}));
            let e = run(check_action(&policy, fault, &io(Path::new("/var/lib")), hold)).unwrap_err();
            assert_eq!((e.rule, e.at.as_deref()), ("io_fault.paths", Some("policy.yaml:3")), "{fault}");
            assert!(e.message.contains(&format!("{fault} of `/var/lib` is not under")), "{}", e.message);
            assert!(run(check_action(&policy, fault, &io(&allowed.join("shard-1")), hold)).is_ok(), "{fault}");
            // A symlink under the allowed directory that points out of it is judged by its target.
            let link = allowed.join("out");
            let _ = std::os::unix::fs::symlink("/etc", &link);
            assert!(run(check_action(&policy, fault, &io(&link), hold)).is_err(), "{fault}: through a symlink");
        }
        // Without the rule, any path the fault itself accepts.
        let open = Policy::default();
        let io = params("io-error", serde_json::json!({"path": "/var/lib", "errno": "EIO"}));
        assert!(run(check_action(&open, "io-error", &io, hold)).is_ok());
    }

    #[test]
    fn a_dns_fault_upstream_is_a_destination_like_a_probes() {
        let dns = |upstream: &str| {
            params("dns-fault", serde_json::json!({"names": ["x.test"], "effect": "nxdomain", "upstream": upstream}))
        };
        let hold = Some(Duration::from_secs(5));
        let open = Policy::default();
        for metadata in ["169.254.169.254", "169.254.169.253:53", "[fd00:ec2::254]:53"] {
            let e = run(check_action(&open, "dns-fault", &dns(metadata), hold)).unwrap_err();
            assert_eq!(e.rule, "probes.blocked", "{metadata}");
            assert!(e.message.contains(&format!("dns-fault upstream `{metadata}`")), "{}", e.message);
        }
        assert!(run(check_action(&open, "dns-fault", &dns("127.0.0.53"), hold)).is_ok());
        let listed = parse_str("policy.yaml", "version: 1\nprobes:\n  destinations: [10.0.0.0/8]\n").unwrap();
        let e = run(check_action(&listed, "dns-fault", &dns("192.0.2.53"), hold)).unwrap_err();
        assert_eq!((e.rule, e.at.as_deref()), ("probes.destinations", Some("policy.yaml:3")));
        assert!(run(check_action(&listed, "dns-fault", &dns("10.1.2.3:5353"), hold)).is_ok());
        // No upstream: the host's own resolver, as the fault reads it.
        let none = params("dns-fault", serde_json::json!({"names": ["x.test"], "effect": "nxdomain"}));
        assert!(run(check_action(&listed, "dns-fault", &none, hold)).is_ok());
    }

    #[test]
    fn the_default_policy_refuses_metadata_addresses_and_unlisted_secrets() {
        let policy = Policy::default();
        for url in [
            "http://169.254.169.254/latest/meta-data",
            "http://2852039166/",
            "http://[::ffff:169.254.169.254]/",
            "http://[fd00:ec2::254]/",
        ] {
            let e = run(check_destination(&policy, url, None)).unwrap_err();
            assert_eq!(e.rule, "probes.blocked", "{url}");
        }
        assert!(run(check_destination(&policy, "http://127.0.0.1:9090/", None)).is_ok());
        let e = check_secret(&policy, "AWS_SECRET_ACCESS_KEY", "http://127.0.0.1:9/").unwrap_err();
        assert!(e.to_string().contains("default policy"), "{e}");
        let allowing =
            parse_str("p.yaml", "version: 1\nprobes:\n  secrets: [{env: PROM_TOKEN, url: 'http://127.0.0.1:9090/'}]\n")
                .unwrap();
        assert!(check_secret(&allowing, "PROM_TOKEN", "http://127.0.0.1:9090/api").is_ok());
        assert!(check_secret(&allowing, "PROM_TOKEN", "http://127.0.0.2:9090/api").is_err());
        assert!(check_secret(&allowing, "FAULTDRILL_TOKEN", "http://127.0.0.1:9090/").is_err());
    }

    #[test]
    fn a_tcp_source_follows_the_destination_rules() {
        let tcp = |address: &str| ProbeSource::Tcp { address: address.into(), timeout: Duration::from_secs(1) };
        let e = run(check_source(&Policy::default(), &tcp("169.254.169.254:80"))).unwrap_err();
        assert_eq!(e.rule, "probes.blocked");
        assert!(run(check_source(&Policy::default(), &tcp("127.0.0.1:5432"))).is_ok());
        let policy = parse_str("p.yaml", "version: 1\nprobes:\n  destinations: [127.0.0.0/8]\n").unwrap();
        assert!(run(check_source(&policy, &tcp("127.0.0.1:5432"))).is_ok());
        assert!(run(check_source(&policy, &tcp("[::1]:5432"))).is_err());
    }

    #[test]
    fn listed_destinations_are_the_only_ones() {
        let policy = parse_str("p.yaml", "version: 1\nprobes:\n  destinations: [127.0.0.0/8, localhost]\n").unwrap();
        assert!(run(check_destination(&policy, "http://127.0.0.9:80/", None)).is_ok());
        assert!(run(check_destination(&policy, "http://localhost:80/", None)).is_ok());
        let e = run(check_destination(&policy, "http://10.1.2.3/", None)).unwrap_err();
        assert_eq!((e.rule, e.at.as_deref()), ("probes.destinations", Some("p.yaml:3")));
    }

    #[test]
    fn exec_is_refused_unless_the_policy_lists_every_program() {
        let exec = |inject: &str, rollback: &str| {
            params("exec", serde_json::json!({"inject": [inject, "x"], "rollback": [rollback, "y"]}))
        };
        let e = check_exec(&Policy::default(), &exec("/usr/bin/touch", "/usr/bin/rm")).unwrap_err();
        assert_eq!(e.rule, "exec.commands");
        assert!(e.to_string().contains("exec is off on this daemon"), "{e}");
        let policy = parse_str(
            "p.yaml",
            "version: 1
exec:
  commands: [/usr/bin/touch, /usr/bin/rm]
",
        )
        .unwrap();
        assert!(check_exec(&policy, &exec("/usr/bin/touch", "/usr/bin/rm")).is_ok());
        let e = check_exec(&policy, &exec("/usr/bin/touch", "rm")).unwrap_err();
        assert_eq!((e.rule, e.at.as_deref()), ("exec.commands", Some("p.yaml:3")));
        assert!(e.message.contains("exec `rollback` would run `rm`"), "{e}");
        assert!(
            parse_str(
                "p.yaml",
                "version: 1
exec: {commands: [sh]}
"
            )
            .is_err(),
            "absolute paths only"
        );
    }

    #[test]
    fn http_call_follows_the_destination_and_secret_rules() {
        let call = |url: &str, env: Option<&str>| {
            let mut inject = serde_json::json!({"method": "POST", "url": url});
            if let Some(env) = env {
                inject["headers"] = serde_json::json!({"Authorization": {"env": env, "prefix": "Bearer "}});
            }
            params("http-call", serde_json::json!({"inject": inject, "irreversible": true}))
        };
        let policy = Policy::default();
        let e = run(check_http_call(&policy, &call("http://169.254.169.254/latest", None))).unwrap_err();
        assert_eq!(e.rule, "probes.blocked");
        assert!(run(check_http_call(&policy, &call("http://127.0.0.1:9/switch", None))).is_ok());
        let e = run(check_http_call(&policy, &call("http://127.0.0.1:9/switch", Some("AWS_SECRET_ACCESS_KEY"))))
            .unwrap_err();
        assert_eq!(e.rule, "probes.secrets");
        let allowing =
            parse_str("p.yaml", "version: 1\nprobes:\n  secrets: [{env: DB_TOKEN, url: 'http://127.0.0.1:9/'}]\n")
                .unwrap();
        assert!(run(check_http_call(&allowing, &call("http://127.0.0.1:9/switch", Some("DB_TOKEN")))).is_ok());
        assert!(run(check_http_call(&allowing, &call("http://127.0.0.2:9/switch", Some("DB_TOKEN")))).is_err());
    }

    #[test]
    fn processes_and_privileged_proxy_ports_follow_the_policy() {
        let policy = parse_str("p.yaml", "version: 1\nprocesses: [myapp]\n").unwrap();
        let kill = |name: &str| params("process-kill", serde_json::json!({"name": name}));
        assert!(check_process(&policy, "process-kill", &kill("myapp")).is_ok());
        assert_eq!(check_process(&policy, "process-kill", &kill("sshd")).unwrap_err().rule, "processes");
        let proxy = params(
            "tcp-proxy-latency",
            serde_json::json!({"listen": "0.0.0.0:81", "upstream": "127.0.0.1:22", "latency": "10ms"}),
        );
        let e = run(check_proxy(&Policy::default(), &proxy)).unwrap_err();
        assert_eq!(e.rule, "tcp_proxy.privileged_ports");
    }
}
