//! A cache kept by where each record came from: a hostile static registry serving the genuine
//! bytes signed by another key cannot break later installs and syncs from the genuine registry
//! (online or `--offline`), a cached copy that fails verification is dropped and fetched again
//! (offline: an error that says the cache holds a bad copy), the hint to trust a key is never
//! about a key only a cache holds, and two registries whose paths read alike (`/team_a`,
//! `/team/a`) keep two caches.

use std::path::PathBuf;

use insta::assert_snapshot;

use crate::common::{Run, StaticServer, TestContext, copy_tree};

const INSTALL: &[&str] = &["providers", "install", "aws", "wuji", "--version", "1.0.0"];
const ARTIFACT: &str = "packages/aws_prov_1.0.0.tar";

/// The release engineer, an attacker who packed the same sources (the same bytes: packs are
/// reproducible) and signed them with their own key, and a teammate who trusts the release key.
fn releaser_attacker_and_teammate() -> (TestContext, TestContext, TestContext) {
    let releaser = TestContext::examples()
        .signed()
        .packed(&["core", "providers"]);
    let attacker = TestContext::examples()
        .signed()
        .packed(&["core", "providers"]);
    assert_eq!(
        std::fs::read(releaser.path(&format!("distribution/{ARTIFACT}"))).expect("genuine"),
        std::fs::read(attacker.path(&format!("distribution/{ARTIFACT}"))).expect("hostile"),
        "the attacker serves the genuine bytes"
    );
    assert_ne!(releaser.key_id(), attacker.key_id());
    let team = TestContext::examples().trusting(&releaser);
    (releaser, attacker, team)
}

/// Runs the tool in `context` with `--registry url`, filtered: `url` reads `[REGISTRY]`, the
/// attacker's key `[HOSTILE KEY]`, a registry's directory in the cache `[CACHED]`.
fn run(url: &str, context: &TestContext, attacker: &TestContext, args: &[&str]) -> Run {
    let output = context
        .command()
        .arg("--registry")
        .arg(url)
        .args(args)
        .output()
        .expect("runs");
    let hostile = attacker.key_id();
    let mut run = Run::from_output(
        output,
        &context.base,
        &[(url, "[REGISTRY]"), (&hostile, "[HOSTILE KEY]")],
    );
    run.stderr = hide_cache_dirs(&run.stderr);
    run
}

/// `…/cache/http/<registry>/…` as `…/cache/http/[CACHED]/…`: the name holds a port and a hash.
fn hide_cache_dirs(text: &str) -> String {
    const DIR: &str = "distribution/cache/http/";
    let mut parts = text.split(DIR);
    let mut hidden = parts.next().unwrap_or_default().to_owned();
    for part in parts {
        let rest = part.split_once('/').map_or(part, |(_, rest)| rest);
        hidden.push_str(&format!("{DIR}[CACHED]/{rest}"));
    }
    hidden
}

/// Every signature the teammate's HTTP cache holds, as `<registry dir>/signatures/<file>`.
fn cached_signatures(team: &TestContext) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let http = team.path("distribution/cache/http");
    for registry in std::fs::read_dir(&http).expect("the cache").flatten() {
        let Ok(signatures) = std::fs::read_dir(registry.path().join("signatures")) else {
            continue;
        };
        found.extend(signatures.flatten().map(|entry| entry.path()));
    }
    found.sort();
    found
}

fn remove_vendor(team: &TestContext) {
    std::fs::remove_dir_all(team.path("workspace/infra/wuji/vendor")).expect("rm vendor");
}

