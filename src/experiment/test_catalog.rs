//! A small fault catalog for unit tests, shaped like the real library's local faults.

use super::catalog::FaultCatalog;
use super::params::{ParamKind, ParamSpec, Params};

const PERCENT: ParamKind = ParamKind::Percent { min: 1.0, max: 100.0 };
const MODE: ParamKind = ParamKind::Choice(&["add", "total"]);

const fn p(name: &'static str, kind: ParamKind, default: Option<&'static str>) -> ParamSpec {
    ParamSpec { name, kind, default, required: false, doc: "test" }
}

const CPU_BURN: &[ParamSpec] = &[
    p("percent", PERCENT, Some("50")),
    p("cores", ParamKind::Integer { min: 1, max: 1024 }, Some("1")),
    p("mode", MODE, Some("add")),
];
const MEMORY_STRESS: &[ParamSpec] = &[
    p("size", ParamKind::Bytes, None),
    p("percent", PERCENT, None),
    p("mode", MODE, Some("add")),
    p("rate", ParamKind::ByteRate, None),
];
const DISK_FILL: &[ParamSpec] = &[
    ParamSpec { name: "path", kind: ParamKind::Text, default: None, required: true, doc: "directory to fill" },
    p("size", ParamKind::Bytes, None),
    p("fill_to_percent", PERCENT, None),
    p("rate", ParamKind::ByteRate, None),
    p("allow_memory_backed", ParamKind::Bool, Some("false")),
];
const PROCESS_KILL: &[ParamSpec] = &[
    p("name", ParamKind::Text, None),
    p("pattern", ParamKind::Text, None),
    p("pid", ParamKind::Integer { min: 1, max: 4_194_304 }, None),
    p("signal", ParamKind::Text, Some("SIGKILL")),
    p("count", ParamKind::Integer { min: 1, max: 1000 }, None),
    p("max_matches", ParamKind::Integer { min: 1, max: 100_000 }, Some("10")),
    p("await_restart", ParamKind::Duration, None),
];
const PROCESS_PAUSE: &[ParamSpec] = &[
    p("name", ParamKind::Text, None),
    p("pattern", ParamKind::Text, None),
    p("pid", ParamKind::Integer { min: 1, max: 4_194_304 }, None),
    p("count", ParamKind::Integer { min: 1, max: 1000 }, None),
    p("max_matches", ParamKind::Integer { min: 1, max: 100_000 }, Some("10")),
];

const DIRECTION: ParamKind = ParamKind::Choice(&["out", "in", "both"]);
const NETWORK_LOSS: &[ParamSpec] = &[
    p("percent", ParamKind::Percent { min: 0.01, max: 100.0 }, None),
    p("direction", DIRECTION, Some("out")),
    p("destinations", ParamKind::List, None),
    p("ports", ParamKind::List, None),
];
const NETWORK_PARTITION: &[ParamSpec] = &[
    p("destinations", ParamKind::List, None),
    p("ports", ParamKind::List, None),
    p("direction", DIRECTION, Some("both")),
];

const EXEC: &[ParamSpec] = &[
    ParamSpec { name: "inject", kind: ParamKind::Argv, default: None, required: true, doc: "test" },
    p("rollback", ParamKind::Argv, None),
    p("verify_injected", ParamKind::Argv, None),
    p("verify_rolled_back", ParamKind::Argv, None),
    p("irreversible", ParamKind::Bool, Some("false")),
    p("timeout", ParamKind::Duration, Some("30s")),
];

const FAULTS: &[(&str, &[ParamSpec], bool)] = &[
    ("network-loss", NETWORK_LOSS, true),
    ("network-partition", NETWORK_PARTITION, true),
    ("cpu-burn", CPU_BURN, true),
    ("memory-stress", MEMORY_STRESS, true),
    ("disk-fill", DISK_FILL, true),
    ("process-kill", PROCESS_KILL, false),
    ("process-pause", PROCESS_PAUSE, true),
    ("exec", EXEC, true),
];

/// The test catalog.
pub struct TestCatalog;

fn exactly_one(params: &Params, names: &[&str]) -> Result<(), String> {
    match names.iter().filter(|n| params.has(n)).count() {
        1 => Ok(()),
        _ => Err(format!("give exactly one of: {}", names.join(", "))),
    }
}

impl FaultCatalog for TestCatalog {
    fn params_of(&self, name: &str) -> Option<&'static [ParamSpec]> {
        FAULTS.iter().find(|f| f.0 == name).map(|f| f.1)
    }

    fn is_held(&self, name: &str) -> bool {
        FAULTS.iter().any(|f| f.0 == name && f.2)
    }

    fn check(&self, name: &str, params: &Params) -> Result<(), String> {
        match name {
            "memory-stress" => exactly_one(params, &["size", "percent"]),
            "disk-fill" => exactly_one(params, &["size", "fill_to_percent"]),
            "process-kill" | "process-pause" => exactly_one(params, &["name", "pattern", "pid"]),
            _ => Ok(()),
        }
    }

    fn names(&self) -> Vec<&'static str> {
        FAULTS.iter().map(|f| f.0).collect()
    }
}
