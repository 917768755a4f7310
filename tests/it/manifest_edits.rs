//! Manifest edits as in/out trees (`tests/fixtures/manifest_edits/<case>/`): `in/` is copied
//! into an infra, the `commands` file's lines run as `providers <line> wuji`, and every file in
//! `out/` must then match byte for byte. `PROVISIONING_BLESS=1` writes what the commands
//! produced into `out/` instead, to review with `git diff`.

use std::path::Path;

use crate::common::{TestContext, copy_tree};

fn check_case(name: &str) {
    let case = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/manifest_edits")
        .join(name);
    let context = TestContext::examples();
    let infra = context.path("workspace/infra/wuji");
    std::fs::remove_file(infra.join("manifest.toml")).expect("clear the example manifest");
    copy_tree(&case.join("in"), &infra);
    let commands = std::fs::read_to_string(case.join("commands")).expect("commands");
    for line in commands.lines().filter(|line| !line.trim().is_empty()) {
        let mut args = vec!["providers"];
        args.extend(line.split_whitespace());
        args.push("wuji");
        context.run(&args).success();
    }
    for entry in std::fs::read_dir(case.join("out")).expect("out dir") {
        let entry = entry.expect("entry");
        let expected = std::fs::read_to_string(entry.path()).expect("expected");
        let actual = std::fs::read_to_string(infra.join(entry.file_name())).expect("actual");
        if std::env::var_os("PROVISIONING_BLESS").is_some() {
            std::fs::write(entry.path(), &actual).expect("bless");
            continue;
        }
        assert_eq!(
            actual,
            expected,
            "{name}: {}",
            entry.file_name().to_string_lossy()
        );
    }
}

#[test]
fn comments_and_order_kept() {
    check_case("comments_and_order_kept");
}

#[test]
fn no_dependencies_table() {
    check_case("no_dependencies_table");
}

#[test]
fn inline_dependencies() {
    check_case("inline_dependencies");
}

#[test]
fn remove_keeps_the_rest() {
    check_case("remove_keeps_the_rest");
}

#[test]
fn stale_entry_replaced() {
    check_case("stale_entry_replaced");
}
