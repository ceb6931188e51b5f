//! The HTTP client of a remote daemon (the remote side of the Host seam).
