//! The pass-through's inodes: each FUSE inode number stands for an `O_PATH`
//! descriptor of the real file underneath, opened relative to the directory's
//! descriptor taken before the mount covered it (so nothing loops through the
//! mount itself). Renames need no bookkeeping: a descriptor follows its file.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{FileAttr, FileType, INodeNo};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{FileStat, Mode, fstatat};

/// One real file (of any type) the kernel knows by a FUSE inode number.
pub struct Node {
    pub fd: OwnedFd,
    key: (u64, u64),
}

impl Node {
    /// `/proc/self/fd/N` of this node: reopening it reaches the real file, not the mount.
    pub fn proc_path(&self) -> String {
        format!("/proc/self/fd/{}", self.fd.as_raw_fd())
    }

    pub fn stat(&self) -> Result<FileStat, Errno> {
        fstatat(self.fd.as_fd(), "", AtFlags::AT_EMPTY_PATH | AtFlags::AT_SYMLINK_NOFOLLOW)
    }
}

struct Slot {
    node: Arc<Node>,
    lookups: u64,
}

#[derive(Default)]
struct Table {
    by_ino: HashMap<u64, Slot>,
    by_key: HashMap<(u64, u64), u64>,
    next: u64,
}

/// Every inode the kernel holds a reference to.
pub struct Inodes {
    table: Mutex<Table>,
}

impl Inodes {
    /// The table with the directory's own descriptor as the root inode.
    pub fn new(root: OwnedFd) -> Result<Inodes, Errno> {
        let st = fstatat(root.as_fd(), "", AtFlags::AT_EMPTY_PATH)?;
        let key = (st.st_dev, st.st_ino);
        let mut table = Table { next: 2, ..Table::default() };
        table.by_ino.insert(1, Slot { node: Arc::new(Node { fd: root, key }), lookups: 1 });
        table.by_key.insert(key, 1);
        Ok(Inodes { table: Mutex::new(table) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, ino: INodeNo) -> Result<Arc<Node>, Errno> {
        self.lock().by_ino.get(&ino.0).map(|s| s.node.clone()).ok_or(Errno::ESTALE)
    }

    /// Looks `name` up under `parent`, counting one kernel reference: its inode
    /// number and attributes.
    pub fn lookup(&self, parent: &Node, name: &OsStr) -> Result<FileAttr, Errno> {
        let fd = openat(parent.fd.as_fd(), name, OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())?;
        let st = fstatat(fd.as_fd(), "", AtFlags::AT_EMPTY_PATH | AtFlags::AT_SYMLINK_NOFOLLOW)?;
        let key = (st.st_dev, st.st_ino);
        let mut table = self.lock();
        let ino = match table.by_key.get(&key).copied() {
            Some(ino) => {
                table.by_ino.get_mut(&ino).expect("indexed").lookups += 1;
                ino
            }
            None => {
                let ino = table.next;
                table.next += 1;
                table.by_ino.insert(ino, Slot { node: Arc::new(Node { fd, key }), lookups: 1 });
                table.by_key.insert(key, ino);
                ino
            }
        };
        Ok(attr_of(&st, ino))
    }

    /// The kernel dropped `count` references to `ino`.
    pub fn forget(&self, ino: INodeNo, count: u64) {
        if ino.0 == 1 {
            return;
        }
        let mut table = self.lock();
        let Some(slot) = table.by_ino.get_mut(&ino.0) else { return };
        slot.lookups = slot.lookups.saturating_sub(count);
        if slot.lookups == 0 {
            let key = slot.node.key;
            table.by_ino.remove(&ino.0);
            if table.by_key.get(&key) == Some(&ino.0) {
                table.by_key.remove(&key);
            }
        }
    }
}

/// How long the kernel may cache attributes and names.
pub const TTL: Duration = Duration::from_secs(1);

/// A stat of the real file, as FUSE attributes of inode `ino`.
pub fn attr_of(st: &FileStat, ino: u64) -> FileAttr {
    let time = |secs: i64, nanos: i64| {
        if secs >= 0 {
            UNIX_EPOCH + Duration::new(secs as u64, nanos as u32)
        } else {
            UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
        }
    };
    FileAttr {
        ino: INodeNo(ino),
        size: st.st_size as u64,
        blocks: st.st_blocks as u64,
        atime: time(st.st_atime, st.st_atime_nsec),
        mtime: time(st.st_mtime, st.st_mtime_nsec),
        ctime: time(st.st_ctime, st.st_ctime_nsec),
        crtime: SystemTime::UNIX_EPOCH,
        kind: kind_of(st.st_mode),
        perm: (st.st_mode & 0o7777) as u16,
        nlink: st.st_nlink as u32,
        uid: st.st_uid,
        gid: st.st_gid,
        rdev: st.st_rdev as u32,
        blksize: st.st_blksize as u32,
        flags: 0,
    }
}

/// The file type in a `st_mode`.
pub fn kind_of(mode: u32) -> FileType {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => FileType::Directory,
        libc::S_IFLNK => FileType::Symlink,
        libc::S_IFCHR => FileType::CharDevice,
        libc::S_IFBLK => FileType::BlockDevice,
        libc::S_IFIFO => FileType::NamedPipe,
        libc::S_IFSOCK => FileType::Socket,
        _ => FileType::RegularFile,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_of(dir: &std::path::Path) -> OwnedFd {
        nix::fcntl::open(dir, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()).unwrap()
    }

    #[test]
    fn one_file_is_one_inode_until_the_kernel_forgets_every_lookup() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"x").unwrap();
        std::fs::hard_link(dir.path().join("a"), dir.path().join("b")).unwrap();
        let inodes = Inodes::new(root_of(dir.path())).unwrap();
        let root = inodes.get(INodeNo(1)).unwrap();
        let a = inodes.lookup(&root, OsStr::new("a")).unwrap();
        let b = inodes.lookup(&root, OsStr::new("b")).unwrap();
        assert_eq!(a.ino, b.ino, "hard links are one inode");
        assert_ne!(a.ino, INodeNo(1));
        assert_eq!((a.size, a.kind), (1, FileType::RegularFile));
        inodes.forget(a.ino, 1);
        assert!(inodes.get(a.ino).is_ok(), "one lookup is still held");
        inodes.forget(a.ino, 1);
        assert_eq!(inodes.get(a.ino).err(), Some(Errno::ESTALE));
        inodes.forget(INodeNo(1), 5);
        assert!(inodes.get(INodeNo(1)).is_ok(), "the root is never forgotten");
        assert_eq!(inodes.lookup(&root, OsStr::new("missing")).err(), Some(Errno::ENOENT));
    }
}
