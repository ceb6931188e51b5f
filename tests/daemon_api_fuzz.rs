//! A bounded property test of every JSON body, id, name and query the v1 API
//! takes, against a real `faultdrill daemon`: random JSON values and random
//! mutations of valid bodies (wrong types, missing and extra fields, huge
//! numbers, deep nesting, unicode, absurd durations, mangled YAML). Whatever
//! is sent: an answer (never a dropped connection), never a 5xx, and every 4xx
//! a JSON error body with a message. Each endpoint gets at most `CASES` cases
//! and `BUDGET` of time. Injection bodies are forced to `dry_run: true`, and
//! submitted experiments hold a 1 % CPU burn for 100 ms on `local`, so nothing
//! harmful is ever injected.

#[path = "common/daemon.rs"]
mod harness;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use harness::{Daemon, DaemonSpec};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

/// Cases per endpoint, and the time each endpoint may take (the rest are skipped).
const CASES: u32 = 400;
const BUDGET: Duration = Duration::from_secs(6);
/// Fewer cases than this within the budget means the machine is too slow to say anything.
const AT_LEAST: u32 = 40;

/// One request.
#[derive(Clone, Debug)]
struct Call {
    method: &'static str,
    path: String,
    body: Body,
}

#[derive(Clone, Debug)]
enum Body {
    None,
    Json(Value),
    Raw(Vec<u8>),
}

impl Body {
    fn shown(&self) -> String {
        let text = match self {
            Body::None => "(no body)".to_string(),
            Body::Json(v) => v.to_string(),
            Body::Raw(b) => String::from_utf8_lossy(b).into_owned(),
        };
        match text.char_indices().nth(2000) {
            Some((cut, _)) => format!("{}… ({} bytes)", &text[..cut], text.len()),
            None => text,
        }
    }
}

/// A real daemon and a client for it.
struct Target {
    daemon: Daemon,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    /// How many answers of each status and error kind.
    seen: RefCell<BTreeMap<String, u32>>,
    /// The runs it accepted.
    accepted: RefCell<Vec<String>>,
}

impl Target {
    fn start() -> Target {
        faultdrill::client::install_crypto_provider();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(15)).build().unwrap();
        Target {
            daemon: Daemon::start(DaemonSpec::default()),
            rt,
            http,
            seen: RefCell::default(),
            accepted: RefCell::default(),
        }
    }

    fn token(&self) -> String {
        self.daemon.spec.token.clone().unwrap()
    }

    /// Sends `call`; the status and body text, or why there was no answer.
    fn send(&self, call: &Call) -> Result<(u16, String, String), String> {
        let url = format!("{}{}", self.daemon.url, call.path);
        let mut req = self.http.request(call.method.parse().unwrap(), url).bearer_auth(self.token());
        req = match &call.body {
            Body::None => req,
            Body::Json(v) => req.json(v),
            Body::Raw(b) => req.header("content-type", "application/json").body(b.clone()),
        };
        self.rt.block_on(async {
            let resp = req.send().await.map_err(|e| format!("{e:?}"))?;
            let status = resp.status().as_u16();
            let kind = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            let text = resp.text().await.map_err(|e| format!("reading the answer: {e:?}"))?;
            Ok((status, kind, text))
        })
    }

    /// The property: an answer, no 5xx, a JSON error body with a message for every 4xx.
    fn check(&self, call: &Call) -> Result<(), TestCaseError> {
        let what = format!("{} {} with body {}", call.method, call.path, call.body.shown());
        let (status, kind, text) = self
            .send(call)
            .map_err(|e| TestCaseError::fail(format!("{what}: no answer, the connection dropped or hung: {e}")))?;
        let body: Option<Value> = serde_json::from_str(&text).ok();
        let error_kind = body.as_ref().and_then(|b| b["kind"].as_str()).unwrap_or("");
        *self.seen.borrow_mut().entry(format!("{status} {error_kind}").trim().to_string()).or_default() += 1;
        // The one documented 5xx: a genuine rollback failure, which random input cannot cause.
        let rollback_failed = status == 500 && body.as_ref().is_some_and(|b| b["kind"] == "rollback_failed");
        if status >= 500 && !rollback_failed {
            return Err(TestCaseError::fail(format!("{what}: answered {status}: {text}")));
        }
        if (400..500).contains(&status) {
            let message = body.as_ref().and_then(|b| b["error"].as_str()).unwrap_or("");
            let has_kind = body.as_ref().is_some_and(|b| b["kind"].is_string());
            if message.trim().is_empty() || !has_kind || !kind.starts_with("application/json") {
                return Err(TestCaseError::fail(format!(
                    "{what}: answered {status} ({kind}) without a JSON error body: {text}"
                )));
            }
        }
        if let Some(run) = body.as_ref().and_then(|b| b["run_id"].as_str()).filter(|_| status == 201) {
            self.accepted.borrow_mut().push(run.to_string());
        }
        if (200..300).contains(&status) && body.is_none() {
            return Err(TestCaseError::fail(format!("{what}: answered {status} with a body that is not JSON: {text}")));
        }
        Ok(())
    }
}

