//! Packs through a real OCI registry on loopback: publish, list, install from an empty cache,
//! the cache with `--offline`, immutability, a tampered blob, the registry going down.

use insta::assert_snapshot;

use crate::common::{RegistryServer, TestContext, sha256_file};

/// A team member's machine: the examples, configured to use `registry`.
pub(crate) fn client(
    registry: &RegistryServer,
) -> impl Fn(&TestContext, &[&str]) -> crate::common::Run + use<> {
    let url = registry.url();
    let host = format!("127.0.0.1:{}", registry.port);
    move |context, args| {
        let output = context
            .command()
            .env("PROVISIONING_DISTRIBUTION_REGISTRY_TYPE", "oci")
            .env("PROVISIONING_DISTRIBUTION_REGISTRY_URL", &url)
            .args(args)
            .output()
            .expect("runs");
        crate::common::Run::from_output(
            output,
            &context.base,
            &[(&url, "[REGISTRY]"), (&host, "[HOST]")],
        )
    }
}

/// A release engineer who packs, signs and publishes the examples; returns their public key.
pub(crate) fn release(registry: &RegistryServer) -> (TestContext, String) {
    let releaser = TestContext::examples();
    releaser.run(["keys", "generate"]).success();
    releaser.run(["pack", "core"]).success();
    releaser.run(["pack", "providers"]).success();
    let run = client(registry)(&releaser, &["pack", "publish"]);
    run.success();
    let public = releaser.run(["keys", "public"]).stdout;
    (releaser, public)
}

/// A teammate with nothing packed locally, who trusts the release key.
pub(crate) fn teammate(public_key: &str) -> TestContext {
    let context = TestContext::examples();
    context.write("release.pub", public_key);
    context.run(["keys", "trust", "release.pub"]).success();
    context
}

