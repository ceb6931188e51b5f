//! io-latency: delay the reads and writes (or every operation) under a directory,
//! through a FUSE pass-through mounted over it (see `io_common`).

use std::time::Duration;

use super::context::{Fault, FaultError, FaultInfo, InjectContext, Prepared};
use super::io_common::{self, COMM, OPS, PATH, PERCENT, PID};
use crate::experiment::{ParamKind, ParamSpec, Params};
use crate::platform::linux::passfs::Effect;

/// The io-latency fault.
pub struct IoLatency;

static INFO: FaultInfo = FaultInfo {
    name: "io-latency",
    summary: "Delay file operations under a directory (FUSE pass-through mounted over it), optionally for some processes only",
    params: &[
        PATH,
        ParamSpec {
            name: "latency",
            kind: ParamKind::Duration,
            default: None,
            required: true,
            doc: "added to each hit operation, e.g. 50ms",
        },
        ParamSpec {
            name: "jitter",
            kind: ParamKind::Duration,
            default: None,
            required: false,
            doc: "random variation of the latency, plus or minus (uniform)",
        },
        OPS,
        PERCENT,
        PID,
        COMM,
    ],
    is_held: true,
};

impl Fault for IoLatency {
    fn info(&self) -> &'static FaultInfo {
        &INFO
    }

    fn check(&self, params: &Params) -> Result<(), String> {
        io_common::check(params)
    }

    fn prepare(&self, params: &Params, cx: &InjectContext) -> Result<Prepared, FaultError> {
        let latency = params
            .duration("latency")
            .ok_or_else(|| FaultError::Refused("parameter `latency` is required, e.g. 50ms".into()))?;
        let jitter = params.duration("jitter").unwrap_or(Duration::ZERO);
        let what = if jitter.is_zero() {
            format!("delay by {}", humantime::format_duration(latency))
        } else {
            format!("delay by {} ± {}", humantime::format_duration(latency), humantime::format_duration(jitter))
        };
        io_common::prepare(params, cx, Effect::Delay { latency, jitter }, what)
    }
}