/// Runs `strategy`'s calls against `target` within the case and time bounds.
fn fuzz(name: &str, target: &Target, strategy: impl Strategy<Value = Call>) {
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        max_shrink_iters: 200,
        max_shrink_time: 10_000,
        max_global_rejects: 10_000,
        ..Config::default()
    };
    let started = Instant::now();
    let ran = Cell::new(0u32);
    let result = TestRunner::new(config).run(&strategy, |call| {
        if started.elapsed() > BUDGET {
            return Ok(());
        }
        ran.set(ran.get() + 1);
        target.check(&call)
    });
    if let Err(e) = result {
        let stderr = target.daemon.stderr();
        let tail: Vec<&str> = stderr.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect();
        panic!("{name}: {e}\n--- the daemon's stderr, last lines:\n{}", tail.join("\n"));
    }
    assert!(ran.get() >= AT_LEAST, "{name}: only {} cases ran within {BUDGET:?}", ran.get());
    let health = Call { method: "GET", path: "/v1/health".into(), body: Body::None };
    assert_eq!(target.send(&health).map(|r| r.0), Ok(200), "{name}: the daemon is not healthy afterwards");
    eprintln!("{name}: {} cases in {:?}, answers: {:?}", ran.get(), started.elapsed(), target.seen.borrow());
}

// ---- values ----

const STRINGS: &[&str] = &[
    "",
    " ",
    "0",
    "-1",
    "1e400",
    "NaN",
    "null",
    "true",
    "1000years",
    "18446744073709551615ns",
    "1ns",
    "0s",
    "-5s",
    "5",
    "5 s",
    "5sec",
    "1h 1m",
    "∞",
    "\u{0}",
    "\u{202e}gnp.exe",
    "\u{feff}30s",
    "３０s",
    "😀😀😀",
    "e\u{301}\u{301}\u{301}",
    "../../../../etc/passwd",
    "/",
    "/proc/self/mem",
    "$(id)",
    "`id`",
    "; id",
    "${fill_to}",
    "%00",
    "\\",
    "'",
    "\"",
    "<script>",
    "all",
    "total",
    "cpu-burn",
    "disk-fill",
    "SIGKILL",
    "SIGSTOP",
    "9",
    "lo",
    "127.0.0.1:1",
    "0.0.0.0/0",
    "::/0",
    "1mbit",
    "1GiB",
    "99999999999999999999GiB",
    "(a+)+$",
    "i-",
    "r-",
    "firing",
];

const KEYS: &[&str] = &[
    "fault",
    "params",
    "duration",
    "lease",
    "run",
    "experiment",
    "origin",
    "sets",
    "alerts",
    "status",
    "labels",
    "percent",
    "cores",
    "mode",
    "size",
    "path",
    "name",
    "pattern",
    "pid",
    "count",
    "signal",
    "latency",
    "interface",
    "destinations",
    "ports",
    "listen",
    "upstream",
    "alertname",
    "faultdrill_guardrail",
    "faultdrill_run",
];

fn nasty_string() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        4 => select(STRINGS).prop_map(String::from),
        2 => "\\PC{0,24}",
        1 => ".{0,8}",
        1 => (1usize..6).prop_map(|n| format!("{}years", "9".repeat(n * 4))),
        1 => (1usize..4).prop_map(|n| "x".repeat(10usize.pow(n as u32 + 2))),
    ]
}

fn key() -> impl Strategy<Value = String> + Clone {
    prop_oneof![3 => select(KEYS).prop_map(String::from), 1 => nasty_string()]
}

/// Nested `depth` times in arrays or objects (serde_json's limit is 128).
fn deep(depth: usize, objects: bool) -> Value {
    (0..depth).fold(json!(1), |inner, _| if objects { json!({ "a": inner }) } else { json!([inner]) })
}

