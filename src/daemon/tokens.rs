//! Who may call the daemon: named bearer tokens, each with a role.
//!
//! A token file is either one secret on one line (the token `default`, role
//! `admin`), or a YAML list of named tokens:
//!
//! ```yaml
//! tokens:
//!   - name: ci            # the actor in the audit trail
//!     role: operator      # viewer | operator | admin
//!     secret: 6f1c…       # at least 16 characters
//! ```
//!
//! With no token given at all, the daemon makes one (`local`, admin) at
//! `<state-dir>/token`, mode 0600, which the CLI on the same host reads.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::experiment::positioned::{Diagnostics, Fields, Node, Sink, Value, parse};
pub use crate::journal::generated_token_path;

use super::config::DaemonError;
use super::private_files::check_private;

/// The shortest secret accepted in a named token file.
const MIN_SECRET: usize = 16;

/// What a token may do. Each role includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read only: status, runs, reports, metrics.
    Viewer,
    /// Inject, run, stop, trip, renew, roll back.
    Operator,
    /// Everything, including the policy and the audit trail.
    Admin,
}

impl Role {
    const WORDS: [&'static str; 3] = ["viewer", "operator", "admin"];

    pub fn as_str(self) -> &'static str {
        Role::WORDS[self as usize]
    }

    fn parse(word: &str) -> Option<Role> {
        [Role::Viewer, Role::Operator, Role::Admin].into_iter().find(|r| r.as_str() == word)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A caller the daemon knows: the name is the actor in every audit record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

#[derive(Clone)]
struct NamedToken {
    caller: Caller,
    secret: String,
}

impl std::fmt::Debug for NamedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret, not even in a debug dump.
        f.debug_struct("NamedToken").field("caller", &self.caller).finish_non_exhaustive()
    }
}

/// Every token the daemon accepts.
#[derive(Clone, Debug)]
pub struct Tokens {
    tokens: Vec<NamedToken>,
    /// Where they came from, for messages (never the secrets).
    pub origin: String,
}

impl Tokens {
    /// One secret: the token `default` with the admin role.
    pub fn single(secret: &str, origin: &str) -> Result<Tokens, DaemonError> {
        let secret = secret.trim();
        if secret.is_empty() {
            return Err(DaemonError::Config(format!(
                "use the token from {origin}: it is empty; put a long random secret in it"
            )));
        }
        if secret.chars().any(char::is_whitespace) {
            return Err(DaemonError::Config(format!(
                "read the token from {origin}: a single token is one word; for several, write `tokens:` with name, role and secret"
            )));
        }
        let caller = Caller { name: "default".into(), role: Role::Admin };
        Ok(Tokens { tokens: vec![NamedToken { caller, secret: secret.to_string() }], origin: origin.to_string() })
    }

    /// Reads a token file (one secret, or `tokens:` with names and roles).
    pub fn load(path: &Path) -> Result<Tokens, DaemonError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| DaemonError::Config(format!("read the token file {origin}: {e}")))?;
        if text.trim_start().starts_with("tokens:") {
            Tokens::parse_named(&origin, &text).map_err(|d| DaemonError::Config(d.to_string()))
        } else {
            Tokens::single(&text, &origin)
        }
    }

    fn parse_named(origin: &str, text: &str) -> Result<Tokens, Diagnostics> {
        let mut sink = Sink::new(origin, text);
        let tokens = match parse(text) {
            Ok(root) => decode_named(&mut sink, &root),
            Err(e) => {
                sink.error(e.span, e.message);
                Vec::new()
            }
        };
        if tokens.is_empty() && sink.is_empty() {
            return Err(Diagnostics::whole_file(origin, "list at least one token under `tokens:`".into()));
        }
        if !sink.is_empty() {
            return Err(Diagnostics { items: sink.finish() });
        }
        Ok(Tokens { tokens, origin: origin.to_string() })
    }

    /// The caller holding `given`, compared in constant time against every token.
    pub fn identify(&self, given: &str) -> Option<&Caller> {
        let mut found = None;
        for t in &self.tokens {
            // No early exit: the time taken does not tell which token matched.
            if is_same(given.as_bytes(), t.secret.as_bytes()) {
                found = Some(&t.caller);
            }
        }
        found
    }

    /// The names and roles, for the log at start (never the secrets).
    pub fn callers(&self) -> impl Iterator<Item = &Caller> {
        self.tokens.iter().map(|t| &t.caller)
    }
}