#[test]
fn a_hostile_registry_serving_genuine_bytes_signed_by_another_key_does_not_poison_the_genuine_one()
{
    let (releaser, attacker, team) = releaser_attacker_and_teammate();
    let genuine = StaticServer::start(&releaser.path("distribution"));
    let hostile = StaticServer::start(&attacker.path("distribution"));
    let _filters = team.filters().sha256().bind();

    let refused = run(&hostile.url(), &team, &attacker, INSTALL);
    assert_snapshot!(refused, @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 1.0.0 into `wuji`
      caused by: `aws_prov` 1.0.0 failed verification: signature: `[BASE]/distribution/cache/http/[CACHED]/signatures/[SHA256].minisig` is signed by key [HOSTILE KEY], which is not trusted
    hint: if you trust it, `provisioning keys trust <its .pub file>`
    ");

    let installed = run(&genuine.url(), &team, &attacker, INSTALL);
    assert_snapshot!(installed, @"
    exit: 0
    --- stdout
    --- stderr
       Installed `aws_prov` 1.0.0 into `wuji` (pack from `[REGISTRY]`, signed by [KEY])
        Vendored provisioning_core 0.1.0 (required by aws_prov)
    ");

    remove_vendor(&team);
    let synced = run(
        &genuine.url(),
        &team,
        &attacker,
        &["providers", "sync", "wuji"],
    );
    synced.success();
    remove_vendor(&team);
    let offline = ["--offline", "providers", "sync", "wuji"];
    let synced_offline = run(&genuine.url(), &team, &attacker, &offline);
    synced_offline.success();
    for run in [&installed, &synced, &synced_offline] {
        assert!(!run.stderr.contains("[HOSTILE KEY]"), "{run}");
    }
}

#[test]
fn a_cached_signature_that_fails_is_dropped_and_fetched_again_and_offline_is_named() {
    let (releaser, attacker, team) = releaser_attacker_and_teammate();
    let genuine = StaticServer::start(&releaser.path("distribution"));
    let _filters = team.filters().sha256().bind();
    run(&genuine.url(), &team, &attacker, INSTALL).success();
    // The cache's copy of the signature goes bad: another key's, for the same bytes.
    let signature = cached_signatures(&team)
        .into_iter()
        .find(|path| {
            path.to_string_lossy()
                .contains(&sha256_of(&releaser, ARTIFACT))
        })
        .expect("the signature is cached");
    let hostile = attacker.path(&format!("distribution/{ARTIFACT}.minisig"));
    std::fs::copy(&hostile, &signature).expect("replace");

    remove_vendor(&team);
    let offline = ["--offline", "providers", "sync", "wuji"];
    assert_snapshot!(run(&genuine.url(), &team, &attacker, &offline), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to sync `aws_prov`: the cache holds a copy of `aws_prov` 1.0.0 from `[REGISTRY]` that fails verification: signature: `[BASE]/distribution/cache/http/[CACHED]/signatures/[SHA256].minisig` is signed by key [HOSTILE KEY], which is not trusted
    hint: run without `--offline` to fetch it again from `[REGISTRY]`
        Restored `provisioning_core` 0.1.0 from `[REGISTRY]` (verified)
    error: 1 of 2 modules of `wuji` could not be synced
    ");

    let synced = run(
        &genuine.url(),
        &team,
        &attacker,
        &["providers", "sync", "wuji"],
    );
    assert_snapshot!(synced, @"
    exit: 0
    --- stdout
    --- stderr
        Restored `aws_prov` 1.0.0 from `[REGISTRY]` (verified)
          Synced 2 modules of `wuji`
    ");
    assert_eq!(
        std::fs::read(&signature).expect("cached again"),
        std::fs::read(releaser.path(&format!("distribution/{ARTIFACT}.minisig"))).expect("sig"),
        "the registry's own signature is cached again"
    );
}

/// `/team_a` and `/team/a` on one host are two registries with two caches: what one of them
/// serves never answers for the other.
#[test]
fn registries_whose_paths_read_alike_keep_separate_caches() {
    let (releaser, attacker, team) = releaser_attacker_and_teammate();
    let root = tempfile::tempdir().expect("temp dir");
    copy_tree(&attacker.path("distribution"), &root.path().join("team_a"));
    copy_tree(&releaser.path("distribution"), &root.path().join("team/a"));
    let server = StaticServer::start(root.path());

    let hostile = format!("{}/team_a", server.url());
    let refused = run(&hostile, &team, &attacker, INSTALL);
    assert_eq!(refused.code, 1, "{refused}");
    let genuine = format!("{}/team/a", server.url());
    run(&genuine, &team, &attacker, INSTALL).success();

    let mut registries: Vec<String> = std::fs::read_dir(team.path("distribution/cache/http"))
        .expect("the cache")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "blobs")
        .collect();
    registries.sort();
    assert_eq!(registries.len(), 2, "{registries:?}");
}

fn sha256_of(context: &TestContext, file: &str) -> String {
    crate::common::sha256_file(&context.path(&format!("distribution/{file}")))
}
