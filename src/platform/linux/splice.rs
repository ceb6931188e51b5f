//! Zero-copy forwarding between two TCP sockets with `splice(2)` through a
//! pipe, for the tcp-proxy-latency proxy when it adds nothing to a stream: the
//! bytes never enter user space, so the proxy keeps up with loopback.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::fcntl::{OFlag, SpliceFFlags};
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Bytes moved per splice call (the pipe is grown to hold this much).
const CHUNK: usize = 1 << 20;

fn splice(from: impl AsFd, to: impl AsFd, len: usize) -> io::Result<usize> {
    let flags = SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK;
    nix::fcntl::splice(from, None, to, None, len, flags).map_err(io::Error::from)
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).map_err(io::Error::from)?;
    // A bigger pipe means fewer calls; the default (64 KiB) still works if this is refused.
    let _ = nix::fcntl::fcntl(&write, nix::fcntl::FcntlArg::F_SETPIPE_SZ(CHUNK as i32));
    Ok((read, write))
}

/// Moves everything `from` sends to `to` until `from` ends, then shuts down
/// `to`'s sending side. Returns the bytes moved.
pub async fn forward(from: &TcpStream, to: &TcpStream) -> io::Result<u64> {
    let (pipe_r, pipe_w) = pipe()?;
    let mut total = 0u64;
    loop {
        from.readable().await?;
        let filled = match from.try_io(Interest::READABLE, || splice(from, &pipe_w, CHUNK)) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        let mut left = filled;
        while left > 0 {
            to.writable().await?;
            match to.try_io(Interest::WRITABLE, || splice(&pipe_r, to, left)) {
                Ok(n) => left -= n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        total += filled as u64;
    }
    let _ = nix::sys::socket::shutdown(to.as_raw_fd(), nix::sys::socket::Shutdown::Write);
    Ok(total)
}
