//! http-call when its run dies: SIGTERM of the run rolls back before it exits (130), and
//! `kill -9` then `faultdrill recover --all` sends the rollback request as the journal holds
//! it, once, with the secret header read from recover's own environment. Also `kill -9` at
//! every crash point of `src/failpoint.rs`: whatever the moment, recover leaves the API as
//! before and never sends a rollback request other than the journaled one.
//!
//! The API is a real HTTP server on loopback (Python's `http.server`) that records every
//! request it gets (method, path, headers, body) and keeps one piece of state, like a
//! database's switchover endpoint.

mod run_common;
mod scripted_api;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use faultdrill::failpoint::{ENV, POINTS};
use faultdrill::fault::{HeaderValue, RollbackRequest, Undo};
use faultdrill::journal::{InjectionState, Journal};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use run_common::{Owned, experiment, faultdrill, log, spawn_logged, wait_exit, wait_until};
use scripted_api::ScriptedApi;

const SECRET: &str = "s3cret-crash-token-42";

/// Records each request as one JSON line in `requests.jsonl`; POST /switch (with the
/// token) makes the state `replica`, PUT /restore makes it `primary`; GET /state/WANT
/// answers 200 when the state is WANT, else 409.
const SERVER: &str = r#"
import http.server, json, os, sys, threading
log_path = os.path.join(sys.argv[2], "requests.jsonl")
lock = threading.Lock()
state = {"now": "primary"}
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def answer(self, code, text):
        body = text.encode()
        self.send_response(code); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else None
        headers = {k.lower(): v for k, v in self.headers.items()}
        with lock:
            with open(log_path, "a") as f:
                f.write(json.dumps({"method": self.command, "path": self.path, "headers": headers, "body": body}) + "\n")
            if self.command == "GET" and self.path.startswith("/state/"):
                want = self.path.rsplit("/", 1)[-1]
                return self.answer(200 if state["now"] == want else 409, state["now"])
            if headers.get("authorization") != "Bearer " + os.environ["TOKEN"]:
                return self.answer(401, "bad token")
            if self.command == "POST" and self.path == "/switch":
                state["now"] = "replica"
                return self.answer(200, "switched")
            if self.command == "PUT" and self.path.startswith("/restore"):
                state["now"] = "primary"
                return self.answer(200, "restored")
            self.answer(404, "no such path")
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"#;

/// One request as the server recorded it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
struct Recorded {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: Option<String>,
}

impl Recorded {
    fn is_probe(&self) -> bool {
        self.method == "GET"
    }
}

/// The recording API server, stopped on drop.
struct Api {
    server: ScriptedApi,
}

impl Api {
    fn start() -> Api {
        let api = Api { server: ScriptedApi::spawn(SERVER, SECRET) };
        assert!(wait_until(Duration::from_secs(10), || api.state().is_some()), "the API answers");
        api.forget_requests();
        api
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port)
    }

    /// The state, asked with a raw HTTP/1.0 GET (not recorded as a fault's request: the
    /// test forgets its own with [`Api::forget_requests`] or filters GETs out).
    fn state(&self) -> Option<String> {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.server.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        stream.write_all(b"GET /state/primary HTTP/1.0\r\nHost: api\r\n\r\n").ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).ok()?;
        text.split("\r\n\r\n").nth(1).map(str::to_string).filter(|s| !s.is_empty())
    }

    /// Every request recorded so far, in order.
    fn requests(&self) -> Vec<Recorded> {
        let text = std::fs::read_to_string(self.server.dir.path().join("requests.jsonl")).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).expect("a recorded request")).collect()
    }

    /// The requests that change something (every method but GET).
    fn changes(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| !r.is_probe()).collect()
    }

    fn forget_requests(&self) {
        let _ = std::fs::remove_file(self.server.dir.path().join("requests.jsonl"));
    }

    /// The experiment: switch, hold, switch back (a PUT with a query, a plain header, a
    /// secret header from `$DB_TOKEN` and a body), each checked.
    fn experiment(&self, dir: &Path, hold: &str) -> PathBuf {
        let url = self.url();
        let auth = r#"Authorization: {env: DB_TOKEN, prefix: "Bearer "}"#;
        experiment(
            dir,
            "switch.yaml",
            &format!(
                r#"version: 1
name: api-switch-crash
action_groups:
  - name: db
    target: local
    actions:
      - fault: http-call
        params:
          inject: {{method: POST, url: "{url}/switch", headers: {{{auth}}}, body: '{{"to": "replica"}}', status: 200}}
          rollback: {{method: PUT, url: "{url}/restore?reason=drill", headers: {{{auth}, X-Drill: rollback}}, body: '{{"to": "primary"}}', status: 200}}
          verify_injected: {{url: "{url}/state/replica", status: 200}}
          verify_rolled_back: {{url: "{url}/state/primary", status: 200}}
          rollback_retries: 1
          retry_backoff: 50ms
        duration: {hold}
"#
            ),
        )
    }

    /// Starts `faultdrill run` of the experiment with the token in its environment.
    fn spawn_run(&self, state: &Path, work: &Path, hold: &str, failpoint: Option<&str>) -> Owned {
        let mut cmd = faultdrill(state);
        cmd.arg("run").arg(self.experiment(work, hold)).env("DB_TOKEN", SECRET).env_remove(ENV);
        if let Some(point) = failpoint {
            cmd.env(ENV, format!("{point}=kill"));
        }
        spawn_logged(cmd, work)
    }
}

