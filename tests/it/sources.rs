//! The source a lock records is where a teammate's commands find a pack: an infra installed
//! with a per-run `--registry oci://…` or `--registry http://…` is synced, updated, checked and
//! installed into without that flag, online or from a warm cache `--offline`, and the recorded
//! registry is asked only for what the infra's `vendor/` and the local directory lack.
//!
//! Regression (issue 19): `providers sync` said "no packs of `aws_prov` in the registry
//! `distribution/registry`; hint: pack it first", even `--offline` with a warm cache.

use insta::assert_snapshot;

use crate::common::{RegistryServer, Run, StaticServer, TestContext};

/// A release engineer's signed packs of the examples, and a teammate who trusts their key and
/// has nothing packed.
fn released() -> (TestContext, TestContext) {
    let releaser = TestContext::examples();
    releaser.run(["keys", "generate"]).success();
    releaser.run(["pack", "core"]).success();
    releaser.run(["pack", "providers"]).success();
    let team = TestContext::examples();
    team.write("release.pub", &releaser.run(["keys", "public"]).stdout);
    team.run(["keys", "trust", "release.pub"]).success();
    (releaser, team)
}

/// Runs the tool with no `--registry`, the registry's address filtered to `[REGISTRY]`.
fn run(context: &TestContext, url: &str, args: &[&str]) -> Run {
    let output = context.command().args(args).output().expect("runs");
    Run::from_output(output, &context.base, &[(url, "[REGISTRY]")])
}

/// Links `upcloud` (which `wuji`'s `main.ncl` imports) and installs `aws` at `version` into
/// `wuji` with `--registry url`, which the lock then records as its source.
fn link_upcloud_and_install_aws(team: &TestContext, url: &str, version: &str) {
    team.run(["providers", "install", "upcloud", "wuji"])
        .success();
    run(
        team,
        url,
        &[
            "--registry",
            url,
            "providers",
            "install",
            "aws",
            "wuji",
            "--version",
            version,
        ],
    )
    .success();
}

