//! Drill templates built into the binary, so they work from any directory.
//!
//! `templates/*.yaml` is their source; each is compiled in with `include_str!`.

/// A built-in template: its name and YAML source.
#[derive(Clone, Copy, Debug)]
pub struct BuiltinTemplate {
    pub name: &'static str,
    pub source: &'static str,
}

impl BuiltinTemplate {
    /// Where the source lives in the repository (names it in diagnostics).
    pub fn origin(&self) -> String {
        format!("templates/{}.yaml", self.name)
    }

    /// The `description:` line, for listings (empty if none).
    pub fn description(&self) -> &'static str {
        self.source
            .lines()
            .find_map(|l| l.strip_prefix("description:"))
            .map(|d| d.trim().trim_matches('"'))
            .unwrap_or("")
    }
}

const TEMPLATES: &[BuiltinTemplate] = &[
    BuiltinTemplate { name: "cpu-saturation", source: include_str!("../../templates/cpu-saturation.yaml") },
    BuiltinTemplate { name: "cross-az-dr", source: include_str!("../../templates/cross-az-dr.yaml") },
    BuiltinTemplate { name: "db-primary-switch", source: include_str!("../../templates/db-primary-switch.yaml") },
    BuiltinTemplate { name: "disk-full-guardrail", source: include_str!("../../templates/disk-full-guardrail.yaml") },
    BuiltinTemplate { name: "instance-stop", source: include_str!("../../templates/instance-stop.yaml") },
    BuiltinTemplate { name: "memory-pressure", source: include_str!("../../templates/memory-pressure.yaml") },
    BuiltinTemplate { name: "network-fault", source: include_str!("../../templates/network-fault.yaml") },
    BuiltinTemplate {
        name: "process-crash-recovery",
        source: include_str!("../../templates/process-crash-recovery.yaml"),
    },
];

/// Every built-in template, by name.
pub fn templates() -> &'static [BuiltinTemplate] {
    TEMPLATES
}

/// The built-in template called `name`.
pub fn template(name: &str) -> Option<&'static BuiltinTemplate> {
    TEMPLATES.iter().find(|t| t.name == name)
}
