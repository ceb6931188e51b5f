//! A FUSE pass-through mounted over a directory that delays or fails the
//! operations an io fault selects, and serves everything else unchanged.

mod chaos;
mod delay;
mod fs;
mod inodes;
mod serve;

pub use chaos::{Chaos, Effect, Filter, OpKind, Ops};
pub use serve::{ServeError, guard, serve};
