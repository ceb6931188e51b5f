//! The fleet deployment files under `deploy/` parse and say what they must.

use std::collections::BTreeMap;

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn daemonset_runs_privileged_on_the_host_with_the_token_from_a_secret() {
    let text = std::fs::read_to_string(format!("{ROOT}/deploy/daemonset.yaml")).unwrap();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("daemonset.yaml parses as YAML");
    let ds = docs.iter().find(|d| d["kind"] == "DaemonSet").expect("a DaemonSet document");
    assert_eq!(ds["apiVersion"], "apps/v1");
    let ns = &ds["metadata"]["namespace"];
    assert!(docs.iter().any(|d| d["kind"] == "Namespace" && &d["metadata"]["name"] == ns), "its namespace is created");
    assert_eq!(ds["spec"]["selector"]["matchLabels"], ds["spec"]["template"]["metadata"]["labels"]);
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true);
    assert_eq!(pod["hostPID"], true);
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["privileged"], true);
    let args: Vec<&str> = c["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(args[0], "daemon");
    let flag = |name: &str| args.iter().position(|a| *a == name).map(|i| args[i + 1]);
    assert_eq!(flag("--listen"), Some("0.0.0.0:7878"));
    // The token file comes from a mounted Secret.
    let token_file = flag("--token-file").expect("--token-file");
    let mount = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| token_file.starts_with(m["mountPath"].as_str().unwrap()))
        .expect("the token file is under a volume mount");
    let volume = pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == mount["name"]).unwrap();
    assert_eq!(volume["secret"]["secretName"], "faultdrill-token");
    // The journal survives the pod, so a replacement recovers what it left.
    let state = flag("--state-dir").unwrap();
    let state_mount = c["volumeMounts"].as_array().unwrap().iter().find(|m| m["mountPath"] == state).unwrap();
    let state_volume = pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == state_mount["name"]).unwrap();
    assert!(state_volume["hostPath"]["path"].is_string());
    // TLS with client certificates, and a policy.
    for flag_name in ["--tls-cert", "--tls-key", "--client-ca", "--policy"] {
        assert!(flag(flag_name).is_some(), "{flag_name}");
    }
    assert!(!args.contains(&"--allow-plaintext"));
    assert_eq!(c["readinessProbe"]["tcpSocket"]["port"], 7878);
    assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() >= 15, "time to roll back on SIGTERM");
}

/// `[Section]` → key → values (a key may repeat).
fn parse_unit(text: &str) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut sections: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut current = String::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.to_string();
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or_else(|| panic!("line {}: not KEY=VALUE: {line}", n + 1));
        assert!(!current.is_empty(), "line {}: a key outside any section", n + 1);
        sections.entry(current.clone()).or_default().entry(key.trim().into()).or_default().push(value.trim().into());
    }
    sections
}

#[test]
fn systemd_unit_runs_the_daemon_as_root_with_a_token_and_time_to_roll_back() {
    let text = std::fs::read_to_string(format!("{ROOT}/deploy/faultdrill.service")).unwrap();
    let unit = parse_unit(&text);
    assert_eq!(unit.keys().collect::<Vec<_>>(), ["Install", "Service", "Unit"]);
    let service = &unit["Service"];
    let one = |key: &str| service.get(key).and_then(|v| v.last()).map(String::as_str);
    let exec = one("ExecStart").unwrap();
    assert!(exec.starts_with("/usr/local/bin/faultdrill daemon "), "{exec}");
    assert!(exec.contains("--token-file /etc/faultdrill/tokens.yaml"), "{exec}");
    for flag in ["--tls-cert ", "--tls-key ", "--client-ca ", "--policy "] {
        assert!(exec.contains(flag), "{flag} in {exec}");
    }
    assert!(!exec.contains("--allow-plaintext"), "{exec}");
    assert!(exec.contains("--listen 0.0.0.0:7878"), "{exec}");
    assert_eq!(one("User"), Some("root"));
    assert_eq!(one("KillSignal"), Some("SIGTERM"));
    assert_eq!(one("KillMode"), Some("mixed"));
    assert_eq!(one("Restart"), Some("on-failure"));
    assert_eq!(one("NoNewPrivileges"), Some("yes"));
    assert!(one("CapabilityBoundingSet").unwrap().contains("CAP_NET_ADMIN"));
    assert!(one("CapabilityBoundingSet").unwrap().contains("CAP_KILL"));
    assert!(service.get("CPUQuota").is_none() && service.get("MemoryMax").is_none(), "limits would bend faults");
    assert_eq!(unit["Install"]["WantedBy"], ["multi-user.target"]);
    // The flags in ExecStart are ones the binary accepts.
    let args: Vec<&str> = exec.split_whitespace().skip(1).collect();
    let parsed = <faultdrill::cli::Cli as clap::Parser>::try_parse_from(std::iter::once("faultdrill").chain(args));
    assert!(parsed.is_ok(), "{:?}", parsed.err());
}
