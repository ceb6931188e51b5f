//! Verified rollback: after an undo, look again and say whether its fault is really
//! gone (DESIGN §5). One arm per [`Undo`] variant: a new variant adds its arm here.

use super::undo::Undo;
use crate::platform::linux::leftovers;

/// An undo that ran but whose fault is (partly) still there: what is left, in words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{VERDICT_NOT_VERIFIED}: {}", .still_there.join("; "))]
pub struct NotVerified {
    pub still_there: Vec<String>,
}

/// The words of a rollback whose fault was checked and found gone.
pub const VERDICT_VERIFIED: &str = "rolled back, verified";
/// The words of a rollback that succeeded but that nothing can check (a custom action
/// without `verify_rolled_back`).
pub const VERDICT_UNCHECKED: &str = "rolled back, not verifiable: the action gives no verify_rolled_back";
/// The words that open a rollback whose fault was found still (partly) there.
pub const VERDICT_NOT_VERIFIED: &str = "rolled back, NOT verified";

/// Checks that what `undo` undoes is gone. Looks only; changes nothing.
pub fn verify(undo: &Undo) -> Result<(), NotVerified> {
    let still_there = leftovers_of(undo);
    if still_there.is_empty() { Ok(()) } else { Err(NotVerified { still_there }) }
}

fn leftovers_of(undo: &Undo) -> Vec<String> {
    match undo {
        Undo::Nothing => Vec::new(),
        Undo::All { steps } => steps.iter().flat_map(leftovers_of).collect(),
        Undo::DeleteFile { path } => leftovers::file(path),
        Undo::StopHelpers { injection, helpers } => leftovers::helpers(injection, helpers),
        Undo::Resume { processes } => leftovers::stopped(processes),
        Undo::DeleteNftTable { netns, family, table } => {
            leftovers::nft_table(netns.as_deref(), family, table).into_iter().collect()
        }
        Undo::DeleteRootQdisc { netns, device, handle, root_before } => {
            leftovers::root_qdisc(netns.as_deref(), device, handle, root_before.as_deref()).into_iter().collect()
        }
        Undo::DeleteIpRule { netns, ipv6, priority, fwmark, table } => {
            leftovers::ip_rule(netns.as_deref(), *ipv6, *priority, *fwmark, *table).into_iter().collect()
        }
        Undo::DeleteLink { netns, device } => leftovers::link(netns.as_deref(), device).into_iter().collect(),
        Undo::RunCommand(command) => command.verify_gone().and_then(Result::err).into_iter().collect(),
        Undo::HttpRequest(request) => request.verify_gone().and_then(Result::err).into_iter().collect(),
        Undo::StopCommand { injection, step, leader } => {
            super::running_step::command_leftovers(injection, step, *leader)
        }
        Undo::UnmountFuse { mountpoint, source } => leftovers::fuse_mount(mountpoint, source).into_iter().collect(),
        Undo::ForgetRedirectedFlows { netns, port } => {
            leftovers::redirected_flows(netns.as_deref(), *port).into_iter().collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_and_gone_things_verify() {
        assert_eq!(verify(&Undo::Nothing), Ok(()));
        let gone = Undo::DeleteFile { path: "/nonexistent/faultdrill-fill-x".into() };
        assert_eq!(verify(&Undo::All { steps: vec![gone, Undo::Nothing] }), Ok(()));
    }

    #[test]
    fn a_file_still_there_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("faultdrill-fill-y");
        std::fs::write(&path, b"x").unwrap();
        let err = verify(&Undo::All { steps: vec![Undo::DeleteFile { path: path.clone() }] }).unwrap_err();
        assert_eq!(err.to_string(), format!("rolled back, NOT verified: the file {} still exists", path.display()));
    }
}
