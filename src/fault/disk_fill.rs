//! disk-fill: create one file under a path so its filesystem reaches a size or a
//! usage level, never past 99 %, at once or growing at a `rate` (in a helper process);
//! the undo stops the helpers and deletes that file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::context::{Applied, Fault, FaultError, FaultInfo, InjectContext, Prepared};
use super::text::{human_bytes, unix_ms};
use super::undo::Undo;
use super::watchdog;
use crate::experiment::{ParamKind, ParamSpec, Params};
use crate::platform::linux::files::{self, FILE_PREFIX, FillMethod, FsUsage};
use crate::platform::linux::helpers;

/// The disk-fill fault.
pub struct DiskFill;

/// The fullest faultdrill ever makes a filesystem, in percent.
pub const MAX_USED_PERCENT: f64 = 99.0;

/// The parameter that allows filling a filesystem kept in memory.
const ALLOW_MEMORY_BACKED: &str = "allow_memory_backed";

static INFO: FaultInfo = FaultInfo {
    name: "disk-fill",
    summary: "Fill a filesystem with one file (fallocate), by size or up to a usage level, never past 99 %",
    params: &[
        ParamSpec {
            name: "path",
            kind: ParamKind::Text,
            default: None,
            required: true,
            doc: "an existing directory on the filesystem to fill; the fill file is created there",
        },
        ParamSpec {
            name: "size",
            kind: ParamKind::Bytes,
            default: None,
            required: false,
            doc: "how much to write, e.g. 1GiB (give size or fill_to_percent); refused past 99 % used",
        },
        ParamSpec {
            name: "fill_to_percent",
            kind: ParamKind::Percent { min: 1.0, max: MAX_USED_PERCENT },
            default: None,
            required: false,
            doc: "fill until the filesystem is this full, as df counts it (give size or fill_to_percent)",
        },
        ParamSpec {
            name: "rate",
            kind: ParamKind::ByteRate,
            default: None,
            required: false,
            doc: "grow the file at this rate, e.g. 20MiB/s, so a guardrail can stop the filesystem at its threshold; \
                  absent: all at once",
        },
        ParamSpec {
            name: ALLOW_MEMORY_BACKED,
            kind: ParamKind::Bool,
            default: Some("false"),
            required: false,
            doc: "fill a memory-backed filesystem (tmpfs, ramfs, devtmpfs, hugetlbfs) anyway: it takes RAM, not disk",
        },
    ],
    is_held: true,
};

impl Fault for DiskFill {
    fn info(&self) -> &'static FaultInfo {
        &INFO
    }

    fn check(&self, params: &Params) -> Result<(), String> {
        match (params.has("size"), params.has("fill_to_percent")) {
            (true, false) | (false, true) => {}
            _ => return Err("give exactly one of `size` or `fill_to_percent`".into()),
        }
        match params.text("path") {
            Some(path) if Path::new(path).is_absolute() => Ok(()),
            Some(path) => Err(format!("parameter `path` must be absolute, found `{path}`")),
            None => Err("missing required parameter `path`".into()),
        }
    }

    fn prepare(&self, params: &Params, cx: &InjectContext) -> Result<Prepared, FaultError> {
        self.check(params).map_err(FaultError::Refused)?;
        let dir = PathBuf::from(params.text("path").expect("checked"));
        if !dir.is_dir() {
            return Err(FaultError::NoTarget(format!("fill {}: it is not an existing directory", dir.display())));
        }
        let memory = check_memory_backed(&dir, params.get(ALLOW_MEMORY_BACKED)?)?;
        let usage = files::fs_usage(&dir).map_err(|e| FaultError::io(format!("read usage of {}", dir.display()), e))?;
        let bytes = plan_fill(&dir, usage, params.bytes("size"), params.number("fill_to_percent"))?;
        let file = dir.join(format!("{FILE_PREFIX}fill-{}", cx.injection));
        let after = FsUsage { used: usage.used + bytes, available: usage.available.saturating_sub(bytes) };
        let rate = params.bytes("rate");
        let how = match rate {
            None => format!("create {} of {} (fallocate; zeros where unsupported)", file.display(), human_bytes(bytes)),
            Some(rate) => format!(
                "start `{} helper grow-file ...`: create {} and grow it to {} at {}/s (about {:.1} s; \
                 fallocate, zeros where unsupported)",
                cx.exe.display(),
                file.display(),
                human_bytes(bytes),
                human_bytes(rate),
                bytes as f64 / rate as f64
            ),
        };
        let mut preview = vec![format!(
            "{how}: {} goes from {:.1} % to {:.1} % used of {} \
             (a request past {MAX_USED_PERCENT} % is refused, never capped); rollback deletes it",
            dir.display(),
            usage.used_percent(),
            after.used_percent(),
            human_bytes(usage.size()),
        )];
        let (undo, watchdog) = watchdog::arm(cx, Undo::DeleteFile { path: file.clone() });
        if let Some(kind) = memory {
            preview.push(format!(
                "{} is on {kind}, a memory-backed filesystem: this fill takes RAM (and swap), not disk, \
                 as `{ALLOW_MEMORY_BACKED}: true` allows",
                dir.display()
            ));
        }
        preview.push(watchdog.describe());
        let grower = rate.map(|rate| grow_args(cx, &file, bytes, rate));
        let exe = cx.exe.clone();
        let apply = move || {
            let watchdog = watchdog.start();
            match grower {
                Some(args) => helpers::spawn_helper(&exe, &args, Duration::from_secs(10))
                    .map(|grower| Applied::by_helpers([watchdog, Some(grower)]))
                    .map_err(|e| FaultError::Apply { context: format!("grow {}: {e}", file.display()), source: None }),
                None => match files::create_fill_file(&file, bytes) {
                    Ok(FillMethod::Fallocate | FillMethod::Write) => Ok(Applied::by_helpers([watchdog])),
                    Err(e) => Err(FaultError::io(format!("create {} of {}", file.display(), human_bytes(bytes)), e)),
                },
            }
        };
        Ok(Prepared { undo, preview, apply: Box::new(apply) })
    }
}

