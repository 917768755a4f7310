//! Versions over time: requirements on install, `outdated`, `update`, yank, and
//! `pack providers --version`.

use insta::assert_snapshot;

use crate::common::TestContext;

/// The examples packed and signed, `aws` at several versions: 1.0.0, 1.2.0, 1.3.1, a
/// pre-release 1.4.0-rc.1, and 2.0.0.
fn released() -> TestContext {
    let context = TestContext::examples();
    context.run(["keys", "generate"]).success();
    context.run(["pack", "core"]).success();
    for version in ["1.0.0", "1.2.0", "1.3.1", "1.4.0-rc.1", "2.0.0"] {
        context
            .run(["pack", "provider", "aws", "--version", version])
            .success();
    }
    context
}

fn pinned(context: &TestContext, infra: &str, module: &str) -> String {
    let lock = context.read(&format!("workspace/infra/{infra}/providers.manifest.yaml"));
    let entry = lock
        .split("\n- ")
        .find(|entry| entry.contains(&format!("module: {module}\n")))
        .unwrap_or_else(|| panic!("{module} in the lock:\n{lock}"));
    entry
        .lines()
        .find_map(|line| line.trim().strip_prefix("version: "))
        .expect("a version")
        .to_owned()
}

#[test]
fn a_requirement_resolves_to_the_newest_match_and_is_kept_in_the_manifest() {
    let context = released();
    let cases = [
        ("^1.2", "1.3.1"),
        ("~1.2", "1.2.0"),
        (">=1.0, <1.3", "1.2.0"),
        ("*", "2.0.0"),
        ("1", "1.3.1"),
        (">=1.4.0-rc.1, <2", "1.4.0-rc.1"),
        ("1.2.0", "1.2.0"),
    ];
    for (requirement, expected) in cases {
        let infra = context.infra("scratch");
        context
            .run([
                "providers",
                "install",
                "aws",
                "scratch",
                "--version",
                requirement,
            ])
            .success();
        assert_eq!(
            pinned(&context, "scratch", "aws_prov"),
            expected,
            "{requirement}"
        );
        let manifest = context.read("workspace/infra/scratch/manifest.toml");
        assert!(
            manifest.contains(&format!(
                "aws_prov = {{ path = \"./vendor/aws_prov\", version = \"{requirement}\" }}"
            )),
            "{requirement}: the manifest keeps it as written:\n{manifest}"
        );
        context.run(["providers", "validate", "scratch"]).success();
        std::fs::remove_dir_all(infra).expect("rm infra");
    }
}

#[test]
fn sync_and_a_second_install_reuse_the_pin() {
    let context = released();
    context
        .run([
            "providers",
            "install",
            "aws",
            "homelab",
            "--version",
            "^1.2",
        ])
        .success();
    // A newer matching version appears; nothing moves without `update`.
    context
        .run(["pack", "provider", "aws", "--version", "1.3.5"])
        .success();
    std::fs::remove_dir_all(context.path("workspace/infra/homelab/vendor")).expect("rm vendor");
    context.run(["providers", "sync", "homelab"]).success();
    assert_eq!(pinned(&context, "homelab", "aws_prov"), "1.3.1");
    context
        .run([
            "providers",
            "install",
            "aws",
            "homelab",
            "--version",
            "^1.2",
        ])
        .success();
    assert_eq!(pinned(&context, "homelab", "aws_prov"), "1.3.1");
    assert!(
        context
            .read("workspace/infra/homelab/manifest.toml")
            .contains("version = \"^1.2\"")
    );
    context.run(["providers", "validate", "homelab"]).success();
}

