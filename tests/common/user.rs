//! Test harness: an unprivileged local account the test creates (and deletes on drop),
//! to run commands as a user who is not root, as an attacker on a shared host would.
#![allow(dead_code, reason = "each test file uses a different part of the harness")]

use std::process::{Command, Output};

/// A system account with no home and no shell, deleted on drop.
pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl TestUser {
    /// Creates the account (needs root; CI runs as root).
    pub fn create(tag: &str) -> TestUser {
        assert!(nix::unistd::geteuid().is_root(), "creating a test account needs root (CI runs as root)");
        let name = format!("fd{tag}{}", std::process::id() % 100_000);
        let _ = Command::new("userdel").arg(&name).output();
        let made = Command::new("useradd")
            .args(["--system", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", &name])
            .output()
            .expect("run useradd");
        assert!(made.status.success(), "useradd {name}: {}", String::from_utf8_lossy(&made.stderr));
        let user = nix::unistd::User::from_name(&name).unwrap().expect("the account exists");
        TestUser { name, uid: user.uid.as_raw(), gid: user.gid.as_raw() }
    }

    /// A command that runs as this account (through util-linux's `setpriv`, which also
    /// drops root's supplementary groups), with a neutral HOME.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("setpriv");
        cmd.arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .args(["--clear-groups", "--", program])
            .env("HOME", "/tmp")
            .env_remove("FAULTDRILL_TOKEN");
        cmd
    }

    /// Runs `program args…` as this account.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program).args(args).output().unwrap_or_else(|e| panic!("run {program} as {}: {e}", self.name))
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).output();
    }
}
