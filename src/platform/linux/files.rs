//! Files faultdrill creates (disk-fill), their idempotent removal, and filesystem usage.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::{UndoError, UndoOutcome};

/// Every file faultdrill creates starts with this, and it deletes no other.
pub const FILE_PREFIX: &str = "faultdrill-";

/// How full a filesystem is, as `df` counts it (blocks reserved for root excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsUsage {
    /// Bytes in use.
    pub used: u64,
    /// Bytes an unprivileged writer may still use.
    pub available: u64,
}

impl FsUsage {
    /// The size `df` divides by: used + available.
    pub fn size(&self) -> u64 {
        self.used + self.available
    }

    /// Percent used, as `df` shows it (without rounding).
    pub fn used_percent(&self) -> f64 {
        if self.size() == 0 { 0.0 } else { self.used as f64 * 100.0 / self.size() as f64 }
    }
}

/// The usage of the filesystem holding `path` (statvfs).
pub fn fs_usage(path: &Path) -> io::Result<FsUsage> {
    let st = nix::sys::statvfs::statvfs(path).map_err(io::Error::from)?;
    let frag = st.fragment_size() as u64;
    let blocks = st.blocks() as u64;
    let free = st.blocks_free() as u64;
    let avail = st.blocks_available() as u64;
    Ok(FsUsage { used: blocks.saturating_sub(free) * frag, available: avail * frag })
}

/// The kind of memory-backed filesystem holding `path` (tmpfs, ramfs, hugetlbfs), by
/// statfs `f_type`; `None` for a filesystem whose data lives on a device.
/// devtmpfs reports tmpfs's magic number and is named so.
pub fn memory_backed_kind(path: &Path) -> io::Result<Option<&'static str>> {
    use nix::sys::statfs::{FsType, HUGETLBFS_MAGIC, TMPFS_MAGIC, statfs};
    // Neither nix nor libc names ramfs's magic (linux/magic.h).
    const RAMFS_MAGIC: FsType = FsType(0x8584_58f6);
    let kind = statfs(path).map_err(io::Error::from)?.filesystem_type();
    Ok(if kind == TMPFS_MAGIC {
        Some("tmpfs (or devtmpfs)")
    } else if kind == RAMFS_MAGIC {
        Some("ramfs")
    } else if kind == HUGETLBFS_MAGIC {
        Some("hugetlbfs")
    } else {
        None
    })
}

/// How a fill file was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FillMethod {
    Fallocate,
    /// The filesystem does not support fallocate: zeros were written.
    Write,
}

/// Creates `path` (which must not exist) holding `len` bytes of real blocks.
///
/// `fallocate` first; zeros written in 1 MiB chunks where the filesystem lacks it.
/// On failure the partial file is removed.
pub fn create_fill_file(path: &Path, len: u64) -> io::Result<FillMethod> {
    let file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    let result = fill(&file, len);
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
}

fn fill(file: &File, len: u64) -> io::Result<FillMethod> {
    let method = extend(file, 0, len)?;
    if method == FillMethod::Write {
        file.sync_all()?;
    }
    Ok(method)
}

/// Grows `file` from `from` to `to` bytes of real blocks: `fallocate` first, zeros
/// appended in 1 MiB chunks where the filesystem lacks it (the file's offset must be
/// at `from`, as it is after earlier calls).
pub fn extend(file: &File, from: u64, to: u64) -> io::Result<FillMethod> {
    if to <= from {
        return Ok(FillMethod::Fallocate);
    }
    let mode = nix::fcntl::FallocateFlags::empty();
    match nix::fcntl::fallocate(file, mode, from as libc::off_t, (to - from) as libc::off_t) {
        Ok(()) => return Ok(FillMethod::Fallocate),
        Err(nix::errno::Errno::EOPNOTSUPP) => {}
        Err(e) => return Err(io::Error::from(e)),
    }
    let chunk = vec![0u8; 1 << 20];
    let mut left = to - from;
    let mut out = io::BufWriter::new(file);
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        out.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    out.flush()?;
    Ok(FillMethod::Write)
}

/// Deletes a file faultdrill created. Already gone is success; a file whose name
/// does not start with [`FILE_PREFIX`] is refused (a damaged journal must not
/// delete an operator's data).
pub fn delete_file(path: &Path) -> Result<UndoOutcome, UndoError> {
    let is_ours = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(FILE_PREFIX));
    if !is_ours {
        return Err(UndoError {
            what: format!(
                "delete {}: not a file faultdrill created (names start with `{FILE_PREFIX}`)",
                path.display()
            ),
            source: None,
        });
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(UndoOutcome::Undone),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(UndoOutcome::AlreadyGone),
        Err(e) => Err(UndoError {
            what: format!("delete {}; remove it by hand to free the space", path.display()),
            source: Some(e),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_then_delete_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("faultdrill-fill-test");
        create_fill_file(&path, 3 << 20).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 3 << 20);
        assert!(create_fill_file(&path, 1).is_err(), "an existing file is never overwritten");
        assert_eq!(delete_file(&path).unwrap(), UndoOutcome::Undone);
        assert_eq!(delete_file(&path).unwrap(), UndoOutcome::AlreadyGone);
    }

    #[test]
    fn files_faultdrill_did_not_create_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("precious.db");
        std::fs::write(&path, b"data").unwrap();
        assert!(delete_file(&path).is_err());
        assert!(path.exists());
    }

    #[test]
    fn usage_of_the_root_filesystem_is_sane() {
        let usage = fs_usage(Path::new("/")).unwrap();
        assert!(usage.size() > 0);
        assert!((0.0..=100.0).contains(&usage.used_percent()));
    }
}
