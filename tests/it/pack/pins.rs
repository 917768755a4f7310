//! `pack clean` and infras outside the workspace's `infra/`: the registry's pin record names
//! every infra a command pinned packs into, and clean keeps what their locks pin.
//!
//! Regression (issue 26, item 2): clean scanned `workspace/infra/*` only, and deleted versions
//! pinned by `/elsewhere/inf1` or `./workspace/nested/inf2`; their `sync` could not restore them.

use std::path::PathBuf;

use insta::assert_snapshot;

use crate::common::TestContext;

/// The example base with `local` packed and signed at 0.8.0, 0.9.0, 0.10.0 and 0.10.1, and two
/// infras outside `workspace/infra/`, made by the tool: `[TEMP]/elsewhere/inf1` pins 0.9.0,
/// `./workspace/nested/inf2` pins 0.10.0. Returns the first one's path.
fn pinned_by_path() -> (TestContext, PathBuf) {
    let context = TestContext::examples().signed().packed(&[
        "provider local --version 0.8.0",
        "provider local --version 0.9.0",
        "provider local --version 0.10.0",
        "provider local --version 0.10.1",
    ]);
    let elsewhere = context.base.parent().expect("temp root").join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    let inf1 = elsewhere.join("inf1");
    let inf1_arg = inf1.to_str().expect("utf-8 path");
    for infra in [inf1_arg, "./workspace/nested/inf2"] {
        context.run(["module-loader", "init", infra]).success();
    }
    let context = context
        .installed(inf1_arg, &["local@0.9.0"])
        .installed("./workspace/nested/inf2", &["local@0.10.0"]);
    (context, inf1)
}

/// The versions of `local` left in the packages directory.
fn packed_versions(context: &TestContext) -> Vec<String> {
    let mut versions: Vec<String> = std::fs::read_dir(context.path("distribution/packages"))
        .expect("list")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter_map(|name| {
            Some(
                name.strip_prefix("local_prov_")?
                    .strip_suffix(".tar")?
                    .to_owned(),
            )
        })
        .collect();
    versions.sort();
    versions
}

