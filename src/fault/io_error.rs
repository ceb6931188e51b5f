//! io-error: fail the reads and writes (or every operation) under a directory
//! with a chosen errno and probability, through a FUSE pass-through mounted over
//! it (see `io_common`).

use super::context::{Fault, FaultError, FaultInfo, InjectContext, Prepared};
use super::io_common::{self, COMM, OPS, PATH, PID};
use crate::experiment::{ParamKind, ParamSpec, Params};
use crate::platform::linux::passfs::Effect;

/// The io-error fault.
pub struct IoError;

/// The errnos io-error can return, by name, with their numbers.
const ERRNOS: &[(&str, i32)] = &[
    ("EIO", libc::EIO),
    ("ENOSPC", libc::ENOSPC),
    ("EACCES", libc::EACCES),
    ("EPERM", libc::EPERM),
    ("EROFS", libc::EROFS),
    ("ENOENT", libc::ENOENT),
    ("EDQUOT", libc::EDQUOT),
    ("EFBIG", libc::EFBIG),
    ("EBUSY", libc::EBUSY),
    ("EAGAIN", libc::EAGAIN),
    ("EINTR", libc::EINTR),
    ("ETIMEDOUT", libc::ETIMEDOUT),
    ("ENOMEM", libc::ENOMEM),
    ("ENXIO", libc::ENXIO),
    ("ESTALE", libc::ESTALE),
];

const ERRNO_NAMES: &[&str] = &[
    "EIO",
    "ENOSPC",
    "EACCES",
    "EPERM",
    "EROFS",
    "ENOENT",
    "EDQUOT",
    "EFBIG",
    "EBUSY",
    "EAGAIN",
    "EINTR",
    "ETIMEDOUT",
    "ENOMEM",
    "ENXIO",
    "ESTALE",
];

static INFO: FaultInfo = FaultInfo {
    name: "io-error",
    summary: "Fail file operations under a directory with an errno (FUSE pass-through mounted over it), at a probability",
    params: &[
        PATH,
        ParamSpec {
            name: "errno",
            kind: ParamKind::Choice(ERRNO_NAMES),
            default: Some("EIO"),
            required: false,
            doc: "what a hit operation fails with",
        },
        ParamSpec {
            name: "percent",
            kind: ParamKind::Percent { min: 0.0, max: 100.0 },
            default: Some("100"),
            required: false,
            doc: "probability that a selected operation fails, each drawn at random",
        },
        OPS,
        PID,
        COMM,
    ],
    is_held: true,
};

impl Fault for IoError {
    fn info(&self) -> &'static FaultInfo {
        &INFO
    }

    fn check(&self, params: &Params) -> Result<(), String> {
        io_common::check(params)
    }

    fn prepare(&self, params: &Params, cx: &InjectContext) -> Result<Prepared, FaultError> {
        let name = params.text("errno").unwrap_or("EIO");
        let errno = ERRNOS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, e)| *e)
            .ok_or_else(|| FaultError::Refused(format!("parameter `errno`: unknown errno `{name}`")))?;
        io_common::prepare(params, cx, Effect::Fail { errno }, format!("fail with {name} ({errno})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_offered_errno_has_a_number() {
        let names: Vec<&str> = ERRNOS.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ERRNO_NAMES);
    }
}
