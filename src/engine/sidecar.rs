//! Sidecar files beside the journal for what a journal-less sweep cannot find on the
//! system by itself: the processes an injection paused (`paused/<injection>.json`) and
//! the fill files it created (`fills/<injection>.json`). Each is written (0600, synced)
//! before the fault is applied and removed once its rollback is verified.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fault::{RUNNING_DIR, Undo};
use crate::ids::InjectionId;
use crate::platform::linux::ProcRef;

/// The folder of paused-process sidecars in a state dir.
pub const PAUSED_DIR: &str = "paused";
/// The folder of fill-file sidecars in a state dir.
pub const FILLS_DIR: &str = "fills";

/// The processes one injection paused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PausedSidecar {
    pub injection: InjectionId,
    pub processes: Vec<ProcRef>,
}

/// The fill files one injection created.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FillsSidecar {
    pub injection: InjectionId,
    pub files: Vec<PathBuf>,
}

/// The sidecars of one injection, in the folders of `state_dir`.
pub struct Sidecars<'a> {
    pub state_dir: &'a Path,
    pub injection: &'a InjectionId,
}

impl Sidecars<'_> {
    fn path(&self, dir: &str) -> PathBuf {
        self.state_dir.join(dir).join(format!("{}.json", self.injection))
    }

    /// Writes what a sweep would need to undo `undo` without the journal. Nothing is
    /// written for an undo a sweep finds by itself (tables, qdiscs, tagged helpers).
    pub fn write_for(&self, undo: &Undo) -> std::io::Result<()> {
        let (mut processes, mut files) = (Vec::new(), Vec::new());
        collect(undo, &mut processes, &mut files);
        if !processes.is_empty() {
            let sidecar = PausedSidecar { injection: self.injection.clone(), processes };
            write_private(&self.path(PAUSED_DIR), &serde_json::to_vec(&sidecar).expect("sidecars serialise"))?;
        }
        if !files.is_empty() {
            let sidecar = FillsSidecar { injection: self.injection.clone(), files };
            write_private(&self.path(FILLS_DIR), &serde_json::to_vec(&sidecar).expect("sidecars serialise"))?;
        }
        Ok(())
    }

    /// Removes the injection's sidecars (its rollback is verified). Already gone is fine.
    pub fn remove(&self) -> std::io::Result<()> {
        for dir in [PAUSED_DIR, FILLS_DIR] {
            match std::fs::remove_file(self.path(dir)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}

fn collect(undo: &Undo, processes: &mut Vec<ProcRef>, files: &mut Vec<PathBuf>) {
    match undo {
        Undo::Resume { processes: p } => processes.extend(p.iter().copied()),
        Undo::DeleteFile { path } => files.push(path.clone()),
        Undo::All { steps } => steps.iter().for_each(|s| collect(s, processes, files)),
        _ => {}
    }
}

/// Writes `bytes` to `path` readable by its owner only, durably, creating its folder (0700).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Every sidecar of kind `T` in `state_dir/dir`, with its file; unreadable ones are
/// returned as errors naming the file, never skipped in silence.
pub fn read_all<T: serde::de::DeserializeOwned>(state_dir: &Path, dir: &str) -> Vec<(PathBuf, Result<T, String>)> {
    let Ok(entries) = std::fs::read_dir(state_dir.join(dir)) else { return Vec::new() };
    let mut files: Vec<PathBuf> =
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let read = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()));
            (path, read)
        })
        .collect()
}

/// Every sidecar file in `state_dir` (with the records of commands still running), with the
/// injection its name carries.
pub fn all_files(state_dir: &Path) -> Vec<(InjectionId, PathBuf)> {
    let mut files = Vec::new();
    for dir in [PAUSED_DIR, FILLS_DIR, RUNNING_DIR] {
        let Ok(entries) = std::fs::read_dir(state_dir.join(dir)) else { continue };
        for path in entries.flatten().map(|e| e.path()) {
            if let (Some(stem), true) =
                (path.file_stem().and_then(|s| s.to_str()), path.extension().is_some_and(|x| x == "json"))
            {
                files.push((InjectionId::from_string(stem), path.clone()));
            }
        }
    }
    files.sort_by(|a, b| a.1.cmp(&b.1));
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn paused_and_fill_sidecars_are_private_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let id = InjectionId::generate();
        let p = ProcRef { pid: 42, start_time: 7 };
        let undo = Undo::All {
            steps: vec![
                Undo::Resume { processes: vec![p] },
                Undo::DeleteFile { path: "/data/faultdrill-fill-x".into() },
                Undo::stop_helpers(&id),
            ],
        };
        let sidecars = Sidecars { state_dir: dir.path(), injection: &id };
        sidecars.write_for(&undo).unwrap();
        let paused = read_all::<PausedSidecar>(dir.path(), PAUSED_DIR);
        assert_eq!(paused.len(), 1);
        assert_eq!(paused[0].1.as_ref().unwrap().processes, vec![p]);
        let mode = std::fs::metadata(&paused[0].0).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let fills = read_all::<FillsSidecar>(dir.path(), FILLS_DIR);
        assert_eq!(fills[0].1.as_ref().unwrap().files, vec![PathBuf::from("/data/faultdrill-fill-x")]);
        sidecars.remove().unwrap();
        sidecars.remove().unwrap();
        assert!(read_all::<PausedSidecar>(dir.path(), PAUSED_DIR).is_empty());
    }

    #[test]
    fn nothing_is_written_for_what_a_sweep_finds_itself() {
        let dir = tempfile::tempdir().unwrap();
        let id = InjectionId::generate();
        let undo = Undo::DeleteNftTable { netns: None, family: "inet".into(), table: "faultdrill_x".into() };
        Sidecars { state_dir: dir.path(), injection: &id }.write_for(&undo).unwrap();
        assert!(!dir.path().join(PAUSED_DIR).exists() && !dir.path().join(FILLS_DIR).exists());
    }
}
