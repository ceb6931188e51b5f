//! The `mode` words of the load faults (cpu-burn, memory-stress), written once.

use crate::experiment::param_words;

param_words!(
    /// How a load fault's amount is meant.
    pub LoadMode {
        /// Add this much load on top of what the host already does.
        Add = "add",
        /// Drive the host's total use to this much.
        Total = "total",
    }
);
