//! Template rendering with `--set`: the input is `--set` arguments, one a line, then a NUL
//! byte, then the template text (no NUL: the whole input is the text, with no sets).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let (sets, text) = input.split_once('\0').unwrap_or(("", input));
    let args: Vec<String> = sets.lines().map(String::from).collect();
    let Ok(sets) = faultdrill::experiment::parse_sets(&args) else { return };
    let _ = faultdrill::experiment::render_str("fuzz.yaml", text, &sets, faultdrill::fault::catalog());
});
