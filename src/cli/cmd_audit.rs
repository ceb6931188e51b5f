//! `faultdrill audit [--since D] [--json] [--daemon URL]`: who asked the daemon for what.

use std::io::Write;
use std::path::Path;

use crate::daemon::{AuditRecord, read_audit};

use super::args::AuditArgs;
use super::edge::InvalidInput;

/// The most records printed in one call.
const MAX_RECORDS: usize = 100_000;

pub fn run(args: AuditArgs, state_dir: &Path) -> anyhow::Result<u8> {
    let since_ms = match &args.since {
        None => 0,
        Some(text) => {
            let ago = humantime::parse_duration(text)
                .map_err(|_| InvalidInput(format!("--since `{text}`: expected a duration such as 1h, 30m or 7days")))?;
            crate::journal::now_ms().saturating_sub(i64::try_from(ago.as_millis()).unwrap_or(i64::MAX))
        }
    };
    let records = match &args.daemon {
        Some(url) => {
            let daemon = super::cmd_remote::client(url)?;
            super::cmd_remote::runtime()?.block_on(daemon.audit(since_ms))?
        }
        None => {
            if !state_dir.join(crate::daemon::AUDIT_FILE).exists() {
                return Err(InvalidInput(format!(
                    "no audit trail in {}: it is written by `faultdrill daemon` using that state dir (give --state-dir, \
                     or --daemon URL with an admin token)",
                    state_dir.display()
                ))
                .into());
            }
            read_audit(state_dir, since_ms, MAX_RECORDS)?
        }
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &records)?;
        writeln!(out)?;
    } else {
        for r in &records {
            writeln!(out, "{}", line(r))?;
        }
    }
    Ok(crate::exit::PASSED)
}

fn line(r: &AuditRecord) -> String {
    let when = humantime::format_rfc3339_millis(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(r.at_ms).unwrap_or(0)),
    );
    let actor = match &r.role {
        Some(role) => format!("{}({role})", r.actor),
        None => r.actor.clone(),
    };
    format!(
        "{when}  {actor:<20} {:<15} {} {} -> {}{}{}",
        r.peer,
        r.method,
        r.path,
        r.status,
        r.target.as_deref().map(|t| format!("  {t}")).unwrap_or_default(),
        r.message.as_deref().map(|m| format!("  {m}")).unwrap_or_default(),
    )
}
