//! Fan-out benchmark (run by `bench/fanout.sh`): inject one disk-fill on every
//! daemon of an inventory concurrently, then roll all of them back
//! concurrently, through the same client the engine uses. Prints each round
//! and the medians.
//!
//!   cargo bench --bench fanout -- INVENTORY FILL_DIR [ROUNDS]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use faultdrill::client::wire::InjectionRequest;
use faultdrill::client::{DaemonClient, Inventory};
use faultdrill::fault::UndoOutcome;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let (Some(inventory), Some(dir)) = (args.first(), args.get(1)) else {
        eprintln!("usage: fanout INVENTORY FILL_DIR [ROUNDS]");
        std::process::exit(64);
    };
    let rounds: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(7);
    let inventory = Inventory::load(&PathBuf::from(inventory)).unwrap_or_else(|e| panic!("{e}"));
    let clients: Vec<DaemonClient> = inventory.hosts.iter().map(|h| h.connect().unwrap()).collect();
    let request = InjectionRequest {
        fault: "disk-fill".into(),
        params: [("path".to_string(), serde_json::json!(dir)), ("size".to_string(), serde_json::json!("64KiB"))].into(),
        duration: "30s".into(),
        lease: Some("15s".into()),
        run: None,
        dry_run: false,
    };
    let (mut totals, mut injects, mut rollbacks) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..=rounds {
        let start = Instant::now();
        let injected = futures_join(clients.iter().map(|c| {
            let request = &request;
            async move { c.inject(request).await }
        }))
        .await;
        let inject_time = start.elapsed();
        let ids: Vec<_> = injected.into_iter().map(|r| r.unwrap_or_else(|e| panic!("{e}")).id).collect();
        let mid = Instant::now();
        let results = futures_join(clients.iter().zip(&ids).map(|(c, id)| c.rollback(id, "bench round over"))).await;
        let rollback_time = mid.elapsed();
        let total = start.elapsed();
        for r in results {
            assert_eq!(r.unwrap_or_else(|e| panic!("{e}")).outcome, Some(UndoOutcome::Undone));
        }
        if round == 0 {
            // Warm-up: connections, page cache.
            continue;
        }
        println!(
            "round {round}: {} hosts: inject {:.1} ms, roll back {:.1} ms, total {:.1} ms",
            clients.len(),
            ms(inject_time),
            ms(rollback_time),
            ms(total)
        );
        injects.push(inject_time);
        rollbacks.push(rollback_time);
        totals.push(total);
    }
    println!(
        "fan-out to {} daemons (client, {} rounds): median inject {:.1} ms, roll back {:.1} ms, total {:.1} ms",
        clients.len(),
        rounds,
        ms(median(injects)),
        ms(median(rollbacks)),
        ms(median(totals))
    );
    lease_expiry(&clients, &request).await;
}

/// Injects with a 1 s lease that nobody renews, and reads back how long after
/// each lease expired its daemon had rolled it back (the dead man's switch).
async fn lease_expiry(clients: &[DaemonClient], request: &InjectionRequest) {
    let request = InjectionRequest { lease: Some("1s".into()), ..request.clone() };
    let injected = futures_join(clients.iter().map(|c| c.inject(&request))).await;
    let ids: Vec<_> = injected.into_iter().map(|r| r.unwrap_or_else(|e| panic!("{e}")).id).collect();
    let mut lags = Vec::new();
    for (c, id) in clients.iter().zip(&ids) {
        let path = format!("/v1/injections/{id}");
        let give_up = Instant::now() + Duration::from_secs(15);
        loop {
            let i: faultdrill::client::wire::Injection =
                c.call(reqwest::Method::GET, &path, None::<&()>, "read the injection").await.unwrap();
            if !i.is_live() {
                lags.push(Duration::from_millis((i.updated_ms - i.lease_expires_ms.unwrap()).max(0) as u64));
                break;
            }
            assert!(Instant::now() < give_up, "{id} on {} is still live 15 s after its lease", c.name());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let max = *lags.iter().max().unwrap();
    println!(
        "lease expiry to rolled back on {} daemons: median {:.1} ms, max {:.1} ms",
        clients.len(),
        ms(median(lags)),
        ms(max)
    );
}

/// Runs every future concurrently on this task and collects the results in order.
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.into_iter().map(|o| o.expect("every future finished")).collect()
}
