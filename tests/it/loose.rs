//! `install --from` one loose artifact (a file, or a URL on a static server) and `pack verify`
//! of a loose file: signed and unsigned, a name that disagrees with the archive's manifest, a
//! provider that is not the artifact's, sync restoring from the recorded source.

use insta::assert_snapshot;

use crate::common::{Run, StaticServer, TestContext};

/// A release engineer's packs (signed when `signed`), and a teammate who trusts their key.
pub fn release(signed: bool) -> (TestContext, TestContext) {
    let releaser = TestContext::examples();
    if signed {
        releaser.run(["keys", "generate"]).success();
    }
    releaser.run(["pack", "core"]).success();
    releaser.run(["pack", "providers"]).success();
    let team = TestContext::examples();
    if signed {
        team.write("release.pub", &releaser.run(["keys", "public"]).stdout);
        team.run(["keys", "trust", "release.pub"]).success();
    }
    (releaser, team)
}

/// Copies a file of the releaser's `distribution/packages/` into the teammate's `downloads/`.
pub fn download(releaser: &TestContext, team: &TestContext, file: &str) {
    let from = releaser.path(&format!("distribution/packages/{file}"));
    std::fs::create_dir_all(team.path("downloads")).expect("mkdir");
    std::fs::copy(from, team.path(&format!("downloads/{file}"))).expect("copy");
}

