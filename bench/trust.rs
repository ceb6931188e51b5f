//! What the trust boundary costs (run by `bench/trust.sh`, which builds the release binary).
//!
//! 1. Per call: sequential keep-alive requests to one daemon, medians of N, in one run:
//!    - `GET /v1/health`: no token, no policy, no audit (the baseline);
//!    - `POST /v1/injections` (a dry-run cpu-burn: nothing changes) with a policy that
//!      allows everything, and with a restrictive policy (faults, duration, paths,
//!      processes, destinations): token check + role + policy + audit record + handler;
//!    - the same POST with a wrong token: token check + audit record only.
//! 2. End to end: `faultdrill run --inventory` of one disk-fill held 10 ms on H daemons
//!    over plain HTTP, then over TLS with client certificates (mTLS), audit on in both.
//!
//!   cargo bench --bench trust -- BIN [CALLS] [HOSTS] [ROUNDS]

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair};

const TOKEN: &str = "bench-token-0123456789abcdef";

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// A daemon process, killed (SIGTERM, so it rolls back) on drop.
struct Daemon {
    child: Child,
    url: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn start(bin: &str, dir: &Path, name: &str, listen: &str, extra: &[String]) -> Daemon {
    let token = dir.join("token");
    if !token.exists() {
        write_private(&token, TOKEN);
    }
    let mut child = Command::new(bin)
        .arg("--state-dir")
        .arg(dir.join(name))
        .args(["daemon", "--listen", listen, "--name", name, "--token-file"])
        .arg(&token)
        .args(extra)
        .env_remove("FAULTDRILL_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("http"), "daemon {name} did not start: {line:?}");
    Daemon { child, url }
}

async fn time_calls(
    client: &reqwest::Client,
    calls: usize,
    make: impl Fn() -> reqwest::RequestBuilder,
    want: u16,
) -> Duration {
    let mut times = Vec::with_capacity(calls);
    for i in 0..calls + calls / 10 {
        let t = Instant::now();
        let resp = make().send().await.unwrap();
        let status = resp.status().as_u16();
        let _ = resp.bytes().await.unwrap();
        let took = t.elapsed();
        assert_eq!(status, want);
        if i >= calls / 10 {
            times.push(took); // the first tenth warms up
        }
    }
    let _ = client;
    median(times)
}

async fn per_call(bin: &str, dir: &Path, calls: usize) {
    let open = dir.join("open.yaml");
    std::fs::write(&open, "version: 1\n").unwrap();
    let strict = dir.join("strict.yaml");
    std::fs::write(
        &strict,
        "version: 1\nfaults: [cpu-burn, disk-fill, process-kill, network-partition]\nmax_duration: 30m\n\
         disk_fill: {paths: [/var/tmp/drills], max_percent: 90}\nprocesses: [myapp, {pattern: '^/usr/bin/myapp '}]\n\
         probes: {destinations: [127.0.0.0/8, 10.0.0.0/8]}\nlimits: {runs: 4, injections: 64}\n",
    )
    .unwrap();
    let allowing = start(bin, dir, "open", "127.0.0.1:0", &["--policy".into(), open.display().to_string()]);
    let confining = start(bin, dir, "strict", "127.0.0.1:0", &["--policy".into(), strict.display().to_string()]);
    faultdrill::client::install_crypto_provider();
    let client = reqwest::Client::new();
    let body = serde_json::json!({"fault": "cpu-burn", "params": {"percent": 10, "cores": 1}, "duration": "5s", "dry_run": true});
    let health = time_calls(&client, calls, || client.get(format!("{}/v1/health", allowing.url)), 200).await;
    let post = |url: &str, token: &str| {
        let (client, body, url, token) = (client.clone(), body.clone(), url.to_string(), token.to_string());
        move || client.post(format!("{url}/v1/injections")).bearer_auth(&token).json(&body)
    };
    let open_post = time_calls(&client, calls, post(&allowing.url, TOKEN), 201).await;
    let strict_post = time_calls(&client, calls, post(&confining.url, TOKEN), 201).await;
    let refused = time_calls(&client, calls, post(&confining.url, "not-the-token-at-all"), 401).await;
    let audited = std::fs::metadata(dir.join("strict/audit.db")).map(|m| m.len()).unwrap_or(0);
    println!("per call, median of {calls} sequential keep-alive calls (µs):");
    println!("  GET /v1/health (no token, no policy, no audit)          {:>8.1}", us(health));
    println!("  POST dry-run inject, allow-everything policy            {:>8.1}", us(open_post));
    println!("  POST dry-run inject, restrictive policy                 {:>8.1}", us(strict_post));
    println!("  POST with a wrong token (401, audited)                  {:>8.1}", us(refused));
    println!(
        "  restrictive policy minus allow-everything: {:+.1} µs; wrong token minus health (token check + audit): {:+.1} µs",
        us(strict_post) - us(open_post),
        us(refused) - us(health)
    );
    println!("  audit trail after the run: {audited} bytes");
}

/// A CA, one server certificate for every 127.0.0.x address used, and a client certificate.
fn pki(dir: &Path, hosts: usize) -> (PathBuf, PathBuf, PathBuf, PathBuf, PathBuf) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let write = |names: Vec<String>, usage, stem: &str| {
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        let (c, k) = (dir.join(format!("{stem}.pem")), dir.join(format!("{stem}.key")));
        std::fs::write(&c, cert.pem()).unwrap();
        write_private(&k, &key.serialize_pem());
        (c, k)
    };
    let names = (0..hosts).map(|i| format!("127.0.1.{}", i + 1)).collect();
    let (server_cert, server_key) = write(names, ExtendedKeyUsagePurpose::ServerAuth, "server");
    let (client_cert, client_key) = write(vec!["bench".into()], ExtendedKeyUsagePurpose::ClientAuth, "client");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    (ca_file, server_cert, server_key, client_cert, client_key)
}

fn end_to_end(bin: &str, dir: &Path, hosts: usize, rounds: usize, tls: bool) -> Duration {
    let mode = if tls { "mtls" } else { "plain" };
    let fill = dir.join(format!("fill-{mode}"));
    std::fs::create_dir_all(&fill).unwrap();
    let (ca, cert, key, client_cert, client_key) = pki(dir, hosts);
    let port = if tls { 27879 } else { 27878 };
    let mut inventory = String::from("hosts:\n");
    let mut daemons = Vec::new();
    for i in 0..hosts {
        let addr = format!("127.0.1.{}:{port}", i + 1);
        let extra: Vec<String> = if tls {
            [
                "--tls-cert",
                cert.to_str().unwrap(),
                "--tls-key",
                key.to_str().unwrap(),
                "--client-ca",
                ca.to_str().unwrap(),
            ]
            .map(String::from)
            .to_vec()
        } else {
            Vec::new()
        };
        daemons.push(start(bin, dir, &format!("{mode}{i}"), &addr, &extra));
        let scheme = if tls { "https" } else { "http" };
        inventory.push_str(&format!(
            "  - {{name: h{i}, url: \"{scheme}://{addr}\", labels: {{bench: trust}}, ca: {}, token: {{env: FAULTDRILL_TOKEN}}}}\n",
            ca.display()
        ));
    }
    let inventory_file = dir.join(format!("inventory-{mode}.yaml"));
    std::fs::write(&inventory_file, inventory).unwrap();
    let experiment = dir.join(format!("fleet-{mode}.yaml"));
    std::fs::write(
        &experiment,
        format!(
            "version: 1\nname: trust-bench\ntargets:\n  all:\n    select: {{labels: {{bench: trust}}}}\naction_groups:\n  - name: fill\n    target: all\n    actions:\n      - fault: disk-fill\n        params: {{path: \"{}\", size: 64KiB}}\n        duration: 10ms\n",
            fill.display()
        ),
    )
    .unwrap();
    let mut times = Vec::new();
    for round in 0..=rounds {
        let t = Instant::now();
        let out = Command::new(bin)
            .arg("--state-dir")
            .arg(dir.join(format!("controller-{mode}")))
            .arg("run")
            .arg(&experiment)
            .arg("--inventory")
            .arg(&inventory_file)
            .env("FAULTDRILL_TOKEN", TOKEN)
            .env("FAULTDRILL_CLIENT_CERT", &client_cert)
            .env("FAULTDRILL_CLIENT_KEY", &client_key)
            .output()
            .unwrap();
        let took = t.elapsed();
        assert!(out.status.success(), "{mode} run failed: {}", String::from_utf8_lossy(&out.stderr));
        if round > 0 {
            times.push(took); // round 0 warms up
        }
    }
    let left = std::fs::read_dir(&fill).unwrap().count();
    assert_eq!(left, 0, "fill files left behind");
    drop(daemons);
    let m = median(times.clone());
    let shown: Vec<String> = times.iter().map(|t| format!("{:.0}", t.as_secs_f64() * 1000.0)).collect();
    println!(
        "end to end, {hosts} daemons, {mode}: rounds {} ms; median {:.0} ms",
        shown.join(" "),
        m.as_secs_f64() * 1000.0
    );
    m
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let Some(bin) = args.first() else {
        eprintln!("usage: trust BIN [CALLS] [HOSTS] [ROUNDS]");
        std::process::exit(64);
    };
    let calls: usize = args.get(1).and_then(|c| c.parse().ok()).unwrap_or(2000);
    let hosts: usize = args.get(2).and_then(|c| c.parse().ok()).unwrap_or(100);
    let rounds: usize = args.get(3).and_then(|c| c.parse().ok()).unwrap_or(5);
    let work = tempfile::tempdir().unwrap();
    per_call(bin, work.path(), calls).await;
    let bin = bin.clone();
    let dir = work.path().to_path_buf();
    let (plain, mtls) = tokio::task::spawn_blocking(move || {
        (end_to_end(&bin, &dir, hosts, rounds, false), end_to_end(&bin, &dir, hosts, rounds, true))
    })
    .await
    .unwrap();
    println!("end to end ratio, mTLS to plain HTTP: {:.2}", mtls.as_secs_f64() / plain.as_secs_f64());
}
