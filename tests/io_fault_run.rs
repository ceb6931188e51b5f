//! An io fault inside an experiment run: a steady-state probe that reads a file under the
//! path fails while io-error holds (a finding: deviated, exit 1), the run rolls the fault
//! back, and the file reads normally again with nothing left mounted.

mod io_fault_util;
mod run_common;

use io_fault_util::{Target, read_errno};
use run_common::{experiment, faultdrill, root_or_skip};

#[test]
fn a_probe_reading_under_an_io_error_path_deviates_and_the_run_unmounts() {
    if !root_or_skip("a_probe_reading_under_an_io_error_path_deviates_and_the_run_unmounts") {
        return;
    }
    let target = Target::new();
    let before = target.mounts();
    let file = target.file().display().to_string();
    let dir = target.path().display().to_string();
    let yaml = format!(
        r#"version: 1
name: io-error-drill
steady_state:
  interval: 200ms
  check: [before, during, after]
  probes:
    - name: read-data
      command: {{run: [cat, "{file}"], timeout: 2s}}
      expect: {{exit: 0}}
action_groups:
  - name: disk
    target: local
    actions:
      - fault: io-error
        params: {{path: "{dir}", ops: read, errno: EIO}}
        duration: 2s
"#
    );
    let state = tempfile::tempdir().unwrap();
    let path = experiment(state.path(), "io.yaml", &yaml);
    let output = faultdrill(state.path()).arg("run").arg(&path).arg("--json").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}; stderr:\n{stderr}"));
    assert_eq!(output.status.code(), Some(1), "deviated; stderr:\n{stderr}");
    assert_eq!(report["outcome"], "deviated", "{report}");
    assert_eq!(target.mounts(), before, "the run rolled the mount back");
    assert_eq!(read_errno(&target.file()), None);
}
