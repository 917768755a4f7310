//! `providers remove`.

use insta::assert_snapshot;

use crate::common::TestContext;

#[test]
fn remove_undoes_install_and_keeps_the_source() {
    let context = TestContext::examples();
    let infra_before = context.tree("workspace/infra/wuji");
    let source_before = context.tree("extensions");
    context
        .run(["providers", "install", "upcloud", "wuji"])
        .success();
    context
        .run(["providers", "install", "aws", "wuji"])
        .success();
    assert_snapshot!(context.run(["providers", "remove", "upcloud", "wuji"]), @"
    exit: 0
    --- stdout
    --- stderr
         Removed `upcloud_prov` from `wuji`
    ");
    assert_snapshot!(context.tree("workspace/infra/wuji"), @r#"
    .nickel-modules/
    .nickel-modules/aws_prov -> ../../../../extensions/providers/aws/nickel
    .nickel-modules/provisioning_core -> ../../../../schemas
    main.ncl:
      | # Modules are imported by module name, whichever mode installed them: `provisioning` puts
      | # `.nickel-modules/` and `vendor/` on the import path.
      | let upcloud = import "upcloud_prov/main.ncl" in
      | let aws = import "aws_prov/main.ncl" in
      | {
      |   servers = [
      |     upcloud.make_server { hostname = "wuji-web-1", zone = "fi-hel2", plan = "2xCPU-4GB" },
      |     upcloud.make_server { hostname = "wuji-web-2", zone = "fi-hel2", plan = "2xCPU-4GB" },
      |     aws.make_server { hostname = "wuji-db-1", instance_type = "r6g.large", volume_gb = 200 },
      |   ],
      |   networks = [
      |     upcloud.make_network { name = "wuji-private", zone = "fi-hel2", cidr = "10.10.0.0/24" },
      |   ],
      | }
    manifest.toml:
      | # The wuji infrastructure: web servers on UpCloud, a database on AWS.
      | [package]
      | name = "wuji"
      | version = "0.1.0"
      | 
      | [dependencies]
      | provisioning_core = { path = "./.nickel-modules/provisioning_core" }
      | aws_prov = { path = "./.nickel-modules/aws_prov" }
    providers.manifest.yaml:
      | # Written by `provisioning`; keep it in git.
      | # `provisioning providers sync <infra>` rebuilds the infra's modules from this file.
      | format_version: 1
      | providers:
      | - name: aws
      |   module: aws_prov
      |   mode: link
      |   version: 1.0.0
      |   source: extensions/providers/aws/nickel
      | - name: provisioning_core
      |   module: provisioning_core
      |   kind: core
      |   mode: link
      |   version: 0.1.0
      |   source: schemas
      |   required_by:
      |   - aws_prov
      |   direct: false
    "#);
    context
        .run(["providers", "remove", "aws", "wuji"])
        .success();
    assert_eq!(context.tree("extensions"), source_before);
    // The last removal leaves the infra as it was before the first install: no empty
    // `[dependencies]`, no `providers: []` lock, no empty `.nickel-modules/`.
    assert_eq!(context.tree("workspace/infra/wuji"), infra_before);
}

#[test]
fn removing_what_is_not_installed_fails_unless_forced() {
    let context = TestContext::examples();
    context
        .run(["providers", "install", "aws", "wuji"])
        .success();
    let before = context.tree("workspace/infra/wuji");
    assert_snapshot!(context.run(["providers", "remove", "upcloud", "wuji"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `upcloud` is not installed in `wuji`
    hint: installed: `aws`, `provisioning_core`
    ");
    assert_snapshot!(context.run(["providers", "remove", "upcloud", "wuji", "--force"]), @"
    exit: 0
    --- stdout
    --- stderr
         Skipped `upcloud` is not installed in `wuji`
    ");
    assert_eq!(context.tree("workspace/infra/wuji"), before);
}

#[test]
fn remove_of_a_provider_deleted_from_extensions_still_works() {
    let context = TestContext::examples();
    context
        .run(["providers", "install", "local", "wuji"])
        .success();
    std::fs::remove_dir_all(context.path("extensions/providers/local")).expect("delete provider");
    assert_snapshot!(context.run(["providers", "remove", "local", "wuji"]), @"
    exit: 0
    --- stdout
    --- stderr
         Removed `local_prov` from `wuji`
    ");
    assert!(
        !context
            .path("workspace/infra/wuji/.nickel-modules/local_prov")
            .exists()
    );
}

#[test]
fn remove_refuses_a_real_directory_unless_forced() {
    let context = TestContext::examples();
    context
        .run(["providers", "install", "upcloud", "wuji"])
        .success();
    let link = context.path("workspace/infra/wuji/.nickel-modules/upcloud_prov");
    std::fs::remove_file(&link).expect("unlink");
    context.write(
        "workspace/infra/wuji/.nickel-modules/upcloud_prov/local-edit.ncl",
        "{}",
    );
    let before = context.tree("workspace/infra/wuji");
    assert_snapshot!(context.run(["providers", "remove", "upcloud", "wuji"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to remove `upcloud` from `wuji`
      caused by: `[BASE]/workspace/infra/wuji/.nickel-modules/upcloud_prov` is not a link; refusing to delete it
    hint: pass `--force` to delete it too
    ");
    assert_eq!(context.tree("workspace/infra/wuji"), before);
    assert_snapshot!(context.run(["providers", "remove", "upcloud", "wuji", "--force"]), @"
    exit: 0
    --- stdout
    --- stderr
         Removed `upcloud_prov` from `wuji`
         Removed provisioning_core 0.1.0 (no longer required)
    ");
    assert!(!link.exists());
    assert_eq!(
        context.tree("extensions/providers/upcloud"),
        TestContext::examples().tree("extensions/providers/upcloud")
    );
}

#[test]
fn remove_force_cleans_leftovers_missing_from_the_lock() {
    let context = TestContext::examples();
    context
        .run(["providers", "install", "upcloud", "wuji"])
        .success();
    // A half-done state: the lock forgot the provider, the link and dependency remain.
    context.write(
        "workspace/infra/wuji/providers.manifest.yaml",
        "format_version: 1\nproviders: []\n",
    );
    assert_snapshot!(context.run(["providers", "remove", "upcloud", "wuji", "--force"]), @"
    exit: 0
    --- stdout
    --- stderr
    warning: `upcloud` was not in the lock of `wuji`; removed its leftovers
         Removed `upcloud_prov` from `wuji`
    ");
    assert_snapshot!(context.run(["providers", "installed", "wuji"]), @"
    exit: 0
    --- stdout
    NAME               MODULE             MODE  VERSION  STATE      SOURCE               REQUIRED BY
    provisioning_core  provisioning_core  -     -        untracked  ../../../../schemas  -
    --- stderr
    ");
}