#[test]
fn clean_keeps_versions_pinned_by_infras_addressed_by_path() {
    let (context, inf1) = pinned_by_path();
    let _filters = context.filters().sha256().bind();
    assert_snapshot!(context.run_unchanged("distribution", ["pack", "clean", "--keep-latest", "1", "--dry-run"]), @"
    exit: 0
    --- stdout
            Kept `local_prov` 0.10.0: pinned by `workspace/nested/inf2`
            Kept `local_prov` 0.9.0: pinned by `[TEMP]/elsewhere/inf1`
    Would delete `local_prov` 0.8.0 (local_prov_0.8.0.tar, local_prov_0.8.0.tar.minisig, local_prov_0.8.0.intoto.jsonl)
    --- stderr
    ");
    assert_snapshot!(context.run(["pack", "clean", "--keep-latest", "1"]), @"
    exit: 0
    --- stdout
    --- stderr
            Kept `local_prov` 0.10.0: pinned by `workspace/nested/inf2`
            Kept `local_prov` 0.9.0: pinned by `[TEMP]/elsewhere/inf1`
         Deleted `local_prov` 0.8.0 (local_prov_0.8.0.tar, local_prov_0.8.0.tar.minisig, local_prov_0.8.0.intoto.jsonl)
    ");
    assert_eq!(packed_versions(&context), ["0.10.0", "0.10.1", "0.9.0"]);
    // Each infra restores its pack from the registry.
    let inf2 = context.path("workspace/nested/inf2");
    for infra in [&inf1, &inf2] {
        std::fs::remove_dir_all(infra.join("vendor")).expect("rm vendor");
        context
            .run(["providers", "sync", infra.to_str().expect("utf-8")])
            .success();
        assert!(infra.join("vendor/local_prov/manifest.toml").is_file());
    }
    // The record of the first: where the infra is, and what it pins.
    let records = std::fs::read_dir(context.path("distribution/registry/pins")).expect("pins");
    let inf1_record = records
        .map(|entry| std::fs::read_to_string(entry.expect("entry").path()).expect("read"))
        .find(|record| record.contains("elsewhere"))
        .expect("a record of inf1");
    assert_snapshot!(inf1_record, @r#"
    {
      "format_version": 1,
      "infra": "[TEMP]/elsewhere/inf1",
      "packs": [
        {
          "module": "local_prov",
          "version": "0.9.0",
          "sha256": "[SHA256]"
        }
      ]
    }
    "#);
}

#[test]
fn clean_deletes_what_a_path_infra_no_longer_pins() {
    let (context, inf1) = pinned_by_path();
    let inf1 = inf1.to_str().expect("utf-8");
    let _filters = context.filters().bind();
    assert_snapshot!(context.run_unchanged("distribution", ["pack", "clean", "--keep-latest", "1", "--dry-run"]), @"
    exit: 0
    --- stdout
            Kept `local_prov` 0.10.0: pinned by `workspace/nested/inf2`
            Kept `local_prov` 0.9.0: pinned by `[TEMP]/elsewhere/inf1`
    Would delete `local_prov` 0.8.0 (local_prov_0.8.0.tar, local_prov_0.8.0.tar.minisig, local_prov_0.8.0.intoto.jsonl)
    --- stderr
    ");
    // inf1 removes its pin; inf2 moves to the newest version.
    context
        .run(["providers", "remove", "local", inf1])
        .success();
    context
        .run([
            "providers",
            "install",
            "local",
            "./workspace/nested/inf2",
            "--version",
            "0.10.1",
        ])
        .success();
    // inf1 pins nothing: its record is gone; inf2's names 0.10.1 alone.
    let records: Vec<String> = std::fs::read_dir(context.path("distribution/registry/pins"))
        .expect("pins")
        .map(|entry| std::fs::read_to_string(entry.expect("entry").path()).expect("read"))
        .collect();
    assert_eq!(records.len(), 1);
    assert!(records[0].contains("\"0.10.1\"") && !records[0].contains("\"0.10.0\""));
    assert_snapshot!(context.run(["pack", "clean", "--keep-latest", "1"]), @"
    exit: 0
    --- stdout
    --- stderr
         Deleted `local_prov` 0.10.0 (local_prov_0.10.0.tar, local_prov_0.10.0.tar.minisig, local_prov_0.10.0.intoto.jsonl)
         Deleted `local_prov` 0.9.0 (local_prov_0.9.0.tar, local_prov_0.9.0.tar.minisig, local_prov_0.9.0.intoto.jsonl)
         Deleted `local_prov` 0.8.0 (local_prov_0.8.0.tar, local_prov_0.8.0.tar.minisig, local_prov_0.8.0.intoto.jsonl)
    ");
    assert_eq!(packed_versions(&context), ["0.10.1"]);
}

#[test]
fn clean_deletes_what_an_updated_path_infra_no_longer_pins() {
    let context = TestContext::examples().signed().packed(&[
        "provider local --version 0.9.0",
        "provider local --version 0.10.0",
    ]);
    context
        .run(["module-loader", "init", "./workspace/nested/inf2"])
        .success();
    context
        .run([
            "providers",
            "install",
            "local",
            "./workspace/nested/inf2",
            "--version",
            "^0.9",
        ])
        .success();
    context
        .run(["pack", "provider", "local", "--version", "0.9.1"])
        .success();
    let _filters = context.filters().bind();
    assert_snapshot!(context.run_unchanged("distribution", ["pack", "clean", "--keep-latest", "1", "--dry-run"]), @"
    exit: 0
    --- stdout
            Kept `local_prov` 0.9.0: pinned by `workspace/nested/inf2`
    Would delete `local_prov` 0.9.1 (local_prov_0.9.1.tar, local_prov_0.9.1.tar.minisig, local_prov_0.9.1.intoto.jsonl)
    --- stderr
    ");
    context
        .run(["providers", "update", "./workspace/nested/inf2"])
        .success();
    assert_snapshot!(context.run(["pack", "clean", "--keep-latest", "1"]), @"
    exit: 0
    --- stdout
    --- stderr
            Kept `local_prov` 0.9.1: pinned by `workspace/nested/inf2`
         Deleted `local_prov` 0.9.0 (local_prov_0.9.0.tar, local_prov_0.9.0.tar.minisig, local_prov_0.9.0.intoto.jsonl)
    ");
    assert_eq!(packed_versions(&context), ["0.10.0", "0.9.1"]);
}

#[test]
fn clean_forgets_a_recorded_infra_that_is_gone() {
    let (context, inf1) = pinned_by_path();
    let _filters = context.filters().bind();
    std::fs::remove_dir_all(&inf1).expect("rm inf1");
    std::fs::remove_dir_all(context.path("workspace/nested")).expect("rm inf2");
    // What a record write killed midway leaves.
    context.write("distribution/registry/pins/.provisioning-1234.tmp", "{");
    assert_snapshot!(context.run(["pack", "clean", "--keep-latest", "1"]), @"
    exit: 0
    --- stdout
    --- stderr
         Deleted `local_prov` 0.10.0 (local_prov_0.10.0.tar, local_prov_0.10.0.tar.minisig, local_prov_0.10.0.intoto.jsonl)
         Deleted `local_prov` 0.9.0 (local_prov_0.9.0.tar, local_prov_0.9.0.tar.minisig, local_prov_0.9.0.intoto.jsonl)
         Deleted `local_prov` 0.8.0 (local_prov_0.8.0.tar, local_prov_0.8.0.tar.minisig, local_prov_0.8.0.intoto.jsonl)
    ");
    // Their records went with them, and the debris.
    let records = std::fs::read_dir(context.path("distribution/registry/pins")).expect("pins");
    assert_eq!(records.count(), 0);
}

#[test]
fn clean_refuses_to_delete_what_an_infra_with_an_unreadable_lock_may_pin() {
    let (context, inf1) = pinned_by_path();
    let _filters = context.filters().bind();
    std::fs::write(inf1.join("providers.manifest.yaml"), "providers: [").expect("damage");
    for dry_run in [&["--dry-run"][..], &[]] {
        let run = context.run(
            ["pack", "clean", "--keep-latest", "1"]
                .iter()
                .chain(dry_run),
        );
        insta::allow_duplicates! {
            assert_snapshot!(run, @"
            exit: 1
            --- stdout
            --- stderr
            error: cannot tell whether infra `[TEMP]/elsewhere/inf1` still pins `local_prov` 0.9.0, so nothing is deleted: `[TEMP]/elsewhere/inf1/providers.manifest.yaml` is not a valid providers manifest: did not find expected node content at line 2 column 1
            hint: repair its lock or remove the infra, or pass `--force` to delete regardless
            ");
        }
    }
    assert_eq!(
        packed_versions(&context),
        ["0.10.0", "0.10.1", "0.8.0", "0.9.0"]
    );
    // What it may pin is known from the record: keeping that, the clean goes ahead.
    context
        .run(["pack", "clean", "--keep-latest", "3"])
        .success();
    assert_eq!(packed_versions(&context), ["0.10.0", "0.10.1", "0.9.0"]);
    assert_snapshot!(context.run(["pack", "clean", "--keep-latest", "1", "--force"]), @"
    exit: 0
    --- stdout
    --- stderr
         Deleted `local_prov` 0.10.0 (local_prov_0.10.0.tar, local_prov_0.10.0.tar.minisig, local_prov_0.10.0.intoto.jsonl)
         Deleted `local_prov` 0.9.0 (local_prov_0.9.0.tar, local_prov_0.9.0.tar.minisig, local_prov_0.9.0.intoto.jsonl)
    ");
}

/// When every version past the newest N stays because it is pinned, the summary says so; it
/// used to say that no package had more than N versions, under the `Kept` lines that showed
/// otherwise.
#[test]
fn a_clean_that_keeps_only_pinned_versions_says_so() {
    let (context, _) = pinned_by_path();
    context
        .run(["pack", "clean", "--keep-latest", "1", "--force"])
        .success();
    assert_eq!(packed_versions(&context), ["0.10.1"]);
    let context = context
        .packed(&["provider local --version 0.10.2"])
        .installed("./workspace/nested/inf2", &["local@0.10.1"]);
    let run = context.run(["pack", "clean", "--keep-latest", "1"]);
    run.success();
    assert!(
        run.stderr
            .contains("nothing to delete: every version past the newest 1 version is pinned"),
        "{run}"
    );
    assert!(!run.stderr.contains("no package has more than"), "{run}");
}
