//! Running things beside the tool: a command with a time limit, the `nickel` CLI.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `command` to its end, or kills it after `limit` and fails the test: a guard against a
/// hang, not a measure (no test asserts how long a command takes).
pub fn output_within(mut command: Command, limit: std::time::Duration) -> Output {
    use std::io::Read as _;
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the command was still running after {limit:?}: killed");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout"),
        stderr: stderr.join().expect("stderr"),
    }
}

/// Asserts that a command run outside [`crate::common::TestContext::run`] (another tool, or the
/// binary with a changed directory or environment) succeeded; its stderr is the message if not.
#[track_caller]
pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The `nickel` CLI that `scripts/test` installs (`cargo install nickel-lang-cli`), or the one
/// `PROVISIONING_TEST_NICKEL` names.
pub fn nickel_cli() -> PathBuf {
    let path = std::env::var_os("PROVISIONING_TEST_NICKEL").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/bin/nickel"),
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "the `nickel` CLI is not at `{}`: run the tests with `scripts/test`, which installs it",
        path.display()
    );
    path
}
