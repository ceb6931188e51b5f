//! The `http-call` fault against a real HTTP server on loopback (a small Python
//! `http.server` standing in for a database's management API): a switch request and a
//! switch-back request, both needing a bearer token the run reads from an environment
//! variable. The token reaches the server, never the journal or the report. A refused
//! switch-back gives exit 4 naming the action, the request and the server's answer.

mod run_common;
mod scripted_api;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use faultdrill::journal::Journal;
use run_common::{experiment, faultdrill, log, spawn_logged, wait_exit, wait_until};
use scripted_api::ScriptedApi;

const SECRET: &str = "s3cret-token-0123456789";

const SERVER: &str = r#"
import http.server, os, sys
state_dir = sys.argv[2]
def state():
    try: return open(os.path.join(state_dir, "state")).read()
    except FileNotFoundError: return "primary"
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def answer(self, code, text):
        body = text.encode()
        self.send_response(code); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        want = self.path.rsplit("/", 1)[-1]
        self.answer(200 if state() == want else 409, state())
    def do_POST(self):
        if self.headers.get("Authorization") != "Bearer " + os.environ["TOKEN"]:
            return self.answer(401, "bad token")
        if self.path == "/switch":
            open(os.path.join(state_dir, "state"), "w").write("replica")
            return self.answer(200, "switched")
        if self.path == "/restore":
            if os.path.exists(os.path.join(state_dir, "refuse")):
                return self.answer(503, "switch back refused: replication lag 42s")
            open(os.path.join(state_dir, "state"), "w").write("primary")
            return self.answer(200, "restored")
        self.answer(404, "no such path")
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"#;

struct Api {
    server: ScriptedApi,
}

impl Api {
    fn start() -> Api {
        let api = Api { server: ScriptedApi::spawn(SERVER, SECRET) };
        assert!(wait_until(Duration::from_secs(10), || api.state().is_some()), "the API answers");
        api
    }

    fn state(&self) -> Option<String> {
        let out = Command::new("curl")
            .args(["-s", &format!("http://127.0.0.1:{}/state/x", self.server.port)])
            .output()
            .ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned()).filter(|s| !s.is_empty())
    }

    fn refuse_switch_back(&self, refuse: bool) {
        let path = self.server.dir.path().join("refuse");
        if refuse { std::fs::write(path, "").unwrap() } else { std::fs::remove_file(path).unwrap() }
    }

    fn experiment(&self, dir: &Path, hold: &str) -> PathBuf {
        let url = format!("http://127.0.0.1:{}", self.server.port);
        let auth = r#"headers: {Authorization: {env: DB_TOKEN, prefix: "Bearer "}}"#;
        experiment(
            dir,
            "switch.yaml",
            &format!(
                r#"version: 1
name: api-switch
action_groups:
  - name: db
    target: local
    actions:
      - fault: http-call
        params:
          inject: {{method: POST, url: "{url}/switch", {auth}, body: '{{"to": "replica"}}', status: 200}}
          rollback: {{method: POST, url: "{url}/restore", {auth}, status: 200}}
          verify_injected: {{url: "{url}/state/replica", status: 200}}
          verify_rolled_back: {{url: "{url}/state/primary", status: 200}}
          rollback_retries: 1
          retry_backoff: 50ms
        duration: {hold}
"#
            ),
        )
    }
}

#[test]
fn http_call_switches_holds_and_switches_back_and_never_journals_the_secret() {
    let api = Api::start();
    let (state, work) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    assert_eq!(api.state().as_deref(), Some("primary"));
    let mut cmd = faultdrill(state.path());
    cmd.arg("run").arg(api.experiment(work.path(), "2s")).arg("--json").env("DB_TOKEN", SECRET);
    let mut run = spawn_logged(cmd, work.path());
    assert!(
        wait_until(Duration::from_secs(15), || api.state().as_deref() == Some("replica")),
        "switched during the fault; {}",
        log(work.path(), "stderr.log")
    );
    assert_eq!(wait_exit(&mut run, Duration::from_secs(30)), Some(0), "{}", log(work.path(), "stderr.log"));
    assert_eq!(api.state().as_deref(), Some("primary"), "switched back");

    let journal = Journal::open(state.path()).unwrap();
    let record = journal.recent(1).unwrap().remove(0);
    let undo = record.undo.to_string();
    assert!(undo.contains(r#""env":"DB_TOKEN""#), "the journal names the variable: {undo}");
    let everything = format!("{undo}{}{}", record.params, log(work.path(), "stdout.log"));
    assert!(!everything.contains(SECRET), "the secret was written down");
}

#[test]
fn a_refused_switch_back_exits_4_naming_the_request_and_the_answer_and_recover_retries_it() {
    let api = Api::start();
    let (state, work) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    api.refuse_switch_back(true);
    let out = faultdrill(state.path())
        .arg("run")
        .arg(api.experiment(work.path(), "300ms"))
        .arg("--json")
        .env("DB_TOKEN", SECRET)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rb = &report["rollbacks"][0];
    assert_eq!(rb["action"], "db/http-call#1");
    let detail = rb["detail"].as_str().unwrap();
    let url = format!("http://127.0.0.1:{}/restore", api.server.port);
    assert_eq!(
        detail,
        format!(
            "rollback request failed (2 tries): POST {url} (expect 200) [Authorization from $DB_TOKEN]: answered 503; body: switch back refused: replication lag 42s"
        )
    );
    assert_eq!(api.state().as_deref(), Some("replica"), "still switched");

    // recover without the secret in its environment says what is missing, and keeps the record.
    let bare = faultdrill(state.path()).args(["recover", "--all"]).env_remove("DB_TOKEN").output().unwrap();
    assert_ne!(bare.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&bare.stdout).contains("`DB_TOKEN`")
            || String::from_utf8_lossy(&bare.stderr).contains("`DB_TOKEN`")
    );
    api.refuse_switch_back(false);
    let recover = faultdrill(state.path()).args(["recover", "--all"]).env("DB_TOKEN", SECRET).output().unwrap();
    assert_eq!(recover.status.code(), Some(0), "{}", String::from_utf8_lossy(&recover.stderr));
    assert_eq!(api.state().as_deref(), Some("primary"), "recover switched back");
}
