//! Undo records: data, not closures, so a fresh process can roll back from the journal alone.
//!
//! Every variant's `carry_out` is idempotent: "already gone" is success. Process
//! references carry the start time so a recycled PID is never signalled, and
//! network undos name their namespace so the wrong one is never touched.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::command_step::RollbackCommand;
use super::http_step::RollbackRequest;
use crate::ids::InjectionId;
use crate::platform::linux::{self, ProcRef, UndoError, UndoOutcome};

/// How to undo one injection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Undo {
    /// Instantaneous faults (process-kill): nothing to undo.
    Nothing,
    /// Delete a file faultdrill created (disk-fill).
    DeleteFile { path: PathBuf },
    /// Stop every helper process tagged with this injection id (cpu-burn, memory-stress,
    /// tcp-proxy-latency, expiry watchdogs). `helpers` lists them once they are started:
    /// then exactly those are stopped; while it is empty, /proc is searched for the tag.
    StopHelpers {
        injection: InjectionId,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        helpers: Vec<ProcRef>,
    },
    /// SIGCONT each process, if it is still the same process (process-pause).
    Resume { processes: Vec<ProcRef> },
    /// Delete an nftables table faultdrill owns, in a network namespace (`None`: the current one).
    DeleteNftTable { netns: Option<String>, family: String, table: String },
    /// Delete a root qdisc on a device, only if it still carries faultdrill's handle.
    /// `root_before` is the kind of the kernel's default root recorded before the fault
    /// (absent in records written before it was kept): verification checks it is back.
    DeleteRootQdisc {
        netns: Option<String>,
        device: String,
        handle: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        root_before: Option<String>,
    },
    /// Delete one fwmark policy-routing rule faultdrill added, matched by every
    /// selector (network-delay's user-space path).
    DeleteIpRule { netns: Option<String>, ipv6: bool, priority: u32, fwmark: u32, table: u32 },
    /// Delete a TUN device faultdrill created, only if it still is one and bears
    /// faultdrill's name prefix; its routes go with it.
    DeleteLink { netns: Option<String>, device: String },
    /// Forget the tracked flows to `port` that a redirect bound, in a network namespace
    /// (`None`: the current one), so none stays bound to a redirect that is gone (dns-fault).
    ForgetRedirectedFlows { netns: Option<String>, port: u16 },
    /// Detach (`umount -l`) the FUSE mount with this source at this mount point, only
    /// while it is the one on top there (io-latency, io-error). A dead mount (its
    /// helper killed) detaches too.
    UnmountFuse { mountpoint: PathBuf, source: String },
    /// Run the operator's rollback command (exec), retried with backoff, its effect checked by
    /// `verify_rolled_back` when given. The argv and its environment are journaled as written.
    RunCommand(RollbackCommand),
    /// Send the operator's rollback request (http-call), retried with backoff, checked by
    /// `verify_rolled_back` when given. Secret headers are journaled by variable name only.
    HttpRequest(RollbackRequest),
    /// Kill what still runs of a custom action's command whose controller was killed (an
    /// inject, a verify_injected): its process group while `leader` is the recorded process
    /// (PID and start time), and every process carrying the injection's and step's
    /// `FAULTDRILL_*` environment. What `recover --sweep` does with a running-command record;
    /// a rollback does it before running the injection's own undo.
    StopCommand {
        injection: InjectionId,
        step: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        leader: Option<ProcRef>,
    },
    /// Several undos, carried out in reverse order.
    All { steps: Vec<Undo> },
}

impl Undo {
    /// Stops the helpers of `injection`, whichever they turn out to be.
    pub fn stop_helpers(injection: &InjectionId) -> Undo {
        Undo::StopHelpers { injection: injection.clone(), helpers: Vec::new() }
    }

    /// This undo, knowing which helper processes the apply started (see [`Undo::StopHelpers`]).
    pub fn with_helpers(self, started: &[ProcRef]) -> Undo {
        match self {
            Undo::StopHelpers { injection, helpers } if helpers.is_empty() && !started.is_empty() => {
                Undo::StopHelpers { injection, helpers: started.to_vec() }
            }
            Undo::All { steps } => Undo::All { steps: steps.into_iter().map(|s| s.with_helpers(started)).collect() },
            other => other,
        }
    }

    /// Carries the undo out. Safe to call any number of times.
    pub fn carry_out(&self) -> Result<UndoOutcome, UndoError> {
        match self {
            Undo::Nothing => Ok(UndoOutcome::AlreadyGone),
            Undo::All { steps } => {
                let mut outcome = UndoOutcome::AlreadyGone;
                let mut first_error = None;
                for (done, step) in steps.iter().rev().enumerate() {
                    if done > 0 {
                        crate::failpoint::hit("rollback.mid");
                    }
                    match step.carry_out() {
                        // Unchecked outranks undone: one step nothing can check makes the whole unchecked.
                        Ok(UndoOutcome::UndoneUnchecked) => outcome = UndoOutcome::UndoneUnchecked,
                        Ok(UndoOutcome::Undone) if outcome != UndoOutcome::UndoneUnchecked => {
                            outcome = UndoOutcome::Undone
                        }
                        Ok(UndoOutcome::Undone | UndoOutcome::AlreadyGone) => {}
                        Err(e) => {
                            first_error.get_or_insert(e);
                        }
                    }
                }
                first_error.map_or(Ok(outcome), Err)
            }
            Undo::DeleteFile { path } => linux::files::delete_file(path),
            Undo::RunCommand(command) => command.carry_out(),
            Undo::HttpRequest(request) => request.carry_out(),
            Undo::StopCommand { injection, step, leader } => {
                super::running_step::stop_command(injection, step, *leader)
            }
            Undo::StopHelpers { injection, helpers } => linux::helpers::stop_helpers(injection, helpers),
            Undo::Resume { processes } => linux::signals::resume(processes),
            Undo::DeleteNftTable { netns, family, table } => linux::nft::delete_table(netns.as_deref(), family, table),
            Undo::UnmountFuse { mountpoint, source } => linux::fusemount::detach(mountpoint, source),
            Undo::ForgetRedirectedFlows { netns, port } => linux::conntrack::forget_redirected(netns.as_deref(), *port),
            Undo::DeleteRootQdisc { netns, device, handle, .. } => {
                linux::tc::delete_root_qdisc(netns.as_deref(), device, handle)
            }
            Undo::DeleteIpRule { netns, ipv6, priority, fwmark, table } => {
                linux::iproute::delete_rule(netns.as_deref(), *ipv6, *priority, *fwmark, *table)
            }
            Undo::DeleteLink { netns, device } => {
                linux::iproute::delete_tun_link(netns.as_deref(), device, linux::tun::DEVICE_PREFIX)
            }
        }
    }
}
