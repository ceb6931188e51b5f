//! Loader tests: good files into plans, bad files into positioned problems,
//! templates, and a property test that no input makes the loader panic.

use std::time::Duration;

use proptest::prelude::*;

use super::test_catalog::TestCatalog;
use super::*;

const GOOD: &str = r#"
version: 1
name: disk-guardrail-demo
description: Fill /data until the guardrail trips.
labels: {team: sre}
targets:
  data-hosts:
    hosts: [local]
    pick: {count: 1}
    max: 10
steady_state:
  interval: 2s
  check: [before, after]
  probes:
    - name: api-up
      http: {url: "http://127.0.0.1:8080/health", timeout: 1s}
      expect: {status: 200, latency: "< 300ms"}
    - name: procs
      metric: {host: process_count, name: sshd}
      expect: {value: "between 1 and 5"}
guardrails:
  interval: 500ms
  rules:
    - name: disk-90
      metric: {host: disk_used_percent, path: /data, target: data-hosts}
      breach: ">= 90"
      for: 2
action_groups:
  - name: fill
    target: data-hosts
    actions:
      - fault: disk-fill
        params: {path: /data, fill_to_percent: 95}
        duration: 60s
        wait_after: 5s
  - name: burn
    mode: parallel
    after: []
    actions:
      - fault: cpu-burn
        params: {percent: 50}
        duration: 10s
      - fault: process-kill
        params: {name: sleep}
rollback: always
lease: 20s
"#;

fn load(text: &str) -> Result<ExperimentPlan, Diagnostics> {
    load_str("t.yaml", text, &[], &TestCatalog)
}

fn load_set(text: &str, sets: &[(&str, &str)]) -> Result<ExperimentPlan, Diagnostics> {
    let sets: Vec<(String, String)> = sets.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    load_str("t.yaml", text, &sets, &TestCatalog)
}

#[test]
fn a_good_experiment_becomes_a_plan() {
    let plan = load(GOOD).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(plan.name, "disk-guardrail-demo");
    assert_eq!(plan.labels["team"], "sre");
    assert_eq!(plan.lease, Duration::from_secs(20));
    let target = &plan.targets[0];
    assert_eq!(target.pick, Pick::Count(1));
    assert_eq!(target.max, Some(10));
    assert!(plan.targets.iter().any(|t| t.name == "local"), "local is implicit");
    let ss = plan.steady_state.as_ref().unwrap();
    assert_eq!(ss.interval, Duration::from_secs(2));
    assert!(ss.check_before && !ss.check_during && ss.check_after);
    assert!(
        matches!(ss.probes[0].expect[..], [Expectation::LatencyMs(Comparison::Lt(v)), Expectation::Status(200)] if v == 300.0)
    );
    assert!(matches!(ss.probes[1].expect[..], [Expectation::Value(Comparison::Between(1.0, 5.0))]));
    let rule = &plan.guardrails.rules[0];
    assert_eq!((rule.breach, rule.for_samples, rule.action), (Comparison::Ge(90.0), 2, GuardrailAction::Rollback));
    assert_eq!(plan.guardrails.interval, Duration::from_millis(500));
    let [fill, burn] = &plan.groups[..] else { panic!("two groups") };
    assert_eq!((fill.after.clone(), burn.after.clone()), (vec![], vec![]));
    assert_eq!(burn.mode, GroupMode::Parallel);
    assert_eq!(burn.target, "local");
    assert_eq!(fill.actions[0].label, "fill/disk-fill#1");
    assert_eq!(fill.actions[0].duration, Some(Duration::from_secs(60)));
    assert_eq!(fill.actions[0].wait_after, Duration::from_secs(5));
    assert_eq!(fill.actions[0].params.number("fill_to_percent"), Some(95.0));
    assert_eq!(burn.actions[1].label, "burn/process-kill#2");
    assert_eq!(burn.actions[1].duration, None, "process-kill is instantaneous");
    assert_eq!(burn.actions[0].params.integer("cores"), Some(1), "defaults applied");
}

