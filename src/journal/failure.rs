//! What a failed SQLite call on the journal means for an operator: a damaged file (move
//! it aside and sweep), a full filesystem, another process holding the lock too long, or
//! anything else (SQLite's own words).

use std::path::Path;

use rusqlite::ErrorCode;

use super::store::{JournalError, is_busy};
use crate::platform::linux::files::fs_usage;

/// Below this many free bytes, an I/O error on the journal is taken for a full filesystem
/// (SQLite reports one as "xShmMap" or "disk I/O error" when it cannot grow its files).
const NEARLY_FULL: u64 = 64 * 1024;

/// The journal error for `source`, met using the journal at `path`.
pub fn classify(path: &Path, source: rusqlite::Error) -> JournalError {
    let code = source.sqlite_error_code();
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    if matches!(code, Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)) {
        return JournalError::Damaged { path: path.to_path_buf(), move_aside: move_aside(path), source };
    }
    let is_full = code == Some(ErrorCode::DiskFull)
        || (code == Some(ErrorCode::SystemIoFailure) && fs_usage(&dir).is_ok_and(|u| u.available < NEARLY_FULL));
    if is_full {
        return JournalError::Full { path: path.to_path_buf(), dir, source };
    }
    if is_busy(&source) {
        return JournalError::Busy { path: path.to_path_buf(), source };
    }
    JournalError::Sqlite { path: path.to_path_buf(), source }
}

/// The shell command that moves a damaged journal and its `-wal` and `-shm` files (which
/// SQLite would otherwise replay into a fresh journal) into a folder of their own.
fn move_aside(path: &Path) -> String {
    let dir = path.parent().unwrap_or(Path::new("."));
    // Not named `journal.db...`, or the glob would try to move the folder into itself.
    let aside = dir.join(format!("damaged-journal-{}", super::now_ms() / 1000));
    format!("mkdir {} && mv {}* {}/", aside.display(), path.display(), aside.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_move_aside_command_takes_the_wal_and_shm_too() {
        let cmd = move_aside(Path::new("/var/lib/fd/journal.db"));
        assert!(cmd.starts_with("mkdir /var/lib/fd/damaged-journal-"), "{cmd}");
        assert!(cmd.contains(" && mv /var/lib/fd/journal.db* /var/lib/fd/damaged-journal-"), "{cmd}");
    }

    #[test]
    fn a_file_that_is_not_a_database_is_damaged() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("journal.db"), vec![b'x'; 8192]).unwrap();
        let err = crate::journal::Journal::open(dir.path()).err().expect("garbage is refused");
        assert!(matches!(err, JournalError::Damaged { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("it is damaged") && text.contains("faultdrill recover --sweep"), "{text}");
    }
}
