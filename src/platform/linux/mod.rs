//! Linux specifics: /proc, signals, filesystems, network namespaces.

pub mod files;
pub mod helpers;
pub mod netns;
pub mod nft;
mod procs;
pub mod signals;
pub mod splice;
pub mod tc;

pub use procs::{ProcRef, process_start_time};
