//! Dropping root in helper processes that need none once their sockets are
//! bound (the tcp-proxy-latency helper): no supplementary groups, then the
//! user's group, then the user, so nothing of root is left to regain. The
//! dns-fault resolver keeps one capability, CAP_NET_ADMIN, to mark its sockets.
#![expect(unsafe_code, reason = "capset(2) has no safe wrapper in nix")]

use nix::unistd::{Gid, Uid, User};

/// The environment variable naming the user helpers run as after dropping root.
pub const HELPER_USER_ENV: &str = "FAULTDRILL_HELPER_USER";
/// The user helpers run as when [`HELPER_USER_ENV`] is unset.
pub const DEFAULT_HELPER_USER: &str = "nobody";

/// Why root could not be dropped. Reads after "failed to ".
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    /// The user does not exist (or the user database could not be read).
    #[error("find user `{user}` to run as: {why}; set {HELPER_USER_ENV} to an existing unprivileged user")]
    NoSuchUser { user: String, why: String },
    /// The user named is root itself.
    #[error("drop root to user `{user}`: it has uid 0; set {HELPER_USER_ENV} to an unprivileged user")]
    RootUser { user: String },
    /// A set*id call failed.
    #[error("drop root to user `{user}` ({step})")]
    Drop {
        user: String,
        step: &'static str,
        #[source]
        source: nix::Error,
    },
}

/// The user and group helpers run as: [`HELPER_USER_ENV`], else `nobody`.
pub fn helper_user() -> Result<User, PrivilegeError> {
    let name = std::env::var(HELPER_USER_ENV).ok().filter(|n| !n.is_empty());
    let name = name.as_deref().unwrap_or(DEFAULT_HELPER_USER);
    let user = match name.parse::<u32>() {
        Ok(uid) => User::from_uid(Uid::from_raw(uid)),
        Err(_) => User::from_name(name),
    };
    let user = user
        .map_err(|e| PrivilegeError::NoSuchUser { user: name.into(), why: e.to_string() })?
        .ok_or_else(|| PrivilegeError::NoSuchUser { user: name.into(), why: "there is no such user".into() })?;
    if user.uid.is_root() {
        return Err(PrivilegeError::RootUser { user: name.into() });
    }
    Ok(user)
}

/// CAP_NET_ADMIN's number (linux/capability.h): what `SO_MARK` needs.
const CAP_NET_ADMIN: u32 = 12;

/// Like [`drop_root`], but keeps CAP_NET_ADMIN, and no other capability of root:
/// for a helper that marks its sockets (`SO_MARK`) once it runs. Call it before
/// starting threads. Does nothing for any other user.
pub fn drop_root_keeping_net_admin() -> Result<Uid, PrivilegeError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(nix::unistd::geteuid());
    }
    let user = helper_user()?;
    let name = &user.name;
    let fail = |step: &'static str| move |source| PrivilegeError::Drop { user: name.clone(), step, source };
    // Without it, setuid clears every capability; it lasts until exec.
    nix::sys::prctl::set_keepcaps(true).map_err(fail("keep capabilities"))?;
    nix::unistd::setgroups(&[]).map_err(fail("setgroups"))?;
    nix::unistd::setgid(user.gid).map_err(fail("setgid"))?;
    nix::unistd::setuid(user.uid).map_err(fail("setuid"))?;
    set_capabilities(1 << CAP_NET_ADMIN).map_err(fail("capset"))?;
    nix::sys::prctl::set_keepcaps(false).map_err(fail("keep capabilities"))?;
    if nix::unistd::setuid(Uid::from_raw(0)).is_ok() || nix::unistd::setgid(Gid::from_raw(0)).is_ok() {
        return Err(fail("verify")(nix::Error::EPERM));
    }
    Ok(nix::unistd::geteuid())
}

/// Sets this thread's permitted and effective capabilities to `mask` (of the
/// first 32), and none inheritable.
fn set_capabilities(mask: u32) -> nix::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let header = Header { version: VERSION_3, pid: 0 };
    let data = [
        Data { effective: mask, permitted: mask, inheritable: 0 },
        Data { effective: 0, permitted: 0, inheritable: 0 },
    ];
    // SAFETY: capset(2) reads one header and, for version 3, two data structs,
    // laid out as linux/capability.h declares them; both live until it returns.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) };
    nix::errno::Errno::result(rc).map(drop)
}

/// When running as root, becomes the helper user for good (real, effective and
/// saved ids) with no supplementary groups; does nothing for any other user.
/// Call it before starting threads. Returns the uid in force afterwards.
pub fn drop_root() -> Result<Uid, PrivilegeError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(nix::unistd::geteuid());
    }
    let user = helper_user()?;
    let name = &user.name;
    let fail = |step: &'static str| move |source| PrivilegeError::Drop { user: name.clone(), step, source };
    nix::unistd::setgroups(&[]).map_err(fail("setgroups"))?;
    nix::unistd::setgid(user.gid).map_err(fail("setgid"))?;
    nix::unistd::setuid(user.uid).map_err(fail("setuid"))?;
    // Root must be gone for good: regaining it has to fail.
    if nix::unistd::setuid(Uid::from_raw(0)).is_ok() || nix::unistd::setgid(Gid::from_raw(0)).is_ok() {
        return Err(fail("verify")(nix::Error::EPERM));
    }
    Ok(nix::unistd::geteuid())
}
