//! The fault library: one fault per file, the parameters they take, and undo records.

mod command_step;
mod context;
mod cpu_burn;
mod custom_action;
mod disk_fill;
mod dns_fault;
mod dns_match;
mod dns_nft;
mod dns_resolver;
mod exec;
mod http_call;
mod http_step;
mod io_common;
mod io_error;
mod io_latency;
mod library;
mod load_mode;
mod memory_stress;
mod net_delay_user;
mod net_delayer;
mod net_nft;
mod net_params;
mod net_proxy;
mod net_scope;
mod net_tc;
mod network_bandwidth;
mod network_delay;
mod network_loss;
mod network_partition;
mod nft_rules;
mod process_kill;
mod process_pause;
mod restart;
mod running_step;
mod selection;
mod tcp_proxy_latency;
mod text;
mod undo;
mod verify;
mod watchdog;

pub use crate::experiment::{
    FromParam, ParamKind, ParamProblem, ParamReadError, ParamSpec, ParamValue, Params, RawParams, check_value,
    parse_bytes,
};
pub use crate::platform::linux::{UndoError, UndoOutcome};
pub use command_step::{CommandStep, RollbackCommand, StepError};
pub use context::{Applied, Fault, FaultError, FaultInfo, InjectContext, Prepared};
pub use cpu_burn::CpuBurn;
pub use disk_fill::{DiskFill, MAX_USED_PERCENT};
pub use dns_fault::parse_upstream as dns_upstream;
pub use dns_resolver::{DNS_MARK, DnsArgs, ResolverError, run_resolver};
pub use http_step::{HeaderValue, HttpStep, RollbackRequest};
pub use io_common::{IoArgs, IoGuardArgs, IoHelperError, run_io_guard, run_io_helper};
pub use library::{all_faults, catalog, find_fault};
pub use load_mode::LoadMode;
pub use memory_stress::MemoryStress;
pub use net_delay_user::RULE_PRIORITY as DELAY_RULE_PRIORITY;
pub use net_delayer::{DelayArgs, DelayerError, run_delayer};
pub use net_proxy::{ProxyArgs, ProxyError, run_proxy};
pub use net_scope::Cidr;
pub use process_kill::ProcessKill;
pub use process_pause::ProcessPause;
pub use running_step::{RUNNING_DIR, StepRecord, running_records, stop_running_step};
pub use tcp_proxy_latency::listen_address as tcp_proxy_listen_address;
pub use undo::Undo;
pub use verify::{NotVerified, VERDICT_NOT_VERIFIED, VERDICT_UNCHECKED, VERDICT_VERIFIED, verify};
