//! Registries in order (`[[distribution.registries]]`): a mirror first, the upstream next. A
//! module the mirror lacks comes from the upstream, one both hold from the mirror, and the lock
//! records the registry that served each; a mirror that cannot be read is passed over with a
//! warning naming it, the pinned bytes verified wherever they come from. `--registry NAME`
//! picks one for a run; the single `registry_type`/`registry_url` keys are one registry.

use insta::assert_snapshot;

use crate::common::{RegistryServer, Run, StaticServer, TestContext};

/// Runs the tool in `context`, the mirror's and the upstream's addresses filtered.
fn run(context: &TestContext, addresses: &[(&str, &str)], args: &[&str]) -> Run {
    let output = context.command().args(args).output().expect("runs");
    let run = Run::from_output(output, &context.base, addresses);
    Run {
        stderr: run.stderr.replace(&context.key_id(), "[KEY]"),
        ..run
    }
}

/// The source each pinned module of `wuji`'s lock records, `module=source` a line.
fn recorded_sources(team: &TestContext, addresses: &[(&str, &str)]) -> String {
    let lock: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&team.read("workspace/infra/wuji/providers.manifest.yaml"))
            .expect("the lock is YAML");
    let mut lines = Vec::new();
    for entry in lock["providers"].as_sequence().expect("providers") {
        let mut source = entry["source"].as_str().expect("source").to_owned();
        for (from, to) in addresses {
            source = source.replace(from, to);
        }
        lines.push(format!(
            "{}={source}",
            entry["module"].as_str().expect("module")
        ));
    }
    lines.join("\n")
}

/// A release engineer's signed packs, published to `upstream`; a mirror base holding them all
/// but `aws_prov`; a teammate who trusts the key and has nothing packed.
fn released(upstream: &str) -> (TestContext, TestContext) {
    let releaser = TestContext::examples();
    releaser.run(["keys", "generate"]).success();
    releaser.run(["pack", "core"]).success();
    releaser.run(["pack", "providers"]).success();
    releaser
        .run(["--registry", upstream, "pack", "publish"])
        .success();
    let mirror = TestContext::new();
    crate::common::copy_tree(&releaser.path("distribution"), &mirror.path("distribution"));
    for entry in std::fs::read_dir(mirror.path("distribution/packages")).expect("packages") {
        let path = entry.expect("entry").path();
        if path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with("aws_prov"))
        {
            std::fs::remove_file(path).expect("rm aws pack");
        }
    }
    std::fs::remove_file(mirror.path("distribution/registry/aws_prov.json")).expect("rm record");
    mirror.run(["pack", "index"]).success();
    let team = TestContext::examples();
    team.write("release.pub", &releaser.run(["keys", "public"]).stdout);
    team.run(["keys", "trust", "release.pub"]).success();
    (mirror, team)
}

fn configure(team: &TestContext, mirror: &str, upstream: &str) {
    let config = team.read("config/config.defaults.toml");
    team.write(
        "config/config.defaults.toml",
        &format!(
            "{config}\n[[distribution.registries]]\nname = \"mirror\"\ntype = \"http\"\nurl = \"{mirror}\"\n\n[[distribution.registries]]\nname = \"upstream\"\ntype = \"oci\"\nurl = \"{upstream}\"\n"
        ),
    );
}

