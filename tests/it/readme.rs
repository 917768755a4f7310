//! The README's commands, run as written, so the quick start cannot drift from the tool.

use crate::common::TestContext;

fn readme() -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md")
}

/// The first quick-start command: `cargo run -- --base examples providers validate wuji`, on the
/// example base as committed (its links resolve on a fresh clone).
#[test]
fn the_quick_start_validates_the_committed_example() {
    assert!(readme().contains("cargo run -- --base examples providers validate wuji"));
    let context = TestContext::examples_as_committed();
    let run = context.run(["providers", "validate", "wuji"]);
    run.success();
    assert!(
        run.stderr.contains("Valid `wuji`: 3 modules and main.ncl"),
        "{run}"
    );
}

/// The walk-through after `cp -r examples /tmp/base && cd /tmp/base`, every line in order.
#[test]
fn the_walk_through_runs_as_written() {
    let readme = readme();
    let start = readme
        .find("cp -r examples /tmp/base && cd /tmp/base\n")
        .expect("the walk-through");
    let block = &readme[start
        ..readme[start..]
            .find("```")
            .map(|end| start + end)
            .expect("its end")];
    let context = TestContext::examples_as_committed();
    let mut ran = 0;
    for line in block.lines().skip(1) {
        let command = line.split('#').next().unwrap_or_default().trim();
        let words: Vec<&str> = command.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            ["provisioning", args @ ..] => {
                let run = context.run(args);
                assert_eq!(run.code, 0, "`{command}` failed:\n{run}");
                ran += 1;
            }
            ["rm", "-rf", path] => std::fs::remove_dir_all(context.path(path)).expect(command),
            _ => panic!("the walk-through has a line this test cannot run: `{command}`"),
        }
    }
    assert!(ran >= 10, "the walk-through ran only {ran} commands");
    context.run(["providers", "validate", "wuji"]).success();
    assert!(
        context
            .read("workspace/infra/wuji/providers.manifest.yaml")
            .contains("mode: pack")
    );
}
