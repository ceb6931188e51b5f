//! What the `exec` fault adds around the operator's own commands (run by `bench/exec.sh`).
//!
//! Interleaved, in one run, N times each:
//! - direct: spawn `/bin/true` and wait, twice (the inject and the rollback commands alone);
//! - exec: `LocalHost::inject` of an exec action whose inject and rollback are `/bin/true`,
//!   then `LocalHost::rollback` of it: parameter check, prepare, the journal writes (the
//!   undo committed before the inject, SQLite `synchronous=FULL`, in a temp dir), both
//!   commands with their FAULTDRILL_* environment, and the state changes.
//!
//! Prints the medians, the overhead (exec − direct) and the ratio. Target: overhead ≤ 5 ms.
//!
//!   cargo bench --bench exec -- [N]

use std::sync::Arc;
use std::time::{Duration, Instant};

use faultdrill::engine::{InjectRequest, LocalHost};
use faultdrill::experiment::{Params, RawParams};
use faultdrill::journal::Journal;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let n: usize = std::env::args().skip(1).find(|a| !a.starts_with('-')).and_then(|a| a.parse().ok()).unwrap_or(200);
    let state = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::open(state.path()).unwrap());
    let host = LocalHost::new(journal);
    let raw: RawParams = serde_json::from_value(serde_json::json!({
        "inject": ["/bin/true"],
        "rollback": ["/bin/true"],
    }))
    .unwrap();
    let exec = faultdrill::fault::find_fault("exec").unwrap();
    let params = Params::check(exec.info().params, &raw).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();

    let direct = || {
        let started = Instant::now();
        for _ in 0..2 {
            assert!(std::process::Command::new("/bin/true").status().unwrap().success());
        }
        started.elapsed()
    };
    let through_exec = || {
        runtime.block_on(async {
            let started = Instant::now();
            let req = InjectRequest {
                fault: "exec".into(),
                params: params.clone(),
                duration: Duration::from_secs(60),
                lease: None,
                run: None,
                dry_run: false,
            };
            let view = host.inject(req).await.expect("inject");
            let result = host.rollback(&view.id, "bench").await;
            assert!(result.outcome.is_ok(), "{:?}", result.outcome);
            started.elapsed()
        })
    };
    // Warm up both paths (page cache, SQLite schema, the runtime's blocking pool).
    for _ in 0..10 {
        direct();
        through_exec();
    }
    let (mut a, mut b) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        a.push(direct());
        b.push(through_exec());
    }
    let (a, b) = (median(a), median(b));
    let build = if cfg!(debug_assertions) { "debug build" } else { "release build" };
    println!("exec fault: inject + rollback of `/bin/true`, {n} interleaved rounds ({build})");
    println!("load average: {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim());
    println!("direct (2 x spawn+wait /bin/true): median {:.3} ms", ms(a));
    println!("exec   (LocalHost inject + rollback): median {:.3} ms", ms(b));
    println!(
        "overhead {:.3} ms (target <= 5 ms), ratio {:.2}x",
        ms(b.saturating_sub(a)),
        b.as_secs_f64() / a.as_secs_f64()
    );
}
