//! The daemon: the v1 HTTP API over the same engine and journal.
