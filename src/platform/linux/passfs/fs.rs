//! The pass-through filesystem: every operation is carried out on the real file
//! underneath, after the fault's verdict (serve now, serve after a delay, or fail).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use fuser::{
    FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, InitFlags, KernelConfig, LockOwner, OpenFlags,
    RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs,
    ReplyWrite, Request, TimeOrNow, WriteFlags,
};
use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, AtFlags, OFlag, openat};
use nix::sys::stat::{FchmodatFlags, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, UnlinkatFlags};

use super::chaos::{Chaos, OpKind, Verdict};
use super::delay::Delayer;
use super::inodes::{Inodes, Node, TTL, attr_of};

/// A reply that can carry an errno.
trait Fail {
    fn fail(self, errno: Errno);
}

macro_rules! fail_by_error {
    ($($reply:ty),*) => {$(
        impl Fail for $reply {
            fn fail(self, errno: Errno) {
                self.error(fuser::Errno::from_i32(errno as i32));
            }
        }
    )*};
}
fail_by_error!(
    ReplyAttr,
    ReplyCreate,
    ReplyData,
    ReplyDirectory,
    ReplyEmpty,
    ReplyEntry,
    ReplyOpen,
    ReplyStatfs,
    ReplyWrite
);

type DirList = Arc<Vec<(u64, FileType, OsString)>>;

/// What the operations share (also from the timer threads).
struct Core {
    inodes: Inodes,
    files: Mutex<HashMap<u64, Arc<File>>>,
    dirs: Mutex<HashMap<u64, DirList>>,
    next_handle: AtomicU64,
}

impl Core {
    fn node(&self, ino: INodeNo) -> Result<Arc<Node>, Errno> {
        self.inodes.get(ino)
    }

    fn file(&self, fh: FileHandle) -> Result<Arc<File>, Errno> {
        self.files.lock().unwrap_or_else(|p| p.into_inner()).get(&fh.0).cloned().ok_or(Errno::EBADF)
    }

    fn keep_file(&self, file: File) -> FileHandle {
        let fh = self.next_handle.fetch_add(1, Ordering::Relaxed);
        self.files.lock().unwrap_or_else(|p| p.into_inner()).insert(fh, Arc::new(file));
        FileHandle(fh)
    }

    fn getattr(&self, ino: INodeNo) -> Result<fuser::FileAttr, Errno> {
        Ok(attr_of(&self.node(ino)?.stat()?, ino.0))
    }

    fn lookup(&self, parent: INodeNo, name: &OsStr) -> Result<fuser::FileAttr, Errno> {
        let parent = self.node(parent)?;
        self.inodes.lookup(&parent, name)
    }

    /// Gives a new entry under `parent` to the caller (the helper creates it as root),
    /// keeping the directory's group where it is set-group-ID.
    fn give_to_caller(&self, parent: &Node, name: &OsStr, uid: u32, gid: u32) -> Result<(), Errno> {
        let inherit_group = parent.stat()?.st_mode & libc::S_ISGID != 0;
        let group = (!inherit_group).then(|| Gid::from_raw(gid));
        nix::unistd::fchownat(parent.fd.as_fd(), name, Some(Uid::from_raw(uid)), group, AtFlags::AT_SYMLINK_NOFOLLOW)
    }

    fn open(&self, ino: INodeNo, flags: i32) -> Result<FileHandle, Errno> {
        let node = self.node(ino)?;
        let strip = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOCTTY | OFlag::O_NOFOLLOW | OFlag::O_DIRECT;
        let flags = (OFlag::from_bits_truncate(flags) - strip) | OFlag::O_CLOEXEC;
        let fd = nix::fcntl::open(Path::new(&node.proc_path()), flags, Mode::empty())?;
        Ok(self.keep_file(File::from(fd)))
    }

