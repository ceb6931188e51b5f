//! A run's local control socket, `<state-dir>/runs/<run-id>/control.sock`, through which
//! `faultdrill trip` and `faultdrill stop` reach a run embedded in another process.
//!
//! One JSON request per line, one JSON answer per line. The socket is created with mode
//! 0600 (whoever may inject faults may stop them; nobody else may), and removed when the
//! run ends.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::control::RunControl;

/// What a client asks of a run.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ControlRequest {
    Trip { guardrail: String, reason: String },
    Stop { reason: String },
}

/// The run's answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct ControlAnswer {
    pub ok: bool,
    pub error: Option<String>,
}

/// Where the control socket of run `run_id` lives.
pub fn control_socket_path(state_dir: &Path, run_id: &str) -> PathBuf {
    state_dir.join("runs").join(run_id).join("control.sock")
}

/// Whether a run's controller still answers on its control socket. A socket file nobody
/// listens on (its process was killed) is stale.
pub fn is_listening(path: &Path) -> bool {
    std::os::unix::net::UnixStream::connect(path).is_ok()
}

/// Removes the control sockets of runs whose process is gone (`kill -9` leaves them behind),
/// and returns those runs' ids.
pub fn sweep_stale_control_sockets(state_dir: &Path) -> Vec<String> {
    let Ok(runs) = std::fs::read_dir(state_dir.join("runs")) else { return Vec::new() };
    let mut swept = Vec::new();
    for run in runs.flatten() {
        let socket = run.path().join("control.sock");
        if socket.exists() && !is_listening(&socket) && std::fs::remove_file(&socket).is_ok() {
            swept.push(run.file_name().to_string_lossy().into_owned());
        }
    }
    swept
}

/// Serves the socket until dropped; removes it on drop.
pub struct ControlSocket {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Starts serving `control` at `path`.
pub fn serve_control_socket(path: PathBuf, control: RunControl) -> std::io::Result<ControlSocket> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let control = control.clone();
            tokio::spawn(async move {
                let _ = answer(stream, control).await;
            });
        }
    });
    Ok(ControlSocket { path, task })
}

async fn answer(stream: UnixStream, control: RunControl) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    BufReader::new(read).read_line(&mut line).await?;
    let reply = match serde_json::from_str::<ControlRequest>(&line) {
        Err(e) => ControlAnswer { ok: false, error: Some(format!("unreadable request: {e}")) },
        Ok(ControlRequest::Trip { guardrail, reason }) => match control.trip(&guardrail, reason).await {
            Ok(()) => ControlAnswer { ok: true, error: None },
            Err(refused) => ControlAnswer { ok: false, error: Some(refused.to_string()) },
        },
        Ok(ControlRequest::Stop { reason }) => {
            if control.stop(reason) {
                ControlAnswer { ok: true, error: None }
            } else {
                ControlAnswer { ok: false, error: Some("stop the run: it has already finished".into()) }
            }
        }
    };
    let mut text = serde_json::to_string(&reply).unwrap_or_else(|_| "{\"ok\":false}".into());
    text.push('\n');
    write.write_all(text.as_bytes()).await
}

/// Sends one request to the run behind `path` and returns its answer.
pub async fn send_control_request(path: &Path, request: &ControlRequest) -> std::io::Result<ControlAnswer> {
    let stream = UnixStream::connect(path).await?;
    let (read, mut write) = stream.into_split();
    let mut text = serde_json::to_string(request).map_err(std::io::Error::other)?;
    text.push('\n');
    write.write_all(text.as_bytes()).await?;
    let mut line = String::new();
    BufReader::new(read).read_line(&mut line).await?;
    serde_json::from_str(&line).map_err(std::io::Error::other)
}
