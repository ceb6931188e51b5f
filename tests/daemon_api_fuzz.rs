//! A bounded property test of every JSON body, id, name and query the v1 API
//! takes, against a real `faultdrill daemon`: random JSON values and random
//! mutations of valid bodies (wrong types, missing and extra fields, huge
//! numbers, deep nesting, unicode, absurd durations, mangled YAML). Whatever
//! is sent: an answer (never a dropped connection), never a 5xx, and every 4xx
//! a JSON error body with a message. Each endpoint gets at most `CASES` cases
//! and `BUDGET` of time. Injection bodies are forced to `dry_run: true`, and
//! submitted experiments hold a 1 % CPU burn for 100 ms on `local`, so nothing
//! harmful is ever injected.

mod api_fuzz;
#[path = "common/daemon.rs"]
mod harness;

use std::time::{Duration, Instant};

use api_fuzz::{Body, Call, Target, any_json, body_from, escaped, fuzz, key, nasty_string, overflows_the_clock};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::{Value, json};

fn injection_bodies() -> Vec<Value> {
    let base = |fault: &str, params: Value| {
        let mut body = json!({"fault": fault, "duration": "100ms", "lease": "15s", "dry_run": true});
        body["params"] = params;
        body
    };
    vec![
        base("cpu-burn", json!({"percent": 1, "cores": "1"})),
        base("memory-stress", json!({"size": "1MiB"})),
        base("disk-fill", json!({"path": "/tmp", "size": "1MiB"})),
        base("process-kill", json!({"name": "no-such-process", "signal": "SIGTERM"})),
        base("process-pause", json!({"pattern": "no-such-process", "count": 1})),
        base("network-delay", json!({"interface": "lo", "latency": "10ms", "ports": [1]})),
        base("network-loss", json!({"percent": 1, "destinations": ["127.0.0.2/32"]})),
        base("network-partition", json!({"destinations": ["127.0.0.2/32"], "direction": "out"})),
        base("network-bandwidth", json!({"rate": "1mbit", "interface": "lo"})),
        base("tcp-proxy-latency", json!({"listen": "127.0.0.1:0", "upstream": "127.0.0.1:1", "latency": "1ms"})),
        json!({"fault": "cpu-burn", "duration": "100ms", "dry_run": true, "run": "r-none"}),
    ]
}

/// Whether an injection body's duration or lease puts its deadline past the year 9999.
fn injection_overflows_the_clock(body: &Body) -> bool {
    let Body::Json(v) = body else { return false };
    ["duration", "lease"].iter().any(|k| overflows_the_clock(v.get(*k).and_then(Value::as_str).unwrap_or("")))
}

/// Keeps every injection a dry run: where `dry_run` is absent or a boolean, it becomes true.
fn dry(body: Body) -> Body {
    match body {
        Body::Json(Value::Object(mut map)) => {
            if map.get("dry_run").is_none_or(Value::is_boolean) {
                map.insert("dry_run".into(), Value::Bool(true));
            }
            Body::Json(Value::Object(map))
        }
        other => other,
    }
}

#[test]
fn injection_bodies_never_get_a_5xx_or_a_dropped_connection() {
    let target = Target::start();
    let calls = body_from(injection_bodies())
        .prop_map(dry)
        .prop_filter("deadlines past the year 9999 panic today", |b| !injection_overflows_the_clock(b))
        .prop_map(|body| Call { method: "POST", path: "/v1/injections".into(), body });
    fuzz("POST /v1/injections", &target, calls);
    let live = target.daemon.journal().live().unwrap();
    assert!(live.is_empty(), "a dry run injected something: {live:?}");
}

const EXPERIMENT: &str = "version: 1
name: fuzz-base
labels: {team: sre}
targets:
  here: {hosts: [local]}
guardrails:
  interval: 100ms
  rules:
    - name: cpu-high
      metric: {host: cpu_percent, target: here}
      breach: \">= 101\"
action_groups:
  - name: burn
    target: here
    actions:
      - fault: cpu-burn
        params: {percent: 1, cores: 1}
        duration: 100ms
";

const TEMPLATE: &str = "version: 1
name: fuzz-template
parameters:
  pct: {type: percent, default: 1}