/// The rollback request the journal holds for the run's one injection.
fn journaled_rollback(state: &Path) -> RollbackRequest {
    let journal = Journal::open(state).unwrap();
    let records = journal.recent(10).unwrap();
    assert_eq!(records.len(), 1, "one injection: {records:?}");
    assert!(!records[0].undo.to_string().contains(SECRET), "the secret was journaled: {}", records[0].undo);
    match serde_json::from_value(records[0].undo.clone()).unwrap() {
        Undo::HttpRequest(request) => request,
        other => panic!("http-call journals its rollback request, found {other:?}"),
    }
}

/// Asserts `sent` is the journaled rollback request, sent as written: method, URL (path
/// and query), every header (an `{env}` one with the value of that variable here), body.
fn assert_sent_as_journaled(sent: &Recorded, journaled: &RollbackRequest, api: &Api) {
    let step = &journaled.rollback;
    assert_eq!(sent.method, step.method);
    assert_eq!(format!("{}{}", api.url(), sent.path), step.url);
    assert_eq!(sent.body, step.body);
    for (name, value) in &step.headers {
        let want = match value {
            HeaderValue::Text(text) => text.clone(),
            HeaderValue::Env { env, prefix } => {
                assert_eq!(env, "DB_TOKEN");
                format!("{prefix}{SECRET}")
            }
        };
        assert_eq!(sent.headers.get(&name.to_lowercase()), Some(&want), "header {name} of {sent:?}");
    }
}

fn is_switch(r: &Recorded) -> bool {
    r.method == "POST" && r.path == "/switch"
}

