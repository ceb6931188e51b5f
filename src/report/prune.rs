//! Pruning old run reports (`<state-dir>/runs/<run-id>/`) by the journal's retention.

use std::path::Path;
use std::time::SystemTime;

use crate::ids::RunId;
use crate::journal::Retention;

/// Removes run directories older than `retention.max_age`, then the oldest beyond
/// `retention.keep` (by modification time), and returns how many went. A directory that
/// cannot be removed is logged and left.
pub fn prune_reports(state_dir: &Path, retention: &Retention) -> usize {
    let Ok(read) = std::fs::read_dir(state_dir.join("runs")) else { return 0 };
    let mut dirs: Vec<(SystemTime, std::path::PathBuf)> = read
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(|n| RunId::parse(n).is_some()))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    dirs.sort();
    let too_old = SystemTime::now().checked_sub(retention.max_age).unwrap_or(SystemTime::UNIX_EPOCH);
    let beyond_count = dirs.len().saturating_sub(retention.keep as usize);
    let mut removed = 0;
    for (i, (modified, dir)) in dirs.iter().enumerate() {
        if i >= beyond_count && *modified >= too_old {
            continue;
        }
        match std::fs::remove_dir_all(dir) {
            Ok(()) => removed += 1,
            Err(e) => tracing::warn!(dir = %dir.display(), error = %e, "Could not remove an old run report."),
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_newest_reports_within_the_count_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut ids = Vec::new();
        for _ in 0..5 {
            let id = RunId::generate();
            std::fs::create_dir_all(dir.path().join("runs").join(id.as_str())).unwrap();
            ids.push(id);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::fs::create_dir_all(dir.path().join("runs").join("not-a-run")).unwrap();
        assert_eq!(prune_reports(dir.path(), &Retention::new(30, 2)), 3);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(dir.path().join("runs").join(id.as_str()).exists(), i >= 3, "{i}");
        }
        assert!(dir.path().join("runs/not-a-run").exists(), "only run directories are touched");
        assert_eq!(prune_reports(dir.path(), &Retention::new(0, 100)), 2, "age 0 removes every one");
    }
}
