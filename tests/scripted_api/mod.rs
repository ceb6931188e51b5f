//! A stand-in HTTP API for the http-call tests: a python3 server script (each test file has
//! its own), run on a free loopback port with the API's token in its environment and a
//! directory of its own for its state, killed on drop.

use std::process::{Child, Command, Stdio};

pub struct ScriptedApi {
    /// The server's state directory (its second argument).
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Child,
}

impl ScriptedApi {
    /// Starts `script` as `python3 api.py PORT DIR` with `TOKEN=token`; the caller waits for it to answer.
    pub fn spawn(script: &str, token: &str) -> ScriptedApi {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let path = dir.path().join("api.py");
        std::fs::write(&path, script).unwrap();
        let child = Command::new("python3")
            .arg(&path)
            .arg(port.to_string())
            .arg(dir.path())
            .env("TOKEN", token)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        ScriptedApi { dir, port, child }
    }
}

impl Drop for ScriptedApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
