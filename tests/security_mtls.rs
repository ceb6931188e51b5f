//! Mutual TLS: daemons that require a client certificate from a private CA refuse a
//! client without one, serve one with it, and a fleet run works across them.

#[path = "common/daemon.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::process::Command;

use harness::{BIN, Daemon, DaemonSpec, list_dir};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair};

struct Pki {
    ca: PathBuf,
    server: (PathBuf, PathBuf),
    client: (PathBuf, PathBuf),
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, all as PEM files.
fn pki(dir: &Path) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose, stem: &str| {
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        let (c, k) = (dir.join(format!("{stem}.pem")), dir.join(format!("{stem}.key")));
        std::fs::write(&c, cert.pem()).unwrap();
        harness::write_private(&k, &key.serialize_pem());
        (c, k)
    };
    let server = leaf(vec!["127.0.0.1".into()], ExtendedKeyUsagePurpose::ServerAuth, "server");
    let client = leaf(vec!["controller".into()], ExtendedKeyUsagePurpose::ClientAuth, "client");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    Pki { ca: ca_file, server, client }
}

fn mtls_daemon(pki: &Pki, name: &str) -> Daemon {
    Daemon::start(DaemonSpec {
        name: name.into(),
        tls: Some(pki.server.clone()),
        client_ca: Some(pki.ca.clone()),
        ..DaemonSpec::default()
    })
}

/// `faultdrill ARGS` with the CA trusted and, if `with_cert`, the client certificate.
fn cli(pki: &Pki, with_cert: bool, token: &str, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env("FAULTDRILL_CA_CERT", &pki.ca).env("FAULTDRILL_TOKEN", token).env("NO_COLOR", "1");
    if with_cert {
        cmd.env("FAULTDRILL_CLIENT_CERT", &pki.client.0).env("FAULTDRILL_CLIENT_KEY", &pki.client.1);
    }
    cmd.output().unwrap()
}

#[test]
fn a_client_without_a_certificate_is_refused_and_one_with_it_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let d = mtls_daemon(&pki, "m1");
    let token = d.spec.token.clone().unwrap();
    let state = dir.path().join("state");
    let state = state.to_str().unwrap();
    let without = cli(&pki, false, &token, &["--state-dir", state, "runs", "--daemon", &d.url]);
    assert!(!without.status.success());
    let said = String::from_utf8_lossy(&without.stderr);
    assert!(said.contains("cannot reach"), "{said}");
    let with = cli(&pki, true, &token, &["--state-dir", state, "runs", "--daemon", &d.url]);
    assert!(with.status.success(), "{}", String::from_utf8_lossy(&with.stderr));
    assert!(String::from_utf8_lossy(&with.stdout).contains("no runs"));
}

#[test]
fn a_fleet_run_works_across_daemons_that_require_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let daemons = [mtls_daemon(&pki, "m1"), mtls_daemon(&pki, "m2")];
    let token = daemons[0].spec.token.clone().unwrap();
    let mut inventory = String::from("hosts:\n");
    for d in &daemons {
        inventory.push_str(&format!(
            "  - name: {}\n    url: {}\n    ca: {}\n    token: {{env: FAULTDRILL_TOKEN}}\n",
            d.spec.name,
            d.url,
            pki.ca.display()
        ));
    }
    let inventory_file = dir.path().join("inventory.yaml");
    std::fs::write(&inventory_file, inventory).unwrap();
    let fill = tempfile::tempdir().unwrap();
    let experiment = dir.path().join("fleet.yaml");
    std::fs::write(
        &experiment,
        format!(
            "version: 1\nname: fleet-over-mtls\ntargets:\n  all:\n    hosts: [m1, m2]\naction_groups:\n  - name: fill\n    target: all\n    actions:\n      - fault: disk-fill\n        params: {{path: {}, size: 1MiB}}\n        duration: 1s\n",
            fill.path().display()
        ),
    )
    .unwrap();
    let state = dir.path().join("controller");
    let out = cli(
        &pki,
        true,
        &token,
        &[
            "--state-dir",
            state.to_str().unwrap(),
            "run",
            experiment.to_str().unwrap(),
            "--inventory",
            inventory_file.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    for d in &daemons {
        let records = d.journal().recent(10).unwrap();
        assert_eq!(records.len(), 1, "one injection on {}", d.spec.name);
        assert_eq!(records[0].state, faultdrill::journal::InjectionState::RolledBack);
    }
    assert!(list_dir(fill.path()).is_empty(), "every fill rolled back");
    // Without the client certificate the same run cannot reach them, and injects nothing.
    let refused = cli(
        &pki,
        false,
        &token,
        &[
            "--state-dir",
            state.to_str().unwrap(),
            "run",
            experiment.to_str().unwrap(),
            "--inventory",
            inventory_file.to_str().unwrap(),
        ],
    );
    assert_ne!(refused.status.code(), Some(0));
    for d in &daemons {
        assert_eq!(d.journal().recent(10).unwrap().len(), 1, "nothing more on {}", d.spec.name);
    }
}
