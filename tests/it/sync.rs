//! `providers sync` and `module-loader sync` (alias `sync-kcl`).

use insta::assert_snapshot;

use crate::common::TestContext;

#[test]
fn sync_rebuilds_links_from_the_lock_alone() {
    let context = TestContext::examples_installed();
    let installed = context.tree("workspace/infra/wuji");
    // A teammate's fresh clone: the lock and manifest are in git, the links are not.
    std::fs::remove_dir_all(context.path("workspace/infra/wuji/.nickel-modules")).expect("rm");
    assert_snapshot!(context.run(["providers", "sync", "wuji"]), @"
    exit: 0
    --- stdout
    --- stderr
          Linked `aws_prov` → `extensions/providers/aws/nickel`
          Linked `provisioning_core` → `schemas`
          Linked `upcloud_prov` → `extensions/providers/upcloud/nickel`
          Synced 3 modules of `wuji`
    ");
    assert_eq!(context.tree("workspace/infra/wuji"), installed);
    context.run(["providers", "validate", "wuji"]).success();
    assert_snapshot!(context.run(["module-loader", "sync", "wuji"]), @"
    exit: 0
    --- stdout
    --- stderr
          Synced 3 modules of `wuji`
    ");
    assert_snapshot!(context.run(["module-loader", "sync-kcl", "wuji", "-v"]), @"
    exit: 0
    --- stdout
    --- stderr
                 `aws_prov` is up to date
                 `provisioning_core` is up to date
                 `upcloud_prov` is up to date
          Synced 3 modules of `wuji`
    ");
}

#[test]
fn sync_repairs_the_manifest_and_prunes_untracked_links() {
    let context = TestContext::examples_installed();
    let installed = context.tree("workspace/infra/wuji");
    context.write("workspace/infra/wuji/manifest.toml", "# The wuji infrastructure: web servers on UpCloud, a database on AWS.\n[package]\nname = \"wuji\"\nversion = \"0.1.0\"\n\n[dependencies]\nupcloud_prov = { path = \"./.nickel-modules/upcloud_prov\" }\nprovisioning_core = { path = \"./.nickel-modules/provisioning_core\" }\naws_prov = { path = \"./.nickel-modules/aws_prov\" }\nlocal_prov = { path = \"./.nickel-modules/local_prov\" }\n");
    std::os::unix::fs::symlink(
        "../../../../extensions/providers/local/nickel",
        context.path("workspace/infra/wuji/.nickel-modules/local_prov"),
    )
    .expect("symlink");
    std::fs::remove_file(context.path("workspace/infra/wuji/.nickel-modules/aws_prov"))
        .expect("unlink");
    assert_snapshot!(context.run(["providers", "installed", "wuji"]), @"
    exit: 0
    --- stdout
    NAME               MODULE             MODE  VERSION  STATE         SOURCE                                         REQUIRED BY
    aws                aws_prov           link  1.0.0    missing link  extensions/providers/aws/nickel                -
    provisioning_core  provisioning_core  link  0.1.0    ok            schemas                                        aws_prov, upcloud_prov
    upcloud            upcloud_prov       link  0.0.1    ok            extensions/providers/upcloud/nickel            -
    local              local_prov         -     -        untracked     ../../../../extensions/providers/local/nickel  -
    --- stderr
    ");
    assert_snapshot!(context.run(["providers", "sync", "wuji"]), @"
    exit: 0
    --- stdout
    --- stderr
          Linked `aws_prov` → `extensions/providers/aws/nickel`
        Unlinked `local_prov`, which the lock does not list
          Synced 3 modules of `wuji`
    ");
    assert_eq!(context.tree("workspace/infra/wuji"), installed);
}

#[test]
fn sync_reports_each_missing_source_and_fails_at_the_end() {
    let context = TestContext::examples();
    context
        .run(["providers", "install", "upcloud", "wuji"])
        .success();
    context
        .run(["providers", "install", "local", "wuji"])
        .success();
    std::fs::remove_dir_all(context.path("workspace/infra/wuji/.nickel-modules")).expect("rm");
    std::fs::remove_dir_all(context.path("extensions/providers/local")).expect("rm");
    assert_snapshot!(context.run(["providers", "sync", "wuji"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to sync `local_prov`: the source `extensions/providers/local/nickel` of `local` does not exist
    hint: check out the provider, or `provisioning providers remove local wuji`
          Linked `provisioning_core` → `schemas`
          Linked `upcloud_prov` → `extensions/providers/upcloud/nickel`
    error: 1 of 3 modules of `wuji` could not be synced
    ");
    assert!(
        context
            .path("workspace/infra/wuji/.nickel-modules/upcloud_prov/main.ncl")
            .is_file()
    );
}

/// A base with `aws` 1.0.0 packed (signed) and pinned in `homelab`, and the files as they were.
fn pinned_aws() -> (TestContext, String) {
    let context = TestContext::examples();
    context.run(["keys", "generate"]).success();
    context.run(["pack", "core"]).success();
    context.run(["pack", "provider", "aws"]).success();
    context
        .run([
            "providers",
            "install",
            "aws",
            "homelab",
            "--version",
            "1.0.0",
        ])
        .success();
    // Where a link would go, as after any link-mode install.
    std::fs::create_dir_all(context.path("workspace/infra/homelab/.nickel-modules"))
        .expect("mkdir");
    let tree = context.tree("workspace/infra/homelab");
    (context, tree)
}

#[test]
fn sync_says_a_shared_hint_once() {
    let (context, _) = pinned_aws();
    // The key that signed both packs is no longer the user's: neither is trusted.
    std::fs::remove_dir_all(context.path("../.config/provisioning/keys")).expect("rm keys");
    std::fs::remove_dir_all(context.path("workspace/infra/homelab/vendor")).expect("rm vendor");
    let run = context.run(["providers", "sync", "homelab"]);
    assert_eq!(run.code, 1, "{run}");
    assert_eq!(
        run.stderr.matches("which is not trusted").count(),
        2,
        "{run}"
    );
    assert_eq!(
        run.stderr
            .matches("hint: if you trust it, `provisioning keys trust <its .pub file>`")
            .count(),
        1,
        "{run}"
    );
}

/// Regression: after a kill during a pack→link switch, a stale link shadowed the vendored pack
/// (the infra evaluated unpinned live source) and sync said `Synced`.
#[test]
fn sync_removes_a_link_that_would_shadow_a_pinned_pack() {
    let (context, pinned) = pinned_aws();
    std::os::unix::fs::symlink(
        "../../../../extensions/providers/aws/nickel",
        context.path("workspace/infra/homelab/.nickel-modules/aws_prov"),
    )
    .expect("link");
    let run = context.run(["providers", "sync", "homelab"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.stderr
            .contains("Unlinked `aws_prov`, which the lock does not list"),
        "{run}"
    );
    assert_eq!(context.tree("workspace/infra/homelab"), pinned);
}

/// Regression: a kill during `install --version` after the pack was unpacked but before the
/// lock was written left an untracked `vendor/` and a manifest dependency, and sync said
/// `Synced` over an invalid infra.
#[test]
fn sync_removes_what_a_killed_install_left_and_keeps_what_the_user_made() {
    let (context, pinned) = pinned_aws();
    let infra = context.path("workspace/infra/homelab");
    // What the killed run left: the pack unpacked, its file list, the manifest edited.
    std::fs::rename(
        infra.join("vendor/aws_prov"),
        infra.join("vendor/left_prov"),
    )
    .expect("mv");
    let sums = std::fs::read_to_string(infra.join("vendor/aws_prov.sha256sums")).expect("sums");
    std::fs::write(
        infra.join("vendor/left_prov.sha256sums"),
        sums.replace("aws_prov/", "left_prov/"),
    )
    .expect("sums");
    let manifest = std::fs::read_to_string(infra.join("manifest.toml")).expect("manifest");
    std::fs::write(
        infra.join("manifest.toml"),
        format!("{manifest}left_prov = {{ path = \"./vendor/left_prov\", version = \"1.0.0\" }}\n"),
    )
    .expect("manifest");
    let run = context.run(["providers", "sync", "homelab"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stderr.contains("Removed `vendor/left_prov`"), "{run}");
    assert!(
        run.stderr.contains("Removed the dependency on `left_prov`"),
        "{run}"
    );
    // `aws_prov` was moved away above: sync restored it from the registry, verified.
    assert!(run.stderr.contains("Restored `aws_prov` 1.0.0"), "{run}");
    assert_eq!(context.tree("workspace/infra/homelab"), pinned);

    // A directory the user put in `vendor/` by hand (no file list) is theirs: sync keeps it
    // and fails, saying what differs.
    std::fs::create_dir_all(infra.join("vendor/mine_prov")).expect("mkdir");
    std::fs::write(infra.join("vendor/mine_prov/main.ncl"), "{}").expect("write");
    let run = context.run(["providers", "sync", "homelab"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(
        run.stderr.contains("`mine_prov` (untracked)")
            && run
                .stderr
                .contains("`homelab` still differs from its lock: 1 problem"),
        "{run}"
    );
    assert!(infra.join("vendor/mine_prov/main.ncl").is_file());
}

/// Leftovers of killed runs (temporary files, staging directories, entries set aside) are
/// removed by the next command under the same lock.
#[test]
fn the_next_command_removes_what_killed_runs_left() {
    let (context, pinned) = pinned_aws();
    let infra = context.path("workspace/infra/homelab");
    for debris in [
        ".provisioning-a1b2c3.tmp",
        "vendor/.provisioning-d4e5f6.removed/entry/main.ncl",
        ".provisioning-g7h8i9.unpack/aws_prov/main.ncl",
        ".nickel-modules/.provisioning-j0k1l2.link",
    ] {
        let path = infra.join(debris);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, "left by a killed run").expect("write");
    }
    context.run(["providers", "sync", "homelab"]).success();
    assert_eq!(context.tree("workspace/infra/homelab"), pinned);

    let packages = context.path("distribution/packages");
    std::fs::write(
        packages.join(".provisioning-m3n4o5.tmp"),
        "half an artifact",
    )
    .expect("write");
    context.run(["pack", "provider", "local"]).success();
    assert!(!packages.join(".provisioning-m3n4o5.tmp").exists());
}

/// The final check of a sync looks again only at what the sync changed, but still checks every
/// module's dependencies: a pack the plan found intact (and left alone) whose dependency the
/// lock no longer lists is reported, and the sync fails.
#[test]
fn sync_reports_an_unmet_dependency_of_a_module_it_left_alone() {
    let (context, _) = pinned_aws();
    let lock_path = "workspace/infra/homelab/providers.manifest.yaml";
    let lock = context.read(lock_path);
    let (head, entries) = lock.split_once("\n- ").expect("a lock with entries");
    let kept: Vec<&str> = entries
        .split("\n- ")
        .filter(|entry| !entry.contains("module: provisioning_core"))
        .collect();
    assert_eq!(kept.len(), 1, "{lock}");
    context.write(lock_path, &format!("{head}\n- {}", kept.join("\n- ")));
    let run = context.run(["providers", "sync", "homelab"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(
        run.stderr.contains("Removed `vendor/provisioning_core`")
            && run.stderr.contains("`aws_prov` (unmet dependency)")
            && run
                .stderr
                .contains("`homelab` still differs from its lock: 1 problem"),
        "{run}"
    );
}
