//! Pack mode in an infra: `install --version`, hostile archives, vendored drift, mode switches,
//! `sync` of packs and `clean` keeping pins.

use insta::assert_snapshot;

use crate::common::TestContext;

mod hostile;
mod stat_index;

/// The example base with a signing key and every provider packed.
fn packed_examples() -> TestContext {
    TestContext::examples()
        .signed()
        .packed(&["core", "providers"])
}

#[test]
fn install_version_verifies_and_vendors_the_pack() {
    let context = packed_examples();
    let _filters = context.filters().bind();
    let run = context.run(["providers", "install", "aws", "wuji", "--version", "1.0.0"]);
    assert_snapshot!(run, @"
    exit: 0
    --- stdout
    --- stderr
       Installed `aws_prov` 1.0.0 into `wuji` (pack from `distribution/registry`, signed by [KEY])
        Vendored provisioning_core 0.1.0 (required by aws_prov)
    ");
    assert_snapshot!(context.read("workspace/infra/wuji/manifest.toml"), @r#"
    # The wuji infrastructure: web servers on UpCloud, a database on AWS.
    [package]
    name = "wuji"
    version = "0.1.0"

    [dependencies]
    aws_prov = { path = "./vendor/aws_prov", version = "1.0.0" }
    provisioning_core = { path = "./vendor/provisioning_core", version = "0.1.0" }
    "#);
    assert_snapshot!(context.read("workspace/infra/wuji/providers.manifest.yaml"), @"
    # Written by `provisioning`; keep it in git.
    # `provisioning providers sync <infra>` rebuilds the infra's modules from this file.
    format_version: 1
    providers:
    - name: aws
      module: aws_prov
      mode: pack
      version: 1.0.0
      source: distribution/registry
      sha256: a1e6981c291bd2c354fd53c974941a7e62207c3593bac2b37a216b30f0922485
      content_hash: h1:aYJDcvNaVg74mmvLBeGqU1KJ8WPd0ELWE3yBNxjLzCw=
      signer: [KEY]
    - name: provisioning_core
      module: provisioning_core
      kind: core
      mode: pack
      version: 0.1.0
      source: distribution/registry
      sha256: 36f0b8cce183445709c162842c8fc76c89eca4d89e62cc1eccbeb36b8f4b6195
      content_hash: h1:nw/nSc0wO7AKpN7MI3HWaCbydLt7SfLKkWSm9TeBhOk=
      signer: [KEY]
      required_by:
      - aws_prov
      direct: false
    ");
    let mut vendored: Vec<String> =
        std::fs::read_dir(context.path("workspace/infra/wuji/vendor/aws_prov"))
            .expect("vendored")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
    vendored.sort();
    assert_eq!(
        vendored,
        [
            "Nickel-pkg.ncl",
            "contracts.ncl",
            "defaults.ncl",
            "export.json",
            "main.ncl",
            "manifest.toml",
            "server_aws.ncl"
        ]
    );
    let sums = context.read("workspace/infra/wuji/vendor/aws_prov.sha256sums");
    assert_eq!(sums.lines().count(), 7);
    assert!(
        !context
            .path("workspace/infra/wuji/.nickel-modules")
            .exists()
    );
    let leftovers: Vec<_> = std::fs::read_dir(context.path("workspace/infra/wuji"))
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".provisioning-unpack"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no staging directory is left: {leftovers:?}"
    );
    context
        .run(["providers", "install", "upcloud", "wuji"])
        .success();
    assert_snapshot!(context.run(["providers", "validate", "wuji"]), @"
    exit: 0
    --- stdout
    NAME               MODULE             MODE  STATE  EVALUATION
    aws                aws_prov           pack  ok     ok
    provisioning_core  provisioning_core  pack  ok     ok
    upcloud            upcloud_prov       link  ok     ok
    -                  main.ncl           -     -      ok
    -                  providers.ncl      -     -      ok
    --- stderr
           Valid `wuji`: 3 modules and 2 Nickel files
    ");
    let again = context.run(["providers", "install", "aws", "wuji", "--version", "1.0.0"]);
    assert!(
        again
            .stderr
            .contains("Unchanged `aws_prov` 1.0.0 is already installed"),
        "{again}"
    );
}

#[test]
fn one_command_moves_a_provider_between_modes() {
    let context = packed_examples().installed("wuji", &["upcloud", "aws"]);
    let main = context.read("workspace/infra/wuji/main.ncl");
    context
        .run(["providers", "install", "aws", "wuji", "--version", "1.0.0"])
        .success();
    assert!(
        !context
            .path("workspace/infra/wuji/.nickel-modules/aws_prov")
            .exists(),
        "the link went"
    );
    assert!(
        context
            .path("workspace/infra/wuji/vendor/aws_prov/main.ncl")
            .is_file()
    );
    assert!(
        context
            .read("workspace/infra/wuji/manifest.toml")
            .contains("aws_prov = { path = \"./vendor/aws_prov\", version = \"1.0.0\" }")
    );
    context.run(["providers", "validate", "wuji"]).success();
    context
        .run(["providers", "install", "aws", "wuji"])
        .success();
    assert!(
        !context
            .path("workspace/infra/wuji/vendor/aws_prov")
            .exists(),
        "the vendored pack went"
    );
    assert!(
        !context
            .path("workspace/infra/wuji/vendor/aws_prov.sha256sums")
            .exists()
    );
    assert!(
        context
            .read("workspace/infra/wuji/manifest.toml")
            .contains("aws_prov = { path = \"./.nickel-modules/aws_prov\" }")
    );
    context.run(["providers", "validate", "wuji"]).success();
    assert_eq!(
        context.read("workspace/infra/wuji/main.ncl"),
        main,
        "the infra's Nickel never changes"
    );
    context
        .run(["providers", "remove", "aws", "wuji"])
        .success();
    context
        .run(["providers", "install", "aws", "wuji", "--version", "1.0.0"])
        .success();
    context
        .run(["providers", "remove", "aws", "wuji"])
        .success();
    assert!(
        !context
            .path("workspace/infra/wuji/vendor/aws_prov")
            .exists()
    );
}

#[test]
fn unsigned_packs_are_refused_unless_allowed_and_the_lock_says_so() {
    let context = TestContext::examples().packed(&["provider local"]);
    assert_snapshot!(context.run_unchanged("workspace", ["providers", "install", "local", "homelab", "--version", "0.2.0"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `local` 0.2.0 into `homelab`
      caused by: `local_prov` 0.2.0 failed verification: signature: the artifact is not signed
    hint: sign packs with a key (`provisioning keys generate`, then pack again), or pass `--allow-unsigned=local` to accept it unsigned
    ");
    assert_snapshot!(context.run(["providers", "install", "local", "homelab", "--version", "0.2.0", "--allow-unsigned"]), @"
    exit: 0
    --- stdout
    --- stderr
       Installed `local_prov` 0.2.0 into `homelab` (pack from `distribution/registry`, unsigned, allowed by `--allow-unsigned`)
    ");
    assert!(
        context
            .read("workspace/infra/homelab/providers.manifest.yaml")
            .contains("  signer: unsigned\n")
    );
    // sync honours what the lock allowed.
    std::fs::remove_dir_all(context.path("workspace/infra/homelab/vendor")).expect("rm");
    context.run(["providers", "sync", "homelab"]).success();
    context.run(["providers", "validate", "homelab"]).success();
}

#[test]
fn unknown_versions_and_modules_say_what_exists() {
    let context = packed_examples();
    assert_snapshot!(context.run(["providers", "install", "aws", "wuji", "--version", "9.9.9"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 9.9.9 into `wuji`
      caused by: `aws_prov` has no version 9.9.9 in the registry
    hint: available: 1.0.0
    ");
    assert_snapshot!(context.run(["providers", "install", "gcp", "wuji", "--version", "1.0.0"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `gcp` 1.0.0 into `wuji`
      caused by: no packs of `gcp_prov` in the registry `distribution/registry`
    hint: pack it first: `provisioning pack provider gcp`
    ");
    assert_snapshot!(context.run(["providers", "install", "aws", "wuji", "--allow-unsigned"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: the following required arguments were not provided:
      <--version <V|REQ>|--from <PATH|DIR|URL>>

    Usage: provisioning providers install --allow-unsigned[=<NAMES>...] <--version <V|REQ>|--from <PATH|DIR|URL>> <PROVIDER> <INFRA>

    For more information, try '--help'.
    ");
}

#[test]
fn validate_names_each_edited_missing_or_extra_vendored_file() {
    let context = packed_examples().installed("wuji", &["upcloud@0.0.1", "aws@1.0.0"]);
    let vendor = context.path("workspace/infra/wuji/vendor/upcloud_prov");
    let mut contents = std::fs::read(vendor.join("defaults.ncl")).expect("read");
    contents[0] ^= 0x01;
    std::fs::write(vendor.join("defaults.ncl"), contents).expect("write");
    std::fs::remove_file(vendor.join("README.md")).ok();
    std::fs::remove_file(vendor.join("network_upcloud.ncl")).expect("rm");
    std::fs::write(vendor.join("backdoor.ncl"), "{}").expect("write");
    assert_snapshot!(context.run(["providers", "installed", "wuji"]), @"
    exit: 0
    --- stdout
    NAME               MODULE             MODE  VERSION  STATE           SOURCE                 REQUIRED BY
    aws                aws_prov           pack  1.0.0    ok              distribution/registry  -
    provisioning_core  provisioning_core  pack  0.1.0    ok              distribution/registry  aws_prov, upcloud_prov
    upcloud            upcloud_prov       pack  0.0.1    drifted vendor  distribution/registry  -
    --- stderr
    ");
    let run = context.run(["providers", "validate", "wuji"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("error: `upcloud_prov` (drifted vendor): `vendor/upcloud_prov` differs from the pack: edited: `defaults.ncl`; missing: `network_upcloud.ncl`; extra: `backdoor.ncl`"), "{run}");
    // The list itself cannot be edited to match.
    let sums = context.path("workspace/infra/wuji/vendor/aws_prov.sha256sums");
    let edited = std::fs::read_to_string(&sums)
        .expect("read")
        .replacen('0', "1", 1);
    std::fs::write(&sums, edited).expect("write");
    let run = context.run(["providers", "validate", "wuji"]);
    assert!(
        run.stderr
            .contains("`vendor/aws_prov.sha256sums` does not match the content hash in the lock"),
        "{run}"
    );
    // sync puts both back, verified.
    assert_snapshot!(context.run(["providers", "sync", "wuji"]), @"
    exit: 0
    --- stdout
    --- stderr
        Restored `aws_prov` 1.0.0 from `distribution/registry` (verified)
        Restored `upcloud_prov` 0.0.1 from `distribution/registry` (verified)
          Synced 3 modules of `wuji`
    ");
    context.run(["providers", "validate", "wuji"]).success();
}

#[test]
fn sync_refuses_a_registry_that_no_longer_holds_the_pinned_bytes() {
    let context = packed_examples().installed("homelab", &["local@0.2.0"]);
    std::fs::remove_dir_all(context.path("workspace/infra/homelab/vendor")).expect("rm");
    context.write("extensions/providers/local/nickel/extra.ncl", "{}");
    context
        .run(["pack", "provider", "local", "--force"])
        .success();
    let run = context.run(["providers", "sync", "homelab"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("but the lock pins"), "{run}");
    assert!(
        !context
            .path("workspace/infra/homelab/vendor/local_prov")
            .exists()
    );
}

#[test]
fn clean_never_deletes_a_pinned_version_unless_forced() {
    let context = TestContext::examples().signed();
    for version in ["0.9.0", "0.10.0", "0.10.1"] {
        context
            .run(["pack", "provider", "local", "--version", version])
            .success();
    }
    context
        .run([
            "providers",
            "install",
            "local",
            "homelab",
            "--version",
            "0.9.0",
        ])
        .success();
    assert_snapshot!(context.run(["pack", "clean", "--keep-latest", "1"]), @"
    exit: 0
    --- stdout
    --- stderr
            Kept `local_prov` 0.9.0: pinned by `homelab`
         Deleted `local_prov` 0.10.0 (local_prov_0.10.0.tar, local_prov_0.10.0.tar.minisig, local_prov_0.10.0.intoto.jsonl)
    ");
    assert!(
        context
            .path("distribution/packages/local_prov_0.9.0.tar")
            .is_file()
    );
    assert!(
        context
            .path("distribution/packages/local_prov_0.9.0.tar.minisig")
            .is_file()
    );
    assert!(
        !context
            .path("distribution/packages/local_prov_0.10.0.tar.minisig")
            .exists()
    );
    assert_snapshot!(context.run(["pack", "clean", "--keep-latest", "1", "--force"]), @"
    exit: 0
    --- stdout
    --- stderr
         Deleted `local_prov` 0.9.0 (local_prov_0.9.0.tar, local_prov_0.9.0.tar.minisig, local_prov_0.9.0.intoto.jsonl)
    ");
}

#[test]
fn registry_flag_installs_from_another_distribution_directory() {
    let context = TestContext::examples()
        .signed()
        .packed(&["core", "provider aws"]);
    // A teammate's registry: a `distribution/` directory copied elsewhere.
    std::fs::rename(context.path("distribution"), context.path("team-registry")).expect("move");
    let run = context.run(["providers", "install", "aws", "wuji", "--version", "1.0.0"]);
    assert_eq!(run.code, 1, "the configured directory is empty now: {run}");
    let run = context.run([
        "--registry",
        "team-registry",
        "providers",
        "install",
        "aws",
        "wuji",
        "--version",
        "1.0.0",
    ]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(
        run.stderr,
        format!(
            "   Installed `aws_prov` 1.0.0 into `wuji` (pack from `team-registry`, signed by {})\n    Vendored provisioning_core 0.1.0 (required by aws_prov)\n",
            context.key_id()
        )
    );
    assert!(
        context
            .read("workspace/infra/wuji/providers.manifest.yaml")
            .contains("source: team-registry\n"),
        "the lock names the registry as the base sees it"
    );
}
