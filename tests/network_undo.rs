//! Exact undo of network faults in a namespace: `tc qdisc show`, `tc filter
//! show` and `nft list ruleset` are byte-identical before and after rollback,
//! after a normal end and after a crash followed by recovery from the journal.
//! Different kinds coexist; the same kind twice is a clear error.

#[path = "common/netns.rs"]
mod netns;
#[path = "common/netns_host.rs"]
mod netns_host;

use faultdrill::engine::HostError;
use faultdrill::fault::UndoOutcome;
use netns::{CLIENT_DEV, Pair, TARGET};
use netns_host::Lab;
use serde_json::json;

fn loss(pair: &Pair) -> serde_json::Value {
    json!({"percent": 30, "destinations": [TARGET], "netns": pair.client.name})
}

fn bandwidth(pair: &Pair) -> serde_json::Value {
    json!({"rate": "2mbit", "ports": [80, 443], "interface": CLIENT_DEV, "netns": pair.client.name, "exclude": ["10.77.0.3"]})
}

fn partition(pair: &Pair) -> serde_json::Value {
    json!({"destinations": ["10.77.0.0/24", "fd77::/64"], "ports": [22], "netns": pair.client.name})
}

#[test]
fn kinds_coexist_and_each_rollback_restores_the_exact_state() {
    let pair = Pair::new("undo");
    let lab = Lab::new();
    let before = pair.client_state();
    let l = lab.inject("network-loss", loss(&pair));
    let after_loss = pair.client_state();
    let b = lab.inject("network-bandwidth", bandwidth(&pair));
    let p = lab.inject("network-partition", partition(&pair));
    let during = pair.client_state();
    assert_ne!(during, before);
    assert!(during.contains(&format!("table inet faultdrill_{}", l.id.as_str().replace('-', "_"))), "{during}");
    assert!(during.contains(&format!("table inet faultdrill_{}", p.id.as_str().replace('-', "_"))), "{during}");
    assert!(during.contains("qdisc htb fd"), "{during}");

    lab.rollback(&p.id);
    lab.rollback(&b.id);
    assert_eq!(pair.client_state(), after_loss, "rolling back two of three leaves exactly the third");
    lab.rollback(&l.id);
    assert_eq!(pair.client_state(), before, "byte-identical after the last rollback");
    // Idempotent: a second rollback finds nothing and succeeds.
    assert_eq!(lab.rollback(&l.id).outcome, Ok(UndoOutcome::AlreadyGone));
}

#[test]
fn the_same_kind_twice_is_refused_naming_the_active_injection() {
    let pair = Pair::new("twice");
    let lab = Lab::new();
    let first = lab.inject("network-loss", loss(&pair));
    let held = pair.client_state();
    let err = lab.try_inject("network-loss", loss(&pair), false).expect_err("a second loss must be refused");
    assert!(matches!(&err, HostError::Conflict { active, .. } if *active == first.id), "{err}");
    assert!(err.to_string().contains(first.id.as_str()), "{err}");
    assert_eq!(pair.client_state(), held, "the refusal changes nothing");
    lab.rollback(&first.id);
}

#[test]
fn a_crashed_holder_is_recovered_from_the_journal_alone() {
    let pair = Pair::new("crash");
    let lab = Lab::new();
    let before = pair.client_state();
    lab.inject("network-loss", loss(&pair));
    lab.inject("network-bandwidth", bandwidth(&pair));
    lab.inject("network-partition", partition(&pair));
    assert_ne!(pair.client_state(), before);
    // The holder vanishes without rolling back; a fresh host reads the journal.
    let fresh = lab.reopen();
    let results = lab.rt.block_on(fresh.recover_all("test: recover after crash")).expect("recover");
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(|r| r.outcome == Ok(UndoOutcome::Undone)), "{results:?}");
    assert_eq!(pair.client_state(), before, "byte-identical after recovery");
    assert!(fresh.journal().live().unwrap().is_empty());
    // Recovering again finds nothing left.
    assert!(lab.rt.block_on(fresh.recover_all("again")).unwrap().is_empty());
}

#[test]
fn undo_of_a_vanished_namespace_is_already_gone() {
    let lab = Lab::new();
    let view = {
        let pair = Pair::new("gone");
        let l = lab.inject("network-loss", loss(&pair));
        lab.inject("network-bandwidth", bandwidth(&pair));
        l
    };
    assert_eq!(lab.rollback(&view.id).outcome, Ok(UndoOutcome::AlreadyGone));
    let results = lab.rt.block_on(lab.host.recover_all("test")).unwrap();
    assert!(results.iter().all(|r| r.outcome == Ok(UndoOutcome::AlreadyGone)), "{results:?}");
}

#[test]
fn an_existing_table_is_an_error_never_overwritten() {
    let pair = Pair::new("exist");
    let create =
        serde_json::json!({"nftables": [{"create": {"table": {"family": "inet", "name": "faultdrill_probe_exists"}}}]});
    faultdrill::platform::linux::nft::apply_json(Some(&pair.client.name), &create).expect("first create");
    let held = pair.client_state();
    let err = faultdrill::platform::linux::nft::apply_json(Some(&pair.client.name), &create).unwrap_err();
    assert!(faultdrill::engine::error_chain(&err).contains("File exists"), "{err}");
    assert_eq!(pair.client_state(), held);
}
