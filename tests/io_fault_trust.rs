//! The io faults' helper is root and serves every process's file operations under the
//! path: an unprivileged account the test creates must get exactly what the kernel's own
//! permissions give it there, no more (no root-only file read, no file created as root).

mod faults_util;
mod io_fault_util;
#[path = "common/user.rs"]
mod user;

use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::time::Duration;

use faults_util::{Drill, root_or_skip, wait_until};
use io_fault_util::Target;
use nix::sys::signal::Signal;
use user::TestUser;

#[test]
fn an_unprivileged_user_gets_no_more_through_the_mount_than_without_it() {
    if !root_or_skip("an_unprivileged_user_gets_no_more_through_the_mount_than_without_it") {
        return;
    }
    let user = TestUser::create("io");
    let drill = Drill::new();
    let target = Target::new();
    // A shared, sticky directory (like /tmp) holding a root-only file.
    std::fs::set_permissions(target.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let secret = target.path().join("secret");
    std::fs::write(&secret, b"root only").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    symlink(&secret, target.path().join("to-secret")).unwrap();
    let before = target.mounts();

    let mut inject =
        drill.start_inject(&["io-latency", "-p", &target.param(), "-p", "latency=1ms", "--duration", "60s"]);
    wait_until(Duration::from_secs(10), || target.is_mounted());
    let as_user = |script: &str| user.run("sh", &["-c", script]);
    let dir = target.path().display().to_string();

    for path in [format!("{dir}/secret"), format!("{dir}/to-secret")] {
        let read = as_user(&format!("cat {path}"));
        assert!(!read.status.success(), "{path} was read through the mount: {read:?}");
        assert!(String::from_utf8_lossy(&read.stderr).contains("Permission denied"), "{read:?}");
        let write = as_user(&format!("echo x >> {path}"));
        assert!(!write.status.success(), "{path} was written through the mount: {write:?}");
    }
    let made = as_user(&format!("echo mine > {dir}/mine"));
    assert!(made.status.success(), "{made:?}");
    let meta = std::fs::metadata(target.path().join("mine")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (user.uid, user.gid), "a file made through the mount is the caller's");
    let removed = as_user(&format!("rm -f {dir}/secret"));
    assert!(target.path().join("secret").exists(), "the sticky bit held: {removed:?}");

    inject.signal(Signal::SIGTERM);
    let (code, err) = inject.wait(Duration::from_secs(15));
    assert_eq!(code, Some(130), "{err}");
    assert_eq!(target.mounts(), before, "nothing is mounted after the rollback");
    assert_eq!(std::fs::read(&secret).unwrap(), b"root only", "the root-only file is untouched");
}
