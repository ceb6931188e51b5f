//! Linux specifics: /proc, signals, filesystems, network namespaces.

mod procs;

pub use procs::{ProcRef, process_start_time};
