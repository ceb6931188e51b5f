//! Must show: when the journal fails, faultdrill says what to do and injects nothing.
//! - A lost journal: `recover` finds sidecars of injections it never heard of and says to
//!   run `recover --sweep` (exit 4). A damaged one: instead of SQLite's "database disk
//!   image is malformed", the exact command that moves it aside, then `recover --sweep`
//!   (exit 4: nothing could be rolled back from it);
//!   both followed to the letter resume the process a killed `inject` left paused.
//! - A full state dir (a tiny tmpfs mounted there, filled): "the state dir's filesystem
//!   (<path>) is full", exit 3, nothing injected, fresh or with a journal already there.
//! - The journal locked by another process (python3's sqlite3 holding an exclusive
//!   transaction): a bounded wait (10 s), a message naming `fuser`, nothing injected.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_faultdrill");

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn faultdrill(state: &Path, args: &[&str]) -> Output {
    Command::new(BIN).env("NO_COLOR", "1").arg("--state-dir").arg(state).args(args).output().unwrap()
}

/// A folder on disk (disk-fill refuses tmpfs) that a fill would land in.
fn data_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("fd-journal").tempdir_in("/var/tmp").unwrap()
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

/// `inject disk-fill` into `data`: what every case here tries, and must not do.
fn inject_fill(state: &Path, data: &Path) -> Output {
    let path = format!("path={}", data.display());
    faultdrill(state, &["inject", "disk-fill", "--param", &path, "--param", "size=1MiB", "--duration", "1s"])
}

/// The scene of a lost, then a damaged journal, run as PID 1 of fresh namespaces (the
/// sweep undoes everything faultdrill owns on "this host": here, only what this test made).
const SCENE: &str = r#"
set -u
W="$1"; BIN="$2"; S="$W/state"
# Not PID 2: faultdrill takes PID 2 (and its children) for kthreadd, even in a PID namespace.
/bin/true
sleep 600 & SLEEPER=$!
"$BIN" --state-dir "$S" inject process-pause --param pid=$SLEEPER --duration 120s > "$W/inject.out" 2>&1 &
INJ=$!
i=0
until [ "$(ps -o stat= -p $SLEEPER | cut -c1)" = T ]; do
  i=$((i + 1)); [ $i -gt 400 ] && { echo "never paused" > "$W/fail.txt"; exit 1; }
  sleep 0.05
done
kill -9 $INJ; wait $INJ 2>/dev/null
# Lost: the journal is gone, its sidecar is not.
mkdir "$W/kept"; mv "$S"/journal.db* "$W/kept/"
"$BIN" --state-dir "$S" recover --all > "$W/lost.out" 2> "$W/lost.err"; echo $? > "$W/lost.rc"
# Damaged: the journal is back, its pages scribbled over past the header.
rm -f "$S"/journal.db*; cp "$W/kept/journal.db" "$S/journal.db"
dd if=/dev/urandom of="$S/journal.db" bs=1 count=3000 seek=100 conv=notrunc 2>/dev/null
"$BIN" --state-dir "$S" recover --all > "$W/damaged.out" 2> "$W/damaged.err"; echo $? > "$W/damaged.rc"
# Follow the message to the letter.
sed -n 's/.*Move it aside: `\([^`]*\)`.*/\1/p' "$W/damaged.err" > "$W/move.sh"
sh "$W/move.sh"; echo $? > "$W/move.rc"
ls -A "$S" > "$W/state_after_move.txt"
"$BIN" --state-dir "$S" recover --sweep > "$W/sweep.out" 2> "$W/sweep.err"; echo $? > "$W/sweep.rc"
ps -o stat= -p $SLEEPER | cut -c1 > "$W/sleeper.txt"
kill $SLEEPER
"#;

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| format!("(no {name}: {e})"))
}

