//! The machinery of `daemon_api_fuzz`: a real daemon and the property every
//! answer must have, a bounded runner, random JSON values with the nasty ones
//! weighted up, and mutations of valid bodies.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

use super::harness::{Daemon, DaemonSpec};

#[path = "schema_check.rs"]
mod schema_check;

/// Cases per endpoint, and the time each endpoint may take (the rest are skipped).
const CASES: u32 = 400;
const BUDGET: Duration = Duration::from_secs(6);
/// Fewer cases than this within the budget means the machine is too slow to say anything.
const AT_LEAST: u32 = 40;

/// One request.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: &'static str,
    pub path: String,
    pub body: Body,
}

#[derive(Clone, Debug)]
pub enum Body {
    None,
    Json(Value),
    Raw(Vec<u8>),
}

impl Body {
    pub fn shown(&self) -> String {
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
pub struct Target {
    pub daemon: Daemon,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    /// How many answers of each status and error kind.
    seen: RefCell<BTreeMap<String, u32>>,
    /// The runs it accepted.
    pub accepted: RefCell<Vec<String>>,
    /// The OpenAPI document, and a pattern per path of it.
    doc: Value,
    routes: Vec<(regex::Regex, String)>,
}

impl Target {
    pub fn start() -> Target {
        faultdrill::client::install_crypto_provider();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        // A connection per request: the daemon may close a kept-alive connection after answering a
        // request whose body it did not read (see `a_body_on_a_bodyless_route_keeps_the_connection`).
        let http =
            reqwest::Client::builder().timeout(Duration::from_secs(15)).pool_max_idle_per_host(0).build().unwrap();
        let doc: Value = serde_json::from_str(faultdrill::daemon::openapi::json()).unwrap();
        let param = regex::Regex::new(r"\{[^/}]+\}").unwrap();
        let routes = doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .map(|path| (regex::Regex::new(&format!("^{}$", param.replace_all(path, "[^/]*"))).unwrap(), path.clone()))
            .collect();
        Target {
            daemon: Daemon::start(DaemonSpec::default()),
            rt,
            http,
            seen: RefCell::default(),
            accepted: RefCell::default(),
            doc,
            routes,
        }
    }

    pub fn token(&self) -> String {
        self.daemon.spec.token.clone().unwrap()
    }

    /// Sends `call`; the status and body text, or why there was no answer.
    pub fn send(&self, call: &Call) -> Result<(u16, String, String), String> {
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
    pub fn check(&self, call: &Call) -> Result<(), TestCaseError> {
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
        self.as_documented(call, status, body.as_ref()).map_err(|e| TestCaseError::fail(format!("{what}: {e}")))
    }

    /// The answer's status is one the OpenAPI document lists for the route, its body
    /// matches the schema given there; a body the daemon accepted matches the request schema.
    fn as_documented(&self, call: &Call, status: u16, answer: Option<&Value>) -> Result<(), String> {
        let path = call.path.split('?').next().unwrap_or_default();
        let Some((_, route)) = self.routes.iter().find(|(pattern, _)| pattern.is_match(path)) else {
            return Err(format!("{path} matches no path of the OpenAPI document"));
        };
        let method = call.method.to_lowercase();
        let operation = &self.doc["paths"][route][&method];
        let response = &operation["responses"][status.to_string()];
        if !response.is_object() {
            return Err(format!("answered {status}, which the OpenAPI document does not list for {method} {route}"));
        }
        let mut out = Vec::new();
        if let (Some(answer), Some(schema)) = (answer, response["content"]["application/json"].get("schema")) {
            schema_check::mismatches(&self.doc, schema, answer, "$", &mut out);
        }
        let request = operation["requestBody"]["content"]["application/json"].get("schema");
        if let (true, Body::Json(sent), Some(schema)) = ((200..300).contains(&status), &call.body, request) {
            let mut wrong = Vec::new();
            schema_check::mismatches(&self.doc, schema, sent, "$", &mut wrong);
            // serde reads a struct from an array of its fields too (`[[]]` is a webhook with no
            // alerts): a leniency of the parser, not a contract, so the document keeps objects.
            let wrong = wrong.into_iter().filter(|w| !w.ends_with(r#"a array, the document says ["object"]"#));
            out.extend(wrong.map(|w| format!("accepted a body the document rejects: {w}")));
        }
        match out.is_empty() {
            true => Ok(()),
            false => Err(format!("answered {status} unlike the OpenAPI document says:\n{}", out.join("\n"))),
        }
    }
}

/// Runs `strategy`'s calls against `target` within the case and time bounds.
pub fn fuzz(name: &str, target: &Target, strategy: impl Strategy<Value = Call>) {
    // A fixed seed keeps CI repeatable; FAULTDRILL_FUZZ_SEED=random (or a number) explores.
    let rng_seed = match std::env::var("FAULTDRILL_FUZZ_SEED").ok().as_deref() {
        Some("random") => proptest::test_runner::RngSeed::Random,
        Some(n) => {
            proptest::test_runner::RngSeed::Fixed(n.parse().expect("FAULTDRILL_FUZZ_SEED: a number or `random`"))
        }
        None => proptest::test_runner::RngSeed::Fixed(0x00fa_017d_2111),
    };
    eprintln!("{name}: fuzz seed {rng_seed:?} (FAULTDRILL_FUZZ_SEED=random explores others)");
    let config = Config {
        cases: CASES,
        rng_seed,
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

pub fn nasty_string() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        4 => select(STRINGS).prop_map(String::from),
        2 => "\\PC{0,24}",
        1 => ".{0,8}",
        1 => (1usize..6).prop_map(|n| format!("{}years", "9".repeat(n * 4))),
        1 => (1usize..4).prop_map(|n| "x".repeat(10usize.pow(n as u32 + 2))),
    ]
}

pub fn key() -> impl Strategy<Value = String> + Clone {
    prop_oneof![3 => select(KEYS).prop_map(String::from), 1 => nasty_string()]
}

/// Nested `depth` times in arrays or objects (serde_json's limit is 128).
pub fn deep(depth: usize, objects: bool) -> Value {
    (0..depth).fold(json!(1), |inner, _| if objects { json!({ "a": inner }) } else { json!([inner]) })
}

pub fn any_json() -> BoxedStrategy<Value> {
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
pub fn body_from(valid: Vec<Value>) -> impl Strategy<Value = Body> {
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

/// `text` as one path segment or query value, every byte but the unreserved ones escaped;
/// at most 4,000 characters of it (the client refuses URLs past 64 KiB).
pub fn escaped(text: &str) -> String {
    let cut = text.char_indices().nth(4000).map_or(text.len(), |(i, _)| i);
    text[..cut]
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whether `word` is a duration whose deadline the daemon cannot handle today: past
/// the year 9999 (see `huge_durations_get_an_answer`).
pub fn overflows_the_clock(word: &str) -> bool {
    /// 9999-12-31T23:59:59Z, the last second RFC 3339 can write.
    const LAST: u64 = 253_402_300_799;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    humantime::parse_duration(word.trim()).is_ok_and(|d| d.as_secs() >= LAST.saturating_sub(now + 86_400))
}
