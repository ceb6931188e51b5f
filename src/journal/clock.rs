//! The journal's clocks: when an injection is due for rollback, judged on a clock that no
//! wall-clock step moves.
//!
//! An injection's deadline and lease are journaled twice:
//! - in Unix milliseconds (`deadline_ms`, `lease_expires_ms`), for reports, the API and humans;
//! - on `CLOCK_BOOTTIME` (`deadline_boot_ms`, `lease_expires_boot_ms`), with the id of the boot
//!   that clock counts from (`boot_id`, from `/proc/sys/kernel/random/boot_id`).
//!
//! Only the boot clock decides. It is monotonic, so a step of the wall clock (NTP, `date -s`)
//! neither rolls every live injection back at once (+1 h) nor keeps a lost controller's
//! faults in place an hour too long (-1 h); and it counts time suspended, so a host that slept
//! past a deadline rolls back as soon as it wakes. It is system-wide, so any process reading
//! the journal (a restarted daemon, `faultdrill recover`) judges it the same way.
//!
//! The boot clock starts again at every boot: a record from another boot (its `boot_id` is not
//! this boot's) is due now, whatever its numbers say. The host rebooted under it, so its
//! controller's lease cannot be trusted and nothing should stay injected.
//!
//! A renewal moves the lease on both clocks. The time of the last change is kept on the boot
//! clock too (`updated_boot_id`, `updated_boot_ms`), for the retry backoff of a failed
//! rollback ([`RETRY_MIN_MS`] to [`RETRY_MAX_MS`], half the record's age; the age itself is
//! taken from the wall clock, so a step only changes which end of that range is used).
//!
//! A record without boot-clock values (journaled by an older faultdrill before this schema,
//! or where the boot clock could not be read) is judged on the wall clock, as before.
//!
//! Limits: the processes sharing a journal must share a time namespace (Linux 5.6+ can give
//! one its own `CLOCK_BOOTTIME` offset; the boot id is the same in all of them), and the
//! deadline a caller computed on the wall clock is anchored on the boot clock when it is
//! journaled, so only a step in the moment between those two readings could shift it.

use std::sync::Once;

use serde::{Deserialize, Serialize};
use tracing::warn;

use super::store::{InjectionRecord, InjectionState, RETRY_MAX_MS, RETRY_MIN_MS, now_ms, retry_due_ms};
use crate::platform::linux::boot_clock;

/// One reading of the wall clock and of the boot clock, taken together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    /// Unix milliseconds.
    pub wall_ms: i64,
    /// The boot clock, if it can be read.
    pub boot: Option<BootNow>,
}

/// A reading of the boot clock and the boot it counts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootNow {
    pub id: &'static str,
    /// Milliseconds on `CLOCK_BOOTTIME`.
    pub ms: i64,
}

impl Now {
    /// Reads both clocks.
    pub fn read() -> Now {
        let boot = boot_clock::boot_id().zip(boot_clock::boot_ms()).map(|(id, ms)| BootNow { id, ms });
        if boot.is_none() {
            static WARNED: Once = Once::new();
            WARNED.call_once(|| {
                warn!(
                    "The boot clock (CLOCK_BOOTTIME, /proc/sys/kernel/random/boot_id) cannot be read: deadlines \
                     and leases are judged on the wall clock, which a clock step moves."
                );
            });
        }
        Now { wall_ms: now_ms(), boot }
    }
}

/// An injection's deadline and lease on the boot clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootTimes {
    /// The boot these values count from.
    pub boot_id: String,
    /// Milliseconds on `CLOCK_BOOTTIME`.
    pub deadline_ms: i64,
    /// Milliseconds on `CLOCK_BOOTTIME`; moved by every renewal.
    pub lease_expires_ms: Option<i64>,
}

/// An instant on the boot clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootStamp {
    pub boot_id: String,
    /// Milliseconds on `CLOCK_BOOTTIME`.
    pub ms: i64,
}

/// Why an injection is due for rollback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    Deadline,
    Lease,
    /// The host rebooted since it was journaled.
    Rebooted,
    /// Its rollback failed; this is the time for the next try.
    Retry,
}

impl Due {
    /// The rollback reason recorded in the journal.
    pub fn reason(self) -> &'static str {
        match self {
            Due::Deadline => "deadline passed",
            Due::Lease => "lease expired: the controller went silent",
            Due::Rebooted => "the host rebooted since it was injected",
            Due::Retry => "retrying a rollback that failed",
        }
    }
}

/// How long until `r` is due for rollback, in milliseconds (zero or less: due now), and why;
/// `None` for an injection that has ended.
pub fn due_in(r: &InjectionRecord, now: &Now) -> Option<(i64, Due)> {
    match r.state {
        InjectionState::RolledBack => None,
        InjectionState::Failed => Some((retry_in(r, now), Due::Retry)),
        InjectionState::Pending | InjectionState::Active => Some(hold_left(r, now)),
    }
}

