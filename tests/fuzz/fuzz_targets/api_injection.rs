//! `POST /v1/injections` bodies, parsed and checked as the daemon does.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = faultdrill::daemon::fuzz_entry::injection_body(data);
});