/// `sync` restored both packs of `wuji` from the recorded registry (`[REGISTRY]`), verified.
fn assert_restored_both(synced: Run) {
    // One expectation checked at several steps of a test: insta allows that only explicitly.
    insta::allow_duplicates! {
        assert_snapshot!(synced, @"
        exit: 0
        --- stdout
        --- stderr
            Restored `aws_prov` 1.0.0 from `[REGISTRY]` (verified)
            Restored `provisioning_core` 0.1.0 from `[REGISTRY]` (verified)
              Synced 3 modules of `wuji`
        ");
    }
}

/// What a fresh clone of `team`'s base has of `wuji`: the lock and the manifest, but no
/// `vendor/` and no cache.
fn fresh_clone(team: &TestContext) {
    std::fs::remove_dir_all(team.path("workspace/infra/wuji/vendor")).expect("rm vendor");
    std::fs::remove_dir_all(team.path("distribution/cache")).expect("rm cache");
}

/// Installs `aws` 1.0.0 into `wuji` as [`link_upcloud_and_install_aws`] does, then leaves what a
/// fresh clone has: the lock and the manifest, no `vendor/`, no cache. Returns the lock.
fn install_then_clone(team: &TestContext, url: &str) -> String {
    link_upcloud_and_install_aws(team, url, "1.0.0");
    let lock = team.read("workspace/infra/wuji/providers.manifest.yaml");
    assert!(lock.contains(&format!("source: {url}")), "{lock}");
    fresh_clone(team);
    lock
}

#[test]
fn sync_update_outdated_and_install_find_packs_in_the_recorded_http_registry() {
    let (releaser, team) = released();
    let mut server = StaticServer::start(&releaser.path("distribution"));
    let url = server.url();
    let lock = install_then_clone(&team, &url);

    let seen = server.requests().len();
    assert_restored_both(run(&team, &url, &["providers", "sync", "wuji"]));
    assert!(
        server.requests().len() > seen,
        "the packs came from the server"
    );
    assert_eq!(
        team.read("workspace/infra/wuji/providers.manifest.yaml"),
        lock,
        "sync does not change the lock"
    );
    run(&team, &url, &["providers", "validate", "wuji"]).success();

    // With `vendor/` intact, the recorded registry is not even opened.
    let seen = server.requests().len();
    run(&team, &url, &["providers", "sync", "wuji"]).success();
    assert_eq!(server.requests()[seen..].join("\n"), "", "nothing asked");

    assert_snapshot!(run(&team, &url, &["providers", "outdated", "wuji"]), @"
    exit: 0
    --- stdout
    MODULE             PINNED  REQUIREMENT                           MATCHING  NEWEST  WHY
    aws_prov           1.0.0   =1.0.0                                1.0.0     1.0.0   up to date
    provisioning_core  0.1.0   ^0.1 (aws_prov), ^0.1 (upcloud_prov)  0.1.0     0.1.0   up to date
    --- stderr
    ");
    assert_snapshot!(run(&team, &url, &["providers", "update", "wuji"]), @"
    exit: 0
    --- stdout
    --- stderr
       Unchanged every pin of `wuji` is as new as its requirements allow
    ");
    std::fs::remove_dir_all(team.path("workspace/infra/wuji/vendor")).expect("rm vendor");
    assert_snapshot!(run(&team, &url, &["providers", "install", "aws", "wuji", "--version", "1.0.0"]).to_string().replace(&team.key_id(), "[KEY]"), @"
    exit: 0
    --- stdout
    --- stderr
       Installed `aws_prov` 1.0.0 into `wuji` (pack from `[REGISTRY]`, signed by [KEY])
    ");

    // The server gone, the warm cache answers `--offline`.
    server.stop();
    std::fs::remove_dir_all(team.path("workspace/infra/wuji/vendor")).expect("rm vendor");
    assert_restored_both(run(
        &team,
        &url,
        &["--offline", "providers", "sync", "wuji"],
    ));
    assert_eq!(
        team.read("workspace/infra/wuji/providers.manifest.yaml"),
        lock
    );
}

#[test]
fn sync_finds_packs_in_the_recorded_oci_registry_online_and_offline() {
    let mut registry = RegistryServer::start();
    let url = registry.url();
    let (releaser, team) = released();
    run(&releaser, &url, &["--registry", &url, "pack", "publish"]).success();
    let lock = install_then_clone(&team, &url);

    assert_restored_both(run(&team, &url, &["providers", "sync", "wuji"]));
    assert_eq!(
        team.read("workspace/infra/wuji/providers.manifest.yaml"),
        lock
    );
    run(&team, &url, &["providers", "outdated", "wuji"]).success();

    registry.stop();
    std::fs::remove_dir_all(team.path("workspace/infra/wuji/vendor")).expect("rm vendor");
    assert_restored_both(run(
        &team,
        &url,
        &["--offline", "providers", "sync", "wuji"],
    ));
    run(&team, &url, &["providers", "validate", "wuji"]).success();
}

#[test]
fn the_local_directory_serves_a_pinned_pack_only_with_the_pinned_bytes() {
    let (releaser, team) = released();
    let server = StaticServer::start(&releaser.path("distribution"));
    let url = server.url();
    let lock = install_then_clone(&team, &url);

    // The teammate packs the same versions from their own, edited, source: other bytes.
    team.run(["keys", "generate"]).success();
    team.write(
        "extensions/providers/aws/nickel/notes.ncl",
        "{ note = \"local\" }\n",
    );
    team.run(["pack", "core"]).success();
    team.run(["pack", "provider", "aws"]).success();
    let seen = server.requests().len();
    // The core comes from the local directory, which holds its pinned bytes, and says so; and
    // that they are signed there by the teammate's key, not by the release key the lock records.
    let output = team
        .command()
        .args(["providers", "sync", "wuji"])
        .output()
        .expect("runs");
    let (release_key, own_key) = (releaser.key_id(), team.key_id());
    let filters = [
        (url.as_str(), "[REGISTRY]"),
        (release_key.as_str(), "[RELEASE KEY]"),
        (own_key.as_str(), "[YOUR KEY]"),
    ];
    assert_snapshot!(Run::from_output(output, &team.base, &filters), @"
    exit: 0
    --- stdout
    --- stderr
    warning: `provisioning_core` 0.1.0: the lock records key [RELEASE KEY] as its signer, but the signature `distribution/registry` serves now is by key [YOUR KEY]: restored, since the bytes are those pinned and key [YOUR KEY] is trusted for it; the lock still records key [RELEASE KEY]
        Restored `aws_prov` 1.0.0 from `[REGISTRY]` (verified)
        Restored `provisioning_core` 0.1.0 from `distribution/registry` (verified)
          Synced 3 modules of `wuji`
    ");
    // The core's bytes are the same (a deterministic pack of the same source): only `aws_prov`
    // is asked for.
    assert_snapshot!(server.requests()[seen..].join("\n"), @"
    GET /registry/aws_prov.json 200
    GET /packages/aws_prov_1.0.0.tar 200
    GET /packages/aws_prov_1.0.0.tar.minisig 200
    ");
    assert_eq!(
        team.read("workspace/infra/wuji/providers.manifest.yaml"),
        lock
    );

    // The same bytes in the local directory: restored from there, with no request, and the lock
    // still names where they came from.
    std::fs::remove_dir_all(team.path("distribution")).expect("rm distribution");
    crate::common::copy_tree(&releaser.path("distribution"), &team.path("distribution"));
    std::fs::remove_dir_all(team.path("workspace/infra/wuji/vendor")).expect("rm vendor");
    let seen = server.requests().len();
    run(&team, &url, &["providers", "sync", "wuji"]).success();
    assert_eq!(server.requests()[seen..].join("\n"), "", "nothing asked");
    assert_eq!(
        team.read("workspace/infra/wuji/providers.manifest.yaml"),
        lock
    );
}

#[test]
fn a_recorded_source_that_cannot_be_read_fails_only_its_modules() {
    let (releaser, team) = released();
    let server = StaticServer::start(&releaser.path("distribution"));
    let url = server.url();
    install_then_clone(&team, &url);
    let path = "workspace/infra/wuji/providers.manifest.yaml";
    let lock = team
        .read(path)
        .replace(&url, "http://packs.example/provisioning");
    team.write(path, &lock);
    std::fs::remove_dir_all(team.path("workspace/infra/wuji/.nickel-modules")).expect("rm links");
    assert_snapshot!(run(&team, &url, &["providers", "sync", "wuji"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to sync `aws_prov`: `http://packs.example/provisioning` would be read over plain HTTP, which is allowed only for a loopback host (127.0.0.0/8, ::1, localhost)
    hint: serve the registry over HTTPS (`https://…`)
    error: failed to sync `provisioning_core`: `http://packs.example/provisioning` would be read over plain HTTP, which is allowed only for a loopback host (127.0.0.0/8, ::1, localhost)
          Linked `upcloud_prov` → `extensions/providers/upcloud/nickel`
    error: 2 of 3 modules of `wuji` could not be synced
    ");
}

/// Links `upcloud` and installs `aws` into `wuji` from `url` as `^1.0` (1.0.0, the newest
/// there), then releases
/// aws 1.1.0 into `distribution` of `releaser` (`publish` pushes it to an OCI registry), and
/// leaves the teammate a fresh clone: no `vendor/`, no cache.
fn pinned_to_a_requirement(releaser: &TestContext, team: &TestContext, url: &str, publish: bool) {
    link_upcloud_and_install_aws(team, url, "^1.0");
    releaser
        .run(["pack", "provider", "aws", "--version", "1.1.0"])
        .success();
    if publish {
        run(releaser, url, &["--registry", url, "pack", "publish"]).success();
    }
    fresh_clone(team);
}

/// `outdated`, `update` and `sync` of a teammate, without `--registry`: the newer version
/// comes from the registry the lock records, and so does the core that update leaves pinned
/// (sync restores its `vendor/`). The same for every kind of registry.
fn update_from_the_recorded_registry(team: &TestContext, url: &str) {
    assert_snapshot!(run(team, url, &["providers", "outdated", "wuji"]), @"
    exit: 0
    --- stdout
    MODULE             PINNED  REQUIREMENT          MATCHING  NEWEST  WHY
    aws_prov           1.0.0   ^1.0                 1.1.0     1.1.0   an update is available: `providers update` moves it
    provisioning_core  0.1.0   ^0.1 (upcloud_prov)  0.1.0     0.1.0   up to date
    --- stderr
    ");
    assert_snapshot!(run(team, url, &["providers", "update", "wuji"]), @"
    exit: 0
    --- stdout
    --- stderr
        Updating aws_prov 1.0.0 -> 1.1.0
         Updated `wuji`: 1 change
    ");
    let lock = team.read("workspace/infra/wuji/providers.manifest.yaml");
    assert!(
        lock.contains("version: 1.1.0") && lock.contains(&format!("source: {url}")),
        "{lock}"
    );
    assert_snapshot!(run(team, url, &["providers", "sync", "wuji"]), @"
    exit: 0
    --- stdout
    --- stderr
        Restored `provisioning_core` 0.1.0 from `[REGISTRY]` (verified)
          Synced 3 modules of `wuji`
    ");
    run(team, url, &["providers", "validate", "wuji"]).success();
}

#[test]
fn outdated_and_update_use_the_recorded_http_registry_online_and_offline() {
    let (releaser, team) = released();
    let mut server = StaticServer::start(&releaser.path("distribution"));
    let url = server.url();
    pinned_to_a_requirement(&releaser, &team, &url, false);
    update_from_the_recorded_registry(&team, &url);
    server.stop();
    assert_snapshot!(run(&team, &url, &["--offline", "providers", "outdated", "wuji"]), @"
    exit: 0
    --- stdout
    MODULE             PINNED  REQUIREMENT                           MATCHING  NEWEST  WHY
    aws_prov           1.1.0   ^1.0                                  1.1.0     1.1.0   up to date
    provisioning_core  0.1.0   ^0.1 (aws_prov), ^0.1 (upcloud_prov)  0.1.0     0.1.0   up to date
    --- stderr
    ");
    assert_snapshot!(run(&team, &url, &["--offline", "providers", "update", "wuji"]), @"
    exit: 0
    --- stdout
    --- stderr
       Unchanged every pin of `wuji` is as new as its requirements allow
    ");
}

#[test]
fn outdated_and_update_use_the_recorded_oci_registry_online_and_offline() {
    let mut registry = RegistryServer::start();
    let url = registry.url();
    let (releaser, team) = released();
    run(&releaser, &url, &["--registry", &url, "pack", "publish"]).success();
    pinned_to_a_requirement(&releaser, &team, &url, true);
    update_from_the_recorded_registry(&team, &url);
    registry.stop();
    std::fs::remove_dir_all(team.path("workspace/infra/wuji/vendor")).expect("rm vendor");
    assert_snapshot!(run(&team, &url, &["--offline", "providers", "outdated", "wuji"]), @"
    exit: 0
    --- stdout
    MODULE             PINNED  REQUIREMENT          MATCHING  NEWEST  WHY
    aws_prov           1.1.0   ^1.0                 1.1.0     1.1.0   up to date
    provisioning_core  0.1.0   ^0.1 (upcloud_prov)  0.1.0     0.1.0   up to date
    --- stderr
    ");
    assert_snapshot!(run(&team, &url, &["--offline", "providers", "sync", "wuji"]), @"
    exit: 0
    --- stdout
    --- stderr
        Restored `aws_prov` 1.1.0 from `[REGISTRY]` (verified)
        Restored `provisioning_core` 0.1.0 from `[REGISTRY]` (verified)
          Synced 3 modules of `wuji`
    ");
}