fn hold_left(r: &InjectionRecord, now: &Now) -> (i64, Due) {
    let (deadline, lease) = match (&r.boot, now.boot) {
        (Some(b), Some(n)) if b.boot_id == n.id => (b.deadline_ms - n.ms, b.lease_expires_ms.map(|l| l - n.ms)),
        (Some(_), Some(_)) => return (0, Due::Rebooted),
        _ => (r.deadline_ms - now.wall_ms, r.lease_expires_ms.map(|l| l - now.wall_ms)),
    };
    match lease {
        // Both passed: the deadline is the reason (the lease no longer mattered).
        Some(lease) if lease < deadline && deadline > 0 => (lease, Due::Lease),
        _ => (deadline, Due::Deadline),
    }
}

fn retry_in(r: &InjectionRecord, now: &Now) -> i64 {
    let backoff = ((r.updated_ms - r.created_ms) / 2).clamp(RETRY_MIN_MS, RETRY_MAX_MS);
    match (&r.updated_boot, now.boot) {
        (Some(u), Some(n)) if u.boot_id == n.id => u.ms + backoff - n.ms,
        (Some(_), Some(_)) => 0,
        _ => retry_due_ms(r) - now.wall_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::InjectionId;

    const BOOT: &str = "boot-a";

    fn now(wall_ms: i64, boot_ms: i64) -> Now {
        Now { wall_ms, boot: Some(BootNow { id: BOOT, ms: boot_ms }) }
    }

    /// Injected at wall 1_000_000 / boot 5_000 with a 60 s deadline and a 15 s lease.
    fn record(state: InjectionState) -> InjectionRecord {
        InjectionRecord {
            id: InjectionId::generate(),
            run: None,
            fault: "process-pause".into(),
            params: serde_json::json!({}),
            undo: serde_json::json!({}),
            state,
            created_ms: 1_000_000,
            updated_ms: 1_000_000,
            deadline_ms: 1_060_000,
            lease_ms: Some(15_000),
            lease_expires_ms: Some(1_015_000),
            note: None,
            boot: Some(BootTimes { boot_id: BOOT.into(), deadline_ms: 65_000, lease_expires_ms: Some(20_000) }),
            updated_boot: Some(BootStamp { boot_id: BOOT.into(), ms: 5_000 }),
        }
    }

    const HOUR: i64 = 3_600_000;

    #[test]
    fn the_boot_clock_decides_whatever_the_wall_clock_says() {
        let r = record(InjectionState::Active);
        // Table: (wall, boot) -> due in, why.
        let cases = [
            ((1_001_000, 6_000), (14_000, Due::Lease)),
            // The wall clock stepped an hour forward: both its deadline and lease look passed.
            ((1_001_000 + HOUR, 6_000), (14_000, Due::Lease)),
            // An hour back: nothing looks near its end.
            ((1_016_000 - HOUR, 21_000), (-1_000, Due::Lease)),
            ((1_070_000 - HOUR, 70_000), (-5_000, Due::Deadline)),
        ];
        for ((wall, boot), want) in cases {
            assert_eq!(due_in(&r, &now(wall, boot)), Some(want), "wall {wall}, boot {boot}");
        }
    }

    #[test]
    fn a_record_from_another_boot_is_due_now() {
        let r = record(InjectionState::Active);
        let other = Now { wall_ms: 1_001_000, boot: Some(BootNow { id: "boot-b", ms: 1_000 }) };
        assert_eq!(due_in(&r, &other), Some((0, Due::Rebooted)));
        let failed = record(InjectionState::Failed);
        assert_eq!(due_in(&failed, &other), Some((0, Due::Retry)));
    }

    #[test]
    fn a_record_without_boot_times_is_judged_on_the_wall_clock() {
        let r = InjectionRecord { boot: None, updated_boot: None, ..record(InjectionState::Pending) };
        assert_eq!(due_in(&r, &now(1_001_000, 999_999)), Some((14_000, Due::Lease)));
        assert_eq!(due_in(&r, &now(1_061_000, 0)), Some((-1_000, Due::Deadline)));
        // Where the boot clock cannot be read now, the wall clock is all there is.
        let blind = Now { wall_ms: 1_001_000, boot: None };
        assert_eq!(due_in(&record(InjectionState::Active), &blind), Some((14_000, Due::Lease)));
    }

    #[test]
    fn a_failed_rollback_is_retried_on_the_boot_clock() {
        let mut r = record(InjectionState::Failed);
        assert_eq!(due_in(&r, &now(1_000_000 - HOUR, 5_500)), Some((500, Due::Retry)));
        r.updated_ms = 1_000_000 + 300_000;
        r.updated_boot = Some(BootStamp { boot_id: BOOT.into(), ms: 305_000 });
        assert_eq!(due_in(&r, &now(0, 305_000)), Some((RETRY_MAX_MS, Due::Retry)));
        assert_eq!(due_in(&record(InjectionState::RolledBack), &now(0, 0)), None);
    }
}
