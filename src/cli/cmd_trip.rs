//! `faultdrill trip RUN GUARDRAIL`: trip a guardrail of a running run, as an alarm would.
//!
//! An embedded run (`faultdrill run` in another process) is reached through its control
//! socket in the state directory; a run on a daemon through `--daemon URL`.

use std::path::Path;

use crate::engine::{ControlRequest, control_socket_path, send_control_request};
use crate::exit;

use super::args::TripArgs;
use super::edge::InvalidInput;

pub fn run(args: TripArgs, state_dir: &Path) -> anyhow::Result<u8> {
    if let Some(url) = &args.daemon {
        return super::cmd_remote::trip(url, &args.run, &args.guardrail);
    }
    let path = control_socket_path(state_dir, &args.run);
    if !path.exists() {
        return Err(InvalidInput(format!(
            "trip {} of run {}: no run {} is running with state dir {} (no {}); pass --state-dir, or --daemon URL for a run on a daemon",
            args.guardrail,
            args.run,
            args.run,
            state_dir.display(),
            path.display()
        ))
        .into());
    }
    let request =
        ControlRequest::Trip { guardrail: args.guardrail.clone(), reason: "tripped by `faultdrill trip`".to_string() };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let answer = runtime
        .block_on(send_control_request(&path, &request))
        .map_err(|e| anyhow::anyhow!("reach run {} through {}: {e}", args.run, path.display()))?;
    if answer.ok {
        println!("tripped guardrail {} of run {}: it stops and rolls back now", args.guardrail, args.run);
        Ok(exit::PASSED)
    } else {
        Err(InvalidInput(answer.error.unwrap_or_else(|| "the run refused the trip".into())).into())
    }
}
