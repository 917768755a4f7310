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
          Linked `upcloud_prov` → `extensions/providers/upcloud/nickel`
          Synced 2 providers of `wuji`
    ");
    assert_eq!(context.tree("workspace/infra/wuji"), installed);
    context.run(["providers", "validate", "wuji"]).success();
    assert_snapshot!(context.run(["module-loader", "sync", "wuji"]), @"
    exit: 0
    --- stdout
    --- stderr
          Synced 2 providers of `wuji`
    ");
    assert_snapshot!(context.run(["module-loader", "sync-kcl", "wuji", "-v"]), @"
    exit: 0
    --- stdout
    --- stderr
                 `aws_prov` is up to date
                 `upcloud_prov` is up to date
          Synced 2 providers of `wuji`
    ");
}

#[test]
fn sync_repairs_the_manifest_and_prunes_untracked_links() {
    let context = TestContext::examples_installed();
    let installed = context.tree("workspace/infra/wuji");
    context.write("workspace/infra/wuji/manifest.toml", "# The wuji infrastructure: web servers on UpCloud, a database on AWS.\n[package]\nname = \"wuji\"\nversion = \"0.1.0\"\n\n[dependencies]\nupcloud_prov = { path = \"./.nickel-modules/upcloud_prov\" }\naws_prov = { path = \"./.nickel-modules/aws_prov\" }\nlocal_prov = { path = \"./.nickel-modules/local_prov\" }\n");
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
    NAME     MODULE        MODE  VERSION  STATE         SOURCE
    aws      aws_prov      link  1.0.0    missing link  extensions/providers/aws/nickel
    upcloud  upcloud_prov  link  0.0.1    ok            extensions/providers/upcloud/nickel
    local    local_prov    -     -        untracked     ../../../../extensions/providers/local/nickel
    --- stderr
    ");
    assert_snapshot!(context.run(["providers", "sync", "wuji"]), @"
    exit: 0
    --- stdout
    --- stderr
          Linked `aws_prov` → `extensions/providers/aws/nickel`
        Unlinked `local_prov`, which the lock does not list
          Synced 2 providers of `wuji`
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
          Linked `upcloud_prov` → `extensions/providers/upcloud/nickel`
    error: 1 of 2 providers of `wuji` could not be synced
    ");
    assert!(
        context
            .path("workspace/infra/wuji/.nickel-modules/upcloud_prov/main.ncl")
            .is_file()
    );
}