fn decode_named(sink: &mut Sink<'_>, root: &Node) -> Vec<NamedToken> {
    let Some(f) = Fields::read(sink, root, "the token file", &["tokens"]) else { return Vec::new() };
    let Some(list) = f.required(sink, "tokens") else { return Vec::new() };
    let Value::Seq(items) = &list.value else {
        sink.error(list.span, format!("expected a list of tokens for `tokens`, found {}", list.describe()));
        return Vec::new();
    };
    let mut out: Vec<NamedToken> = Vec::new();
    for item in items {
        let Some(f) = Fields::read(sink, item, "a token", &["name", "role", "secret"]) else { continue };
        let text = |sink: &mut Sink<'_>, key: &str| {
            let node = f.required(sink, key)?;
            match node.scalar() {
                Some(t) => Some((t.to_string(), node)),
                None => {
                    sink.error(node.span, format!("expected a string for `{key}`, found {}", node.describe()));
                    None
                }
            }
        };
        let (Some((name, name_node)), Some((role, role_node)), Some((secret, secret_node))) =
            (text(sink, "name"), text(sink, "role"), text(sink, "secret"))
        else {
            continue;
        };
        let Some(role) = Role::parse(&role) else {
            sink.error(role_node.span, format!("expected one of viewer, operator, admin for `role`, found `{role}`"));
            continue;
        };
        if secret.len() < MIN_SECRET {
            // The message never repeats the secret.
            sink.error(secret_node.span, format!("the secret of `{name}` is too short: use at least {MIN_SECRET} random characters (`openssl rand -hex 32`)"));
            continue;
        }
        if out.iter().any(|t| t.caller.name == name) {
            sink.error(
                name_node.span,
                format!("duplicate token name `{name}`: each name is one actor in the audit trail"),
            );
            continue;
        }
        if out.iter().any(|t| t.secret == secret) {
            sink.error(secret_node.span, format!("the secret of `{name}` is also another token's: give each its own"));
            continue;
        }
        out.push(NamedToken { caller: Caller { name, role }, secret });
    }
    out
}

/// Constant-time comparison (the length is not secret).
fn is_same(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len() && bool::from(given.ct_eq(expected))
}

/// The daemon's own token at `<state-dir>/token`: read if there, else made (0600).
pub fn generated_token(dir: &Path) -> Result<Tokens, DaemonError> {
    let path = generated_token_path(dir);
    let origin = path.display().to_string();
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path) {
        Ok(mut file) => {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            file.write_all(format!("{secret}\n").as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| DaemonError::Config(format!("write the token file {origin}: {e}")))?;
            let caller = Caller { name: "local".into(), role: Role::Admin };
            Ok(Tokens { tokens: vec![NamedToken { caller, secret }], origin })
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            check_private(&path)?;
            let mut tokens = Tokens::load(&path)?;
            for t in &mut tokens.tokens {
                if t.caller.name == "default" {
                    t.caller.name = "local".into();
                }
            }
            Ok(tokens)
        }
        Err(e) => Err(DaemonError::Config(format!("create the token file {origin}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_single_secret_is_the_admin_token_default() {
        let t = Tokens::single("s3cret-value\n", "f").unwrap();
        assert_eq!(t.identify("s3cret-value"), Some(&Caller { name: "default".into(), role: Role::Admin }));
        assert_eq!(t.identify("s3cret-valuf"), None);
        assert_eq!(t.identify(""), None);
        assert!(Tokens::single("  ", "f").is_err());
        assert!(Tokens::single("two words", "f").is_err());
    }

    #[test]
    fn named_tokens_have_roles_and_bad_entries_point_at_their_line() {
        let text = "tokens:\n  - {name: ci, role: operator, secret: aaaaaaaaaaaaaaaaaaaa}\n  - {name: dash, role: viewer, secret: bbbbbbbbbbbbbbbbbbbb}\n";
        let t = Tokens::parse_named("tokens.yaml", text).unwrap();
        assert_eq!(t.identify("aaaaaaaaaaaaaaaaaaaa").unwrap().role, Role::Operator);
        assert_eq!(t.identify("bbbbbbbbbbbbbbbbbbbb").unwrap().name, "dash");
        let bad = "tokens:\n  - {name: ci, role: root, secret: aaaaaaaaaaaaaaaaaaaa}\n  - {name: x, role: admin, secret: short}\n  - {name: y, role: admin, secret: cccccccccccccccccccc, colour: red}\n";
        let e = Tokens::parse_named("tokens.yaml", bad).unwrap_err().to_string();
        assert!(e.contains("tokens.yaml:2:"), "{e}");
        assert!(e.contains("found `root`"), "{e}");
        assert!(e.contains("tokens.yaml:3:") && e.contains("too short"), "{e}");
        assert!(
            !e.contains("short}") || e.contains("secret: short"),
            "the snippet may show the line, the message never the secret: {e}"
        );
        assert!(e.contains("unknown key `colour`"), "{e}");
    }

    #[test]
    fn roles_are_ordered_by_what_they_may_do() {
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
    }

    #[test]
    fn the_generated_token_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        super::super::private_files::secure_state_dir(&state).unwrap();
        assert_eq!(std::fs::metadata(&state).unwrap().permissions().mode() & 0o777, 0o700);
        let first = generated_token(&state).unwrap();
        let path = generated_token_path(&state);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let secret = std::fs::read_to_string(&path).unwrap();
        assert_eq!(first.identify(secret.trim()).unwrap().name, "local");
        let again = generated_token(&state).unwrap();
        assert!(again.identify(secret.trim()).is_some(), "a restart keeps the token");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(generated_token(&state).unwrap_err().to_string().contains("chmod 600"));
    }
}
