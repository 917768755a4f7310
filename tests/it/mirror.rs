//! `pack mirror`: the closure of an infra's lock copied out of a real OCI registry on loopback
//! into a directory, carried to a base that never saw the registry and used there with
//! `--offline`, the lock unchanged; a rerun that copies nothing; a tampered artifact refused;
//! yank states that follow the source; a mirror merged into a registry that has other
//! modules; a mirror pushed into an OCI namespace from a directory; a mirror configured as a
//! registry serving an infra online whose recorded source is gone.

use insta::assert_snapshot;

use crate::common::{RegistryServer, Run, TestContext, copy_tree};
use crate::oci::{client, release, teammate};

const LOCK: &str = "workspace/infra/wuji/providers.manifest.yaml";

/// The modules a registry directory's `index.json` lists.
fn indexed(context: &TestContext, dir: &str) -> String {
    let index: serde_json::Value =
        serde_json::from_str(&context.read(&format!("{dir}/index.json"))).expect("index.json");
    index["modules"].to_string()
}

/// `run` with `text` read `placeholder`.
fn filtered(run: Run, text: &str, placeholder: &str) -> Run {
    Run {
        stderr: run.stderr.replace(text, placeholder),
        stdout: run.stdout.replace(text, placeholder),
        ..run
    }
}

/// `run` with the source registry's directory read `[FROM]`.
fn from_filtered(run: Run, from: &str) -> Run {
    filtered(run, from, "[FROM]")
}