#[test]
fn publish_list_install_and_reuse_the_cache_offline() {
    let mut registry = RegistryServer::start();
    let releaser = TestContext::examples();
    releaser.run(["keys", "generate"]).success();
    releaser.run(["pack", "core"]).success();
    releaser.run(["pack", "providers"]).success();
    let run = client(&registry);
    assert_snapshot!(run(&releaser, &["pack", "publish"]), @"
    exit: 0
    --- stdout
    --- stderr
       Published `aws_prov` 1.0.0 to `[REGISTRY]`
       Published `local_prov` 0.2.0 to `[REGISTRY]`
       Published `provisioning_core` 0.1.0 to `[REGISTRY]`
       Published `upcloud_prov` 0.0.1 to `[REGISTRY]`
        Finished 4 published, 0 already there, in `[REGISTRY]`
    ");
    assert_snapshot!(run(&releaser, &["pack", "publish", "aws_prov@1.0.0", "-v"]), @"
    exit: 0
    --- stdout
    --- stderr
                 `aws_prov` 1.0.0 is already in the registry
        Finished 0 published, 1 already there, in `[REGISTRY]`
    ");
    assert_snapshot!(run(&releaser, &["registry", "list"]), @"
    exit: 0
    --- stdout
    MODULE             VERSION
    aws_prov           1.0.0
    local_prov         0.2.0
    provisioning_core  0.1.0
    upcloud_prov       0.0.1
    --- stderr
    ");
    assert_snapshot!(run(&releaser, &["registry", "list", "aws_prov", "--format", "json"]), @r#"
    exit: 0
    --- stdout
    [
      {
        "module": "aws_prov",
        "version": "1.0.0"
      }
    ]
    --- stderr
    "#);

    let public = releaser.run(["keys", "public"]).stdout;
    let team = teammate(&public);
    let installed = run(
        &team,
        &["providers", "install", "aws", "wuji", "--version", "1.0.0"],
    );
    installed.success();
    assert!(
        installed
            .stderr
            .contains("Installed `aws_prov` 1.0.0 into `wuji` (pack from `[REGISTRY]`, signed by"),
        "{installed}"
    );
    assert!(
        team.read("workspace/infra/wuji/providers.manifest.yaml")
            .contains("source: oci://127.0.0.1:")
    );
    run(&team, &["providers", "install", "upcloud", "wuji"]).success();
    run(&team, &["providers", "validate", "wuji"]).success();
    let verified = run(
        &team,
        &["pack", "verify", "upcloud_prov@0.0.1", "--format", "json"],
    );
    verified.success();
    assert!(
        verified
            .stdout
            .contains("\"artifact\": \"upcloud_prov@0.0.1 from `[REGISTRY]`\""),
        "{verified}"
    );
    assert!(verified.stdout.contains("\"verified\": true"), "{verified}");
    assert!(
        !team.path("distribution/packages").exists(),
        "nothing was packed locally"
    );

    // The cache answers with no network at all, even with the registry gone.
    registry.stop();
    let offline = run(
        &team,
        &[
            "--offline",
            "providers",
            "install",
            "aws",
            "homelab",
            "--version",
            "1.0.0",
        ],
    );
    offline.success();
    std::fs::remove_dir_all(team.path("workspace/infra/wuji/vendor")).expect("rm");
    run(&team, &["--offline", "providers", "sync", "wuji"]).success();
    assert_snapshot!(run(&team, &["--offline", "providers", "install", "local", "homelab", "--version", "0.2.0"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `local` 0.2.0 into `homelab`
      caused by: `local_prov` 0.2.0 is not in the cache, and `--offline` forbids the network
    hint: run once without `--offline` to fill the cache
    ");
    assert_snapshot!(run(&team, &["--offline", "registry", "list"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: listing the registry `[HOST]` needs the network, and `--offline` forbids it
    ");
}

#[test]
fn published_versions_are_immutable() {
    let registry = RegistryServer::start();
    let (releaser, _) = release(&registry);
    let run = client(&registry);
    releaser.write("extensions/providers/local/nickel/extra.ncl", "{}");
    releaser
        .run(["pack", "provider", "local", "--force"])
        .success();
    let refused = run(&releaser, &["pack", "publish", "local_prov"]);
    assert_eq!(refused.code, 1, "{refused}");
    assert!(
        refused.stderr.contains(
            "failed to publish `local_prov` 0.2.0: `local_prov` 0.2.0 is already in the registry"
        ),
        "{refused}"
    );
    assert!(
        refused.stderr.contains("published versions are immutable"),
        "{refused}"
    );
    // The same bytes again are a no-op.
    let again = run(&releaser, &["pack", "publish", "aws_prov"]);
    again.success();
    assert!(
        again.stderr.contains("0 published, 1 already there"),
        "{again}"
    );
}

#[test]
fn a_tampered_blob_in_the_registry_is_refused_on_pull() {
    let registry = RegistryServer::start();
    let (releaser, public) = release(&registry);
    let sha256 = sha256_file(&releaser.path("distribution/packages/upcloud_prov_0.0.1.tar"));
    let blob = registry.blob_path(&sha256);
    let mut bytes = std::fs::read(&blob).expect("the stored blob");
    bytes[600] ^= 0x01;
    std::fs::write(&blob, bytes).expect("tamper");
    let team = teammate(&public);
    let before = team.tree("workspace");
    let run = client(&registry)(
        &team,
        &[
            "providers",
            "install",
            "upcloud",
            "wuji",
            "--version",
            "0.0.1",
        ],
    );
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("the registry `[HOST]` failed"), "{run}");
    assert!(run.stderr.to_lowercase().contains("digest"), "{run}");
    assert_eq!(team.tree("workspace"), before);
    assert!(
        !team
            .path("distribution/cache/oci/blobs/sha256")
            .join(&sha256)
            .exists(),
        "nothing tampered is cached"
    );
}

#[test]
fn a_registry_that_is_down_gives_a_clear_error_and_changes_nothing() {
    let mut registry = RegistryServer::start();
    let (_, public) = release(&registry);
    registry.stop();
    let team = teammate(&public);
    let before = team.tree("workspace");
    let run = client(&registry)(
        &team,
        &["providers", "install", "aws", "wuji", "--version", "1.0.0"],
    );
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("the registry `[HOST]` failed"), "{run}");
    assert_eq!(team.tree("workspace"), before);
    let publish = client(&registry)(&team, &["pack", "publish"]);
    assert_eq!(
        publish.code, 0,
        "nothing packed locally, nothing to publish: {publish}"
    );
}

#[test]
fn an_independent_client_pulls_what_we_published() {
    let registry = RegistryServer::start();
    let (releaser, _) = release(&registry);
    let out = tempfile::tempdir().expect("temp dir");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oras_pull.py");
    let output = std::process::Command::new("python3")
        .arg(script)
        .arg(format!("127.0.0.1:{}", registry.port))
        .arg("provisioning/aws_prov:1.0.0")
        .arg(out.path())
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "the `oras` Python SDK is needed (pip install oras): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let packages = releaser.path("distribution/packages");
    for file in ["aws_prov_1.0.0.tar", "aws_prov_1.0.0.tar.minisig"] {
        assert_eq!(
            std::fs::read(out.path().join(file)).expect("pulled by oras"),
            std::fs::read(packages.join(file)).expect("published"),
            "{file}"
        );
    }
}

#[test]
fn sync_pulls_every_pinned_pack_into_an_empty_cache_and_offline_says_what_it_lacks() {
    let registry = RegistryServer::start();
    let (_, public) = release(&registry);
    let team = teammate(&public);
    let run = client(&registry);
    for (provider, version) in [("aws", "1.0.0"), ("upcloud", "0.0.1"), ("local", "0.2.0")] {
        run(
            &team,
            &[
                "providers",
                "install",
                provider,
                "homelab",
                "--version",
                version,
            ],
        )
        .success();
    }
    // A fresh clone: the lock and manifest in git, no vendor/, no cache.
    std::fs::remove_dir_all(team.path("workspace/infra/homelab/vendor")).expect("rm vendor");
    std::fs::remove_dir_all(team.path("distribution/cache")).expect("rm cache");
    // Offline, with nothing cached, every pack of the closure is named, and nothing changes.
    let before = team.tree("workspace/infra/homelab");
    assert_snapshot!(run(&team, &["--offline", "providers", "sync", "homelab"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to sync `aws_prov`: `aws_prov` 1.0.0 is not in the cache, and `--offline` forbids the network
    hint: run once without `--offline` to fill the cache
    error: failed to sync `local_prov`: `local_prov` 0.2.0 is not in the cache, and `--offline` forbids the network
    error: failed to sync `provisioning_core`: `provisioning_core` 0.1.0 is not in the cache, and `--offline` forbids the network
    error: failed to sync `upcloud_prov`: `upcloud_prov` 0.0.1 is not in the cache, and `--offline` forbids the network
    error: 4 of 4 modules of `homelab` could not be synced
    ");
    assert_eq!(team.tree("workspace/infra/homelab"), before);
    let synced = run(&team, &["providers", "sync", "homelab"]);
    assert_snapshot!(synced, @"
    exit: 0
    --- stdout
    --- stderr
        Restored `aws_prov` 1.0.0 from `[REGISTRY]` (verified)
        Restored `local_prov` 0.2.0 from `[REGISTRY]` (verified)
        Restored `provisioning_core` 0.1.0 from `[REGISTRY]` (verified)
        Restored `upcloud_prov` 0.0.1 from `[REGISTRY]` (verified)
          Synced 4 modules of `homelab`
    ");
    run(&team, &["providers", "validate", "homelab"]).success();
}

#[test]
fn a_yank_on_the_registry_withdraws_a_version_that_pinned_infras_keep() {
    let registry = RegistryServer::start();
    let (releaser, public) = release(&registry);
    let team = teammate(&public);
    let run = client(&registry);
    run(
        &team,
        &[
            "providers",
            "install",
            "aws",
            "homelab",
            "--version",
            "1.0.0",
        ],
    )
    .success();
    assert_snapshot!(run(&releaser, &["pack", "yank", "aws_prov@1.0.0"]), @"
    exit: 0
    --- stdout
    --- stderr
          Yanked `aws_prov` 1.0.0 in `[REGISTRY]`: withdrawn from resolution; pinned infras keep it
    ");
    assert_snapshot!(run(&releaser, &["pack", "yank", "aws_prov@1.0.0"]), @"
    exit: 0
    --- stdout
    --- stderr
       Unchanged `aws_prov` 1.0.0 in `[REGISTRY]`: already yanked
    ");
    assert_snapshot!(run(&releaser, &["pack", "yank", "aws_prov@7.0.0"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `aws_prov` 7.0.0 is not in the registry `[HOST]`
    hint: available: 1.0.0
    ");
    assert_snapshot!(run(&team, &["registry", "list", "aws_prov"]), @"
    exit: 0
    --- stdout
    MODULE    VERSION
    aws_prov  1.0.0 (yanked)
    --- stderr
    ");
    // A requirement never chooses it.
    team.infra("fresh");
    assert_snapshot!(run(&team, &["providers", "install", "aws", "fresh", "--version", "^1"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` ^1 into `fresh`
      caused by: no version of `aws_prov` satisfies the requirement on it:
        the command line requires aws_prov ^1
    hint: available: 1.0.0 (yanked)
    ");
    // The infra that pins it syncs it from an empty cache.
    std::fs::remove_dir_all(team.path("workspace/infra/homelab/vendor")).expect("rm vendor");
    std::fs::remove_dir_all(team.path("distribution/cache")).expect("rm cache");
    run(&team, &["providers", "sync", "homelab"]).success();
    run(&team, &["providers", "validate", "homelab"]).success();
    // Restored, it is chosen again; offline, the cached record says so too.
    assert_snapshot!(run(&releaser, &["pack", "yank", "aws_prov@1.0.0", "--undo"]), @"
    exit: 0
    --- stdout
    --- stderr
        Restored `aws_prov` 1.0.0 in `[REGISTRY]`: back in resolution
    ");
    run(
        &team,
        &["providers", "install", "aws", "fresh", "--version", "^1"],
    )
    .success();
}

#[test]
fn outdated_asks_for_one_listing_per_module_and_nothing_offline() {
    let registry = RegistryServer::start();
    let (_, public) = release(&registry);
    let team = teammate(&public);
    let run = client(&registry);
    for (provider, version) in [("aws", "1.0.0"), ("upcloud", "0.0.1"), ("local", "0.2.0")] {
        run(
            &team,
            &[
                "providers",
                "install",
                provider,
                "homelab",
                "--version",
                version,
            ],
        )
        .success();
    }
    let before = registry.requests().len();
    let outdated = run(&team, &["providers", "outdated", "homelab"]);
    outdated.success();
    assert_snapshot!(outdated, @"
    exit: 0
    --- stdout
    MODULE             PINNED  REQUIREMENT                           MATCHING  NEWEST  WHY
    aws_prov           1.0.0   =1.0.0                                1.0.0     1.0.0   up to date
    local_prov         0.2.0   =0.2.0                                0.2.0     0.2.0   up to date
    provisioning_core  0.1.0   ^0.1 (aws_prov), ^0.1 (upcloud_prov)  0.1.0     0.1.0   up to date
    upcloud_prov       0.0.1   =0.0.1                                0.0.1     0.0.1   up to date
    --- stderr
    ");
    let requests = registry.requests()[before..].to_vec();
    for module in [
        "aws_prov",
        "local_prov",
        "provisioning_core",
        "upcloud_prov",
    ] {
        let listings = requests
            .iter()
            .filter(|line| line.contains(&format!("/{module}/tags/list")))
            .count();
        assert_eq!(listings, 1, "{module}: {requests:#?}");
    }
    // Offline, from the cache: not one request.
    let before = registry.requests().len();
    let offline = run(&team, &["--offline", "providers", "outdated", "homelab"]);
    offline.success();
    assert_eq!(offline.stdout, outdated.stdout);
    assert_eq!(
        registry.requests().len(),
        before,
        "{:#?}",
        registry.requests()
    );
}

/// Regression: the OCI registry said a version was not there without naming those that are (the
/// local registry does), took no provider name for its module (`aws@1.0.0`), and a cache that
/// could not be written was named by a blob's path, not by the pack.
#[test]
fn what_the_registry_lacks_is_named_with_what_it_has() {
    let registry = RegistryServer::start();
    let (releaser, public) = release(&registry);
    let run = client(&registry);
    let team = teammate(&public);
    assert_snapshot!(run(&team, &["providers", "install", "aws", "wuji", "--version", "9.9.9"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 9.9.9 into `wuji`
      caused by: `aws_prov` 9.9.9 is not in the registry `[HOST]`
    hint: available: 1.0.0
    ");
    assert_snapshot!(run(&releaser, &["pack", "yank", "aws@1.0.0"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `aws` 1.0.0 is not in the registry `[HOST]`
    hint: the provider `aws` is packed as `aws_prov`: `aws_prov@1.0.0`
    ");
    assert_snapshot!(run(&team, &["pack", "verify", "nosuch_prov@1.0.0"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `nosuch_prov` 1.0.0 is not in the registry `[HOST]`
    hint: it has no versions of `nosuch_prov`
    ");
    assert_snapshot!(run(&team, &["registry", "list", "nosuch_prov"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: no packs of `nosuch_prov` in the registry `[REGISTRY]`
    hint: modules there: `aws_prov`, `local_prov`, `provisioning_core`, `upcloud_prov`
    ");
    assert_snapshot!(run(&team, &["registry", "list", "aws"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: no packs of `aws` in the registry `[REGISTRY]`
    hint: the provider `aws` is packed as `aws_prov`: `provisioning registry list aws_prov`
    ");
    // A file where the cache's blob directory goes.
    team.write("distribution/cache/oci/blobs", "");
    let before = team.tree("workspace");
    assert_snapshot!(run(&team, &["providers", "install", "upcloud", "wuji", "--version", "0.0.1"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `upcloud` 0.0.1 into `wuji`
      caused by: failed to store `upcloud_prov` 0.0.1 in the cache
      caused by: failed to create directory `[BASE]/distribution/cache/oci/blobs/sha256`: Not a directory (os error 20)
    ");
    assert_eq!(team.tree("workspace"), before);
}
