//! TUN devices and raw IP sockets: the two ends of network-delay's user-space
//! path. Packets routed into a TUN device are read here as whole IP packets;
//! a raw socket (header included, with a firewall mark) sends them back out.
//!
//! The TUN device is not persistent: it exists while the process that created
//! it holds its descriptor, so a helper killed by anything takes its device,
//! and every route through it, with it.
#![expect(unsafe_code, reason = "the TUNSETIFF ioctl and raw IP sockets have no safe form in nix")]

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

use nix::sys::socket::{setsockopt, sockopt};

/// Test-only: the TUN clone device to open instead of `/dev/net/tun` (a path
/// that does not exist shows the missing-prerequisite path without changing the host).
pub const TUN_PATH_ENV: &str = "FAULTDRILL_TUN_PATH";

/// The name prefix of every TUN device faultdrill creates (an undo deletes no other).
pub const DEVICE_PREFIX: &str = "fdly";

/// The kernel's TUN clone device.
const TUN_PATH: &str = "/dev/net/tun";

/// Why a TUN device or raw socket could not be had. Reads after "failed to ".
#[derive(Debug, thiserror::Error)]
pub enum TunError {
    /// The clone device is missing or cannot be opened.
    #[error(
        "open the TUN clone device {path}: {source}; the kernel needs CONFIG_TUN (`modprobe tun`) and, in a container, the device passed in"
    )]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// TUNSETIFF refused.
    #[error("create TUN device {name}: {source}")]
    Create {
        name: String,
        #[source]
        source: std::io::Error,
    },
    /// A raw IP socket could not be opened or marked (it needs CAP_NET_RAW and CAP_NET_ADMIN).
    #[error("open a raw IPv{family} socket with firewall mark {mark:#x}: {source}")]
    Raw {
        family: u8,
        mark: u32,
        #[source]
        source: std::io::Error,
    },
}

/// The TUN clone device this process uses.
pub fn tun_path() -> PathBuf {
    std::env::var_os(TUN_PATH_ENV).map_or_else(|| PathBuf::from(TUN_PATH), PathBuf::from)
}

fn open_clone() -> Result<File, TunError> {
    let path = tun_path();
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|source| TunError::Open { path: path.display().to_string(), source })
}

/// Checks that a TUN device could be created here, creating nothing (opening
/// the clone device without TUNSETIFF makes no device).
pub fn check_available() -> Result<(), TunError> {
    open_clone().map(drop)
}

/// A TUN device (IP packets, no packet-info header) owned by this process.
pub struct Tun {
    file: File,
    name: String,
}

/// `struct ifreq` as TUNSETIFF reads it: the name, then the flags, padded to 40 bytes.
#[repr(C)]
struct IfReq {
    name: [u8; 16],
    flags: libc::c_short,
    _pad: [u8; 22],
}

impl Tun {
    /// Creates the TUN device `name` in this thread's network namespace.
    pub fn create(name: &str) -> Result<Tun, TunError> {
        let file = open_clone()?;
        let mut req = IfReq { name: [0; 16], flags: (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short, _pad: [0; 22] };
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes.len() > 15 {
            return Err(TunError::Create {
                name: name.into(),
                source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
            });
        }
        req.name[..bytes.len()].copy_from_slice(bytes);
        // SAFETY: TUNSETIFF reads and writes one `struct ifreq`, which `req` is
        // (repr(C), 40 bytes), on a descriptor we own for the whole call.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF as _, &mut req as *mut IfReq) };
        if rc < 0 {
            return Err(TunError::Create { name: name.into(), source: std::io::Error::last_os_error() });
        }
        Ok(Tun { file, name: name.to_string() })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads one IP packet (blocking).
    pub fn read_packet(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        (&self.file).read(buf)
    }
}

/// Raw IPv4 and IPv6 sockets that send whole IP packets (the header included)
/// carrying a firewall mark, so policy routing can tell them apart.
pub struct RawSender {
    v4: OwnedFd,
    v6: OwnedFd,
}

fn raw_socket(domain: libc::c_int, family: u8, mark: u32) -> Result<OwnedFd, TunError> {
    let err = |source| TunError::Raw { family, mark, source };
    // SAFETY: socket(2) takes no pointers; a non-negative result is a new
    // descriptor that nothing else owns, so OwnedFd may take it.
    let fd = unsafe { libc::socket(domain, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::IPPROTO_RAW) };
    if fd < 0 {
        return Err(err(std::io::Error::last_os_error()));
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // IPPROTO_RAW implies IP_HDRINCL (IPv4) and IPV6_HDRINCL (IPv6): we send the packet as read.
    setsockopt(&fd, sockopt::Mark, &mark).map_err(|e| err(e.into()))?;
    Ok(fd)
}

impl RawSender {
    /// Opens both sockets with firewall mark `mark` (needs CAP_NET_RAW and CAP_NET_ADMIN).
    pub fn open(mark: u32) -> Result<RawSender, TunError> {
        Ok(RawSender { v4: raw_socket(libc::AF_INET, 4, mark)?, v6: raw_socket(libc::AF_INET6, 6, mark)? })
    }

    /// Sends one IP packet to the destination its header names.
    pub fn send(&self, packet: &[u8]) -> std::io::Result<()> {
        let rc = match packet.first().map(|b| b >> 4) {
            Some(4) if packet.len() >= 20 => {
                let mut to = zeroed_v4();
                to.sin_family = libc::AF_INET as libc::sa_family_t;
                to.sin_addr.s_addr = u32::from_ne_bytes([packet[16], packet[17], packet[18], packet[19]]);
                send_to(&self.v4, packet, &to)
            }
            Some(6) if packet.len() >= 40 => {
                let mut to = zeroed_v6();
                to.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                to.sin6_addr.s6_addr.copy_from_slice(&packet[24..40]);
                send_to(&self.v6, packet, &to)
            }
            _ => return Err(std::io::Error::from(std::io::ErrorKind::InvalidData)),
        };
        if rc < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
    }
}

/// All-zero socket addresses, to fill in.
fn zeroed_v4() -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is a plain C struct of integers; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

fn zeroed_v6() -> libc::sockaddr_in6 {
    // SAFETY: sockaddr_in6 is a plain C struct of integers and bytes; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

fn send_to<T>(fd: &OwnedFd, packet: &[u8], to: &T) -> isize {
    // SAFETY: `packet` and `to` are valid for reads of the lengths given for the
    // whole call; sendto(2) keeps neither pointer.
    unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            packet.as_ptr().cast(),
            packet.len(),
            0,
            (to as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifreq_is_the_kernel_size() {
        assert_eq!(std::mem::size_of::<IfReq>(), 40);
    }

    #[test]
    fn a_name_too_long_is_refused_before_the_kernel() {
        if check_available().is_ok() {
            assert!(matches!(Tun::create("sixteen-chars-xx"), Err(TunError::Create { .. })));
        }
    }
}