#[test]
fn install_from_a_signed_file_pins_its_source_and_sync_restores_it() {
    let (releaser, team) = release(true);
    for file in ["local_prov_0.2.0.tar", "local_prov_0.2.0.tar.minisig"] {
        download(&releaser, &team, file);
    }
    let key = team.key_id();
    let installed = team.run([
        "providers",
        "install",
        "local",
        "homelab",
        "--from",
        "downloads/local_prov_0.2.0.tar",
    ]);
    assert_snapshot!(installed.to_string().replace(&key, "[KEY]"), @"
    exit: 0
    --- stdout
    --- stderr
       Installed `local_prov` 0.2.0 into `homelab` (pack from `downloads/local_prov_0.2.0.tar`, signed by [KEY])
    ");
    let lock = team.read("workspace/infra/homelab/providers.manifest.yaml");
    assert!(
        lock.contains("source: downloads/local_prov_0.2.0.tar"),
        "{lock}"
    );
    team.run(["providers", "validate", "homelab"]).success();

    std::fs::remove_dir_all(team.path("workspace/infra/homelab/vendor")).expect("rm vendor");
    let synced = team.run(["providers", "sync", "homelab"]);
    assert!(
        synced.stderr.contains(
            "Restored `local_prov` 0.2.0 from `downloads/local_prov_0.2.0.tar` (verified)"
        ),
        "{synced}"
    );
    synced.success();

    // Other bytes under the pinned name (a valid pack of other sources) are refused by sync.
    let main = releaser.read("extensions/providers/local/nickel/main.ncl");
    releaser.write(
        "extensions/providers/local/nickel/main.ncl",
        &format!("{main}\n# changed\n"),
    );
    releaser
        .run(["pack", "provider", "local", "--output", "other"])
        .success();
    std::fs::copy(
        releaser.path("other/local_prov_0.2.0.tar"),
        team.path("downloads/local_prov_0.2.0.tar"),
    )
    .expect("replace");
    std::fs::remove_dir_all(team.path("workspace/infra/homelab/vendor")).expect("rm vendor");
    let refused = team.run(["providers", "sync", "homelab"]);
    assert_eq!(refused.code, 1, "{refused}");
    assert!(refused.stderr.contains("but the lock pins"), "{refused}");
}

#[test]
fn install_from_refuses_unsigned_mismatched_and_foreign_artifacts() {
    let (releaser, team) = release(false);
    download(&releaser, &team, "local_prov_0.2.0.tar");
    let from = ["providers", "install", "local", "homelab", "--from"];
    let run = |extra: &[&str]| {
        let mut args: Vec<&str> = from.to_vec();
        args.extend(extra);
        team.run(args)
    };
    assert_snapshot!(run(&["downloads/local_prov_0.2.0.tar"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `local` 0.2.0 into `homelab`
      caused by: `downloads/local_prov_0.2.0.tar` (`local_prov` 0.2.0) failed verification: signature: the artifact is not signed
    hint: a signed artifact comes with its signature beside it (`local_prov_0.2.0.tar.minisig`): get it from where the artifact came from, or pass `--allow-unsigned=local` to accept it unsigned
    ");
    assert!(!team.path("workspace/infra/homelab/vendor").exists());
    assert_snapshot!(run(&["downloads/local_prov_0.2.0.tar", "--allow-unsigned"]), @"
    exit: 0
    --- stdout
    --- stderr
       Installed `local_prov` 0.2.0 into `homelab` (pack from `downloads/local_prov_0.2.0.tar`, unsigned, allowed by `--allow-unsigned`)
    ");

    // Renamed: the file name and the manifest inside disagree.
    std::fs::copy(
        team.path("downloads/local_prov_0.2.0.tar"),
        team.path("downloads/local_prov_0.3.0.tar"),
    )
    .expect("copy");
    assert_snapshot!(run(&["downloads/local_prov_0.3.0.tar", "--allow-unsigned"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `local` 0.3.0 into `homelab`
      caused by: `downloads/local_prov_0.3.0.tar` is named for `local_prov` 0.3.0, but its `manifest.toml` says `local_prov` 0.2.0
    hint: a pack's file name and its manifest must agree: rename it back, or pack it again
    ");
    assert_snapshot!(team.run(["providers", "install", "aws", "homelab", "--from", "downloads/local_prov_0.2.0.tar"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` into `homelab`
      caused by: `aws_prov` is not among the artifacts given with `--from`: they hold `local_prov` 0.2.0 (`downloads/local_prov_0.2.0.tar`)
    hint: name a module they hold, or add `--version` to take `aws_prov` from the registries
    ");
    assert_snapshot!(run(&["downloads/nothing_here.tar"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `downloads/nothing_here.tar` is not named `<module>_<version>.tar`, so its module and version are unknown
    hint: keep the name `pack` gave it (`aws_prov_1.0.0.tar`)
    ");
    assert_snapshot!(run(&["downloads/local.tar"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `downloads/local.tar` is not named `<module>_<version>.tar`, so its module and version are unknown
    hint: keep the name `pack` gave it (`aws_prov_1.0.0.tar`)
    ");
    assert_snapshot!(team.run(["providers", "install", "local", "homelab", "--from", "x.tar", "--version", "1.0.0"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `x.tar` is not named `<module>_<version>.tar`, so its module and version are unknown
    hint: keep the name `pack` gave it (`aws_prov_1.0.0.tar`)
    ");

    // `pack verify` of a loose file: what it can check, and what had nothing to compare.
    assert_snapshot!(team.run(["pack", "verify", "downloads/local_prov_0.3.0.tar"]), @"
    exit: 1
    --- stdout
    CHECK         STATUS   DETAIL
    size          skipped  5632 (nothing recorded to compare)
    sha256        skipped  07aedecd33a32252f35c71ace26b8990379cbab92837c10a26757f9990bcebe3 (nothing recorded to compare)
    content hash  skipped  h1:gezkUb4dMRo4XJyOdeinAT21mZpqXSBCpQNfSVlF8ao= (nothing recorded to compare)
    manifest      FAILED   names `local_prov` 0.2.0, but the file name says `local_prov` 0.3.0
    signature     FAILED   the artifact is not signed
    --- stderr
    error: manifest: names `local_prov` 0.2.0, but the file name says `local_prov` 0.3.0
    error: signature: the artifact is not signed
    hint: sign packs with a key (`provisioning keys generate`, then pack again)
    error: `local_prov` 0.3.0 failed verification (manifest)
    ");
}

#[test]
fn install_from_a_url_on_a_static_server() {
    let (releaser, team) = release(true);
    let server = StaticServer::start(&releaser.path("distribution"));
    let url = format!("{}/packages/local_prov_0.2.0.tar", server.url());
    let key = team.key_id();
    let output = team
        .command()
        .args(["providers", "install", "local", "homelab", "--from", &url])
        .output()
        .expect("runs");
    let installed = Run::from_output(output, &team.base, &[(&server.url(), "[SERVER]")]);
    assert_snapshot!(installed.to_string().replace(&key, "[KEY]"), @"
    exit: 0
    --- stdout
    --- stderr
       Installed `local_prov` 0.2.0 into `homelab` (pack from `[SERVER]/packages/local_prov_0.2.0.tar`, signed by [KEY])
    ");
    assert!(
        team.read("workspace/infra/homelab/providers.manifest.yaml")
            .contains(&format!("source: {url}"))
    );
    assert_snapshot!(server.requests().join("\n"), @"
    GET /packages/local_prov_0.2.0.tar 200
    GET /packages/local_prov_0.2.0.tar.minisig 200
    ");
    // That URL is in a registry's `packages/`: its record is what the bytes are compared with.
    let verified = team.run(["pack", "verify", &url]);
    verified.success();
    assert!(
        verified
            .stdout
            .lines()
            .any(|line| line.starts_with("sha256") && line.contains(" ok ")),
        "{verified}"
    );
}

/// Regression (issue 20): `install --from` replaced a dependency written by hand in the infra's
/// `manifest.toml` without a word. It still replaces it, and says which line it replaced.
#[test]
fn install_from_says_which_hand_written_dependency_it_replaces() {
    let (releaser, team) = release(false);
    download(&releaser, &team, "local_prov_0.2.0.tar");
    let manifest = "workspace/infra/homelab/manifest.toml";
    team.write(
        manifest,
        &format!(
            "{}\n[dependencies]\n# ours, by hand\nlocal_prov = {{ git = \"https://example.org/local.git\", tag = \"v0.2.0\" }}\n",
            team.read(manifest)
        ),
    );
    let from = [
        "providers",
        "install",
        "local",
        "homelab",
        "--allow-unsigned",
        "--from",
    ];
    assert_snapshot!(team.run([&from[..], &["downloads/local_prov_0.2.0.tar"]].concat()), @r#"
    exit: 0
    --- stdout
    --- stderr
    warning: `workspace/infra/homelab/manifest.toml`: the dependency `local_prov = { git = "https://example.org/local.git", tag = "v0.2.0" }` written there is replaced by `local_prov = { path = "./vendor/local_prov", version = "0.2.0" }`
       Installed `local_prov` 0.2.0 into `homelab` (pack from `downloads/local_prov_0.2.0.tar`, unsigned, allowed by `--allow-unsigned`)
    "#);
    assert_snapshot!(team.read(manifest), @r#"
    [package]
    name = "homelab"
    version = "0.1.0"

    [dependencies]
    # ours, by hand
    local_prov = { path = "./vendor/local_prov", version = "0.2.0" }
    "#);
    // The line is the tool's own now: installing again says nothing about it.
    assert_snapshot!(team.run([&from[..], &["downloads/local_prov_0.2.0.tar"]].concat()), @"
    exit: 0
    --- stdout
    --- stderr
       Unchanged `local_prov` 0.2.0 is already installed in `homelab`
    ");
}
