//! The experiment loader: any text gives a plan or diagnostics, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = faultdrill::experiment::load_str("fuzz.yaml", text, &[], faultdrill::fault::catalog());
    }
});
