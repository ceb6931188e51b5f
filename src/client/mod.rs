//! The HTTP client of a remote daemon (the remote side of the Host seam), the
//! API's wire types, and the inventory of hosts a run can reach.

mod daemon_client;
mod inventory;
mod targets;
pub mod wire;

pub use daemon_client::{
    CONNECT_TIMEOUT, ClientError, DaemonClient, FOLLOW_TIMEOUT, REQUEST_TIMEOUT, install_crypto_provider,
};
pub use inventory::{Inventory, InventoryError, InventoryHost, TokenSource};
pub use targets::{SelectError, Selection, pick_count, select_hosts};