fn any_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        select(vec![json!(u64::MAX), json!(i64::MIN), json!(1e308), json!(-0.0), json!(0.5), json!(100.000001)]),
        nasty_string().prop_map(Value::String),
        (1usize..120, any::<bool>()).prop_map(|(d, o)| deep(d, o)),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
    .boxed()
}

// ---- mutations of valid bodies ----

#[derive(Clone, Debug)]
enum Mutation {
    Remove(Index),
    Replace(Index, Value),
    Insert(Index, String, Value),
    Wrap(Index, usize),
    /// Keeps the kind of what is there: a string becomes the string, a number the number,
    /// a boolean flips, an array gains the string, an object gains the key with the string.
    Tweak(Index, String, Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::Remove),
        (any::<Index>(), any_json()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        (any::<Index>(), key(), any_json()).prop_map(|(i, k, v)| Mutation::Insert(i, k, v)),
        (any::<Index>(), 1usize..100).prop_map(|(i, d)| Mutation::Wrap(i, d)),
    ]
}

/// Mutations that keep the body's shape, to reach past the shape checks into the faults' own.
fn tweak() -> impl Strategy<Value = Mutation> {
    let number = prop_oneof![
        select(vec![json!(0), json!(-1), json!(1), json!(99), json!(100), json!(101), json!(0.01), json!(1e308)]),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
    ];
    (any::<Index>(), nasty_string(), number).prop_map(|(i, s, n)| Mutation::Tweak(i, s, n))
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    At(usize),
}

/// Every place in `v` (the root too), as steps from the root.
fn places(v: &Value, here: Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(here.clone());
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let mut next = here.clone();
                next.push(Step::Key(k.clone()));
                places(child, next, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let mut next = here.clone();
                next.push(Step::At(i));
                places(child, next, out);
            }
        }
        _ => {}
    }
}

fn at_mut<'v>(v: &'v mut Value, steps: &[Step]) -> &'v mut Value {
    steps.iter().fold(v, |v, step| match step {
        Step::Key(k) => &mut v[k.as_str()],
        Step::At(i) => &mut v[*i],
    })
}

fn mutate(mut v: Value, mutations: &[Mutation]) -> Value {
    for m in mutations {
        let mut all = Vec::new();
        places(&v, Vec::new(), &mut all);
        let pick = |i: &Index| all[i.index(all.len())].clone();
        match m {
            Mutation::Remove(i) => {
                let steps = pick(i);
                match steps.split_last() {
                    None => v = Value::Null,
                    Some((last, parent)) => match (at_mut(&mut v, parent), last) {
                        (Value::Object(map), Step::Key(k)) => drop(map.remove(k)),
                        (Value::Array(items), Step::At(n)) => drop(items.remove(*n)),
                        _ => {}
                    },
                }
            }
            Mutation::Replace(i, new) => *at_mut(&mut v, &pick(i)) = new.clone(),
            Mutation::Insert(i, k, new) => match at_mut(&mut v, &pick(i)) {
                Value::Object(map) => drop(map.insert(k.clone(), new.clone())),
                Value::Array(items) => items.push(new.clone()),
                other => *other = new.clone(),
            },
            Mutation::Tweak(i, text, number) => {
                let steps = pick(i);
                let key = match steps.last() {
                    Some(Step::Key(k)) => k.clone(),
                    _ => "percent".to_string(),
                };
                match at_mut(&mut v, &steps) {
                    Value::String(s) => *s = text.clone(),
                    n @ Value::Number(_) => *n = number.clone(),
                    Value::Bool(b) => *b = !*b,
                    Value::Array(items) => items.push(Value::String(text.clone())),
                    Value::Object(map) => {
                        drop(map.insert(format!("{key}{}", map.len() % 2), Value::String(text.clone())))
                    }
                    Value::Null => {}
                }
            }
            Mutation::Wrap(i, depth) => {
                let place = at_mut(&mut v, &pick(i));
                *place = (0..*depth).fold(place.take(), |inner, _| json!([inner]));
            }
        }
    }
    v
}

