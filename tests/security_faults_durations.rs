//! Audit finding 11 (issue 10): `duration: 500000000000years` panicked with
//! "overflow when adding duration to instant". Every duration a user writes is
//! capped at 24h: validate (file:line:col) and inject exit 64 with a message,
//! and the daemon's API answers 422 instead of resetting the connection.

mod faults_util;
#[path = "common/daemon.rs"]
mod harness;

use faultdrill::client::wire::ErrorBody;
use faults_util::{Drill, stderr, stdout};
use harness::{Daemon, DaemonSpec};
use serde_json::json;

/// Huge, but in a documented form (`h`): the 24h bound refuses it, not the parser.
const HUGE: &str = "5000000000000h";
/// The audit's own input: not a documented form (issue 12), refused before any arithmetic.
const YEARS: &str = "500000000000years";

#[test]
fn validate_refuses_huge_durations_at_each_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("forever.yaml");
    std::fs::write(
        &file,
        format!(
            "version: 1\nname: forever\ntargets:\n  here: {{hosts: [local]}}\naction_groups:\n  - name: hold\n    target: here\n    actions:\n      - fault: cpu-burn\n        params: {{percent: 10}}\n        duration: {HUGE}\n        wait_after: 25h\n      - fault: tcp-proxy-latency\n        params: {{listen: 127.0.0.1:0, upstream: 127.0.0.1:1, latency: {HUGE}}}\n        duration: 24h\n"
        ),
    )
    .unwrap();
    let out = Drill::new().run(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    let err = stderr(&out);
    let f = file.display();
    for (at, what) in [
        (format!("{f}:11:19"), format!("duration `{HUGE}`: it is longer than 24h")),
        (format!("{f}:12:21"), "duration `25h`: 1day 1h is longer than 24h".to_string()),
        (format!("{f}:14:71"), format!("duration `{HUGE}`: it is longer than 24h")),
    ] {
        assert!(err.contains(&at), "names {at}: {err}");
        assert!(err.contains(&what), "says {what}: {err}");
    }
    assert!(err.contains("3 problems"), "24h itself is allowed: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn inject_refuses_huge_durations_with_exit_64() {
    let drill = Drill::new();
    let latency = format!("latency={HUGE}");
    let cases: [&[&str]; 3] = [
        &["inject", "cpu-burn", "-p", "percent=10", "--duration", HUGE],
        &["inject", "cpu-burn", "-p", "percent=10", "--duration", "25h", "--dry-run"],
        &[
            "inject",
            "tcp-proxy-latency",
            "-p",
            "listen=127.0.0.1:0",
            "-p",
            "upstream=127.0.0.1:1",
            "-p",
            &latency,
            "--duration",
            "1s",
        ],
    ];
    for args in cases {
        let out = drill.run(args);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{args:?}: nothing injected");
        assert!(stderr(&out).contains("is longer than 24h"), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
    let out = drill.run(&["inject", "cpu-burn", "-p", "percent=10", "--duration", YEARS]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(stderr(&out).contains("expected a duration such as `30s`"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[tokio::test]
async fn the_daemon_answers_422_to_a_huge_duration_and_keeps_serving() {
    let d = Daemon::start(DaemonSpec::default());
    faultdrill::client::install_crypto_provider();
    let http = reqwest::Client::new();
    for body in [
        json!({"fault": "cpu-burn", "params": {"percent": 10}, "duration": HUGE}),
        json!({"fault": "cpu-burn", "params": {"percent": 10}, "duration": "25h", "dry_run": true}),
        json!({"fault": "tcp-proxy-latency", "params": {"listen": "127.0.0.1:0", "upstream": "127.0.0.1:1", "latency": HUGE}, "duration": "1s"}),
    ] {
        let resp = http
            .post(format!("{}/v1/injections", d.url))
            .bearer_auth(d.spec.token.clone().unwrap())
            .json(&body)
            .send()
            .await
            .expect("an answer, not a reset connection");
        assert_eq!(resp.status().as_u16(), 422, "{body}");
        let err: ErrorBody = resp.json().await.unwrap();
        assert!(err.error.contains("is longer than 24h"), "{body}: {}", err.error);
    }
    assert!(d.client().health().await.is_ok(), "the daemon still serves");
    assert!(d.journal().live().unwrap().is_empty(), "nothing was journaled");
}
