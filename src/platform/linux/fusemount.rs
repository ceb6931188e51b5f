//! faultdrill's FUSE mounts as /proc/self/mountinfo shows them: finding them,
//! and detaching one (lazily) only while it is still faultdrill's.
//!
//! An io fault mounts a FUSE pass-through over a directory with the source
//! (fsname) `faultdrill:<injection id>`; that source is how an undo, `recover`
//! or a sweep tells its own mount from anybody else's.

use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, umount2};

use super::{UndoError, UndoOutcome};

/// The prefix of the source (fsname) of every FUSE mount faultdrill makes.
pub const SOURCE_PREFIX: &str = "faultdrill:";

/// The FUSE device; a test may point `FAULTDRILL_FUSE_DEVICE` elsewhere to play a
/// host without FUSE.
pub fn fuse_device() -> PathBuf {
    std::env::var_os("FAULTDRILL_FUSE_DEVICE").filter(|d| !d.is_empty()).map_or("/dev/fuse".into(), PathBuf::from)
}

/// One line of /proc/self/mountinfo, the fields faultdrill reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountEntry {
    pub id: u64,
    pub parent: u64,
    pub mountpoint: PathBuf,
    pub fstype: String,
    pub source: String,
}

impl MountEntry {
    /// Whether this is a FUSE mount made by faultdrill.
    pub fn is_faultdrill_fuse(&self) -> bool {
        (self.fstype == "fuse" || self.fstype.starts_with("fuse.")) && self.source.starts_with(SOURCE_PREFIX)
    }
}

/// The mount table of this process's mount namespace, in the kernel's order
/// (a mount stacked over another at the same point comes after it).
pub fn mounts() -> std::io::Result<Vec<MountEntry>> {
    Ok(parse_mountinfo(&std::fs::read_to_string("/proc/self/mountinfo")?))
}

/// Every FUSE mount faultdrill made that is still in the table (a sweep's list).
pub fn faultdrill_mounts() -> std::io::Result<Vec<MountEntry>> {
    Ok(mounts()?.into_iter().filter(MountEntry::is_faultdrill_fuse).collect())
}

/// The mount on top at `mountpoint`, if anything is mounted there.
pub fn top_mount_at(mountpoint: &Path) -> std::io::Result<Option<MountEntry>> {
    Ok(mounts()?.into_iter().rfind(|m| m.mountpoint == mountpoint))
}

fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<MountEntry> {
    let (left, right) = line.split_once(" - ")?;
    let mut left = left.split(' ');
    let id = left.next()?.parse().ok()?;
    let parent = left.next()?.parse().ok()?;
    let mountpoint = PathBuf::from(unescape(left.nth(2)?));
    let mut right = right.split(' ');
    let fstype = unescape(right.next()?);
    let source = unescape(right.next()?);
    Some(MountEntry { id, parent, mountpoint, fstype, source })
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\134` for a backslash).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal =
            bytes.get(i + 1..i + 4).filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Detaches (`umount -l`) the FUSE mount with `source` at `mountpoint`, only while
/// it is the mount on top there. Idempotent: no such mount is "already gone". A
/// mount whose server died ("Transport endpoint is not connected") detaches too.
pub fn detach(mountpoint: &Path, source: &str) -> Result<UndoOutcome, UndoError> {
    let failed = |what: String, source: Option<std::io::Error>| UndoError { what, source };
    let read = |stage: &str| {
        mounts().map_err(|e| failed(format!("read /proc/self/mountinfo to {stage} {}", mountpoint.display()), Some(e)))
    };
    let ours = |m: &MountEntry| m.mountpoint == mountpoint && m.source == source && m.is_faultdrill_fuse();
    let table = read("unmount")?;
    if !table.iter().any(ours) {
        return Ok(UndoOutcome::AlreadyGone);
    }
    let top = table.iter().rfind(|m| m.mountpoint == mountpoint);
    if let Some(top) = top.filter(|t| !ours(t)) {
        return Err(failed(
            format!(
                "unmount faultdrill's FUSE mount {source} at {}: `{}` ({}) is mounted over it; unmount that \
                 first (`umount {}`), then run `faultdrill recover` again",
                mountpoint.display(),
                top.source,
                top.fstype,
                mountpoint.display()
            ),
            None,
        ));
    }
    if let Err(errno) = umount2(mountpoint, MntFlags::MNT_DETACH) {
        // EINVAL: no longer a mount point (it went away meanwhile); checked below.
        if errno != nix::errno::Errno::EINVAL && errno != nix::errno::Errno::ENOENT {
            return Err(failed(
                format!("unmount {source} at {} (umount -l)", mountpoint.display()),
                Some(errno.into()),
            ));
        }
    }
    if read("check")?.iter().any(ours) {
        return Err(failed(
            format!(
                "unmount {source} at {}: it is still mounted after `umount -l`; check with `grep {source} \
                 /proc/self/mountinfo`",
                mountpoint.display()
            ),
            None,
        ));
    }
    Ok(UndoOutcome::Undone)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw
98 30 0:52 / /tmp/a\\040b rw,nosuid,nodev shared:1 - fuse faultdrill:i-123 rw,user_id=0,group_id=0
99 98 0:53 / /tmp/a\\040b rw - tmpfs other rw
";

    #[test]
    fn mountinfo_lines_are_read_with_their_escapes() {
        let all = parse_mountinfo(SAMPLE);
        assert_eq!(all.len(), 3);
        assert_eq!(all[1].mountpoint, Path::new("/tmp/a b"));
        assert_eq!(all[1].source, "faultdrill:i-123");
        assert!(all[1].is_faultdrill_fuse());
        assert!(!all[2].is_faultdrill_fuse());
        assert_eq!(all.iter().rfind(|m| m.mountpoint == Path::new("/tmp/a b")).unwrap().id, 99);
        assert_eq!(unescape("a\\134b\\011"), "a\\b\t");
    }

    #[test]
    fn detaching_a_mount_that_is_not_there_is_already_gone() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(detach(dir.path(), "faultdrill:i-none").unwrap(), UndoOutcome::AlreadyGone);
    }
}
