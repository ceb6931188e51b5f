//! `faultdrill schema`: the JSON Schema of the experiment format.

use std::io::Write;

/// Prints the schema generated from the spec types.
pub fn run() -> anyhow::Result<u8> {
    std::io::stdout().lock().write_all(crate::experiment::schema_json().as_bytes())?;
    Ok(crate::exit::PASSED)
}
