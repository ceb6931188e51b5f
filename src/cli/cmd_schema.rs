//! `faultdrill schema`: the JSON Schema of the experiment format, or with
//! `--openapi` the OpenAPI document of the daemon's v1 API.

use std::io::Write;

use super::args::SchemaArgs;

/// Prints the schema generated from the spec types (or from the wire types).
pub fn run(args: SchemaArgs) -> anyhow::Result<u8> {
    let text = match args.openapi {
        true => crate::daemon::openapi::json().to_string(),
        false => crate::experiment::schema_json(crate::fault::catalog()),
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(crate::exit::PASSED)
}