#[test]
fn groups_run_after_the_previous_one_by_default() {
    let text = "version: 1\nname: x\naction_groups:\n  - name: a\n    actions: [{fault: process-kill, params: {pid: 5}}]\n  - name: b\n    actions: [{fault: process-kill, params: {pid: 6}}]\n";
    let plan = load(text).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(plan.groups[1].after, vec![0]);
    assert!(plan.groups[0].after.is_empty());
}

/// One broken line replacing `BROKEN` in a minimal experiment, and what must be said where.
const PROBLEMS: &[(&str, &str, &str)] = &[
    ("      duraton: 5s", "unknown key `duraton` in action; did you mean `duration`?", "7:7"),
    ("      params: {percent: 150}", "parameter `percent`: 150 is out of range", "7:25"),
    ("      params: {percnt: 50}", "unknown parameter `percnt`", "7:16"),
    ("      duration: 0s", "must be greater than zero", "7:17"),
    ("      duration: -1s", "is negative", "7:17"),
    ("      duration: 5", "add a unit, as in `5s`", "7:17"),
    ("      wait_before: [1]", "expected a string for `wait_before`, found a list", "7:20"),
];

fn minimal(broken: &str) -> String {
    format!("version: 1\nname: x\naction_groups:\n  - name: g\n    actions:\n    - fault: cpu-burn\n{broken}\n")
}

#[test]
fn each_problem_is_reported_where_it_is() {
    for (broken, message, at) in PROBLEMS {
        let mut text = minimal(broken);
        if !broken.contains("duration") {
            text.push_str("      duration: 5s\n");
        }
        let err = load(&text).expect_err(broken).to_string();
        assert!(err.contains(message), "{broken:?}: {err}");
        assert!(err.contains(&format!("t.yaml:{at}\n")), "{broken:?} at {at}: {err}");
    }
}

#[test]
fn every_problem_is_reported_in_one_pass() {
    let text = "version: 2\nname: ''\nbogus: 1\naction_groups:\n  - name: g\n    target: nowhere\n    after: [zz]\n    actions:\n      - fault: cpu-brun\n";
    let err = load(text).unwrap_err();
    let messages: Vec<&str> = err.items.iter().map(|d| d.message.as_str()).collect();
    let expected = [
        "unsupported format version 2",
        "`name` must not be empty",
        "unknown key `bogus`",
        "undefined target `nowhere`",
        "undefined group `zz`",
        "unknown fault `cpu-brun`; did you mean `cpu-burn`?",
    ];
    assert_eq!(messages.len(), expected.len(), "{err}");
    for (m, e) in messages.iter().zip(expected) {
        assert!(m.starts_with(e), "{m} / {e}");
    }
}

#[test]
fn yaml_syntax_errors_are_positioned() {
    let err = load("version: 1\nname: [x\n").unwrap_err();
    assert_eq!(err.len(), 1);
    assert!(err.items[0].message.starts_with("invalid YAML"), "{err}");
    assert_eq!(err.items[0].line, 3);
}

#[test]
fn non_mapping_documents_are_reported() {
    for text in ["", "- a\n", "just text\n", "~\n"] {
        let err = load(text).unwrap_err();
        assert!(err.items[0].message.contains("expected a mapping for experiment"), "{text:?}: {err}");
    }
}

#[test]
fn cross_parameter_checks_point_at_params() {
    let text = "version: 1\nname: x\naction_groups:\n  - name: g\n    actions:\n      - fault: disk-fill\n        params: {path: /d}\n        duration: 1s\n";
    let err = load(text).unwrap_err();
    assert_eq!(err.items[0].message, "fault `disk-fill`: give exactly one of: size, fill_to_percent");
    assert_eq!((err.items[0].line, err.items[0].col), (7, 9), "at the `params` key");
}

const TEMPLATE: &str = "version: 1
name: t
parameters:
  percent: {type: percent, default: 50}
  duration: {type: duration, required: true}
  who: {type: enum, values: [sleep, yes], default: sleep}
