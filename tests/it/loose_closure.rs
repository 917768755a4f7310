//! `--from` with a closure (issue 19): several artifacts, a directory, a release URL with a
//! `SHA256SUMS` listing; dependencies from the artifacts first, then the registries; every
//! kind, the core included; errors that name the artifact; `sync` from recorded artifacts.

use insta::assert_snapshot;

use crate::common::{Run, StaticServer, TestContext, copy_tree};
use crate::loose::{download, release};

/// The releaser's artifacts (with their signatures when signed) copied into `downloads/`.
fn download_all(releaser: &TestContext, team: &TestContext) {
    copy_tree(
        &releaser.path("distribution/packages"),
        &team.path("downloads"),
    );
}

/// Copies `files` (and their signatures) of the releaser's packages into `downloads/`.
fn download_signed(releaser: &TestContext, team: &TestContext, files: &[&str]) {
    for file in files {
        download(releaser, team, file);
        download(releaser, team, &format!("{file}.minisig"));
    }
}

#[test]
fn install_from_an_artifact_takes_its_dependency_from_another_artifact() {
    // Regression: `install --from upcloud_prov_0.0.1.tar` needed `provisioning_core` from a
    // registry; the core's artifact given beside it now satisfies it.
    let (releaser, team) = release(true);
    // The releaser's key reads `[KEY]`: the team trusts it, and holds it in its base.
    let _filters = team.filters().bind();
    download_signed(
        &releaser,
        &team,
        &["upcloud_prov_0.0.1.tar", "provisioning_core_0.1.0.tar"],
    );
    let installed = team.run([
        "providers",
        "install",
        "upcloud",
        "homelab",
        "--from",
        "downloads/upcloud_prov_0.0.1.tar",
        "--from",
        "downloads/provisioning_core_0.1.0.tar",
    ]);
    assert_snapshot!(installed, @"
    exit: 0
    --- stdout
    --- stderr
       Installed `upcloud_prov` 0.0.1 into `homelab` (pack from `downloads/upcloud_prov_0.0.1.tar`, signed by [KEY])
        Vendored provisioning_core 0.1.0 (required by upcloud_prov)
    ");
    let lock = team.read("workspace/infra/homelab/providers.manifest.yaml");
    assert!(
        lock.contains("source: downloads/upcloud_prov_0.0.1.tar"),
        "{lock}"
    );
    assert!(
        lock.contains("source: downloads/provisioning_core_0.1.0.tar"),
        "{lock}"
    );
    team.run(["providers", "validate", "homelab"]).success();

    // A teammate's sync finds each pack where the lock records it.
    std::fs::remove_dir_all(team.path("workspace/infra/homelab/vendor")).expect("rm vendor");
    let synced = team.run(["providers", "sync", "homelab"]);
    synced.success();
    assert!(
        synced
            .stderr
            .contains("from `downloads/provisioning_core_0.1.0.tar`"),
        "{synced}"
    );

    // An artifact the lock records that is not there: sync says which, and how to get it.
    std::fs::remove_dir_all(team.path("workspace/infra/homelab/vendor")).expect("rm vendor");
    std::fs::remove_file(team.path("downloads/provisioning_core_0.1.0.tar")).expect("rm");
    assert_snapshot!(team.run(["providers", "sync", "homelab"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to sync `provisioning_core`: the artifact `downloads/provisioning_core_0.1.0.tar` is not found, and the lock records it as the source of `provisioning_core`
    hint: copy the artifact there again (a lock records where a pack came from, not its bytes), or install `provisioning_core` again from a registry (`--version`)
        Restored `upcloud_prov` 0.0.1 from `downloads/upcloud_prov_0.0.1.tar` (verified)
    error: 1 of 2 modules of `homelab` could not be synced
    ");
}

#[test]
fn install_from_a_directory_prefers_its_artifacts_over_the_registry() {
    let (releaser, team) = release(true);
    // The releaser's key reads `[KEY]`: the team trusts it, and holds it in its base.
    let _filters = team.filters().bind();
    download_all(&releaser, &team);
    // The team's own registry has a newer core; the artifacts' one is taken. An artifact given
    // twice (in the directory and by name) is one.
    team.run(["keys", "generate"]).success();
    team.run(["pack", "core", "--version", "0.1.1"]).success();
    let installed = team.run([
        "providers",
        "install",
        "aws",
        "homelab",
        "--from",
        "downloads",
        "--from",
        "downloads/aws_prov_1.0.0.tar",
    ]);
    assert_snapshot!(installed, @"
    exit: 0
    --- stdout
    --- stderr
       Installed `aws_prov` 1.0.0 into `homelab` (pack from `downloads/aws_prov_1.0.0.tar`, signed by [KEY])
        Vendored provisioning_core 0.1.0 (required by aws_prov)
    ");
    let lock = team.read("workspace/infra/homelab/providers.manifest.yaml");
    assert!(
        lock.contains("source: downloads/provisioning_core_0.1.0.tar"),
        "{lock}"
    );

    // With `--version`, the requirement is resolved against the artifacts first too.
    let required = team.run([
        "providers",
        "install",
        "upcloud",
        "wuji",
        "--from",
        "downloads",
        "--version",
        "^0.0",
    ]);
    assert_snapshot!(required, @"
    exit: 0
    --- stdout
    --- stderr
       Installed `upcloud_prov` 0.0.1 into `wuji` (pack from `downloads/upcloud_prov_0.0.1.tar`, signed by [KEY])
        Vendored provisioning_core 0.1.0 (required by upcloud_prov)
    ");
}

#[test]
fn the_core_installs_from_its_own_artifact() {
    // Regression: "is a pack of `provisioning_core`, not of `provisioning_core`
    // (`provisioning_core_prov`)": the core's module name is its short name.
    let (releaser, team) = release(true);
    // The releaser's key reads `[KEY]`: the team trusts it, and holds it in its base.
    let _filters = team.filters().bind();
    download_signed(&releaser, &team, &["provisioning_core_0.1.0.tar"]);
    let installed = team.run([
        "providers",
        "install",
        "provisioning_core",
        "homelab",
        "--from",
        "downloads/provisioning_core_0.1.0.tar",
    ]);
    assert_snapshot!(installed, @"
    exit: 0
    --- stdout
    --- stderr
       Installed `provisioning_core` 0.1.0 into `homelab` (pack from `downloads/provisioning_core_0.1.0.tar`, signed by [KEY])
    ");
    team.run(["providers", "remove", "provisioning_core", "homelab"])
        .success();
    // By its name in link mode too; the legacy layout has no core.
    assert_snapshot!(team.run(["providers", "install", "provisioning_core", "homelab"]), @"
    exit: 0
    --- stdout
    --- stderr
       Installed `provisioning_core` 0.1.0 into `homelab` (link to `schemas`)
    ");
    assert_snapshot!(team.run(["providers", "install", "provisioning_core", "homelab", "--kcl"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: the core schemas `provisioning_core` are installed in the Nickel layout only
    hint: drop `--kcl`
    ");
}

#[test]
fn taskservs_and_clusters_load_from_their_artifacts() {
    let releaser = TestContext::released();
    let team = TestContext::examples();
    team.write("release.pub", &releaser.run(["keys", "public"]).stdout);
    team.run(["keys", "trust", "release.pub"]).success();
    // The releaser's key, which the team trusts, reads `[KEY]`.
    let _filters = team.filters().bind();
    download_all(&releaser, &team);
    team.run(["module-loader", "init", "lab"]).success();
    let taskservs = team.run([
        "module-loader",
        "load",
        "taskservs",
        "lab",
        "kubernetes",
        "containerd",
        "--from",
        "downloads",
    ]);
    assert_snapshot!(taskservs, @"
    exit: 0
    --- stdout
    --- stderr
          Loaded taskserv `kubernetes` 1.30.0 into `lab` (pack from `downloads/kubernetes_1.30.0.tar`, signed by [KEY])
          Loaded taskserv `containerd` 0.1.0 into `lab` (pack from `downloads/containerd_0.1.0.tar`, signed by [KEY])
    ");
    let cluster = team.run([
        "module-loader",
        "load",
        "clusters",
        "lab",
        "web",
        "--from",
        "downloads/web_0.1.0.tar",
    ]);
    let link = team.run([
        "module-loader",
        "load",
        "clusters",
        "lab",
        "web",
        "--from",
        "downloads",
        "--link",
    ]);
    assert_eq!(link.code, 2, "{link}");
    assert_snapshot!(cluster, @"
    exit: 0
    --- stdout
    --- stderr
          Loaded cluster `web` 0.1.0 into `lab` (pack from `downloads/web_0.1.0.tar`, signed by [KEY])
    ");
}

#[test]
fn install_from_a_release_url_reads_its_listing() {
    let (releaser, team) = release(true);
    // The releaser's key reads `[KEY]`: the team trusts it, and holds it in its base.
    let _filters = team.filters().bind();
    let release_dir = releaser.path("release");
    copy_tree(&releaser.path("distribution/packages"), &release_dir);
    let listing = std::process::Command::new("sh")
        .arg("-c")
        .arg("sha256sum *.tar")
        .current_dir(&release_dir)
        .output()
        .expect("sha256sum runs");
    std::fs::write(release_dir.join("SHA256SUMS"), &listing.stdout).expect("write listing");
    let server = StaticServer::start(&release_dir);
    let url = format!("{}/", server.url());
    let output = team
        .command()
        .args(["providers", "install", "upcloud", "homelab", "--from", &url])
        .output()
        .expect("runs");
    let installed = Run::from_output(output, &team.base, &[(&server.url(), "[SERVER]")]);
    assert_snapshot!(installed, @"
    exit: 0
    --- stdout
    --- stderr
       Installed `upcloud_prov` 0.0.1 into `homelab` (pack from `[SERVER]/upcloud_prov_0.0.1.tar`, signed by [KEY])
        Vendored provisioning_core 0.1.0 (required by upcloud_prov)
    ");
    // Only the listing and the closure's artifacts are read.
    assert_snapshot!(server.requests().join("\n"), @"
    GET /SHA256SUMS 200
    GET /upcloud_prov_0.0.1.tar 200
    GET /upcloud_prov_0.0.1.tar.minisig 200
    GET /provisioning_core_0.1.0.tar 200
    GET /provisioning_core_0.1.0.tar.minisig 200
    ");
    let lock = team.read("workspace/infra/homelab/providers.manifest.yaml");
    assert!(
        lock.contains(&format!(
            "source: {}/provisioning_core_0.1.0.tar",
            server.url()
        )),
        "{lock}"
    );

    // A URL that is neither an artifact nor a release with a listing.
    let output = team
        .command()
        .args(["providers", "install", "upcloud", "homelab", "--from"])
        .arg(format!("{}/nothing/", server.url()))
        .output()
        .expect("runs");
    let refused = Run::from_output(output, &team.base, &[(&server.url(), "[SERVER]")]);
    assert_snapshot!(refused, @"
    exit: 1
    --- stdout
    --- stderr
    error: `[SERVER]/nothing` is neither an artifact (`….tar`) nor a release: it has no `SHA256SUMS`
    hint: a release URL is a directory on a static host with a listing beside its artifacts (`sha256sum *.tar > SHA256SUMS`)
    ");
}

#[test]
fn install_from_refuses_what_is_wrong_and_names_the_artifact() {
    let (releaser, team) = release(true);
    download_all(&releaser, &team);
    let install = |from: &[&str]| {
        let mut args = vec!["providers", "install", "upcloud", "homelab"];
        for value in from {
            args.extend(["--from", value]);
        }
        team.run(args)
    };
    // A dependency that neither the artifacts nor the registry have.
    assert_snapshot!(install(&["downloads/upcloud_prov_0.0.1.tar"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `upcloud` 0.0.1 into `homelab`
      caused by: no packs of `provisioning_core` in the artifacts given with `--from` (`downloads/upcloud_prov_0.0.1.tar`) or the registry `distribution/registry`
        needed because upcloud_prov 0.0.1 requires provisioning_core ^0.1
    hint: give its artifact with another `--from`, or pack it: `provisioning pack core`, for the core schemas
    ");
    // A provider the artifacts do not hold.
    assert_snapshot!(team.run(["providers", "install", "local", "homelab", "--from", "downloads/upcloud_prov_0.0.1.tar"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `local` into `homelab`
      caused by: `local_prov` is not among the artifacts given with `--from`: they hold `upcloud_prov` 0.0.1 (`downloads/upcloud_prov_0.0.1.tar`)
    hint: name a module they hold, or add `--version` to take `local_prov` from the registries
    ");
    // Missing signature.
    std::fs::create_dir_all(team.path("unsigned")).expect("mkdir");
    std::fs::copy(
        team.path("downloads/upcloud_prov_0.0.1.tar"),
        team.path("unsigned/upcloud_prov_0.0.1.tar"),
    )
    .expect("copy");
    assert_snapshot!(install(&["unsigned/upcloud_prov_0.0.1.tar", "downloads/provisioning_core_0.1.0.tar"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `upcloud` 0.0.1 into `homelab`
      caused by: `unsigned/upcloud_prov_0.0.1.tar` (`upcloud_prov` 0.0.1) failed verification: signature: the artifact is not signed
    hint: a signed artifact comes with its signature beside it (`upcloud_prov_0.0.1.tar.minisig`): get it from where the artifact came from, or pass `--allow-unsigned=upcloud` to accept it unsigned
    ");
    // Not a pack.
    team.write("junk/provisioning_core_0.1.0.tar", "not a tar\n");
    assert_snapshot!(install(&["downloads/upcloud_prov_0.0.1.tar", "junk"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `upcloud` 0.0.1 into `homelab`
      caused by: `junk/provisioning_core_0.1.0.tar` cannot be read as a pack: the archive is truncated or corrupt: failed to read entire block
        needed because upcloud_prov 0.0.1 requires provisioning_core ^0.1
    ");
    // Two artifacts of one module and version with different bytes.
    let main = releaser.read("schemas/main.ncl");
    releaser.write("schemas/main.ncl", &format!("{main}\n# rebuilt\n"));
    releaser
        .run(["pack", "core", "--output", "other"])
        .success();
    std::fs::create_dir_all(team.path("other")).expect("mkdir");
    std::fs::copy(
        releaser.path("other/provisioning_core_0.1.0.tar"),
        team.path("other/provisioning_core_0.1.0.tar"),
    )
    .expect("copy");
    assert_snapshot!(install(&["downloads", "other/provisioning_core_0.1.0.tar"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `downloads/provisioning_core_0.1.0.tar` and `other/provisioning_core_0.1.0.tar` are both `provisioning_core` 0.1.0 but their bytes differ (sha256 36f0b8cce183 and 8ad6fe1cb951)
    hint: give one of them
    ");
    // A listing whose hash is not the artifact's.
    let sum = crate::common::sha256_file(&team.path("downloads/aws_prov_1.0.0.tar"));
    team.write(
        "downloads/SHA256SUMS",
        &format!("{sum}  upcloud_prov_0.0.1.tar\n"),
    );
    assert_snapshot!(install(&["downloads"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `upcloud` 0.0.1 into `homelab`
      caused by: `downloads/upcloud_prov_0.0.1.tar` has sha256 b759f2260e7cc7ef36d0bd5663ee1b25dd6054fd6856ed7b3eb5911b9e94c4a2, but `downloads/SHA256SUMS` lists a1e6981c291bd2c354fd53c974941a7e62207c3593bac2b37a216b30f0922485
    hint: download it again; a listing and its artifact must agree
    ");
    // A directory with no artifacts.
    std::fs::create_dir_all(team.path("empty")).expect("mkdir");
    assert_snapshot!(install(&["empty"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `empty` holds no artifacts (`<module>_<version>.tar`)
    hint: `--from` takes an artifact, a directory of artifacts, or a release URL ending in `/`
    ");
    assert!(!team.path("workspace/infra/homelab/vendor").exists());
}

/// Regression: a signed artifact whose dependency is unsigned was refused with a hint to pass
/// `--allow-unsigned`, which accepted every module unsigned, the signed one too. The hint now
/// names the flag scoped to the dependency; scoped, it accepts that module only.
#[test]
fn allow_unsigned_scoped_to_a_dependency_keeps_the_check_of_the_others() {
    let (releaser, team) = release(true);
    let _filters = team.filters().bind();
    download_signed(&releaser, &team, &["upcloud_prov_0.0.1.tar"]);
    // The core and `aws` without their signatures.
    download(&releaser, &team, "provisioning_core_0.1.0.tar");
    download(&releaser, &team, "aws_prov_1.0.0.tar");
    let install = |provider: &str, from: &[&str], allow: Option<&str>| {
        let mut args = vec!["providers", "install", provider, "homelab"];
        for value in from {
            args.extend(["--from", value]);
        }
        args.extend(allow);
        team.run(args)
    };
    let upcloud = [
        "downloads/upcloud_prov_0.0.1.tar",
        "downloads/provisioning_core_0.1.0.tar",
    ];
    assert_snapshot!(install("upcloud", &upcloud, None), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `upcloud` 0.0.1 into `homelab`
      caused by: no version of `provisioning_core` satisfies the requirement on it:
        upcloud_prov 0.0.1 requires provisioning_core ^0.1
    hint: available: 0.1.0 (unsigned); pass `--allow-unsigned=provisioning_core` to accept its unsigned versions
    ");
    assert_snapshot!(install("upcloud", &upcloud, Some("--allow-unsigned=provisioning_core")), @"
    exit: 0
    --- stdout
    --- stderr
       Installed `upcloud_prov` 0.0.1 into `homelab` (pack from `downloads/upcloud_prov_0.0.1.tar`, signed by [KEY])
        Vendored provisioning_core 0.1.0 (required by upcloud_prov)
    ");
    let lock = team.read("workspace/infra/homelab/providers.manifest.yaml");
    assert_eq!(lock.matches("signer: unsigned").count(), 1, "{lock}");

    // Scoped to the core, an unsigned provider is still refused, and its hint names it.
    let aws = [
        "downloads/aws_prov_1.0.0.tar",
        "downloads/provisioning_core_0.1.0.tar",
    ];
    assert_snapshot!(install("aws", &aws, Some("--allow-unsigned=provisioning_core")), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 1.0.0 into `homelab`
      caused by: `downloads/aws_prov_1.0.0.tar` (`aws_prov` 1.0.0) failed verification: signature: the artifact is not signed
    hint: a signed artifact comes with its signature beside it (`aws_prov_1.0.0.tar.minisig`): get it from where the artifact came from, or pass `--allow-unsigned=aws` to accept it unsigned
    ");
    // Names as commands give them: a provider by its name or its module name; `module-loader
    // load` takes the same flag.
    let mut load = vec!["module-loader", "load", "providers", "homelab", "aws"];
    load.extend(aws.iter().flat_map(|from| ["--from", from]));
    load.push("--allow-unsigned=aws_prov,provisioning_core");
    team.run(load).success();
    // The names come after `=` only: a bare flag before a positional is the bare flag.
    team.run(["providers", "update", "--allow-unsigned", "homelab"])
        .success();
}