#[test]
fn sigterm_of_the_run_sends_the_journaled_rollback_request_once_then_exits_130() {
    let api = Api::start();
    let (state, work) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut run = api.spawn_run(state.path(), work.path(), "120s", None);
    let switched = wait_until(Duration::from_secs(15), || api.state().as_deref() == Some("replica"));
    assert!(switched, "switched during the hold; {}", log(work.path(), "stderr.log"));
    kill(Pid::from_raw(run.pid() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(wait_exit(&mut run, Duration::from_secs(30)), Some(130), "{}", log(work.path(), "stderr.log"));

    assert_eq!(api.state().as_deref(), Some("primary"), "switched back before exiting");
    let changes = api.changes();
    assert_eq!(changes.len(), 2, "the inject, then one rollback: {changes:#?}");
    assert!(is_switch(&changes[0]), "{changes:#?}");
    assert_sent_as_journaled(&changes[1], &journaled_rollback(state.path()), &api);
    let recover = faultdrill(state.path()).args(["recover", "--all"]).env("DB_TOKEN", SECRET).output().unwrap();
    assert!(String::from_utf8_lossy(&recover.stderr).contains("Nothing to recover"), "{recover:?}");
    assert_eq!(api.changes().len(), 2, "nothing sent again");
}

#[test]
fn kill_9_of_the_run_then_recover_all_sends_the_journaled_rollback_request_once() {
    let api = Api::start();
    let (state, work) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut run = api.spawn_run(state.path(), work.path(), "120s", None);
    let switched = wait_until(Duration::from_secs(15), || api.state().as_deref() == Some("replica"));
    assert!(switched, "switched during the hold; {}", log(work.path(), "stderr.log"));
    kill(Pid::from_raw(run.pid() as i32), Signal::SIGKILL).unwrap();
    assert_eq!(wait_exit(&mut run, Duration::from_secs(10)), None, "killed by SIGKILL");
    assert_eq!(api.state().as_deref(), Some("replica"), "the change outlived its run");
    assert_eq!(api.changes().len(), 1, "no rollback from a killed run");
    let journaled = journaled_rollback(state.path());

    // Without the secret in recover's environment: nothing is sent, and the record stays.
    let bare = faultdrill(state.path()).args(["recover", "--all"]).env_remove("DB_TOKEN").output().unwrap();
    assert_ne!(bare.status.code(), Some(0), "{bare:?}");
    assert_eq!(api.changes().len(), 1, "no request without its header");

    let recover = faultdrill(state.path()).args(["recover", "--all"]).env("DB_TOKEN", SECRET).output().unwrap();
    let said = String::from_utf8_lossy(&recover.stdout);
    assert_eq!(recover.status.code(), Some(0), "{said}{}", String::from_utf8_lossy(&recover.stderr));
    assert!(said.contains("http-call: rolled back, verified"), "{said}");
    assert_eq!(api.state().as_deref(), Some("primary"), "recover switched back");
    let changes = api.changes();
    assert_eq!(changes.len(), 2, "the inject, then one rollback: {changes:#?}");
    assert_sent_as_journaled(&changes[1], &journaled, &api);

    let again = faultdrill(state.path()).args(["recover", "--all"]).env("DB_TOKEN", SECRET).output().unwrap();
    assert!(String::from_utf8_lossy(&again.stderr).contains("Nothing to recover"), "{again:?}");
    assert_eq!(api.changes().len(), 2, "nothing sent again");
}

#[test]
fn kill_9_at_every_crash_point_then_recover_all_leaves_the_api_as_before() {
    assert!(faultdrill::failpoint::is_supported(), "crash points need a debug build (cargo nextest run builds one)");
    let api = Api::start();
    let mut rows = Vec::new();
    for point in POINTS {
        api.forget_requests();
        assert_eq!(api.state().as_deref(), Some("primary"), "{point}: starts as before");
        let (state, work) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        // A crash before the rollback meets a long hold; the rollback points need a short one.
        let hold =
            if point.starts_with("rollback.") || point.starts_with("journal.rolled_back") { "300ms" } else { "60s" };
        let mut run = api.spawn_run(state.path(), work.path(), hold, Some(point));
        let status = end_of(&mut run, state.path());
        let stderr = log(work.path(), "stderr.log");
        let killed = stderr.contains(&format!("failpoint {point}: kill -9"));
        assert!(killed || matches!(status, Some(0 | 130)), "{point}: the run ended {status:?}: {stderr}");
        let recover = faultdrill(state.path()).args(["recover", "--all"]).env("DB_TOKEN", SECRET).output().unwrap();
        let said = format!("{}{}", String::from_utf8_lossy(&recover.stdout), String::from_utf8_lossy(&recover.stderr));
        assert_eq!(recover.status.code(), Some(0), "{point}: {said}");
        assert_eq!(api.state().as_deref(), Some("primary"), "{point}: the API is as before; {said}");
        let changes = api.changes();
        let (switches, rollbacks): (Vec<_>, Vec<_>) = changes.iter().partition(|r| is_switch(r));
        assert!(switches.len() <= 1, "{point}: {changes:#?}");
        // A rollback goes out exactly when a switch did (verify_rolled_back says when there is none to undo).
        assert_eq!(rollbacks.len(), switches.len(), "{point}: {changes:#?}");
        if let Some(sent) = rollbacks.first() {
            assert_sent_as_journaled(sent, &journaled_rollback(state.path()), &api);
        }
        let cell = match (killed, switches.len()) {
            (false, _) => "n/r",
            (true, 0) => "clean",
            (true, _) => "undone",
        };
        rows.push(format!("{point:28} {cell}"));
    }
    println!("http-call crash points (undone: switched, then switched back by recover or the run):");
    println!("{}", rows.join("\n"));
}

/// Waits for a run armed to die at a crash point to end. A point its fault never reaches
/// (the run holds on, its injection active for a second) is not waited for: the run is
/// stopped with SIGTERM, which rolls back. Its exit code (`None`: killed by a signal).
fn end_of(run: &mut Owned, state: &Path) -> Option<i32> {
    let give_up = Instant::now() + Duration::from_secs(30);
    let mut active_since = None;
    while Instant::now() < give_up {
        if let Some(status) = run.0.try_wait().unwrap() {
            return status.code();
        }
        let active = Journal::open(state)
            .ok()
            .and_then(|j| j.recent(1).ok())
            .is_some_and(|r| r.first().is_some_and(|r| r.state == InjectionState::Active));
        match (active, active_since) {
            (true, None) => active_since = Some(Instant::now()),
            (true, Some(since)) if since.elapsed() > Duration::from_secs(1) => {
                kill(Pid::from_raw(run.pid() as i32), Signal::SIGTERM).unwrap();
                return wait_exit(run, Duration::from_secs(30));
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the run neither ended nor held its injection within 30s");
}