targets: {here: {hosts: [local]}}
action_groups:
  - name: burn
    target: here
    actions:
      - fault: cpu-burn
        params: {percent: \"${pct}\", cores: 1}
        duration: 100ms
";

/// YAML documents a loader must survive: aliases that expand, deep nesting, odd bytes.
fn nasty_yaml() -> Vec<String> {
    let mut laughs = String::from("version: 1\nname: laughs\nlabels:\n  a0: &a0 \"lol\"\n");
    for i in 1..8 {
        laughs.push_str(&format!("  a{i}: &a{i} [{}]\n", vec![format!("*a{}", i - 1); 10].join(",")));
    }
    vec![
        laughs,
        format!("version: 1\nname: deep\nlabels: {}{}\n", "[".repeat(3000), "]".repeat(3000)),
        format!("version: 1\nname: deep\nlabels: {}1\n", "- ".repeat(500)),
        "\u{feff}version: 1\n".into(),
        "---\n---\n---\n".into(),
        "version: !!binary aGVsbG8=\n".into(),
        "version: 1\nname: x\n<<: *nowhere\n".into(),
        "version: 99999999999999999999999999\n".into(),
        "version: 1\nname: x\nlabels: {a: 1, a: 2}\n".into(),
        "\tversion: 1\n".into(),
        EXPERIMENT.replace("100ms", "1000years"),
        EXPERIMENT.replace("100ms", "0s"),
        EXPERIMENT.replace("percent: 1", "percent: 1e400"),
        EXPERIMENT.replace("local", "no-such-host"),
        EXPERIMENT.repeat(3),
        String::new(),
    ]
}

fn experiment_text() -> impl Strategy<Value = String> {
    let spliced =
        (select(vec![EXPERIMENT, TEMPLATE]), any::<Index>(), nasty_string()).prop_map(|(base, at, insert)| {
            let cuts: Vec<usize> = base.char_indices().map(|(i, _)| i).collect();
            let cut = cuts[at.index(cuts.len())];
            format!("{}{insert}{}", &base[..cut], &base[cut..])
        });
    let replaced =
        (select(vec!["100ms", "percent: 1", "cores: 1", "fuzz-base", "local", "cpu-burn", "here"]), nasty_string())
            .prop_map(|(what, by)| EXPERIMENT.replace(what, &by));
    prop_oneof![
        2 => Just(EXPERIMENT.to_string()),
        3 => spliced,
        3 => replaced,
        2 => select(nasty_yaml()),
        1 => "\\PC{0,200}",
    ]
}

#[test]
fn run_bodies_never_get_a_5xx_or_a_dropped_connection() {
    let target = Target::start();
    let valid = vec![
        json!({"experiment": EXPERIMENT}),
        json!({"experiment": EXPERIMENT, "origin": "fuzz.yaml", "sets": {}}),
        json!({"experiment": TEMPLATE, "origin": "t.yaml", "sets": {"pct": "2"}}),
    ];
    let yaml_bodies =
        (experiment_text(), prop::option::of(nasty_string()), prop::collection::btree_map(key(), nasty_string(), 0..3))
            .prop_map(|(experiment, origin, sets)| {
                Body::Json(json!({"experiment": experiment, "origin": origin, "sets": sets}))
            });
    let calls = prop_oneof![body_from(valid), yaml_bodies]
        .prop_filter("deadlines past the year 9999 panic today", |b| !experiment_overflows_the_clock(b))
        .prop_map(|body| Call { method: "POST", path: "/v1/runs".into(), body });
    fuzz("POST /v1/runs", &target, calls);
    let runs = target.accepted.borrow().clone();
    assert!(!runs.is_empty(), "no submitted experiment was accepted: the fuzzing never got past the loader");
    all_runs_finish(&target, &runs);
}

/// Stops `runs`, then waits until each has finished: none is stuck half-way.
fn all_runs_finish(target: &Target, runs: &[String]) {
    for run in runs {
        let stop = Call { method: "POST", path: format!("/v1/runs/{run}/stop"), body: Body::None };
        target.check(&stop).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut unfinished = Vec::new();
        for run in runs {
            let show = Call { method: "GET", path: format!("/v1/runs/{run}"), body: Body::None };
            let (_, _, text) = target.send(&show).unwrap();
            let status: Value = serde_json::from_str(&text).unwrap();
            if status["state"] != "finished" {
                unfinished.push(format!("{run} ({})", status["state"]));
            }
        }
        if unfinished.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "runs still unfinished 30 s after being stopped: {unfinished:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether a word of a run body's experiment is a duration with a deadline past the year 9999
/// (see `huge_durations_get_an_answer`).
fn experiment_overflows_the_clock(body: &Body) -> bool {
    let Body::Json(v) = body else { return false };
    let text = v.get("experiment").and_then(Value::as_str).unwrap_or("");
    text.split(|c: char| c.is_whitespace() || "{}[],:\"'".contains(c)).any(overflows_the_clock)
}

#[test]
fn alertmanager_bodies_never_get_a_5xx_or_a_dropped_connection() {
    let target = Target::start();
    let firing = |labels: Value| json!({"status": "firing", "labels": labels});
    let valid = vec![
        json!({"alerts": []}),
        json!({"version": "4", "status": "firing", "receiver": "faultdrill", "groupLabels": {}, "alerts": [
            firing(json!({"alertname": "A", "faultdrill_guardrail": "g", "faultdrill_run": "r-none"}))]}),
        json!({"alerts": [{"status": "resolved", "labels": {}}, firing(json!({"faultdrill_guardrail": "g"})),
            firing(json!({"alertname": "no-label"}))]}),
    ];
    let calls = body_from(valid).prop_map(|body| Call { method: "POST", path: "/v1/alertmanager".into(), body });
    fuzz("POST /v1/alertmanager", &target, calls);
}

#[test]
fn ids_names_and_queries_never_get_a_5xx_or_a_dropped_connection() {
    let target = Target::start();
    // One real injection (a 4 KiB file in a directory of this test) for the ids to hit too.
    let dir = tempfile::tempdir().unwrap();
    let params = json!({"path": dir.path(), "size": "4KiB"});
    let real = json!({"fault": "disk-fill", "params": params, "duration": "60s", "lease": "60s"});
    let made = Call { method: "POST", path: "/v1/injections".into(), body: Body::Json(real) };
    let (status, _, text) = target.send(&made).unwrap();
    assert_eq!(status, 201, "{text}");
    let real_id = serde_json::from_str::<Value>(&text).unwrap()["id"].as_str().unwrap().to_string();
    let id =
        prop_oneof![2 => Just(real_id), 1 => Just("i-none".to_string()), 4 => nasty_string()].prop_map(|s| escaped(&s));
    // Routes that read no body get a small one at times (a large one may be cut off while it is
    // still being sent, the answer already given: see `a_body_on_a_bodyless_route_keeps_the_connection`).
    let small = |v: Value| if v.to_string().len() < 1000 { Body::Json(v) } else { Body::Json(json!({})) };
    let no_body = move || prop_oneof![3 => Just(Body::None), 1 => any_json().prop_map(small)];
    let query = prop::collection::vec((select(vec!["metric", "path", "process", "reason", "x"]), nasty_string()), 0..3)
        .prop_map(|kv| {
            // A key at most once: repeated keys are `duplicate_queries_get_json_errors`.
            let unique: std::collections::BTreeMap<_, _> = kv.into_iter().collect();
            unique.into_iter().map(|(k, v)| format!("{k}={}", escaped(&v))).collect::<Vec<_>>().join("&")
        });
    let call = |method: &'static str, path: String, body: Body| Call { method, path, body };
    let calls = prop_oneof![
        (id.clone(), no_body()).prop_map(move |(id, b)| call("POST", format!("/v1/injections/{id}/lease"), b)),
        (id.clone(), query.clone()).prop_map(move |(id, q)| call(
            "DELETE",
            format!("/v1/injections/{id}?{q}"),
            Body::None
        )),
        id.clone().prop_map(move |id| call("GET", format!("/v1/injections/{id}"), Body::None)),
        id.clone().prop_map(move |id| call("GET", format!("/v1/runs/{id}"), Body::None)),
        id.clone().prop_map(move |id| call("GET", format!("/v1/runs/{id}/events"), Body::None)),
        (id.clone(), no_body()).prop_map(move |(id, b)| call("POST", format!("/v1/runs/{id}/stop"), b)),
        (id.clone(), nasty_string(), no_body()).prop_map(move |(id, name, b)| {
            call("POST", format!("/v1/runs/{id}/guardrails/{}/trip", escaped(&name)), b)
        }),
        query.prop_map(move |q| call("GET", format!("/v1/host/metrics?{q}"), Body::None)),
    ];
    fuzz("ids, names and queries", &target, calls);
}

/// Found by this test: a duration whose deadline is past the year 9999 (`9999years`)
/// makes the injection handler panic (`fault::text::when`: humantime cannot write such a
/// date, and `to_string` panics on the error), and past 292 million years `now + duration`
/// overflows; the client sees a dropped connection instead of a 422. In a submitted
/// experiment (which `validate` accepts) it panics the run's task in preflight, and the
/// run stays `preflight` for ever (stop answers "already finished").
#[test]
fn huge_durations_get_an_answer() {
    let target = Target::start();
    for duration in ["9999years", "500000000000years", "18446744073709551615s"] {
        let body =
            json!({"fault": "cpu-burn", "params": {"percent": 1, "cores": "1"}, "duration": duration, "dry_run": true});
        let call = Call { method: "POST", path: "/v1/injections".into(), body: Body::Json(body) };
        target.check(&call).unwrap();
    }
    let experiment = EXPERIMENT.replace("100ms", "9999years");
    let call = Call { method: "POST", path: "/v1/runs".into(), body: Body::Json(json!({ "experiment": experiment })) };
    let (status, _, text) = target.send(&call).unwrap();
    if status == 201 {
        let run = serde_json::from_str::<Value>(&text).unwrap()["run_id"].as_str().unwrap().to_string();
        all_runs_finish(&target, &[run]);
    }
}

/// Found by this test: axum's own rejections answer 400 in text/plain, not an
/// `ErrorBody`: a path segment that is not UTF-8 once decoded, and a repeated
/// query key on `DELETE /v1/injections/{id}`.
#[test]
fn undecodable_path_segments_and_duplicate_queries_get_json_errors() {
    let target = Target::start();
    let calls = [
        ("GET", "/v1/injections/%ff"),
        ("POST", "/v1/injections/%c3%28/lease"),
        ("POST", "/v1/runs/%ff/stop"),
        ("POST", "/v1/runs/r-x/guardrails/%ff/trip"),
        ("DELETE", "/v1/injections/i-x?reason=a&reason=b"),
    ];
    for (method, path) in calls {
        target.check(&Call { method, path: path.into(), body: Body::None }).unwrap();
    }
}

/// Found by this test: after answering a request whose body it did not read (a lease
/// renewal, stop, trip, rollback or GET sent with `{}`), the daemon may close the
/// kept-alive connection without saying `Connection: close`; the client's next request
/// on it then fails (broken pipe, or closed before the answer). For a lease renewal from
/// a client that sends `{}`, that is an intermittently missed renewal.
#[test]
fn a_body_on_a_bodyless_route_keeps_the_connection() {
    use std::io::{Read, Write};
    let target = Target::start();
    let addr = target.daemon.url.trim_start_matches("http://").to_string();
    for round in 0..20 {
        let mut conn = std::net::TcpStream::connect(&addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let head = format!(
            "POST /v1/injections/i-none/lease HTTP/1.1\r\nHost: d\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 2\r\n\r\n",
            target.token()
        );
        // As many clients write it: the head, then the body.
        conn.write_all(head.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        conn.write_all(b"{}").unwrap();
        let first = read_answer(&mut conn);
        assert!(first.starts_with("HTTP/1.1 404"), "round {round}: {first}");
        let next = conn.write_all(b"GET /v1/health HTTP/1.1\r\nHost: d\r\n\r\n").map(|()| read_answer(&mut conn));
        assert!(
            next.as_deref().is_ok_and(|a| a.starts_with("HTTP/1.1 200")),
            "round {round}: the next request on the kept-alive connection got {next:?}"
        );
    }

    /// One answer (head and a Content-Length body), or what there was when the connection ended.
    fn read_answer(conn: &mut std::net::TcpStream) -> String {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&got).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length: ").map(|n| n.trim().to_string()))
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or(0);
                if body.len() >= len {
                    return text;
                }
            }
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => return format!("(connection ended) {text}"),
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    }
}