    fn read(&self, fh: FileHandle, offset: u64, size: u32) -> Result<Vec<u8>, Errno> {
        let file = self.file(fh)?;
        let mut buf = vec![0; size as usize];
        let mut got = 0;
        while got < buf.len() {
            match file.read_at(&mut buf[got..], offset + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(errno_of(&e)),
            }
        }
        buf.truncate(got);
        Ok(buf)
    }

    fn write(&self, fh: FileHandle, offset: u64, data: &[u8]) -> Result<u32, Errno> {
        self.file(fh)?.write_all_at(data, offset).map_err(|e| errno_of(&e))?;
        Ok(data.len() as u32)
    }

    #[expect(clippy::too_many_arguments, reason = "the setattr request's fields")]
    fn setattr(
        &self,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        fh: Option<FileHandle>,
    ) -> Result<fuser::FileAttr, Errno> {
        let node = self.node(ino)?;
        let path = node.proc_path();
        if let Some(mode) = mode {
            nix::sys::stat::fchmodat(
                AT_FDCWD,
                path.as_str(),
                Mode::from_bits_truncate(mode),
                FchmodatFlags::FollowSymlink,
            )?;
        }
        if uid.is_some() || gid.is_some() {
            nix::unistd::fchownat(
                node.fd.as_fd(),
                "",
                uid.map(Uid::from_raw),
                gid.map(Gid::from_raw),
                AtFlags::AT_EMPTY_PATH | AtFlags::AT_SYMLINK_NOFOLLOW,
            )?;
        }
        if let Some(size) = size {
            match fh.map(|fh| self.file(fh)) {
                Some(Ok(file)) => file.set_len(size).map_err(|e| errno_of(&e))?,
                _ => nix::unistd::truncate(path.as_str(), size as libc::off_t)?,
            }
        }
        if atime.is_some() || mtime.is_some() {
            let spec = |t: Option<TimeOrNow>| match t {
                None => TimeSpec::UTIME_OMIT,
                Some(TimeOrNow::Now) => TimeSpec::UTIME_NOW,
                Some(TimeOrNow::SpecificTime(t)) => {
                    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
                    TimeSpec::new(d.as_secs() as i64, i64::from(d.subsec_nanos()))
                }
            };
            nix::sys::stat::utimensat(
                AT_FDCWD,
                path.as_str(),
                &spec(atime),
                &spec(mtime),
                UtimensatFlags::FollowSymlink,
            )?;
        }
        Ok(attr_of(&node.stat()?, ino.0))
    }

