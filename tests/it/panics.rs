//! A panic is a bug, but it must not leave a change half made. The release build aborts on a
//! panic (`panic = "abort"`), which runs no `Drop`; the panic hook undoes every unfinished
//! transaction itself. The tests run the debug build, which unwinds, but the hook runs first
//! there too and leaves `Drop` nothing to undo, so what is tested here is the release path:
//! `PROVISIONING_TEST_PANIC_BEFORE_COMMIT` (debug builds only) panics with every change made
//! and none committed.

use crate::common::{Run, TestContext};

const HOMELAB: &str = "workspace/infra/homelab";

fn run_panicking(context: &TestContext, args: &[&str]) -> Run {
    let output = context
        .command()
        .env("PROVISIONING_TEST_PANIC_BEFORE_COMMIT", "1")
        .args(args)
        .output()
        .expect("run provisioning");
    Run::from_output(output, &context.base, &[])
}

fn assert_undone_by_the_hook(run: &Run) {
    assert_eq!(run.code, 101, "a panic's exit code\n{run}");
    assert!(
        run.stderr
            .contains("PROVISIONING_TEST_PANIC_BEFORE_COMMIT is set"),
        "{run}"
    );
    assert!(
        run.stderr.contains("it had begun were undone"),
        "the hook, not Drop, undid the change\n{run}"
    );
}

#[test]
fn a_panic_before_a_link_install_commits_leaves_the_infra_byte_identical() {
    let context = TestContext::examples();
    let before = context.tree(HOMELAB);
    let run = run_panicking(&context, &["providers", "install", "local", "homelab"]);
    assert_undone_by_the_hook(&run);
    assert_eq!(context.tree(HOMELAB), before, "{run}");
    // Nothing of the panicked run is in the way of the same command run again.
    context
        .run(["providers", "install", "local", "homelab"])
        .success();
    assert_ne!(context.tree(HOMELAB), before);
}

#[test]
fn a_panic_before_a_pack_commits_leaves_the_registry_as_it_was() {
    let context = TestContext::examples();
    context.run(["pack", "core"]).success();
    // The evaluation cache (`distribution/cache`) is derived and kept, as after any failure.
    let registry =
        || ["distribution/packages", "distribution/registry"].map(|dir| context.tree(dir));
    let before = registry();
    let run = run_panicking(&context, &["pack", "providers"]);
    assert_undone_by_the_hook(&run);
    assert_eq!(registry(), before, "{run}");
}
