//! `pack core|provider|providers|list|clean`: artifacts, metadata, refusals, reproducibility.

use insta::assert_snapshot;

use crate::common::{TestContext, archive_file, inspect_archive};

mod fingerprint;
mod pins;
mod registry;

fn artifact(context: &TestContext, file: &str) -> Vec<u8> {
    std::fs::read(context.path(&format!("distribution/packages/{file}")))
        .expect("the artifact exists")
}

#[test]
fn pack_provider_writes_a_normalised_artifact_and_its_metadata() {
    let context = TestContext::examples();
    assert_snapshot!(context.run(["pack", "provider", "upcloud"]), @"
    exit: 0
    --- stdout
    --- stderr
          Packed `upcloud_prov` 0.0.1 → `distribution/packages/upcloud_prov_0.0.1.tar` (11.00 KiB, sha256 b759f2260e7c, unsigned)
    ");
    assert_snapshot!(inspect_archive(&artifact(&context, "upcloud_prov_0.0.1.tar")), @"
    dir  755 0:0 '':'' 315532800     0 upcloud_prov/
    file 644 0:0 '':'' 315532800   399 upcloud_prov/Nickel-pkg.ncl
    file 644 0:0 '':'' 315532800   921 upcloud_prov/contracts.ncl
    file 644 0:0 '':'' 315532800   170 upcloud_prov/defaults.ncl
    file 644 0:0 '':'' 315532800   537 upcloud_prov/export.json
    file 644 0:0 '':'' 315532800   736 upcloud_prov/main.ncl
    file 644 0:0 '':'' 315532800   219 upcloud_prov/manifest.toml
    file 644 0:0 '':'' 315532800   188 upcloud_prov/network_upcloud.ncl
    file 644 0:0 '':'' 315532800   333 upcloud_prov/server_upcloud.ncl
    ");
    assert_snapshot!(context.read("distribution/registry/upcloud_prov.json"), @r#"
    {
      "name": "upcloud_prov",
      "version": "0.0.1",
      "package_file": "upcloud_prov_0.0.1.tar",
      "created": "2025-11-26T00:00:00Z",
      "maintainer": "provisioning examples",
      "repository": "https://example.invalid/provisioning",
      "license": "MIT",
      "homepage": "https://example.invalid/provisioning",
      "versions": [
        {
          "version": "0.0.1",
          "package_file": "upcloud_prov_0.0.1.tar",
          "sha256": "b759f2260e7cc7ef36d0bd5663ee1b25dd6054fd6856ed7b3eb5911b9e94c4a2",
          "content_hash": "h1:idtJgTmOQirU6EnyfBVAtavCmxvTSwXwkSXIDMiCviw=",
          "size": 11264,
          "created": "2025-11-26T00:00:00Z",
          "signature": null,
          "dependencies": {
            "provisioning_core": "^0.1"
          },
          "provenance": "upcloud_prov_0.0.1.intoto.jsonl"
        }
      ]
    }
    "#);
}

#[test]
fn export_json_is_what_nickel_export_prints() {
    // The fixtures were made by the real CLI: `nickel export --format json main.ncl` (nickel-lang-cli 1.18.0)
    // in each example provider's `nickel/` directory.
    let context = TestContext::examples().packed(&["providers"]);
    for (module, version) in [
        ("upcloud_prov", "0.0.1"),
        ("aws_prov", "1.0.0"),
        ("local_prov", "0.2.0"),
    ] {
        let expected = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("tests/fixtures/export/{module}.json")),
        )
        .expect("fixture");
        let exported = archive_file(
            &artifact(&context, &format!("{module}_{version}.tar")),
            &format!("{module}/export.json"),
        );
        assert_eq!(exported.trim_end(), expected.trim_end(), "{module}");
    }
}

#[test]
fn packing_the_same_sources_twice_gives_the_same_bytes() {
    let context = TestContext::examples().packed(&["provider aws"]);
    let first = artifact(&context, "aws_prov_1.0.0.tar");
    // New mtimes everywhere, a fresh packages directory and no evaluation cache.
    let source = context.path("extensions/providers/aws/nickel");
    for entry in std::fs::read_dir(&source).expect("list") {
        let path = entry.expect("entry").path();
        let contents = std::fs::read(&path).expect("read");
        std::thread::sleep(std::time::Duration::from_millis(5));
        std::fs::write(&path, contents).expect("touch");
    }
    std::fs::remove_dir_all(context.path("distribution")).expect("clean");
    context.run(["pack", "provider", "aws"]).success();
    assert_eq!(artifact(&context, "aws_prov_1.0.0.tar"), first);
    // And from another base at another path.
    let elsewhere = TestContext::examples().packed(&["provider aws"]);
    assert_eq!(artifact(&elsewhere, "aws_prov_1.0.0.tar"), first);
}

#[test]
fn repacking_unchanged_sources_is_a_no_op_served_from_the_cache() {
    let context = TestContext::examples().packed(&["provider local"]);
    let metadata = context.read("distribution/registry/local_prov.json");
    let again = context
        .command()
        .args(["pack", "provider", "local", "--format", "json"])
        .env("SOURCE_DATE_EPOCH", "1900000000")
        .output()
        .expect("runs");
    assert!(again.status.success());
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).expect("json");
    assert_eq!(report["written"], "unchanged");
    assert_eq!(report["cached_evaluation"], true);
    assert_eq!(
        context.read("distribution/registry/local_prov.json"),
        metadata,
        "created is kept"
    );
}

