//! Alertmanager webhook payloads, parsed and their labels judged as the receiver does.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = faultdrill::daemon::fuzz_entry::alertmanager_body(data);
});
