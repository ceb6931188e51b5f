//! `faultdrill runs | status | stop`: runs on a daemon.

use super::args::{RemoteArgs, RunRefArgs};

pub fn list(args: RemoteArgs) -> anyhow::Result<u8> {
    let _ = args;
    anyhow::bail!("this command is not built yet")
}

pub fn status(args: RunRefArgs) -> anyhow::Result<u8> {
    let _ = args;
    anyhow::bail!("this command is not built yet")
}

pub fn stop(args: RunRefArgs) -> anyhow::Result<u8> {
    let _ = args;
    anyhow::bail!("this command is not built yet")
}