/// The command line of the helper that grows `file` to `bytes` at `rate` bytes per second.
fn grow_args(cx: &InjectContext, file: &Path, bytes: u64, rate: u64) -> Vec<String> {
    vec![
        "helper".to_string(),
        "grow-file".into(),
        "--injection".into(),
        cx.injection.to_string(),
        "--deadline-ms".into(),
        unix_ms(cx.deadline).to_string(),
        "--path".into(),
        file.display().to_string(),
        "--bytes".into(),
        bytes.to_string(),
        "--rate".into(),
        rate.to_string(),
    ]
}

/// The kind of memory-backed filesystem `dir` is on, refused unless `allowed`.
fn check_memory_backed(dir: &Path, allowed: bool) -> Result<Option<&'static str>, FaultError> {
    let kind = files::memory_backed_kind(dir)
        .map_err(|e| FaultError::io(format!("read the filesystem type of {}", dir.display()), e))?;
    match kind {
        Some(kind) if !allowed => Err(FaultError::Refused(format!(
            "{} is on {kind}, a memory-backed filesystem: filling it takes RAM (and swap), not disk, \
             and can starve every process on the host; fill a disk-backed path, or set \
             `{ALLOW_MEMORY_BACKED}: true` in the params if RAM is what you mean to fill",
            dir.display()
        ))),
        kind => Ok(kind),
    }
}

/// How many bytes to write, refusing anything that would pass 99 % used.
fn plan_fill(dir: &Path, usage: FsUsage, size: Option<u64>, fill_to: Option<f64>) -> Result<u64, FaultError> {
    const BLOCK: u64 = 4096;
    let fs_size = usage.size() as f64;
    let limit = (fs_size * MAX_USED_PERCENT / 100.0) as u64;
    let bytes = match (size, fill_to) {
        (Some(size), _) => size,
        (None, Some(percent)) => {
            let target = (fs_size * percent / 100.0) as u64;
            if target <= usage.used {
                return Err(FaultError::NoTarget(format!(
                    "fill {}: it is already {:.1} % used, at or above the requested {percent} %; nothing to fill",
                    dir.display(),
                    usage.used_percent()
                )));
            }
            // Whole blocks, rounded down, so the level is reached and not overshot.
            ((target - usage.used) / BLOCK * BLOCK).max(BLOCK)
        }
        (None, None) => return Err(FaultError::Refused("give exactly one of `size` or `fill_to_percent`".into())),
    };
    let rounded_up = bytes.div_ceil(BLOCK) * BLOCK;
    if usage.used + rounded_up > limit {
        let would = (usage.used + rounded_up) as f64 * 100.0 / fs_size.max(1.0);
        let room = limit.saturating_sub(usage.used) / BLOCK * BLOCK;
        return Err(FaultError::Refused(format!(
            "filling {} with {} would take it to {would:.1} % used; faultdrill never fills past {MAX_USED_PERCENT} % \
             (at most {} fits)",
            dir.display(),
            human_bytes(bytes),
            human_bytes(room)
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn usage(used_mib: u64, avail_mib: u64) -> FsUsage {
        FsUsage { used: used_mib * MIB, available: avail_mib * MIB }
    }

    #[test]
    fn fill_to_percent_writes_the_gap() {
        let bytes = plan_fill(Path::new("/d"), usage(10, 90), None, Some(95.0)).unwrap();
        assert_eq!(bytes, 85 * MIB);
    }

    #[test]
    fn past_99_percent_is_refused() {
        let err = plan_fill(Path::new("/d"), usage(10, 90), Some(90 * MIB), None).unwrap_err();
        assert!(err.to_string().contains("never fills past 99 %"), "{err}");
        assert!(plan_fill(Path::new("/d"), usage(10, 90), Some(89 * MIB), None).is_ok());
    }

    #[test]
    fn already_full_enough_is_said() {
        let err = plan_fill(Path::new("/d"), usage(96, 4), None, Some(95.0)).unwrap_err();
        assert!(err.to_string().contains("already 96.0 % used"), "{err}");
    }
}
