//! The registry of every fault faultdrill knows, by name.

use super::context::Fault;

/// Every fault, in the order `faultdrill faults` lists them.
pub fn all_faults() -> &'static [&'static dyn Fault] {
    &[]
}

/// The fault called `name`, if there is one.
pub fn find_fault(name: &str) -> Option<&'static dyn Fault> {
    all_faults().iter().copied().find(|f| f.info().name == name)
}
