//! The local registry behind `pack`: `pack clean` and `pack verify`, damaged, stray or hostile
//! metadata, concurrent packs of one module, and refusals at the edges (a fifo in a module, a bad
//! `SOURCE_DATE_EPOCH`).

use insta::assert_snapshot;

use crate::common::TestContext;

#[test]
fn clean_keeps_the_newest_in_semver_order() {
    let context = TestContext::new();
    context.provider("up").create();
    for version in ["0.9.0", "0.10.0", "0.10.1"] {
        context
            .run(["pack", "provider", "up", "--version", version])
            .success();
    }
    assert_snapshot!(context.run_unchanged("distribution", ["pack", "clean", "--keep-latest", "2", "--dry-run"]), @"
    exit: 0
    --- stdout
    Would delete `up_prov` 0.9.0 (up_prov_0.9.0.tar, up_prov_0.9.0.intoto.jsonl)
    --- stderr
    ");
    assert_snapshot!(context.run(["pack", "clean", "--keep-latest", "2"]), @"
    exit: 0
    --- stdout
    --- stderr
         Deleted `up_prov` 0.9.0 (up_prov_0.9.0.tar, up_prov_0.9.0.intoto.jsonl)
    ");
    let mut left: Vec<String> = std::fs::read_dir(context.path("distribution/packages"))
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tar"))
        .collect();
    left.sort();
    assert_eq!(left, ["up_prov_0.10.0.tar", "up_prov_0.10.1.tar"]);
    let metadata: serde_json::Value =
        serde_json::from_str(&context.read("distribution/registry/up_prov.json")).expect("json");
    assert_eq!(metadata["version"], "0.10.1");
    let versions: Vec<&str> = metadata["versions"]
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v["version"].as_str().expect("v"))
        .collect();
    assert_eq!(versions, ["0.10.0", "0.10.1"]);
    assert_snapshot!(context.run(["pack", "clean", "--keep-latest", "2"]), @"
    exit: 0
    --- stdout
    --- stderr
           Clean no package has more than 2 versions
    ");
}

#[test]
fn malformed_registry_metadata_is_reported() {
    let context = TestContext::examples();
    context.write(
        "distribution/registry/aws_prov.json",
        "{\n  \"name\": \"aws_prov\",\n  \"version\": 1\n}\n",
    );
    assert_snapshot!(context.run(["pack", "list"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `[BASE]/distribution/registry/aws_prov.json` is not valid registry metadata: line 3, column 14: `version`: expected a string, found integer `1`
    ");
    assert_snapshot!(context.run(["pack", "provider", "aws"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to pack `aws_prov`
      caused by: `[BASE]/distribution/registry/aws_prov.json` is not valid registry metadata: line 3, column 14: `version`: expected a string, found integer `1`
    ");
}

#[test]
fn a_fifo_in_the_module_is_refused() {
    let context = TestContext::new();
    let dir = context.provider("odd").create();
    let status = std::process::Command::new("mkfifo")
        .arg(dir.join("pipe"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let run = context.run(["pack", "provider", "odd"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(
        run.stderr
            .contains("pipe` is not a regular file or directory; refusing to pack it"),
        "{run}"
    );
    assert!(!context.path("distribution").exists());
}

#[test]
fn concurrent_packs_of_one_module_all_land_in_its_metadata() {
    let context = TestContext::new();
    context.provider("up").create();
    let versions = ["1.0.0", "1.1.0", "1.2.0", "2.0.0"];
    let commands: Vec<Vec<String>> = versions
        .iter()
        .map(|version| {
            ["pack", "provider", "up", "--version", version]
                .map(String::from)
                .to_vec()
        })
        .collect();
    for run in context.run_concurrently(&commands) {
        run.success();
    }
    let metadata: serde_json::Value =
        serde_json::from_str(&context.read("distribution/registry/up_prov.json")).expect("json");
    let recorded: Vec<&str> = metadata["versions"]
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v["version"].as_str().expect("v"))
        .collect();
    assert_eq!(recorded, versions);
    assert_eq!(metadata["version"], "2.0.0");
}

#[test]
fn metadata_naming_files_outside_the_packages_directory_is_refused() {
    let context = TestContext::new();
    context.provider("up").create();
    for version in ["1.0.0", "2.0.0"] {
        context
            .run(["pack", "provider", "up", "--version", version])
            .success();
    }
    context.write("victim.txt", "precious");
    let metadata = context.read("distribution/registry/up_prov.json");
    context.write(
        "distribution/registry/up_prov.json",
        &metadata.replace(
            "\"package_file\": \"up_prov_1.0.0.tar\"",
            "\"package_file\": \"../../victim.txt\"",
        ),
    );
    for args in [
        &["pack", "clean", "--keep-latest", "1"][..],
        &["pack", "list"],
        &["pack", "verify", "up_prov@1.0.0"],
    ] {
        let run = context.run(args);
        assert_eq!(run.code, 1, "{args:?}: {run}");
        assert!(
            run.stderr
                .contains("`../../victim.txt` is not named `<module>_<version>.tar`"),
            "{args:?}: {run}"
        );
    }
    assert_eq!(context.read("victim.txt"), "precious");
    // A module name that could be a path is a usage error, refused before anything is read.
    let run = context.run(["pack", "verify", "../up_prov@1.0.0"]);
    assert_eq!(run.code, 2, "{run}");
    assert!(
        run.stderr.contains("`../up_prov` is not a valid name"),
        "{run}"
    );
}

#[test]
fn verify_refuses_a_fifo_or_a_device_instead_of_reading_forever() {
    // Regression: `pack verify` read `/dev/zero` (through a link) or a FIFO without end.
    let context = TestContext::new();
    std::os::unix::fs::symlink("/dev/zero", context.path("zero_prov_1.0.0.tar")).expect("link");
    let made = std::process::Command::new("mkfifo")
        .arg(context.path("fifo_prov_1.0.0.tar"))
        .status()
        .expect("mkfifo");
    assert!(made.success());
    for artifact in ["zero_prov_1.0.0.tar", "fifo_prov_1.0.0.tar"] {
        let run = context.run(["pack", "verify", artifact]);
        assert_eq!(run.code, 1, "{artifact}: {run}");
        assert!(
            run.stderr.contains("not a regular file"),
            "{artifact}: {run}"
        );
    }
}

#[test]
fn an_invalid_source_date_epoch_is_an_error() {
    // Regression: it was silently replaced by the clock, so a "reproducible" build drifted.
    let context = TestContext::examples();
    let run = context
        .command()
        .env("SOURCE_DATE_EPOCH", "yesterday")
        .args(["pack", "provider", "local"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`SOURCE_DATE_EPOCH` is `yesterday`, not a number of seconds"),
        "{stderr}"
    );
    assert!(
        !context.path("distribution").exists(),
        "nothing was written"
    );
}

/// Regression: a crash between writing a replaced artifact, its signature and its metadata left
/// new bytes beside an old signature and old metadata, and `pack list` said `ok`.
#[test]
fn pack_list_shows_a_version_whose_files_disagree() {
    let context = TestContext::examples().signed().packed(&["provider local"]);
    let artifact = context.path("distribution/packages/local_prov_0.2.0.tar");
    // Other bytes under the old signature and metadata: what the torn write left.
    std::fs::write(&artifact, b"other bytes").expect("write");
    let run = context.run(["pack", "list"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("MISMATCH"), "{run}");
    assert!(
        run.stderr
            .contains("`local_prov` 0.2.0: the artifact has sha256 "),
        "{run}"
    );
    // Repacking with `--force` writes the three again, in an order that never lets the
    // metadata name other bytes.
    context
        .run(["pack", "provider", "local", "--force"])
        .success();
    let run = context.run(["pack", "list"]);
    assert!(!run.stdout.contains("MISMATCH"), "{run}");
    context
        .run(["pack", "verify", "local_prov@0.2.0"])
        .success();
}

/// Regression: a stray copy of a metadata file (`registry/zz-backup.json`) was read as the
/// module it names, and could stand in for the real one.
#[test]
fn a_stray_copy_of_metadata_is_refused_not_read_as_the_module() {
    let context = TestContext::examples().packed(&["provider local"]);
    let real = context.read("distribution/registry/local_prov.json");
    context.write("distribution/registry/zz-backup.json", &real);
    let run = context.run(["pack", "list"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(
        run.stderr.contains(
            "zz-backup.json` is not valid registry metadata: it describes `local_prov`, not `zz-backup`"
        ),
        "{run}"
    );
    // Packing reads and writes only `local_prov.json`.
    context
        .run(["pack", "provider", "local", "--version", "0.3.0"])
        .success();
    assert!(
        context
            .read("distribution/registry/local_prov.json")
            .contains("local_prov_0.3.0.tar")
    );
}

/// Regression: `pack clean` deleted a real directory named like an old artifact
/// (`packages/up_prov_0.5.0.tar/`), whatever it held.
#[test]
fn clean_leaves_a_directory_named_like_an_artifact() {
    let context = TestContext::new();
    context.provider("up").create();
    for version in ["1.0.0", "2.0.0"] {
        context
            .run(["pack", "provider", "up", "--version", version])
            .success();
    }
    context.write(
        "distribution/packages/up_prov_0.5.0.tar/notes.txt",
        "precious",
    );
    assert_snapshot!(context.run_unchanged("distribution", ["pack", "clean", "--keep-latest", "1", "--dry-run"]), @"
    exit: 1
    --- stdout
    Would delete `up_prov` 1.0.0 (up_prov_1.0.0.tar, up_prov_1.0.0.intoto.jsonl)
    --- stderr
    error: `distribution/packages/up_prov_0.5.0.tar` is a directory, not an artifact, so `up_prov` 0.5.0 is left as it is
    hint: move it out of the packages directory, or delete it by hand
    ");
    assert_snapshot!(context.run(["pack", "clean", "--keep-latest", "1"]), @"
    exit: 1
    --- stdout
    --- stderr
         Deleted `up_prov` 1.0.0 (up_prov_1.0.0.tar, up_prov_1.0.0.intoto.jsonl)
    error: `distribution/packages/up_prov_0.5.0.tar` is a directory, not an artifact, so `up_prov` 0.5.0 is left as it is
    hint: move it out of the packages directory, or delete it by hand
    ");
    assert_eq!(
        context.read("distribution/packages/up_prov_0.5.0.tar/notes.txt"),
        "precious"
    );
    assert!(
        !context
            .path("distribution/packages/up_prov_1.0.0.tar")
            .exists()
    );
}

/// Regression: a link to a directory, named like an artifact, made `pack list` fail whole.
#[test]
fn list_skips_a_link_to_a_directory_named_like_an_artifact() {
    let context = TestContext::new();
    context.provider("up").create();
    context.run(["pack", "provider", "up"]).success();
    std::fs::create_dir(context.path("elsewhere")).expect("mkdir");
    std::os::unix::fs::symlink(
        context.path("elsewhere"),
        context.path("distribution/packages/up_prov_0.5.0.tar"),
    )
    .expect("link");
    assert_snapshot!(context.run(["pack", "list", "--format", "json"]).stderr, @"
    warning: `distribution/packages/up_prov_0.5.0.tar` is a link to a directory, not an artifact, so it is not listed
    hint: move it out of the packages directory
    ");
    assert_snapshot!(context.run(["pack", "list"]), @"
    exit: 0
    --- stdout
    MODULE   KIND      VERSION  SIZE      CREATED               SHA256        SIGNED  STATE
    up_prov  provider  0.0.1    5.50 KiB  2025-11-26T00:00:00Z  4146fb7bfad7  no      ok
    --- stderr
    warning: `distribution/packages/up_prov_0.5.0.tar` is a link to a directory, not an artifact, so it is not listed
    hint: move it out of the packages directory
    ");
}

/// Regression (issue 20): `pack list --format json|yaml` left out a provider's `kind`, so a
/// tool had to know that a row without one is a provider.
#[test]
fn list_as_data_names_every_kind_a_providers_too() {
    let context = TestContext::examples();
    context.run(["pack", "provider", "upcloud"]).success();
    context.run(["pack", "cluster", "web"]).success();
    let list = context.run(["pack", "list", "--format", "json"]);
    list.success();
    let rows: serde_json::Value = serde_json::from_str(&list.stdout).expect("json");
    let kinds: Vec<(&str, &str)> = rows
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            (
                row["module"].as_str().expect("module"),
                row["kind"].as_str().unwrap_or("(none)"),
            )
        })
        .collect();
    assert_eq!(kinds, [("upcloud_prov", "provider"), ("web", "cluster")]);
    let yaml = context.run(["pack", "list", "--format", "yaml"]);
    yaml.success();
    assert!(yaml.stdout.contains("kind: provider"), "{}", yaml.stdout);
}
