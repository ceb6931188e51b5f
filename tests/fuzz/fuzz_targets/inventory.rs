//! The inventory loader: any text gives hosts or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = faultdrill::client::Inventory::parse(std::path::Path::new("inventory.yaml"), text);
    }
});