#[test]
fn version_overrides_the_artifact_but_never_the_source() {
    let context = TestContext::examples();
    let manifest = context.read("extensions/providers/aws/nickel/manifest.toml");
    assert_snapshot!(context.run(["pack", "provider", "aws", "--version", "1.1.0"]), @"
    exit: 0
    --- stdout
    --- stderr
          Packed `aws_prov` 1.1.0 → `distribution/packages/aws_prov_1.1.0.tar` (9.00 KiB, sha256 8fa58b8a1bd8, unsigned)
    ");
    assert_snapshot!(archive_file(&artifact(&context, "aws_prov_1.1.0.tar"), "aws_prov/manifest.toml"), @r#"
    [package]
    name = "aws_prov"
    version = "1.1.0"
    description = "Amazon EC2 instances and VPCs"

    [dependencies]
    provisioning_core = "^0.1"          # the core contracts every server satisfies
    "#);
    assert_eq!(
        context.read("extensions/providers/aws/nickel/manifest.toml"),
        manifest
    );
    assert_snapshot!(context.run(["pack", "provider", "aws", "--version", "1.x"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value '1.x' for '--version <V>': `1.x` is not a version
    hint: give an exact version, `MAJOR.MINOR.PATCH`: `1.2.3`, or `1.2.3-rc.1` for a pre-release

    For more information, try '--help'.
    ");
}

#[test]
fn an_evaluation_failure_writes_nothing() {
    let context = TestContext::new();
    context
        .provider("bad")
        .file("main.ncl", "{\n  port | Number = \"eighty\",\n}\n")
        .create();
    assert_snapshot!(context.run(["pack", "provider", "bad"]), @r#"
    exit: 1
    --- stdout
    --- stderr
    error: failed to pack `bad_prov`
      caused by: `[BASE]/extensions/providers/bad/nickel/main.ncl` does not evaluate:
      error: contract broken by the value of `port`
        ┌─ [BASE]/extensions/providers/bad/nickel/main.ncl:2:19
        │
      2 │   port | Number = "eighty",
        │          ------   ^^^^^^^^ applied to this expression
        │          │         
        │          expected type
        │
        ┌─ <unknown> (generated by evaluation):1:1
        │
      1 │ "eighty"
        │ -------- evaluated to this value
    "#);
    assert!(!context.path("distribution").exists());
}

#[test]
fn a_symlink_leaving_the_module_is_refused() {
    let context = TestContext::new();
    let dir = context.provider("leaky").create();
    context.write("secret.ncl", "\"secret\"");
    std::os::unix::fs::symlink("../../../../secret.ncl", dir.join("secret.ncl")).expect("symlink");
    assert_snapshot!(context.run(["pack", "provider", "leaky"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to pack `leaky_prov`
      caused by: `[BASE]/extensions/providers/leaky/nickel/secret.ncl` is a symlink that leaves the module (to `[BASE]/secret.ncl`); refusing to pack it
    ");
    assert!(!context.path("distribution").exists());
}

#[test]
fn a_symlink_inside_the_module_is_packed_as_a_file() {
    let context = TestContext::new();
    let dir = context
        .provider("linked")
        .file("real.ncl", "{ a = 1 }")
        .create();
    std::os::unix::fs::symlink("real.ncl", dir.join("alias.ncl")).expect("symlink");
    std::fs::write(dir.join(".hidden"), "editor state").expect("write");
    context.run(["pack", "provider", "linked"]).success();
    assert_snapshot!(inspect_archive(&artifact(&context, "linked_prov_0.0.1.tar")), @"
    dir  755 0:0 '':'' 315532800     0 linked_prov/
    file 644 0:0 '':'' 315532800   300 linked_prov/Nickel-pkg.ncl
    file 644 0:0 '':'' 315532800     9 linked_prov/alias.ncl
    file 644 0:0 '':'' 315532800    39 linked_prov/export.json
    file 644 0:0 '':'' 315532800    43 linked_prov/main.ncl
    file 644 0:0 '':'' 315532800    85 linked_prov/manifest.toml
    file 644 0:0 '':'' 315532800     9 linked_prov/real.ncl
    ");
}

#[test]
fn a_path_dependency_is_refused() {
    let context = TestContext::new();
    let dir = context.provider("dev").create();
    let manifest = std::fs::read_to_string(dir.join("manifest.toml")).expect("read");
    std::fs::write(
        dir.join("manifest.toml"),
        format!("{manifest}\n[dependencies]\nlib_prov = {{ path = \"../../lib/nickel\" }}\n"),
    )
    .expect("write");
    assert_snapshot!(context.run(["pack", "provider", "dev"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to pack `dev_prov`
      caused by: `[BASE]/extensions/providers/dev/nickel/manifest.toml`: `lib_prov` is a path dependency (`../../lib/nickel`); refusing to pack a development link into a release
    hint: depend on a released version of `lib_prov` instead
    ");
    assert!(!context.path("distribution").exists());
}

/// Regression (issue 20): `--version` lower than the manifest's packed a source that says 1.0.0
/// as 0.0.2 without a word. It still packs (the docs promise `--version` wins), with a warning.
#[test]
fn a_version_lower_than_the_manifests_is_packed_with_a_warning() {
    let context = TestContext::new();
    context.provider("up").version("1.0.0").create();
    assert_snapshot!(context.run(["pack", "providers", "--version", "0.0.2"]), @"
    exit: 0
    --- stdout
    --- stderr
    warning: provider `up` is packed as 0.0.2, lower than the version 1.0.0 its manifest `extensions/providers/up/nickel/manifest.toml` declares
    hint: leave out `--version` to pack it as 1.0.0, or pass a version not lower than it
          Packed `up_prov` 0.0.2 → `distribution/packages/up_prov_0.0.2.tar` (5.50 KiB, sha256 b9e05fc568d8, unsigned)
        Finished 1 provider: 1 packed
    ");
    assert_snapshot!(context.run(["pack", "provider", "up", "--version", "0.0.3"]).stderr, @"
    warning: provider `up` is packed as 0.0.3, lower than the version 1.0.0 its manifest `extensions/providers/up/nickel/manifest.toml` declares
    hint: leave out `--version` to pack it as 1.0.0, or pass a version not lower than it
          Packed `up_prov` 0.0.3 → `distribution/packages/up_prov_0.0.3.tar` (5.50 KiB, sha256 a07dc9d93917, unsigned)
    ");
    // Higher is a release, as documented: no warning.
    assert_snapshot!(context.run(["pack", "provider", "up", "--version", "1.0.1"]).stderr, @"      Packed `up_prov` 1.0.1 → `distribution/packages/up_prov_1.0.1.tar` (5.50 KiB, sha256 56972fef947a, unsigned)");
    // The core the same way (it said nothing).
    let examples = TestContext::examples();
    assert_snapshot!(examples.run(["pack", "core", "--version", "0.0.9"]).stderr, @"
    warning: the core `provisioning_core` is packed as 0.0.9, lower than the version 0.1.0 its manifest `schemas/manifest.toml` declares
    hint: leave out `--version` to pack it as 0.1.0, or pass a version not lower than it
          Packed `provisioning_core` 0.0.9 → `distribution/packages/provisioning_core_0.0.9.tar` (6.00 KiB, sha256 eea49d6b0368, unsigned)
    ");
}

#[test]
fn a_packed_version_is_immutable_unless_forced() {
    let context = TestContext::new();
    context.provider("up").create();
    context.run(["pack", "provider", "up"]).success();
    let first = artifact(&context, "up_prov_0.0.1.tar");
    let metadata = context.read("distribution/registry/up_prov.json");
    context
        .provider("up")
        .file("main.ncl", "{ provider = \"up\", size | Number = 2 }\n")
        .create();
    let refused = context.run(["pack", "provider", "up"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains("`up_prov` 0.0.1 is already packed with other contents"),
        "{refused}"
    );
    assert!(
        refused
            .stderr
            .contains("hint: packed versions are immutable"),
        "{refused}"
    );
    assert_eq!(artifact(&context, "up_prov_0.0.1.tar"), first);
    assert_eq!(context.read("distribution/registry/up_prov.json"), metadata);
    let forced = context.run(["pack", "provider", "up", "--force"]);
    assert!(
        forced.stderr.contains("Replaced `up_prov` 0.0.1"),
        "{forced}"
    );
    assert_ne!(artifact(&context, "up_prov_0.0.1.tar"), first);
}

#[test]
fn pack_providers_reports_every_failure_and_packs_the_rest() {
    let context = TestContext::new();
    context.provider("good").create();
    context
        .provider("bad")
        .file("main.ncl", "{ x = 1 + \"a\" }")
        .create();
    context.write("extensions/providers/nomanifest/nickel/main.ncl", "{}");
    assert_snapshot!(context.run(["pack", "providers"]), @r#"
    exit: 1
    --- stdout
    --- stderr
    error: failed to pack `bad_prov`
      caused by: `[BASE]/extensions/providers/bad/nickel/main.ncl` does not evaluate:
      error: dynamic type error
        ┌─ [BASE]/extensions/providers/bad/nickel/main.ncl:1:11
        │
      1 │ { x = 1 + "a" }
        │           ^^^ this expression has type String, but Number was expected
        │
        = (+) expects its 2nd argument to be a Number
          Packed `good_prov` 0.0.1 → `distribution/packages/good_prov_0.0.1.tar` (5.50 KiB, sha256 cb2cb62687c6, unsigned)
    error: provider `nomanifest` cannot be packed: no manifest: `[BASE]/extensions/providers/nomanifest/nickel/manifest.toml` does not exist
    error: 2 of 3 providers could not be packed
    "#);
    assert!(
        context
            .path("distribution/packages/good_prov_0.0.1.tar")
            .is_file()
    );
    assert!(
        !context
            .path("distribution/packages/bad_prov_0.0.1.tar")
            .exists()
    );
}

#[test]
fn pack_providers_through_a_link_named_pack() {
    let context = TestContext::examples();
    let link = context.base.parent().expect("temp root").join("pack");
    std::os::unix::fs::symlink(crate::common::BIN, &link).expect("symlink");
    let output = std::process::Command::new(&link)
        .current_dir(&context.base)
        .env("NO_COLOR", "1")
        .env("SOURCE_DATE_EPOCH", "1764115200")
        .args(["providers", "--format", "json", "-q"])
        .output()
        .expect("runs");
    crate::common::assert_success(&output);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let modules: Vec<&str> = report
        .as_array()
        .expect("array")
        .iter()
        .map(|p| p["module"].as_str().expect("module"))
        .collect();
    assert_eq!(modules, ["aws_prov", "local_prov", "upcloud_prov"]);
}

#[test]
fn pack_core_packs_the_schemas() {
    let context = TestContext::examples();
    assert_snapshot!(context.run(["pack", "core"]), @"
    exit: 0
    --- stdout
    --- stderr
          Packed `provisioning_core` 0.1.0 → `distribution/packages/provisioning_core_0.1.0.tar` (6.00 KiB, sha256 36f0b8cce183, unsigned)
    ");
    assert_snapshot!(archive_file(&artifact(&context, "provisioning_core_0.1.0.tar"), "provisioning_core/export.json"), @r#"
    {
      "contracts": [
        "Hostname",
        "Labels",
        "Server"
      ],
      "package": "provisioning_core"
    }
    "#);
    context
        .run(["pack", "core", "--version", "0.1.0"])
        .success();
    assert!(
        context
            .path("distribution/registry/provisioning_core.json")
            .is_file()
    );
}

#[test]
fn output_writes_the_artifact_elsewhere_and_leaves_the_registry_alone() {
    let context = TestContext::examples().packed(&["provider local --output out"]);
    assert!(context.path("out/local_prov_0.2.0.tar").is_file());
    assert!(!context.path("distribution/registry").exists());
}

#[test]
fn pack_list_shows_versions_and_strays() {
    let context = TestContext::examples().packed(&[
        "provider aws",
        "provider aws --version 1.1.0",
        "provider local",
        "provider upcloud --output distribution/packages",
    ]);
    std::fs::remove_file(context.path("distribution/packages/local_prov_0.2.0.tar")).expect("rm");
    assert_snapshot!(context.run(["pack", "list"]), @"
    exit: 0
    --- stdout
    MODULE        KIND      VERSION  SIZE       CREATED               SHA256        SIGNED  STATE
    aws_prov      provider  1.1.0    9.00 KiB   2025-11-26T00:00:00Z  8fa58b8a1bd8  no      ok
    aws_prov      provider  1.0.0    9.00 KiB   2025-11-26T00:00:00Z  a1e6981c291b  no      ok
    local_prov    provider  0.2.0    5.50 KiB   2025-11-26T00:00:00Z  07aedecd33a3  no      missing
    upcloud_prov  provider  0.0.1    11.00 KiB  -                     b759f2260e7c  no      unindexed
    --- stderr
    ");
}

#[test]
fn pack_list_of_nothing_says_so() {
    let context = TestContext::examples();
    assert_snapshot!(context.run(["pack", "list"]), @"
    exit: 0
    --- stdout
    no packages in `distribution/packages`
    --- stderr
    ");
}
