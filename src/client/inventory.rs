//! The inventory: the hosts a run can reach through their daemons (DESIGN §6).
//!
//! ```yaml
//! hosts:
//!   - name: web-1
//!     url: http://10.0.1.11:7878
//!     labels: {zone: az-1, role: web}
//!     token: {env: FAULTDRILL_TOKEN}      # or {file: /etc/faultdrill/token}
//!     ca: /etc/faultdrill/ca.pem          # optional: trust this CA for https
//! ```
//!
//! Unknown keys are errors, and every problem is reported at once as
//! `file:line:col: message`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::daemon_client::{ClientError, DaemonClient};

/// Every problem found in an inventory file, one `file:line:col: message` per line.
#[derive(Debug, thiserror::Error)]
#[error("load the inventory {}:\n{}", path.display(), problems.join("\n"))]
pub struct InventoryError {
    pub path: PathBuf,
    pub problems: Vec<String>,
}

/// Where a host's bearer token comes from.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TokenSource {
    /// An environment variable of the controller.
    Env(String),
    /// A file on the controller (trimmed).
    File(PathBuf),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InventorySpec {
    hosts: Vec<HostSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HostSpec {
    name: Spanned<String>,
    url: Spanned<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    token: Option<TokenSource>,
    #[serde(default)]
    ca: Option<PathBuf>,
}

/// One host of the inventory.
#[derive(Clone, Debug, PartialEq)]
pub struct InventoryHost {
    pub name: String,
    pub url: String,
    pub labels: BTreeMap<String, String>,
    pub token: Option<TokenSource>,
    pub ca: Option<PathBuf>,
}

/// The hosts of an inventory file, in file order, names unique.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Inventory {
    pub hosts: Vec<InventoryHost>,
}

impl Inventory {
    /// Reads and checks an inventory file.
    pub fn load(path: &Path) -> Result<Inventory, InventoryError> {
        let text = std::fs::read_to_string(path).map_err(|e| InventoryError {
            path: path.to_path_buf(),
            problems: vec![format!("{}: {e}", path.display())],
        })?;
        Inventory::parse(path, &text)
    }

    /// Checks inventory text; `path` names it in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Inventory, InventoryError> {
        let file = path.display().to_string();
        let spec: InventorySpec = serde_saphyr::from_str(text).map_err(|e| InventoryError {
            path: path.to_path_buf(),
            problems: vec![match e.location() {
                Some(at) => format!("{file}:{}:{}: {}", at.line(), at.column(), first_line(&e.to_string())),
                None => format!("{file}: {}", first_line(&e.to_string())),
            }],
        })?;
        let mut problems = Vec::new();
        let mut seen = BTreeSet::new();
        let mut hosts = Vec::new();
        for host in spec.hosts {
            let at = |s: &serde_saphyr::Location| format!("{file}:{}:{}", s.line(), s.column());
            let name = host.name.value.trim().to_string();
            if name.is_empty() || name.contains(char::is_whitespace) {
                problems.push(format!("{}: a host name must be one word, found `{name}`", at(&host.name.referenced)));
            } else if name == "local" {
                problems.push(format!(
                    "{}: `local` is reserved for this machine (no daemon); name the host differently",
                    at(&host.name.referenced)
                ));
            } else if !seen.insert(name.clone()) {
                problems.push(format!("{}: host `{name}` is listed twice", at(&host.name.referenced)));
            }
            let url = host.url.value.trim().to_string();
            if !(url.starts_with("http://") || url.starts_with("https://")) || reqwest::Url::parse(&url).is_err() {
                problems.push(format!(
                    "{}: host `{name}`: `{url}` is not a daemon URL; expected http://HOST:PORT or https://HOST:PORT",
                    at(&host.url.referenced)
                ));
            }
            hosts.push(InventoryHost { name, url, labels: host.labels, token: host.token, ca: host.ca });
        }
        if problems.is_empty() {
            Ok(Inventory { hosts })
        } else {
            Err(InventoryError { path: path.to_path_buf(), problems })
        }
    }

    /// The host called `name`.
    pub fn host(&self, name: &str) -> Option<&InventoryHost> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// Every host carrying all of `labels`, in file order.
    pub fn select(&self, labels: &BTreeMap<String, String>) -> Vec<&InventoryHost> {
        self.hosts.iter().filter(|h| labels.iter().all(|(k, v)| h.labels.get(k) == Some(v))).collect()
    }
}

impl InventoryHost {
    /// Reads the token (from the controller's environment or a file) and builds the client.
    pub fn connect(&self) -> Result<DaemonClient, ClientError> {
        let setup = |detail: String| ClientError::Setup { host: self.name.clone(), detail };
        let token = match &self.token {
            None => None,
            Some(TokenSource::Env(var)) => Some(std::env::var(var).map_err(|_| {
                setup(format!("the token variable {var} is not set; export it or use token: {{file: …}}"))
            })?),
            Some(TokenSource::File(path)) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| setup(format!("read the token file {}: {e}", path.display())))?,
            ),
        };
        let token = token.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
        DaemonClient::new(&self.name, &self.url, token, self.ca.as_deref())
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Inventory, Vec<String>> {
        Inventory::parse(Path::new("inv.yaml"), text).map_err(|e| e.problems)
    }

    #[test]
    fn hosts_labels_and_tokens_load() {
        let inv = parse(
            "hosts:\n  - name: web-1\n    url: http://127.0.0.1:7878\n    labels: {zone: az-1}\n    token: {env: TOK}\n  - name: db-1\n    url: https://127.0.0.2:7878\n    token: {file: /etc/t}\n",
        )
        .unwrap();
        assert_eq!(inv.hosts.len(), 2);
        assert_eq!(inv.hosts[0].token, Some(TokenSource::Env("TOK".into())));
        assert_eq!(inv.hosts[1].token, Some(TokenSource::File("/etc/t".into())));
        let az1 = inv.select(&[("zone".to_string(), "az-1".to_string())].into());
        assert_eq!(az1.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(), ["web-1"]);
    }

    #[test]
    fn problems_are_positioned_and_all_reported() {
        let problems = parse(
            "hosts:\n  - name: a\n    url: http://127.0.0.1:1\n  - name: a\n    url: ftp://x\n  - name: local\n    url: http://127.0.0.1:2\n",
        )
        .unwrap_err();
        assert_eq!(
            problems,
            [
                "inv.yaml:4:11: host `a` is listed twice",
                "inv.yaml:5:10: host `a`: `ftp://x` is not a daemon URL; expected http://HOST:PORT or https://HOST:PORT",
                "inv.yaml:6:11: `local` is reserved for this machine (no daemon); name the host differently",
            ]
        );
    }

    #[test]
    fn unknown_keys_point_at_the_line() {
        let problems =
            parse("hosts:\n  - name: a\n    url: http://127.0.0.1:1\n    lables: {zone: az-1}\n").unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("inv.yaml:4:"), "{problems:?}");
        assert!(problems[0].contains("lables"), "{problems:?}");
    }
}