#[test]
fn a_mirror_of_an_oci_registry_serves_an_air_gapped_base_offline_with_the_lock_unchanged() {
    let mut registry = RegistryServer::start();
    let (_releaser, public) = release(&registry);
    let run = client(&registry);
    let team = teammate(&public);
    for provider in ["aws@1.0.0", "upcloud@0.0.1"] {
        let (provider, version) = provider.split_once('@').expect("provider@version");
        let args = [
            "providers",
            "install",
            provider,
            "wuji",
            "--version",
            version,
        ];
        run(&team, &args).success();
    }
    let lock = team.read(LOCK);

    assert_snapshot!(run(&team, &["pack", "mirror", "--to", "mirror", "--infra", "wuji"]), @"
    exit: 0
    --- stdout
    --- stderr
          Copied `aws_prov` 1.0.0 from `[REGISTRY]` to `mirror` (with its provenance)
          Copied `provisioning_core` 0.1.0 from `[REGISTRY]` to `mirror` (with its provenance)
          Copied `upcloud_prov` 0.0.1 from `[REGISTRY]` to `mirror` (with its provenance)
        Finished 3 copied, 0 already there, in `mirror`
    ");
    assert_snapshot!(run(&team, &["pack", "mirror", "--to", "mirror", "--infra", "wuji", "-v"]), @"
    exit: 0
    --- stdout
    --- stderr
                 `aws_prov` 1.0.0 is already in the mirror
                 `provisioning_core` 0.1.0 is already in the mirror
                 `upcloud_prov` 0.0.1 is already in the mirror
        Finished 0 copied, 3 already there, in `mirror`
    ");
    assert_eq!(
        indexed(&team, "mirror"),
        r#"["aws_prov","provisioning_core","upcloud_prov"]"#
    );
    assert!(
        team.path("mirror/index.html").is_file(),
        "the mirror has its pages"
    );
    assert!(
        team.path("mirror/packages/aws_prov_1.0.0.tar.minisig")
            .is_file()
            && team
                .path("mirror/packages/aws_prov_1.0.0.intoto.jsonl")
                .is_file(),
        "the signature and the provenance are copied"
    );

    // The site has never seen the registry, which is gone: the mirror is its registry.
    let url = registry.url();
    registry.stop();
    let site = TestContext::examples();
    site.write("release.pub", &public);
    site.run(["keys", "trust", "release.pub"]).success();
    copy_tree(&team.path("mirror"), &site.path("distribution"));
    site.write(LOCK, &lock);
    site.write(
        "workspace/infra/wuji/manifest.toml",
        &team.read("workspace/infra/wuji/manifest.toml"),
    );
    let synced = site.run(["--offline", "providers", "sync", "wuji"]);
    assert_snapshot!(filtered(synced, &url, "[REGISTRY]"), @"
    exit: 0
    --- stdout
    --- stderr
        Restored `aws_prov` 1.0.0 from `distribution/registry` (verified)
        Restored `provisioning_core` 0.1.0 from `distribution/registry` (verified)
        Restored `upcloud_prov` 0.0.1 from `distribution/registry` (verified)
          Synced 3 modules of `wuji`
    ");
    site.run(["--offline", "providers", "validate", "wuji"])
        .success();
    assert_eq!(site.read(LOCK), lock, "the lock is byte for byte the same");

    // Online, with the mirror a configured registry rather than the base's own directory: the
    // source the lock records is gone, so it is passed over, said once, and the mirror serves.
    let online = TestContext::examples();
    online.write("release.pub", &public);
    online.run(["keys", "trust", "release.pub"]).success();
    let config = online.read("config/config.defaults.toml");
    online.write(
        "config/config.defaults.toml",
        &format!(
            "{config}\n[[distribution.registries]]\nname = \"mirror\"\ntype = \"local\"\npath = \"{}\"\n",
            team.path("mirror").display()
        ),
    );
    online.write(LOCK, &lock);
    online.write(
        "workspace/infra/wuji/manifest.toml",
        &team.read("workspace/infra/wuji/manifest.toml"),
    );
    let synced = online.run(["providers", "sync", "wuji"]);
    assert_eq!(synced.code, 0, "{synced}");
    assert_eq!(
        synced
            .stderr
            .matches("cannot be read, asking the next one")
            .count(),
        1,
        "{synced}"
    );
    assert!(
        synced.stderr.contains(&url),
        "the warning names the source: {synced}"
    );
    online.run(["providers", "validate", "wuji"]).success();
    assert_eq!(
        online.read(LOCK),
        lock,
        "the lock is byte for byte the same"
    );
}

/// A releaser's signed packs, and a teammate who trusts them with an infra pinning `aws`.
fn directory_release() -> (TestContext, TestContext) {
    let releaser = TestContext::examples()
        .signed()
        .packed(&["core", "providers"]);
    let team = TestContext::examples().trusting(&releaser);
    let from = releaser.path("distribution").display().to_string();
    team.run([
        "--registry",
        &from,
        "providers",
        "install",
        "aws",
        "wuji",
        "--version",
        "1.0.0",
    ])
    .success();
    (releaser, team)
}

#[test]
fn a_rerun_copies_nothing_and_yank_states_follow_the_source() {
    let (releaser, team) = directory_release();
    let from = releaser.path("distribution").display().to_string();
    let mirror = |args: &[&str]| {
        let mut all = vec!["pack", "mirror", "--from", from.as_str(), "--to", "mirror"];
        all.extend(args);
        from_filtered(team.run(all), &from)
    };
    assert_snapshot!(mirror(&["--workspace"]), @"
    exit: 0
    --- stdout
    --- stderr
          Copied `aws_prov` 1.0.0 from `[FROM]` to `mirror` (with its provenance)
          Copied `provisioning_core` 0.1.0 from `[FROM]` to `mirror` (with its provenance)
        Finished 2 copied, 0 already there, in `mirror`
    ");
    assert_snapshot!(mirror(&["--infra", "wuji"]), @"
    exit: 0
    --- stdout
    --- stderr
        Finished 0 copied, 2 already there, in `mirror`
    ");
    releaser
        .run(["pack", "yank", "aws_prov@1.0.0", "--reason", "CVE-2026-1"])
        .success();
    assert_snapshot!(mirror(&["--infra", "wuji"]), @"
    exit: 0
    --- stdout
    --- stderr
         Updated the yank state of `aws_prov` 1.0.0
        Finished 0 copied, 1 yank states updated, 1 already there, in `mirror`
    ");
    let record = team.read("mirror/registry/aws_prov.json");
    assert!(
        record.contains("\"yank_reason\": \"CVE-2026-1\""),
        "{record}"
    );

    // Into a registry that has other modules: both are listed.
    assert_snapshot!(mirror(&["upcloud_prov@^0.0.1", "--format", "json"]), @r#"
    exit: 0
    --- stdout
    [
      {
        "module": "provisioning_core",
        "version": "0.1.0",
        "result": "already_there",
        "provenance": false,
        "error": null
      },
      {
        "module": "upcloud_prov",
        "version": "0.0.1",
        "result": "copied",
        "provenance": true,
        "error": null
      }
    ]
    --- stderr
          Copied `upcloud_prov` 0.0.1 from `[FROM]` to `mirror` (with its provenance)
        Finished 1 copied, 1 already there, in `mirror`
    "#);
    assert_eq!(
        indexed(&team, "mirror"),
        r#"["aws_prov","provisioning_core","upcloud_prov"]"#
    );
}

#[test]
fn a_tampered_artifact_in_the_source_is_refused_and_nothing_of_it_lands_in_the_mirror() {
    let (releaser, team) = directory_release();
    let from = releaser.path("distribution").display().to_string();
    let artifact = releaser.path("distribution/packages/local_prov_0.2.0.tar");
    let mut bytes = std::fs::read(&artifact).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&artifact, bytes).expect("tamper");
    let run = team.run([
        "pack",
        "mirror",
        "--from",
        &from,
        "--to",
        "mirror",
        "local_prov@0.2.0",
        "aws_prov@1",
    ]);
    let run = from_filtered(run, &from);
    let _filters = team.filters().sha256().bind();
    assert_snapshot!(run, @"
    exit: 1
    --- stdout
    --- stderr
          Copied `aws_prov` 1.0.0 from `[FROM]` to `mirror` (with its provenance)
    error: failed to mirror `local_prov` 0.2.0: `local_prov` 0.2.0 failed verification: sha256: expected [SHA256], found [SHA256]
          Copied `provisioning_core` 0.1.0 from `[FROM]` to `mirror` (with its provenance)
    error: 1 of 3 packs could not be mirrored
    ");
    assert!(!team.path("mirror/packages/local_prov_0.2.0.tar").exists());
    assert!(!team.path("mirror/registry/local_prov.json").exists());
    assert_eq!(
        indexed(&team, "mirror"),
        r#"["aws_prov","provisioning_core"]"#
    );
}

#[test]
fn a_mirror_into_oci_from_a_directory_registry_installs_with_the_same_hash() {
    let registry = RegistryServer::start();
    let (releaser, team) = directory_release();
    let from = releaser.path("distribution").display().to_string();
    let to = registry.url();
    let run = client(&registry);
    let mirrored = run(
        &team,
        &[
            "pack", "mirror", "--from", &from, "--to", &to, "--infra", "wuji",
        ],
    );
    assert_snapshot!(from_filtered(mirrored, &from), @"
    exit: 0
    --- stdout
    --- stderr
          Copied `aws_prov` 1.0.0 from `[FROM]` to `[REGISTRY]` (with its provenance)
          Copied `provisioning_core` 0.1.0 from `[FROM]` to `[REGISTRY]` (with its provenance)
        Finished 2 copied, 0 already there, in `[REGISTRY]`
    ");
    assert_snapshot!(run(&team, &["registry", "list"]), @"
    exit: 0
    --- stdout
    MODULE             VERSION
    aws_prov           1.0.0
    provisioning_core  0.1.0
    --- stderr
    ");

    // A base that installs from the OCI mirror pins the same bytes.
    let other = TestContext::examples().trusting(&releaser);
    run(
        &other,
        &["providers", "install", "aws", "wuji", "--version", "1.0.0"],
    )
    .success();
    let sha256 = |context: &TestContext| {
        context
            .read(LOCK)
            .lines()
            .filter(|line| line.trim_start().starts_with("sha256:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(sha256(&other), sha256(&team));
}

#[test]
fn a_mirror_needs_something_to_copy_and_a_place_it_can_write() {
    let context = TestContext::examples();
    assert_snapshot!(context.run(["pack", "mirror", "--to", "mirror"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: the following required arguments were not provided:
      <--workspace|--infra <NAME>...|MODULE@REQ>

    Usage: provisioning pack mirror --to <DIR|oci://…> <--workspace|--infra <NAME>...|MODULE@REQ>

    For more information, try '--help'.
    ");
    let http = context.run([
        "pack",
        "mirror",
        "--to",
        "https://packs.example.com/provisioning",
        "aws_prov@1",
    ]);
    assert_snapshot!(http, @"
    exit: 1
    --- stdout
    --- stderr
    error: an HTTP registry is read-only: `pack mirror` cannot write to `https://packs.example.com/provisioning`
    hint: mirror into a directory (`--to DIR`) and serve it, or upload it, as it is
    ");
    assert_snapshot!(context.run(["pack", "mirror", "--to", "mirror", "aws_prov@latest"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value 'aws_prov@latest' for '[MODULE@REQ]...': `latest` is neither a version nor a version requirement
    hint: give an exact version (`1.2.3`) or a version requirement in Cargo's syntax: `0.1` (meaning `^0.1`), `^1.2`, `~1.2.3`, `=1.2.3`, `>=1.0, <2.0` or `*`

    For more information, try '--help'.
    ");
    assert!(!context.path("mirror").exists(), "nothing was written");
}