action_groups:
  - name: g
    actions:
      - fault: cpu-burn
        params: {percent: \"${percent}\"}
        duration: ${duration}
      - fault: process-kill
        params: {name: \"${who}\"}
";

#[test]
fn template_parameters_substitute_typed_values() {
    let plan = load_set(TEMPLATE, &[("duration", "3s"), ("percent", "75")]).unwrap_or_else(|d| panic!("{d}"));
    let actions = &plan.groups[0].actions;
    assert_eq!(actions[0].params.number("percent"), Some(75.0));
    assert_eq!(actions[0].duration, Some(Duration::from_secs(3)));
    assert_eq!(actions[1].params.text("name"), Some("sleep"));
}

#[test]
fn template_parameter_problems_name_the_parameter() {
    type Case = (&'static [(&'static str, &'static str)], &'static str, (usize, usize));
    let table: &[Case] = &[
        (&[], "parameter `duration` is required but has no value; pass --set duration=VALUE", (5, 3)),
        (
            &[("duration", "3s"), ("percent", "lots")],
            "--set percent=lots: parameter `percent` expects a percent",
            (4, 3),
        ),
        (&[("duration", "3s"), ("who", "cat")], "--set who=cat: parameter `who` expects one of sleep, yes", (6, 3)),
        (&[("duration", "3s"), ("nope", "1")], "--set nope=1: no parameter `nope` is declared", (3, 1)),
    ];
    for (sets, message, (line, col)) in table {
        let err = load_set(TEMPLATE, sets).unwrap_err();
        let item =
            err.items.iter().find(|d| d.message.starts_with(message)).unwrap_or_else(|| panic!("{message}: {err}"));
        assert_eq!((item.line, item.col), (*line, *col), "{message}");
    }
}

#[test]
fn undeclared_and_unused_parameters_are_reported() {
    let text = TEMPLATE.replace("\"${who}\"", "\"${whom}\"");
    let err = load_set(&text, &[("duration", "1s")]).unwrap_err();
    let messages: Vec<String> = err.items.iter().map(|d| format!("{}:{} {}", d.line, d.col, d.message)).collect();
    assert_eq!(
        messages,
        vec![
            "6:3 parameter `who` is declared but never used; use it as `${who}` or remove it".to_string(),
            "14:25 undeclared parameter `whom` in `${whom}`; did you mean `who`?".to_string(),
        ]
    );
}

#[test]
fn rendering_drops_parameters_and_substitutes() {
    let sets = [("duration".to_string(), "3s".to_string())];
    let text = render_str("t.yaml", TEMPLATE, &sets, &TestCatalog).unwrap_or_else(|d| panic!("{d}"));
    assert!(!text.contains("parameters"), "{text}");
    assert!(text.contains("params: {percent: 50}"), "{text}");
    assert!(text.contains("duration: \"3s\""), "{text}");
    let again = load(&text).unwrap_or_else(|d| panic!("{d}\n{text}"));
    assert_eq!(again.groups[0].actions[0].params.number("percent"), Some(50.0));
}

#[test]
fn builtin_templates_render_with_defaults_and_load() {
    // Test values for the required parameters (the same as tests/templates.rs).
    let required: &[(&str, &[(&str, &str)])] = &[
        (
            "cross-az-dr",
            &[
                ("surviving_cidrs", "10.0.2.0/24"),
                ("service_pattern", "^/usr/bin/my-service"),
                ("front_url", "http://10.0.2.10:8080/health"),
                ("failed_zone_url", "http://{address}:8080/health"),
            ],
        ),
        ("disk-full-guardrail", &[("path", "/mnt/faultdrill-demo")]),
        (
            "db-primary-switch",
            &[
                ("switch_command", "failover,promote,db-2"),
                ("switch_back_command", "failover,promote,db-1"),
                ("check_switched", "failover,is-primary,db-2"),
                ("check_restored", "failover,is-primary,db-1"),
                ("client_command", "db-smoke"),
            ],
        ),
        (
            "instance-stop",
            &[
                ("stop_command", "cloud,stop,i-1"),
                ("start_command", "cloud,start,i-1"),
                ("check_stopped", "cloud,is-stopped,i-1"),
                ("check_running", "cloud,is-running,i-1"),
                ("service_check", "curl,-sf,http://127.0.0.1:8080/"),
            ],
        ),
        ("network-fault", &[("dependency", "10.0.5.0/24")]),
        ("process-crash-recovery", &[("process", "my-service")]),
    ];
    for t in templates() {
        let sets: Vec<(String, String)> = required
            .iter()
            .filter(|(name, _)| *name == t.name)
            .flat_map(|(_, kvs)| kvs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .collect();
        let text = render_str(&t.origin(), t.source, &sets, &TestCatalog).unwrap_or_else(|d| panic!("{d}"));
        load(&text).unwrap_or_else(|d| panic!("{}: {d}\n{text}", t.name));
    }
}

fn mutate(text: &str, at: usize, insert: &str, cut: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = at % (chars.len() + 1);
    let end = (at + cut).min(chars.len());
    chars[..at].iter().collect::<String>() + insert + &chars[end..].iter().collect::<String>()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2000),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        let _ = load(&text);
    }

    #[test]
    fn yamlish_text_never_panics(text in "([a-z_]{1,8}|[-:{}\\[\\],&*!|>'\"#%@` \n]|\\$\\{[a-z]{0,3}\\}?|[0-9]{1,3}){0,60}") {
        let _ = load(&text);
        let _ = load_set(&text, &[("a", "1")]);
    }

    #[test]
    fn mutated_experiments_never_panic(
        at in 0usize..2000,
        insert in "([-:{}\\[\\],&*!|>'\"# \n\t]|\\$\\{|[a-z]{1,5}|[0-9]{1,3}){0,4}",
        cut in 0usize..20,
    ) {
        let _ = load(&mutate(GOOD, at, &insert, cut));
        let _ = load_set(&mutate(TEMPLATE, at, &insert, cut), &[("duration", "1s")]);
        let _ = render_str("t", &mutate(TEMPLATE, at, &insert, cut), &[("duration".into(), "1s".into())], &TestCatalog);
    }
}

#[test]
fn list_bool_and_embedded_parameters_substitute() {
    let text = "version: 1
name: t
parameters:
  hosts: {type: list, default: [local]}
  port: {type: integer, default: 8080}
  strict: {type: bool, default: true}
targets:
  web: {hosts: \"${hosts}\"}
steady_state:
  probes:
    - name: up
      http: {url: \"http://127.0.0.1:${port}/health\"}
      expect: {jsonpath: {path: $.ok, equals: \"${strict}\"}}
action_groups:
  - name: g
    target: web
    actions: [{fault: process-kill, params: {name: x}}]
";
    let plan = load_set(text, &[("hosts", "local, other")]).unwrap_or_else(|d| panic!("{d}"));
    let web = plan.targets.iter().find(|t| t.name == "web").unwrap();
    assert!(matches!(&web.selector, TargetSelector::Hosts(h) if h == &["local", "other"]), "{:?}", web.selector);
    let probe = &plan.steady_state.as_ref().unwrap().probes[0];
    assert!(matches!(&probe.source, ProbeSource::Http { url, .. } if url == "http://127.0.0.1:8080/health"));
    assert!(
        matches!(&probe.expect[..], [Expectation::JsonPath { equals: Some(serde_json::Value::Bool(true)), .. }]),
        "{:?}",
        probe.expect
    );
    let err = load_set(text, &[("strict", "yes")]).unwrap_err();
    assert_eq!(err.items[0].message, "--set strict=yes: parameter `strict` expects `true` or `false`, found `yes`");
    let err = load_set(&text.replace("url: \"http", "\"${port}\": \"http"), &[]).unwrap_err();
    assert!(err.to_string().contains("substitutes in values only, not in keys"), "{err}");
    let err = load_set(&text.replace("{hosts: \"${hosts}\"}", "{hosts: ${hosts}}"), &[]).unwrap_err();
    assert!(err.to_string().contains("help: inside `{…}` or `[…]`, quote it: \"${name}\""), "{err}");
}

const TCP: &str = r#"
version: 1
name: tcp
steady_state:
  probes:
    - name: db
      tcp: {address: "127.0.0.1:5432", timeout: 1s}
      expect: {latency: "< 100ms"}
guardrails:
  rules:
    - name: db-slow
      tcp: {address: "[::1]:5432"}
      breach: "> 250ms"
action_groups:
  - name: g
    actions: [{fault: process-kill, params: {name: x}}]
"#;

#[test]
fn a_tcp_source_is_a_connect_time() {
    let plan = load(TCP).unwrap_or_else(|d| panic!("{d}"));
    let probe = &plan.steady_state.as_ref().unwrap().probes[0];
    assert!(
        matches!(&probe.source, ProbeSource::Tcp { address, timeout }
            if address == "127.0.0.1:5432" && *timeout == Duration::from_secs(1)),
        "{:?}",
        probe.source
    );
    assert!(matches!(&probe.expect[..], [Expectation::LatencyMs(_)]), "{:?}", probe.expect);
    let rule = &plan.guardrails.rules[0];
    assert_eq!(rule.measure, Measure::LatencyMs);
    assert!(matches!(&rule.source, ProbeSource::Tcp { timeout, .. } if *timeout == Duration::from_secs(2)));
}

#[test]
fn a_tcp_address_without_a_port_is_pointed_at() {
    let text = TCP.replace("127.0.0.1:5432", "db.internal").replace("[::1]:5432", "::1:5432");
    let err = load(&text).unwrap_err();
    let messages: Vec<_> = err.items.iter().map(|d| (d.line, d.message.as_str())).collect();
    assert_eq!(
        messages,
        [
            (
                7,
                "`db.internal` is not a `host:port` address, such as `127.0.0.1:5432`, `[::1]:5432` or `db.internal:5432`"
            ),
            (
                12,
                "`::1:5432` is not a `host:port` address, such as `127.0.0.1:5432`, `[::1]:5432` or `db.internal:5432`"
            ),
        ]
    );
}

#[test]
fn a_tcp_probe_takes_no_status() {
    let err = load(&TCP.replace(r#"{latency: "< 100ms"}"#, "{status: 200}")).unwrap_err();
    assert_eq!(err.items[0].message, "`status` does not apply to a tcp probe (only to http)");
}

/// A field written wrongly (`Field::Invalid`) is reported once: not again as missing,
/// and a fault's parameters with a wrong value are not checked further.
#[test]
fn a_wrong_value_is_one_problem_not_also_a_missing_key() {
    let cases: &[(&str, &str)] = &[
        ("      duration: soon\n", "expected a duration"),
        ("      duraton: 5s\n", "unknown key `duraton`"),
        ("      duration: 5s\n      params: [percent]\n", "expected a mapping for `params`"),
    ];
    for (broken, message) in cases {
        let err = load(&minimal(broken)).expect_err(broken);
        assert_eq!(err.len(), 1, "{broken:?}: {err}");
        assert!(err.items[0].message.contains(message), "{broken:?}: {err}");
    }
    let probe = "version: 1\nname: x\nsteady_state:\n  probes:\n    - name: p\n      metric: {host: disk_used_percent, path: [a]}\n      expect: {value: '< 90'}\naction_groups:\n  - name: g\n    actions: [{fault: cpu-burn, duration: 1s}]\n";
    let err = load(probe).unwrap_err();
    assert_eq!(err.len(), 1, "{err}");
    assert!(!err.to_string().contains("needs a `path`"), "{err}");
}

#[test]
fn an_enum_test_enables_one_action_and_a_word_it_lacks_is_pointed_at() {
    let text = "version: 1
name: t
parameters:
  mode: {type: enum, values: [soft, hard], default: soft}
action_groups:
  - name: g
    actions:
      - {fault: process-kill, params: {name: a}, enabled: \"${mode == soft}\"}
      - {fault: process-kill, params: {name: b}, enabled: \"${mode != soft}\"}
";
    let names = |sets: &[(&str, &str)]| -> Vec<String> {
        let plan = load_set(text, sets).unwrap_or_else(|d| panic!("{d}"));
        plan.groups[0].actions.iter().map(|a| a.params.text("name").unwrap().to_string()).collect()
    };
    assert_eq!(names(&[]), ["a"]);
    assert_eq!(names(&[("mode", "hard")]), ["b"]);
    let err = load_set(&text.replace("mode != soft", "mode == sfot"), &[]).unwrap_err();
    let messages: Vec<String> = err.items.iter().map(|d| format!("{}:{} {}", d.line, d.col, d.message)).collect();
    assert_eq!(
        messages,
        ["9:60 `${mode == sfot}`: `sfot` is not a value of enum parameter `mode`; its values: soft, hard"]
    );
}

#[test]
fn a_recovery_check_names_an_existing_target_and_needs_a_time() {
    let text = "version: 1
name: t
targets:
  zone: {hosts: [local]}
recovery:
  target: zone
  within: 10s
  probes:
    - name: back
      http: {url: \"http://{address}:8000/\"}
      expect: {status: 200}
action_groups:
  - name: g
    actions: [{fault: process-kill, params: {name: x}}]
";
    let plan = load(text).unwrap_or_else(|d| panic!("{d}"));
    let recovery = plan.recovery.expect("a recovery plan");
    assert_eq!((recovery.target.as_str(), recovery.within), ("zone", Duration::from_secs(10)));
    assert_eq!(recovery.interval, Duration::from_millis(500));
    let err = load(&text.replace("target: zone\n  within: 10s\n", "target: zoen\n")).unwrap_err();
    let messages: Vec<String> = err.items.iter().map(|d| format!("{}:{} {}", d.line, d.col, d.message)).collect();
    assert_eq!(
        messages,
        ["6:3 missing key `within` in recovery", "6:11 undefined target `zoen`; defined targets: zone, local"]
    );
}

#[test]
fn a_step_that_is_off_leaves_its_values_unchecked_and_required_when_asks_for_them_when_on() {
    let text = "version: 1
name: t
parameters:
  instances: {type: enum, values: [keep, stop], default: keep}
  stop_command: {type: list, default: [], required_when: instances == stop}
action_groups:
  - name: g
    actions:
      - {fault: process-kill, params: {name: a}}
      - fault: exec
        enabled: ${instances == stop}
        params: {inject: \"${stop_command}\", irreversible: true}
        duration: 5s
";
    // Off: the empty command is not checked, and the step is left out.
    let plan = load_set(text, &[]).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(plan.groups[0].actions.len(), 1);
    // On and given: the step is in.
    let plan =
        load_set(text, &[("instances", "stop"), ("stop_command", "cloud,stop")]).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(plan.groups[0].actions[1].params.list("inject"), ["cloud", "stop"]);
    // On and not given: said once by the template, and once more by the fault where it is used.
    let err = load_set(text, &[("instances", "stop")]).unwrap_err();
    let messages: Vec<String> = err.items.iter().map(|d| format!("{}:{} {}", d.line, d.col, d.message)).collect();
    assert_eq!(
        messages,
        [
            "5:3 parameter `stop_command` is required when `instances` is `stop`: pass --set stop_command=…",
            "12:26 fault `exec`: parameter `inject`: expected a command, found an empty list",
        ]
    );
    // Off, a misspelled key is still an error: only the values wait for the step to be on.
    let err = load_set(&text.replace("irreversible:", "irreversibel:"), &[]).unwrap_err();
    assert_eq!(err.len(), 1, "{err}");
    assert!(err.items[0].message.contains("unknown parameter `irreversibel`; did you mean `irreversible`?"), "{err}");
}

#[test]
fn a_required_when_names_an_enum_parameter_and_one_of_its_words() {
    let text = "version: 1
name: t
parameters:
  instances: {type: enum, values: [keep, stop], default: keep}
  count: {type: integer, default: 1}
  stop_command: {type: list, default: [], required_when: CONDITION}
action_groups:
  - name: g
    actions:
      - {fault: process-kill, params: {name: \"${stop_command}\", count: \"${count}\"}, enabled: \"${instances == keep}\"}
";
    for (condition, message) in [
        ("instances", "`required_when`: expected `PARAMETER == WORD`"),
        ("instance == stop", "`required_when`: no parameter `instance` is declared"),
        ("instances == stpo", "`required_when`: `stpo` is not one of `instances`'s words: keep, stop"),
        ("count == 1", "`required_when`: parameter `count` is not an enum"),
    ] {
        let err = load_set(&text.replace("CONDITION", condition), &[]).unwrap_err();
        assert!(err.items.iter().any(|d| d.line == 6 && d.message.starts_with(message)), "{condition}: {err}");
    }
}
