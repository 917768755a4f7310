//! The fault-injection harness (`scripts/fault-inject`), CI-sized: every scenario crashed with
//! SIGKILL and failed with EIO and ENOSPC at a sample of its file-changing system calls, through
//! `strace`. Run the script without `--sample` for every crash point.

use std::process::Command;

use crate::common::BIN;

#[test]
fn nothing_is_lost_when_a_command_is_killed_or_its_writes_fail() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fault-inject");
    let output = Command::new("python3")
        .arg(script)
        .args(["--sample", "3", "--binary", BIN])
        .output()
        .expect("python3 runs the harness");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Every scenario ran: the harness says `ok` for each.
    for scenario in [
        "install-link",
        "install-pack",
        "load-modules",
        "pack-clean",
        "pack-evaluate",
        "pack-force",
        "pack-index",
        "pack-to-link",
        "remove",
        "sync",
        "sync-closure",
        "unload-modules",
        "unload-rerun",
        "update-modules",
        "update-pack",
    ] {
        assert!(
            stdout.contains(&format!("ok    {scenario}: 9 runs")),
            "{stdout}"
        );
    }
}