#[test]
fn a_module_missing_from_the_mirror_comes_from_the_upstream_and_the_lock_says_so() {
    let registry = RegistryServer::start();
    let upstream = registry.url();
    let (mirror_base, team) = released(&upstream);
    let mut mirror = StaticServer::start(&mirror_base.path("distribution"));
    let mirror_url = mirror.url();
    configure(&team, &mirror_url, &upstream);
    let addresses = [
        (mirror_url.as_str(), "[MIRROR]"),
        (upstream.as_str(), "[UPSTREAM]"),
    ];

    assert_snapshot!(run(&team, &addresses, &["registry", "list"]), @"
        exit: 0
        --- stdout
        NAME      TYPE  ADDRESS                             STATE
        mirror    http  [MIRROR]              reachable, 3 modules
        upstream  oci   [UPSTREAM]  reachable, 4 modules
        --- stderr
        ");
    assert_snapshot!(run(&team, &addresses, &["providers", "install", "upcloud", "wuji", "--version", "0.0.1"]), @"
        exit: 0
        --- stdout
        --- stderr
           Installed `upcloud_prov` 0.0.1 into `wuji` (pack from `[MIRROR]`, signed by [KEY])
            Vendored provisioning_core 0.1.0 (required by upcloud_prov)
        ");
    assert_snapshot!(run(&team, &addresses, &["providers", "install", "aws", "wuji", "--version", "1.0.0"]), @"
        exit: 0
        --- stdout
        --- stderr
           Installed `aws_prov` 1.0.0 into `wuji` (pack from `[UPSTREAM]`, signed by [KEY])
        ");
    assert_snapshot!(recorded_sources(&team, &addresses), @"
        aws_prov=[UPSTREAM]
        provisioning_core=[MIRROR]
        upcloud_prov=[MIRROR]
        ");
    let lock = team.read("workspace/infra/wuji/providers.manifest.yaml");

    // The mirror down, a fresh clone restores every pinned pack from the upstream, verified
    // against the pins: the lock does not change.
    mirror.stop();
    std::fs::remove_dir_all(team.path("workspace/infra/wuji/vendor")).expect("rm vendor");
    std::fs::remove_dir_all(team.path("distribution/cache")).expect("rm cache");
    assert_snapshot!(run(&team, &addresses, &["providers", "sync", "wuji"]), @"
        exit: 0
        --- stdout
        --- stderr
            Restored `aws_prov` 1.0.0 from `[UPSTREAM]` (verified)
            Restored `provisioning_core` 0.1.0 from `[UPSTREAM]` (verified)
            Restored `upcloud_prov` 0.0.1 from `[UPSTREAM]` (verified)
              Synced 3 modules of `wuji`
        warning: the registry `mirror` (`[MIRROR]`) cannot be read, asking the next one for the rest of this run: the registry `[MIRROR]` failed to give `[MIRROR]/registry/aws_prov.json`: error sending request for url ([MIRROR]/registry/aws_prov.json): client error (Connect): tcp connect error: Connection refused (os error 111)
        ");
    assert_eq!(
        team.read("workspace/infra/wuji/providers.manifest.yaml"),
        lock
    );
    assert_snapshot!(run(&team, &addresses, &["registry", "list", "--format", "json"]), @r#"
        exit: 1
        --- stdout
        [
          {
            "name": "mirror",
            "type": "http",
            "address": "[MIRROR]",
            "reachable": false,
            "modules": null,
            "error": "the registry `[MIRROR]` failed to give `[MIRROR]/index.json`: error sending request for url ([MIRROR]/index.json): client error (Connect): tcp connect error: Connection refused (os error 111)"
          },
          {
            "name": "upstream",
            "type": "oci",
            "address": "[UPSTREAM]",
            "reachable": true,
            "modules": 4,
            "error": null
          }
        ]
        --- stderr
        "#);
}

#[test]
fn registry_names_one_registry_and_the_single_keys_are_one_named_default() {
    let registry = RegistryServer::start();
    let upstream = registry.url();
    let (mirror_base, team) = released(&upstream);
    let mirror = StaticServer::start(&mirror_base.path("distribution"));
    let mirror_url = mirror.url();
    configure(&team, &mirror_url, &upstream);
    let addresses = [
        (mirror_url.as_str(), "[MIRROR]"),
        (upstream.as_str(), "[UPSTREAM]"),
    ];

    // `--registry NAME`: only that one, listed as one registry is (its modules and versions).
    assert_snapshot!(run(&team, &addresses, &["--registry", "mirror", "registry", "list"]), @"
        exit: 0
        --- stdout
        MODULE             VERSION
        local_prov         0.2.0
        provisioning_core  0.1.0
        upcloud_prov       0.0.1
        --- stderr
        ");
    assert_snapshot!(run(&team, &addresses, &["--registry", "mirror", "providers", "install", "aws", "wuji", "--version", "1.0.0"]), @"
        exit: 1
        --- stdout
        --- stderr
        error: failed to install `aws` 1.0.0 into `wuji`
          caused by: no packs of `aws_prov` in the registry `[MIRROR]`
        hint: `provisioning --registry [MIRROR] registry list` shows what it has
        ");

    // The single keys, set in a later layer (the environment) than the list, are the one
    // registry of the run, named `default`.
    let single = |args: &[&str]| {
        let output = team
            .command()
            .env("PROVISIONING_DISTRIBUTION_REGISTRY_TYPE", "oci")
            .env("PROVISIONING_DISTRIBUTION_REGISTRY_URL", &upstream)
            .args(args)
            .output()
            .expect("runs");
        Run::from_output(output, &team.base, &addresses)
    };
    assert_snapshot!(single(&["registry", "list", "aws_prov"]), @"
        exit: 0
        --- stdout
        MODULE    VERSION
        aws_prov  1.0.0
        --- stderr
        ");
    assert_snapshot!(single(&["--registry", "default", "registry", "list", "upcloud_prov"]), @"
        exit: 0
        --- stdout
        MODULE        VERSION
        upcloud_prov  0.0.1
        --- stderr
        ");
    single(&["providers", "install", "aws", "wuji", "--version", "1.0.0"]).success();
    assert_snapshot!(recorded_sources(&team, &addresses), @"
        aws_prov=[UPSTREAM]
        provisioning_core=[UPSTREAM]
        ");
}