/// A body: mostly a mutated valid one, else any JSON value, else bytes that are not JSON.
fn body_from(valid: Vec<Value>) -> impl Strategy<Value = Body> {
    let truncated = (select(valid.clone()), any::<Index>()).prop_map(|(v, i)| {
        let text = v.to_string().into_bytes();
        Body::Raw(text[..i.index(text.len())].to_vec())
    });
    let raw_numbers = select(valid.clone()).prop_map(|v| {
        let text = v.to_string().replace("100ms", "1").replacen(":1,", ":1e400,", 1).replacen(
            ":1}",
            ":123456789012345678901234567890}",
            1,
        );
        Body::Raw(text.into_bytes())
    });
    prop_oneof![
        1 => select(valid.clone()).prop_map(Body::Json),
        4 => (select(valid.clone()), prop::collection::vec(tweak(), 1..3)).prop_map(|(v, m)| Body::Json(mutate(v, &m))),
        4 => (select(valid), prop::collection::vec(mutation(), 1..4)).prop_map(|(v, m)| Body::Json(mutate(v, &m))),
        2 => any_json().prop_map(Body::Json),
        1 => truncated,
        1 => raw_numbers,
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Body::Raw),
    ]
}

// ---- the endpoints ----

fn injection_bodies() -> Vec<Value> {
    let base = |fault: &str, params: Value| json!({"fault": fault, "params": params, "duration": "100ms", "lease": "15s", "dry_run": true});
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

/// Whether an injection body's duration or lease overflows the daemon's clock
/// arithmetic: those make it panic today (see `huge_durations_get_an_answer`).
fn overflows_the_clock(body: &Body) -> bool {
    let Body::Json(v) = body else { return false };
    ["duration", "lease"].iter().any(|k| {
        let text = v.get(*k).and_then(Value::as_str).unwrap_or("");
        humantime::parse_duration(text.trim()).is_ok_and(|d| d.as_millis() >= (i64::MAX / 4) as u128)
    })
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
        .prop_filter("durations that overflow the clock panic today", |b| !overflows_the_clock(b))
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
        .prop_filter("durations that overflow the clock panic today", |b| !experiment_overflows_the_clock(b))
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

/// Whether a word of a run body's experiment is a duration that overflows the clock
/// (see `huge_durations_get_an_answer`).
fn experiment_overflows_the_clock(body: &Body) -> bool {
    let Body::Json(v) = body else { return false };
    let text = v.get("experiment").and_then(Value::as_str).unwrap_or("");
    text.split(|c: char| c.is_whitespace() || "{}[],:\"'".contains(c))
        .any(|word| humantime::parse_duration(word).is_ok_and(|d| d.as_millis() >= (i64::MAX / 4) as u128))
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

/// `text` as one path segment or query value, every byte but the unreserved ones escaped;
/// at most 4,000 characters of it (the client refuses URLs past 64 KiB).
fn escaped(text: &str) -> String {
    let cut = text.char_indices().nth(4000).map_or(text.len(), |(i, _)| i);
    text[..cut]
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn ids_names_and_queries_never_get_a_5xx_or_a_dropped_connection() {
    let target = Target::start();
    // One real injection (a 4 KiB file in a directory of this test) for the ids to hit too.
    let dir = tempfile::tempdir().unwrap();
    let real = json!({"fault": "disk-fill", "params": {"path": dir.path(), "size": "4KiB"}, "duration": "60s", "lease": "60s"});
    let made = Call { method: "POST", path: "/v1/injections".into(), body: Body::Json(real) };
    let (status, _, text) = target.send(&made).unwrap();
    assert_eq!(status, 201, "{text}");
    let real_id = serde_json::from_str::<Value>(&text).unwrap()["id"].as_str().unwrap().to_string();
    let id =
        prop_oneof![2 => Just(real_id), 1 => Just("i-none".to_string()), 4 => nasty_string()].prop_map(|s| escaped(&s));
    let no_body = || prop_oneof![3 => Just(Body::None), 1 => any_json().prop_map(Body::Json)];
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

/// Found by this test: a duration past what the clock can add (292 million years
/// and up) makes the injection handler panic, so the client sees a dropped
/// connection instead of a 422; in a submitted experiment (which `validate`
/// accepts) it panics the run's task in preflight, and the run stays
/// `preflight` for ever (stop answers "already finished").
#[test]
#[ignore = "the daemon panics on `now + duration` overflow (engine/local_host.rs); reported to the lead"]
fn huge_durations_get_an_answer() {
    let target = Target::start();
    for duration in ["500000000000years", "584542046090years", "18446744073709551615s"] {
        let body =
            json!({"fault": "cpu-burn", "params": {"percent": 1, "cores": "1"}, "duration": duration, "dry_run": true});
        let call = Call { method: "POST", path: "/v1/injections".into(), body: Body::Json(body) };
        target.check(&call).unwrap();
    }
    let experiment = EXPERIMENT.replace("100ms", "500000000000years");
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
#[ignore = "axum's Path and Query rejections are text/plain, not ErrorBody (routes/injections.rs, routes/runs.rs); reported to the lead"]
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
