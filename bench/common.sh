# Shared by the bench scripts (sourced, after `cd` to the repository root).

# FAULTDRILL_BIN: the binary to measure; a release build of this tree unless given.
use_release_binary() {
    if [ -z "${FAULTDRILL_BIN:-}" ]; then
        cargo build --release --quiet
        FAULTDRILL_BIN=$PWD/target/release/faultdrill
    fi
}

# WORK: a fresh directory with mnt/ (for a tmpfs) and state/ (a faultdrill state dir).
# On exit, whatever is still injected there is recovered, mnt is unmounted, WORK deleted.
make_tmpfs_workdir() {
    WORK=$(mktemp -d)
    MNT="$WORK/mnt"
    mkdir -p "$MNT" "$WORK/state"
    trap cleanup_tmpfs_workdir EXIT
}

cleanup_tmpfs_workdir() {
    "$FAULTDRILL_BIN" --state-dir "$WORK/state" recover --all >/dev/null 2>&1 || true
    umount -l "$MNT" 2>/dev/null || true
    rm -rf "$WORK"
}