#[test]
fn bad_requirements_say_what_is_accepted_and_what_exists() {
    let context = released();
    assert_snapshot!(context.run(["providers", "install", "aws", "homelab", "--version", "latest"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value 'latest' for '--version <V|REQ>': `latest` is neither a version nor a version requirement
    hint: give an exact version (`1.2.3`) or a version requirement in Cargo's syntax: `0.1` (meaning `^0.1`), `^1.2`, `~1.2.3`, `=1.2.3`, `>=1.0, <2.0` or `*`

    For more information, try '--help'.
    ");
    assert_snapshot!(context.run(["providers", "install", "aws", "homelab", "--version", "^3"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` ^3 into `homelab`
      caused by: no version of `aws_prov` satisfies the requirement on it:
        the command line requires aws_prov ^3
    hint: available: 1.0.0, 1.2.0, 1.3.1, 1.4.0-rc.1, 2.0.0
    ");
    // Only an unsigned version matches.
    let unsigned = TestContext::examples();
    unsigned.run(["pack", "core"]).success();
    unsigned
        .run(["pack", "provider", "aws", "--version", "1.0.0"])
        .success();
    assert_snapshot!(unsigned.run(["providers", "install", "aws", "homelab", "--version", "^1"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` ^1 into `homelab`
      caused by: no version of `aws_prov` satisfies the requirement on it:
        the command line requires aws_prov ^1
    hint: available: 1.0.0 (unsigned); pass `--allow-unsigned=aws` to accept its unsigned versions
    ");
    unsigned
        .run([
            "providers",
            "install",
            "aws",
            "homelab",
            "--version",
            "^1",
            "--allow-unsigned",
        ])
        .success();
}

/// Regression: the summary said `3 providers packed` when none was (same bytes, unchanged).
#[test]
fn pack_providers_summary_counts_what_was_packed_and_what_was_unchanged() {
    let context = TestContext::examples();
    context.run(["pack", "provider", "upcloud"]).success();
    let mixed = context.run(["pack", "providers"]);
    let unchanged = context.run(["pack", "providers"]);
    assert_snapshot!(mixed.stderr.lines().last().unwrap_or_default(), @"    Finished 3 providers: 2 packed, 1 unchanged");
    assert_snapshot!(unchanged.stderr.lines().last().unwrap_or_default(), @"    Finished 3 providers: 3 unchanged");
}

#[test]
fn pack_providers_packs_a_release_at_one_version() {
    let context = TestContext::examples();
    assert_snapshot!(context.run(["pack", "providers", "--version", "0.2.0"]), @"
    exit: 0
    --- stdout
    --- stderr
    warning: provider `aws` is packed as 0.2.0, lower than the version 1.0.0 its manifest `extensions/providers/aws/nickel/manifest.toml` declares
    hint: leave out `--version` to pack it as 1.0.0, or pass a version not lower than it
          Packed `aws_prov` 0.2.0 → `distribution/packages/aws_prov_0.2.0.tar` (9.00 KiB, sha256 6a4549f0e606, unsigned)
          Packed `local_prov` 0.2.0 → `distribution/packages/local_prov_0.2.0.tar` (5.50 KiB, sha256 07aedecd33a3, unsigned)
          Packed `upcloud_prov` 0.2.0 → `distribution/packages/upcloud_prov_0.2.0.tar` (11.00 KiB, sha256 a850556d7fee, unsigned)
        Finished 3 providers: 3 packed
    ");
    for module in ["aws_prov", "local_prov", "upcloud_prov"] {
        assert!(
            context
                .path(&format!("distribution/packages/{module}_0.2.0.tar"))
                .is_file(),
            "{module}"
        );
    }
    // The sources keep their own versions.
    assert!(
        context
            .read("extensions/providers/aws/nickel/manifest.toml")
            .contains("version = \"1.0.0\"")
    );
    // A version that exists with other contents is refused per module; the rest are reported.
    let manifest = context.read("extensions/providers/local/nickel/main.ncl");
    context.write(
        "extensions/providers/local/nickel/main.ncl",
        &format!("{manifest}\n# changed\n"),
    );
    assert_snapshot!(context.run(["pack", "providers", "--version", "0.2.0"]), @"
    exit: 1
    --- stdout
    --- stderr
    warning: provider `aws` is packed as 0.2.0, lower than the version 1.0.0 its manifest `extensions/providers/aws/nickel/manifest.toml` declares
    hint: leave out `--version` to pack it as 1.0.0, or pass a version not lower than it
       Unchanged `aws_prov` 0.2.0 → `distribution/packages/aws_prov_0.2.0.tar` (9.00 KiB, sha256 6a4549f0e606, unsigned)
    error: failed to pack `local_prov`
      caused by: `local_prov` 0.2.0 is already packed with other contents (sha256 07aedecd33a32252f35c71ace26b8990379cbab92837c10a26757f9990bcebe3, now de56ac8541b1997e55ccd399c5ec2826664ab176806ebe239d9a810a284464e3)
    hint: packed versions are immutable: bump the version, or pass `--force` to replace it
       Unchanged `upcloud_prov` 0.2.0 → `distribution/packages/upcloud_prov_0.2.0.tar` (11.00 KiB, sha256 a850556d7fee, unsigned)
    error: 1 of 3 providers could not be packed
    ");
}

/// `released()`, with `homelab` pinning `aws` `~1.2` (1.2.0) and, through it, the core.
fn pinned_infra() -> TestContext {
    let context = released();
    context
        .run([
            "providers",
            "install",
            "aws",
            "homelab",
            "--version",
            "~1.2",
        ])
        .success();
    context
}

#[test]
fn outdated_says_what_is_behind_and_why() {
    let context = pinned_infra();
    assert_snapshot!(context.run(["providers", "outdated", "homelab"]), @"
    exit: 0
    --- stdout
    MODULE             PINNED  REQUIREMENT      MATCHING  NEWEST  WHY
    aws_prov           1.2.0   ~1.2             1.2.0     2.0.0   the requirement ~1.2 excludes 2.0.0
    provisioning_core  0.1.0   ^0.1 (aws_prov)  0.1.0     0.1.0   up to date
    --- stderr
    ");
    context.run(["pack", "yank", "aws_prov@2.0.0"]).success();
    assert_snapshot!(context.run(["providers", "outdated", "homelab", "--exit-code"]), @"
    exit: 1
    --- stdout
    MODULE             PINNED  REQUIREMENT      MATCHING  NEWEST  WHY
    aws_prov           1.2.0   ~1.2             1.2.0     1.3.1   the requirement ~1.2 excludes 1.3.1 (2.0.0 is yanked)
    provisioning_core  0.1.0   ^0.1 (aws_prov)  0.1.0     0.1.0   up to date
    --- stderr
    ");
    assert_snapshot!(context.run(["providers", "outdated", "homelab", "--format", "json", "--quiet"]), @r#"
    exit: 0
    --- stdout
    {
      "infra": "homelab",
      "modules": [
        {
          "module": "aws_prov",
          "pinned": "1.2.0",
          "requirement": "~1.2",
          "matching": "1.2.0",
          "newest": "1.3.1",
          "why": "the requirement ~1.2 excludes 1.3.1 (2.0.0 is yanked)",
          "behind": true
        },
        {
          "module": "provisioning_core",
          "pinned": "0.1.0",
          "requirement": "^0.1 (aws_prov)",
          "matching": "0.1.0",
          "newest": "0.1.0",
          "why": "up to date",
          "behind": false
        }
      ]
    }
    --- stderr
    "#);
    // A pinned module the registry no longer has says so.
    std::fs::remove_file(context.path("distribution/registry/provisioning_core.json"))
        .expect("rm metadata");
    let run = context.run(["providers", "outdated", "homelab"]);
    run.success();
    assert!(
        run.stdout
            .contains("`provisioning_core` is not in the registry `distribution/registry`"),
        "{run}"
    );
}

#[test]
fn update_moves_pins_within_their_requirements_as_one_change() {
    let context = pinned_infra();
    let manifest = context.read("workspace/infra/homelab/manifest.toml");
    context.write(
        "workspace/infra/homelab/manifest.toml",
        &manifest.replace("version = \"~1.2\"", "version = \"^1.2\""),
    );
    let before = context.tree("workspace/infra/homelab");
    assert_snapshot!(context.run(["providers", "update", "homelab", "--dry-run"]), @"
    exit: 0
    --- stdout
    --- stderr
        Updating aws_prov 1.2.0 -> 1.3.1
    warning: dry run: nothing was changed
    ");
    assert_eq!(
        context.tree("workspace/infra/homelab"),
        before,
        "a dry run writes nothing"
    );

    // A tampered artifact of the version it moves to: verification fails, nothing changes.
    let artifact = context.path("distribution/packages/aws_prov_1.3.1.tar");
    let mut bytes = std::fs::read(&artifact).expect("read");
    let last = bytes.len() - 600;
    bytes[last] ^= 0x55;
    std::fs::write(&artifact, &bytes).expect("tamper");
    let failed = context.run(["providers", "update", "homelab"]);
    assert_eq!(failed.code, 1, "{failed}");
    assert!(failed.stderr.contains("failed verification"), "{failed}");
    assert_eq!(
        context.tree("workspace/infra/homelab"),
        before,
        "rolled back"
    );

    // Packed again, intact: one module named, then all.
    context
        .run(["pack", "provider", "aws", "--version", "1.3.1", "--force"])
        .success();
    assert_snapshot!(context.run(["providers", "update", "homelab", "aws"]), @"
    exit: 0
    --- stdout
    --- stderr
        Updating aws_prov 1.2.0 -> 1.3.1
         Updated `homelab`: 1 change
    ");
    assert_eq!(pinned(&context, "homelab", "aws_prov"), "1.3.1");
    assert!(
        context
            .read("workspace/infra/homelab/manifest.toml")
            .contains("version = \"^1.2\""),
        "the requirement is kept as written"
    );
    context.run(["providers", "validate", "homelab"]).success();
    assert_snapshot!(context.run(["providers", "update", "homelab"]), @"
    exit: 0
    --- stdout
    --- stderr
       Unchanged every pin of `homelab` is as new as its requirements allow
    ");
    assert_snapshot!(context.run(["providers", "update", "homelab", "local"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to update `homelab`
      caused by: `local_prov` is not installed in `homelab`
    hint: pinned: `aws`, `provisioning_core`
    ");
}

#[test]
fn a_yanked_version_is_never_chosen_but_its_pins_keep_working() {
    let context = released();
    context
        .run([
            "providers",
            "install",
            "aws",
            "homelab",
            "--version",
            "1.3.1",
        ])
        .success();
    assert_snapshot!(context.run(["pack", "yank", "aws_prov@1.3.1"]), @"
    exit: 0
    --- stdout
    --- stderr
          Yanked `aws_prov` 1.3.1 in `distribution/registry`: withdrawn from resolution; pinned infras keep it
    ");
    assert_snapshot!(context.run(["pack", "yank", "aws_prov@9.9.9"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `aws_prov` has no version 9.9.9 in the registry
    hint: available: 1.0.0, 1.2.0, 1.3.1, 1.4.0-rc.1, 2.0.0
    ");
    // Requirements skip it.
    context.infra("fresh");
    assert_snapshot!(context.run(["providers", "install", "aws", "fresh", "--version", "~1.3"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` ~1.3 into `fresh`
      caused by: no version of `aws_prov` satisfies the requirement on it:
        the command line requires aws_prov ~1.3
    hint: available: 1.0.0, 1.2.0, 1.3.1 (yanked), 1.4.0-rc.1, 2.0.0
    ");
    context
        .run(["providers", "install", "aws", "fresh", "--version", "^1.2"])
        .success();
    assert_eq!(pinned(&context, "fresh", "aws_prov"), "1.2.0");
    // The infra that pins it still syncs it, and is told.
    std::fs::remove_dir_all(context.path("workspace/infra/homelab/vendor")).expect("rm vendor");
    assert_snapshot!(context.run(["providers", "sync", "homelab"]), @"
    exit: 0
    --- stdout
    --- stderr
    warning: `aws_prov` 1.3.1 is yanked in `distribution/registry`: it stays because it is pinned or asked for exactly
    hint: to move off it, install again with a requirement that allows other versions (`--version ^X.Y`)
        Restored `aws_prov` 1.3.1 from `distribution/registry` (verified)
        Restored `provisioning_core` 0.1.0 from `distribution/registry` (verified)
          Synced 2 modules of `homelab`
    ");
    let listed = context.run(["pack", "list"]);
    assert!(
        listed
            .stdout
            .lines()
            .any(|line| line.starts_with("aws_prov") && line.contains("1.3.1 (yanked)")),
        "{listed}"
    );
    // `pack clean` keeps it: an infra pins it.
    context
        .run(["pack", "clean", "--keep-latest", "1"])
        .success();
    assert!(
        context
            .path("distribution/packages/aws_prov_1.3.1.tar")
            .is_file()
    );
    assert_snapshot!(context.run(["registry", "list", "aws_prov"]), @"
    exit: 0
    --- stdout
    MODULE    VERSION
    aws_prov  1.2.0
    aws_prov  1.3.1 (yanked)
    aws_prov  2.0.0
    --- stderr
    ");
    // Restored, it is chosen again.
    assert_snapshot!(context.run(["pack", "yank", "aws_prov@1.3.1", "--undo"]), @"
    exit: 0
    --- stdout
    --- stderr
        Restored `aws_prov` 1.3.1 in `distribution/registry`: back in resolution
    ");
    context
        .run(["providers", "install", "aws", "fresh", "--version", "~1.3"])
        .success();
    assert_eq!(pinned(&context, "fresh", "aws_prov"), "1.3.1");
}

#[test]
fn update_takes_any_module_by_name_and_force_keeps_a_yank() {
    let context = pinned_infra();
    assert_snapshot!(context.run(["providers", "update", "homelab", "provisioning_core", "--dry-run"]), @"
    exit: 0
    --- stdout
    --- stderr
       Unchanged every pin of `homelab` is as new as its requirements allow
    ");
    context
        .run(["providers", "update", "homelab", "aws_prov", "--dry-run"])
        .success();
    // A yanked version replaced with `--force` stays yanked.
    context.run(["pack", "yank", "aws_prov@2.0.0"]).success();
    let main = context.read("extensions/providers/aws/nickel/defaults.ncl");
    context.write(
        "extensions/providers/aws/nickel/defaults.ncl",
        &format!("{main}\n# changed\n"),
    );
    context
        .run(["pack", "provider", "aws", "--version", "2.0.0", "--force"])
        .success();
    let listed = context.run(["pack", "list"]);
    assert!(listed.stdout.contains("2.0.0 (yanked)"), "{listed}");
}
