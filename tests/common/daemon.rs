//! Test harness: real `faultdrill daemon` processes, each with its own state
//! dir, optionally inside a network namespace; killed and cleaned up on drop.

#![allow(dead_code, reason = "each test binary uses a different part of the harness")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use faultdrill::client::DaemonClient;
use faultdrill::journal::Journal;

pub const BIN: &str = env!("CARGO_BIN_EXE_faultdrill");

/// Whether the tests run as root (CI does; faults and namespaces need it).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// How to start a daemon.
#[derive(Clone, Debug)]
pub struct DaemonSpec {
    pub listen: String,
    pub token: Option<String>,
    pub name: String,
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Run inside this network namespace (`ip netns exec`).
    pub netns: Option<String>,
    pub state_dir: Option<PathBuf>,
    /// Require client certificates from this CA (with `tls`).
    pub client_ca: Option<PathBuf>,
    /// The daemon's `--policy` file.
    pub policy: Option<PathBuf>,
    /// A token file of named tokens to pass instead of `token` (which then names the
    /// secret the harness's own client uses).
    pub token_file: Option<PathBuf>,
    /// Environment variables set for the daemon (say, libfaketime's).
    pub env: Vec<(String, String)>,
}

/// Writes a secret file readable by its owner only (the daemon refuses others).
pub fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn is_loopback_listen(listen: &str) -> bool {
    listen.parse::<std::net::SocketAddr>().is_ok_and(|a| a.ip().is_loopback())
}

impl Default for DaemonSpec {
    fn default() -> Self {
        DaemonSpec {
            listen: "127.0.0.1:0".into(),
            token: Some(format!("tok-{}", std::process::id())),
            name: "d1".into(),
            tls: None,
            netns: None,
            state_dir: None,
            client_ca: None,
            policy: None,
            token_file: None,
            env: Vec::new(),
        }
    }
}

/// A running daemon.
pub struct Daemon {
    pub spec: DaemonSpec,
    pub child: Option<Child>,
    pub url: String,
    pub state_dir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Daemon {
    /// Starts a daemon and waits until it listens.
    pub fn start(spec: DaemonSpec) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let state_dir = spec.state_dir.clone().unwrap_or_else(|| dir.path().join("state"));
        let mut d = Daemon { spec, child: None, url: String::new(), state_dir, _dir: dir };
        d.spawn();
        d
    }

    fn spawn(&mut self) {
        let token_file = self._dir.path().join("token");
        let mut cmd = match &self.spec.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, BIN]);
                c
            }
            None => Command::new(BIN),
        };
        cmd.arg("--state-dir").arg(&self.state_dir).args(["--log", "info", "daemon", "--listen", &self.spec.listen]);
        cmd.args(["--name", &self.spec.name]);
        match (&self.spec.token_file, &self.spec.token) {
            (Some(file), _) => {
                cmd.arg("--token-file").arg(file);
            }
            (None, Some(token)) => {
                write_private(&token_file, token);
                cmd.arg("--token-file").arg(&token_file);
            }
            (None, None) => {}
        }
        match &self.spec.tls {
            Some((cert, key)) => {
                cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
                if let Some(ca) = &self.spec.client_ca {
                    cmd.arg("--client-ca").arg(ca);
                }
            }
            // Test namespaces are a network of their own: plain HTTP is fine there.
            None if !is_loopback_listen(&self.spec.listen) => {
                cmd.arg("--allow-plaintext");
            }
            None => {}
        }
        if let Some(policy) = &self.spec.policy {
            cmd.arg("--policy").arg(policy);
        }
        cmd.envs(self.spec.env.iter().map(|(k, v)| (k, v)));
        cmd.env_remove("FAULTDRILL_TOKEN").stdin(Stdio::null()).stdout(Stdio::piped());
        cmd.stderr(Stdio::from(std::fs::File::create(self._dir.path().join("stderr")).unwrap()));
        let mut child = cmd.spawn().expect("spawn faultdrill daemon");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        self.child = Some(child);
        let url = line.trim().rsplit(' ').next().unwrap_or_default().to_string();
        assert!(url.starts_with("http"), "daemon did not start: {line:?}; stderr:\n{}", self.stderr());
        self.url = url;
        // Restart on the same port.
        self.spec.listen = self.url.rsplit('/').next().unwrap().to_string();
    }

    /// The daemon's stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("stderr")).unwrap_or_default()
    }

    /// A client with the daemon's token (and CA for TLS).
    pub fn client(&self) -> DaemonClient {
        let ca = self.spec.tls.as_ref().map(|(cert, _)| cert.as_path());
        DaemonClient::new(&self.spec.name, &self.url, self.spec.token.clone(), ca).unwrap()
    }

    /// The daemon's journal, opened read-write from outside (SQLite WAL allows it).
    pub fn journal(&self) -> Journal {
        Journal::open(&self.state_dir).unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// `kill -9`: no chance to roll back.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits for the exit status.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        child.wait().ok()
    }

    /// Starts the daemon again on the same state dir and port.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }
}

/// One host of a test inventory: a daemon inside network namespace `netns`, listening on `addr:7878`.
pub struct InventoryHost {
    pub name: String,
    pub netns: String,
    pub addr: String,
    /// The inventory's `labels` value, as YAML flow: `{zone: az-1}`.
    pub labels: String,
}

/// Starts a daemon (token `token`) per host and writes `dir/inventory.yaml` naming them,
/// the controller reading the token from `$token_env`. Returns the daemons and the file.
pub fn start_inventory(hosts: Vec<InventoryHost>, token: &str, token_env: &str, dir: &Path) -> (Vec<Daemon>, PathBuf) {
    let mut inventory = String::from("hosts:\n");
    let mut daemons = Vec::new();
    for host in hosts {
        let d = Daemon::start(DaemonSpec {
            listen: format!("{}:7878", host.addr),
            token: Some(token.into()),
            name: host.name.clone(),
            netns: Some(host.netns),
            ..DaemonSpec::default()
        });
        inventory.push_str(&format!(
            "  - name: {}\n    url: {}\n    labels: {}\n    token: {{env: {token_env}}}\n",
            host.name, d.url, host.labels
        ));
        daemons.push(d);
    }
    let path = dir.join("inventory.yaml");
    std::fs::write(&path, inventory).unwrap();
    (daemons, path)
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Polls `f` until it returns `Some`, or panics after `timeout` with `what`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Files directly under `dir`, sorted.
pub fn list_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}
