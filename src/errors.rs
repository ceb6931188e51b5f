//! Error text for operators: an error and every cause behind it, on one line.

/// An error and its causes, joined with ": " (e.g. "inject disk-fill on local: refused: …").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
