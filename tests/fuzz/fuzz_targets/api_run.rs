//! `POST /v1/runs` bodies: parsed, and the experiment loaded with its sets.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = faultdrill::daemon::fuzz_entry::run_body(data);
});
