//! Linux specifics: /proc, signals, filesystems, network namespaces.

pub mod boot_clock;
pub mod burner;
pub mod conntrack;
pub mod cpustat;
pub mod files;
pub mod fillgrow;
pub mod fusemount;
pub mod helpers;
pub mod iproute;
pub mod leftovers;
pub mod memhold;
pub mod meminfo;
pub mod names;
pub mod netns;
pub mod nft;
pub mod passfs;
pub mod privileges;
pub mod procs;
pub mod signals;
pub mod splice;
pub mod step_group;
pub mod tc;
pub mod tun;

mod undo_result;

pub use procs::{ProcRef, process_start_time};
pub use undo_result::{UndoError, UndoOutcome};