#[test]
fn a_lost_or_damaged_journal_says_what_to_do_and_the_sweep_resumes_the_paused_process() {
    assert!(nix::unistd::geteuid().is_root(), "needs root (CI runs as root)");
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    std::fs::write(w.join("scene.sh"), SCENE).unwrap();
    let status = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--net", "sh"])
        .arg(w.join("scene.sh"))
        .arg(w)
        .arg(BIN)
        .status()
        .unwrap();
    assert!(status.success() && !w.join("fail.txt").exists(), "{}{}", read(w, "fail.txt"), read(w, "inject.out"));

    let lost = read(w, "lost.err");
    assert_eq!(read(w, "lost.rc").trim(), "4", "{lost}");
    assert!(lost.contains("knows of no live injection, but the state dir holds sidecars"), "{lost}");
    assert!(lost.contains("paused/i-") && lost.contains("faultdrill recover --sweep"), "{lost}");

    let damaged = read(w, "damaged.err");
    // Nothing could be rolled back from it: something may still be injected.
    assert_eq!(read(w, "damaged.rc").trim(), "4", "{damaged}");
    assert!(damaged.contains("it is damaged, so it cannot say what faultdrill injected"), "{damaged}");
    assert!(damaged.contains("then run `faultdrill recover --sweep`"), "{damaged}");
    assert!(
        !damaged.starts_with("error: database disk image is malformed"),
        "SQLite's words are only the cause: {damaged}"
    );
    let moved = read(w, "move.sh");
    assert!(moved.starts_with("mkdir ") && moved.contains(" && mv "), "the exact command: {moved}");
    assert_eq!(read(w, "move.rc").trim(), "0", "the printed command works: {moved}");
    let state = read(w, "state_after_move.txt");
    assert!(!state.lines().any(|l| l.starts_with("journal.db")) && state.contains("damaged-journal-"), "{state}");

    let sweep = read(w, "sweep.out");
    assert_eq!(read(w, "sweep.rc").trim(), "0", "{sweep}{}", read(w, "sweep.err"));
    assert!(sweep.contains("paused by i-") && sweep.contains("rolled back, verified"), "{sweep}");
    assert_ne!(read(w, "sleeper.txt").trim(), "T", "the paused process runs again");
}

/// A tmpfs of 1 MiB mounted on a fresh folder, unmounted on drop.
struct TinyFs(tempfile::TempDir);

impl TinyFs {
    fn mount() -> TinyFs {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount").args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"]).arg(dir.path()).status();
        assert!(ok.unwrap().success(), "mount a tmpfs (needs root)");
        TinyFs(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    /// Fills it to the last byte.
    fn fill(&self) {
        let pad = self.path().join("pad");
        let _ = Command::new("dd").arg("if=/dev/zero").arg(format!("of={}", pad.display())).arg("bs=4k").output();
        let _ = Command::new("dd").arg("if=/dev/zero").arg(format!("of={}.2", pad.display())).arg("bs=512").output();
    }
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

fn assert_full_refusal(out: &Output, state: &Path, data: &Path) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let said = format!("the state dir's filesystem ({}) is full", state.display());
    assert!(stderr.contains(&said), "{said}: {stderr}");
    assert!(entries(data).is_empty(), "nothing injected: {:?}", entries(data));
}

#[test]
fn a_full_state_dir_refuses_to_inject_and_says_so() {
    let data = data_dir();
    // Full before any journal was made (SQLite's words: "database or disk is full").
    let fresh = TinyFs::mount();
    fresh.fill();
    assert_full_refusal(&inject_fill(fresh.path(), data.path()), fresh.path(), data.path());

    // A journal in use, then the filesystem fills (SQLite's words: "xShmMap").
    let used = TinyFs::mount();
    let first = faultdrill(used.path(), &["recover", "--all"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    used.fill();
    assert_full_refusal(&inject_fill(used.path(), data.path()), used.path(), data.path());
}

#[test]
fn a_journal_locked_by_another_process_is_a_bounded_wait_and_a_clear_message() {
    let state = tempfile::tempdir().unwrap();
    let data = data_dir();
    let made = faultdrill(state.path(), &["recover", "--all"]);
    assert_eq!(made.status.code(), Some(0), "{}", text(&made.stderr));
    let journal = state.path().join("journal.db");
    let script = format!(
        "import sqlite3, sys, time\n\
         c = sqlite3.connect({:?}, isolation_level=None)\n\
         c.execute('BEGIN EXCLUSIVE')\n\
         print('locked', flush=True)\n\
         sys.stdin.read()\n",
        journal.display().to_string()
    );
    let mut holder =
        Command::new("python3").args(["-c", &script]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "locked");

    let started = Instant::now();
    let out = inject_fill(state.path(), data.path());
    let waited = started.elapsed();
    drop(holder.stdin.take()); // releases the lock
    holder.wait().unwrap();

    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("another process has held it locked for longer than faultdrill waits (10 s)"), "{stderr}");
    assert!(stderr.contains(&format!("fuser -v {}", journal.display())), "{stderr}");
    assert!((Duration::from_secs(9)..Duration::from_secs(20)).contains(&waited), "a bounded wait: {waited:?}");
    assert!(entries(data.path()).is_empty(), "nothing injected: {:?}", entries(data.path()));
    // Once the lock is released the same inject works.
    let again = inject_fill(state.path(), data.path());
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
}