    fn read_dir(&self, ino: INodeNo) -> Result<FileHandle, Errno> {
        let node = self.node(ino)?;
        let fd = openat(
            AT_FDCWD,
            node.proc_path().as_str(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let mut dir = nix::dir::Dir::from_fd(fd)?;
        let mut list = Vec::new();
        for entry in dir.iter() {
            let entry = entry?;
            let kind = match entry.file_type() {
                Some(nix::dir::Type::Directory) => FileType::Directory,
                Some(nix::dir::Type::Symlink) => FileType::Symlink,
                Some(nix::dir::Type::CharacterDevice) => FileType::CharDevice,
                Some(nix::dir::Type::BlockDevice) => FileType::BlockDevice,
                Some(nix::dir::Type::Fifo) => FileType::NamedPipe,
                Some(nix::dir::Type::Socket) => FileType::Socket,
                _ => FileType::RegularFile,
            };
            list.push((entry.ino(), kind, OsStr::from_bytes(entry.file_name().to_bytes()).to_os_string()));
        }
        let fh = self.next_handle.fetch_add(1, Ordering::Relaxed);
        self.dirs.lock().unwrap_or_else(|p| p.into_inner()).insert(fh, Arc::new(list));
        Ok(FileHandle(fh))
    }
}

fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// The pass-through over one directory.
pub struct PassFs {
    core: Arc<Core>,
    chaos: Chaos,
    delayer: Delayer,
}

impl PassFs {
    /// A pass-through serving the directory `root` (an `O_PATH` descriptor taken
    /// before the mount covers it).
    pub fn new(root: std::os::fd::OwnedFd, chaos: Chaos) -> Result<PassFs, Errno> {
        let core = Core {
            inodes: Inodes::new(root)?,
            files: Mutex::default(),
            dirs: Mutex::default(),
            next_handle: AtomicU64::new(1),
        };
        Ok(PassFs { core: Arc::new(core), chaos, delayer: Delayer::start(2) })
    }

    /// Runs `job` now, later, or never (failing the reply), as the fault decides.
    fn gate<R: Fail + Send + 'static>(
        &self,
        req: &Request,
        op: OpKind,
        reply: R,
        job: impl FnOnce(&Core, R) + Send + 'static,
    ) {
        match self.chaos.judge(op, req.pid()) {
            Verdict::Serve => job(&self.core, reply),
            Verdict::Fail(errno) => reply.fail(Errno::from_raw(errno)),
            Verdict::Delay(delay) => {
                let core = self.core.clone();
                self.delayer.after(delay, Box::new(move || job(&core, reply)));
            }
        }
    }

    /// Opened files of a caller whose reads may be hit bypass the page cache, so
    /// every `read(2)` reaches the fault; everybody else keeps the cache.
    fn open_flags(&self, req: &Request) -> FopenFlags {
        if self.chaos.may_hit(OpKind::Read, req.pid()) { FopenFlags::FOPEN_DIRECT_IO } else { FopenFlags::empty() }
    }
}

fn entry(reply: ReplyEntry, attr: Result<fuser::FileAttr, Errno>) {
    match attr {
        Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
        Err(e) => reply.fail(e),
    }
}

fn empty(reply: ReplyEmpty, done: Result<(), Errno>) {
    match done {
        Ok(()) => reply.ok(),
        Err(e) => reply.fail(e),
    }
}

impl Filesystem for PassFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Shared mappings of direct-I/O files (kernels from 6.6); refused quietly by older ones.
        let _ = config.add_capabilities(InitFlags::FUSE_DIRECT_IO_ALLOW_MMAP);
        Ok(())
    }

    fn lookup(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let name = name.to_os_string();
        self.gate(req, OpKind::Other, reply, move |core, reply| entry(reply, core.lookup(parent, &name)));
    }

    // Extended attributes are not passed through: "not supported" once, and the
    // kernel stops asking (no log line per call, unlike fuser's default).
    fn getxattr(&self, _req: &Request, _ino: INodeNo, _name: &OsStr, _size: u32, reply: fuser::ReplyXattr) {
        reply.error(fuser::Errno::ENOSYS);
    }

    fn listxattr(&self, _req: &Request, _ino: INodeNo, _size: u32, reply: fuser::ReplyXattr) {
        reply.error(fuser::Errno::ENOSYS);
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.core.inodes.forget(ino, nlookup);
    }

    fn getattr(&self, req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        self.gate(req, OpKind::Other, reply, move |core, reply| match core.getattr(ino) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.fail(e),
        });
    }

    fn setattr(
        &self,
        req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        self.gate(req, OpKind::Other, reply, move |core, reply| {
            match core.setattr(ino, mode, uid, gid, size, atime, mtime, fh) {
                Ok(attr) => reply.attr(&TTL, &attr),
                Err(e) => reply.fail(e),
            }
        });
    }

    fn readlink(&self, req: &Request, ino: INodeNo, reply: ReplyData) {
        self.gate(req, OpKind::Other, reply, move |core, reply| {
            match core.node(ino).and_then(|n| nix::fcntl::readlinkat(n.fd.as_fd(), "")) {
                Ok(target) => reply.data(target.as_bytes()),
                Err(e) => reply.fail(e),
            }
        });
    }

    fn mknod(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, rdev: u32, reply: ReplyEntry) {
        let (name, uid, gid) = (name.to_os_string(), req.uid(), req.gid());
        self.gate(req, OpKind::Other, reply, move |core, reply| {
            let made = core.node(parent).and_then(|p| {
                let kind = SFlag::from_bits_truncate(mode & libc::S_IFMT);
                let perm = Mode::from_bits_truncate(mode & !umask & 0o7777);
                nix::sys::stat::mknodat(p.fd.as_fd(), name.as_os_str(), kind, perm, libc::dev_t::from(rdev))?;
                core.give_to_caller(&p, &name, uid, gid)?;
                core.inodes.lookup(&p, &name)
            });
            entry(reply, made);
        });
    }

    fn mkdir(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, reply: ReplyEntry) {
        let (name, uid, gid) = (name.to_os_string(), req.uid(), req.gid());
        self.gate(req, OpKind::Other, reply, move |core, reply| {
            let made = core.node(parent).and_then(|p| {
                nix::sys::stat::mkdirat(p.fd.as_fd(), name.as_os_str(), Mode::from_bits_truncate(mode & !umask))?;
                core.give_to_caller(&p, &name, uid, gid)?;
                core.inodes.lookup(&p, &name)
            });
            entry(reply, made);
        });
    }

    fn unlink(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let name = name.to_os_string();
        self.gate(req, OpKind::Other, reply, move |core, reply| {
            let done = core
                .node(parent)
                .and_then(|p| nix::unistd::unlinkat(p.fd.as_fd(), name.as_os_str(), UnlinkatFlags::NoRemoveDir));
            empty(reply, done);
        });
    }

    fn rmdir(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let name = name.to_os_string();
        self.gate(req, OpKind::Other, reply, move |core, reply| {
            let done = core
                .node(parent)
                .and_then(|p| nix::unistd::unlinkat(p.fd.as_fd(), name.as_os_str(), UnlinkatFlags::RemoveDir));
            empty(reply, done);
        });
    }

    fn symlink(&self, req: &Request, parent: INodeNo, link_name: &OsStr, target: &Path, reply: ReplyEntry) {
        let (name, target, uid, gid) = (link_name.to_os_string(), target.to_path_buf(), req.uid(), req.gid());
        self.gate(req, OpKind::Other, reply, move |core, reply| {
            let made = core.node(parent).and_then(|p| {
                nix::unistd::symlinkat(target.as_path(), p.fd.as_fd(), name.as_os_str())?;
                core.give_to_caller(&p, &name, uid, gid)?;
                core.inodes.lookup(&p, &name)
            });
            entry(reply, made);
        });
    }

    fn rename(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let (name, newname) = (name.to_os_string(), newname.to_os_string());
        self.gate(req, OpKind::Other, reply, move |core, reply| {
            let done = core.node(parent).and_then(|from| {
                let to = core.node(newparent)?;
                let flags = nix::fcntl::RenameFlags::from_bits_truncate(flags.bits());
                nix::fcntl::renameat2(from.fd.as_fd(), name.as_os_str(), to.fd.as_fd(), newname.as_os_str(), flags)
            });
            empty(reply, done);
        });
    }

    fn link(&self, req: &Request, ino: INodeNo, newparent: INodeNo, newname: &OsStr, reply: ReplyEntry) {
        let newname = newname.to_os_string();
        self.gate(req, OpKind::Other, reply, move |core, reply| {
            let made = core.node(ino).and_then(|node| {
                let to = core.node(newparent)?;
                nix::unistd::linkat(node.fd.as_fd(), "", to.fd.as_fd(), newname.as_os_str(), AtFlags::AT_EMPTY_PATH)?;
                core.inodes.lookup(&to, &newname)
            });
            entry(reply, made);
        });
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let fopen = self.open_flags(req);
        self.gate(req, OpKind::Other, reply, move |core, reply| match core.open(ino, flags.0) {
            Ok(fh) => reply.opened(fh, fopen),
            Err(e) => reply.fail(e),
        });
    }

    fn read(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        self.gate(req, OpKind::Read, reply, move |core, reply| match core.read(fh, offset, size) {
            Ok(data) => reply.data(&data),
            Err(e) => reply.fail(e),
        });
    }

    fn write(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let data = data.to_vec();
        self.gate(req, OpKind::Write, reply, move |core, reply| match core.write(fh, offset, &data) {
            Ok(n) => reply.written(n),
            Err(e) => reply.fail(e),
        });
    }

    fn flush(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _lock_owner: LockOwner, reply: ReplyEmpty) {
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.core.files.lock().unwrap_or_else(|p| p.into_inner()).remove(&fh.0);
        reply.ok();
    }

    fn fsync(&self, req: &Request, _ino: INodeNo, fh: FileHandle, datasync: bool, reply: ReplyEmpty) {
        self.gate(req, OpKind::Other, reply, move |core, reply| {
            let done = core
                .file(fh)
                .and_then(|f| if datasync { f.sync_data() } else { f.sync_all() }.map_err(|e| errno_of(&e)));
            empty(reply, done);
        });
    }

    fn opendir(&self, req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        self.gate(req, OpKind::Other, reply, move |core, reply| match core.read_dir(ino) {
            Ok(fh) => reply.opened(fh, FopenFlags::empty()),
            Err(e) => reply.fail(e),
        });
    }

    fn readdir(&self, req: &Request, _ino: INodeNo, fh: FileHandle, offset: u64, reply: ReplyDirectory) {
        self.gate(req, OpKind::Other, reply, move |core, mut reply| {
            let list = core.dirs.lock().unwrap_or_else(|p| p.into_inner()).get(&fh.0).cloned();
            let Some(list) = list else { return reply.fail(Errno::EBADF) };
            for (i, (ino, kind, name)) in list.iter().enumerate().skip(offset as usize) {
                if reply.add(INodeNo(*ino), i as u64 + 1, *kind, name) {
                    break;
                }
            }
            reply.ok();
        });
    }

    fn releasedir(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, _flags: OpenFlags, reply: ReplyEmpty) {
        self.core.dirs.lock().unwrap_or_else(|p| p.into_inner()).remove(&fh.0);
        reply.ok();
    }

    fn statfs(&self, req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        self.gate(req, OpKind::Other, reply, move |core, reply| {
            match core.node(INodeNo(1)).and_then(|root| nix::sys::statvfs::fstatvfs(root.fd.as_fd())) {
                Ok(s) => reply.statfs(
                    s.blocks(),
                    s.blocks_free(),
                    s.blocks_available(),
                    s.files(),
                    s.files_free(),
                    s.block_size() as u32,
                    s.name_max() as u32,
                    s.fragment_size() as u32,
                ),
                Err(e) => reply.fail(e),
            }
        });
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let (name, uid, gid) = (name.to_os_string(), req.uid(), req.gid());
        let fopen = self.open_flags(req);
        self.gate(req, OpKind::Other, reply, move |core, reply| {
            let made = core.node(parent).and_then(|p| {
                // O_NOFOLLOW: this helper is root, and a symlink planted under that name
                // (through a descriptor taken before the mount) must never make it open
                // another file on the caller's behalf.
                let flags = (OFlag::from_bits_truncate(flags) - (OFlag::O_NOCTTY | OFlag::O_DIRECT))
                    | OFlag::O_CREAT
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC;
                let perm = Mode::from_bits_truncate(mode & !umask & 0o7777);
                let fd = openat(p.fd.as_fd(), name.as_os_str(), flags, perm)?;
                core.give_to_caller(&p, &name, uid, gid)?;
                let attr = core.inodes.lookup(&p, &name)?;
                Ok((attr, core.keep_file(File::from(fd))))
            });
            match made {
                Ok((attr, fh)) => reply.created(&TTL, &attr, Generation(0), fh, fopen),
                Err(e) => reply.fail(e),
            }
        });
    }

    fn fallocate(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        self.gate(req, OpKind::Write, reply, move |core, reply| {
            let done = core.file(fh).and_then(|f| {
                let mode = nix::fcntl::FallocateFlags::from_bits_truncate(mode);
                nix::fcntl::fallocate(f.as_fd(), mode, offset as libc::off_t, length as libc::off_t)
            });
            empty(reply, done);
        });
    }
}
