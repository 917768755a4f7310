//! Taskservs and clusters packed, signed and loaded as verified packs.

use insta::assert_snapshot;

use crate::common::TestContext;

#[test]
fn taskservs_and_clusters_pack_and_load_as_verified_packs() {
    let context = TestContext::examples().signed();
    let _filters = context.filters().bind();
    assert_snapshot!(context.run(["pack", "taskservs"]), @"
    exit: 0
    --- stdout
    --- stderr
          Packed `containerd` 0.1.0 → `distribution/packages/containerd_0.1.0.tar` (5.50 KiB, sha256 c976e22c7559, signed by [KEY])
          Packed `crio` 0.1.0 → `distribution/packages/crio_0.1.0.tar` (5.50 KiB, sha256 7f88e7564ce9, signed by [KEY])
          Packed `kubernetes` 1.30.0 → `distribution/packages/kubernetes_1.30.0.tar` (5.50 KiB, sha256 cda45658c1e4, signed by [KEY])
        Finished 3 taskservs: 3 packed
    ");
    assert_snapshot!(context.run(["pack", "cluster", "web"]), @"
    exit: 0
    --- stdout
    --- stderr
          Packed `web` 0.1.0 → `distribution/packages/web_0.1.0.tar` (5.50 KiB, sha256 58d1c7a45a33, signed by [KEY])
    ");
    assert_snapshot!(
        crate::common::artifact_file(&context.path("distribution/packages/containerd_0.1.0.tar"), "containerd/manifest.toml"),
        @r#"
    [package]
    name = "containerd"
    version = "0.1.0"
    description = "containerd container runtime"
    kind = "taskserv"
    category = "container-runtime"

    [capabilities]
    provides = ["container-runtime"]
    conflicts_with = ["crio"]
    "#
    );
    assert!(
        context
            .read("distribution/registry/containerd.json")
            .contains("\"kind\": \"taskserv\"")
    );
    assert_snapshot!(context.run([
        "module-loader", "load", "taskservs", "homelab", "kubernetes", "containerd", "--version", "*",
    ]), @"
    exit: 0
    --- stdout
    --- stderr
          Loaded taskserv `kubernetes` 1.30.0 into `homelab` (pack from `distribution/registry`, signed by [KEY])
          Loaded taskserv `containerd` 0.1.0 into `homelab` (pack from `distribution/registry`, signed by [KEY])
    ");
    // A pack of another kind than the command names is refused.
    assert_snapshot!(context.run(["module-loader", "load", "taskservs", "homelab", "web", "--version", "0.1.0"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to load `web` into `homelab`
      caused by: `web` 0.1.0 in `distribution/registry` is a cluster, not a taskserv
    hint: `provisioning module-loader load clusters homelab web --version 0.1.0`
    error: 1 of 1 modules could not be loaded into `homelab`, so none were
    ");
    // A taskserv's pack untarred by hand is reported with the command that adopts it.
    context.untar_into_vendor("wuji", "crio_0.1.0.tar");
    assert_snapshot!(context.run(["module-loader", "installed", "wuji"]).stdout, @"
    KIND      NAME  MODE  VERSION  STATE      SOURCE
    taskserv  crio  -     -        untracked  ./vendor/crio
    ");
    let validate = context.run(["providers", "validate", "wuji"]);
    assert!(
        validate.stderr.contains(
            "adopt it with `provisioning module-loader load taskservs wuji crio --version 0.1.0`"
        ),
        "{validate}"
    );
    assert_snapshot!(context.run(["module-loader", "load", "clusters", "homelab", "web", "--version", "0.1.0"]), @"
    exit: 0
    --- stdout
    --- stderr
          Loaded cluster `web` 0.1.0 into `homelab` (pack from `distribution/registry`, signed by [KEY])
    ");
    assert_snapshot!(context.run(["module-loader", "installed", "homelab"]).stdout, @"
    KIND       NAME           MODE  VERSION  STATE  SOURCE
    taskserv   containerd     pack  0.1.0    ok     distribution/registry
    taskserv   kubernetes     pack  1.30.0   ok     distribution/registry
    cluster    web            pack  0.1.0    ok     distribution/registry
    generated  taskservs.ncl  -     -        ok     -
    generated  clusters.ncl   -     -        ok     -
    ");
    context.run(["providers", "validate", "homelab"]).success();
    // `sync` restores every kind from the lock alone.
    std::fs::remove_dir_all(context.path("workspace/infra/homelab/vendor")).expect("rm");
    std::fs::remove_file(context.path("workspace/infra/homelab/clusters.ncl")).expect("rm");
    context.run(["providers", "sync", "homelab"]).success();
    context.run(["providers", "validate", "homelab"]).success();
    // `pack list` lists them under their kind; `update` moves pins of every kind.
    assert_snapshot!(context.run(["pack", "list"]).stdout, @"
    MODULE      KIND      VERSION  SIZE      CREATED               SHA256        SIGNED  STATE
    containerd  taskserv  0.1.0    5.50 KiB  2025-11-26T00:00:00Z  c976e22c7559  yes     ok
    crio        taskserv  0.1.0    5.50 KiB  2025-11-26T00:00:00Z  7f88e7564ce9  yes     ok
    kubernetes  taskserv  1.30.0   5.50 KiB  2025-11-26T00:00:00Z  cda45658c1e4  yes     ok
    web         cluster   0.1.0    5.50 KiB  2025-11-26T00:00:00Z  58d1c7a45a33  yes     ok
    ");
    context
        .run(["pack", "taskserv", "kubernetes", "--version", "1.31.0"])
        .success();
    assert_snapshot!(context.run(["providers", "update", "homelab", "kubernetes"]), @"
    exit: 0
    --- stdout
    --- stderr
        Updating kubernetes 1.30.0 -> 1.31.0
         Updated `homelab`: 1 change
    ");
    // Pins of every kind are kept by `pack clean`, and `outdated` sees them.
    assert_snapshot!(context.run(["pack", "clean", "--keep-latest", "0", "--dry-run"]), @"
    exit: 0
    --- stdout
            Kept `containerd` 0.1.0: pinned by `homelab`
            Kept `kubernetes` 1.31.0: pinned by `homelab`
            Kept `web` 0.1.0: pinned by `homelab`
    Would delete `crio` 0.1.0 (crio_0.1.0.tar, crio_0.1.0.tar.minisig, crio_0.1.0.intoto.jsonl)
    Would delete `kubernetes` 1.30.0 (kubernetes_1.30.0.tar, kubernetes_1.30.0.tar.minisig, kubernetes_1.30.0.intoto.jsonl)
    --- stderr
    ");
    assert_snapshot!(context.run(["providers", "outdated", "homelab"]).stdout, @"
    MODULE      PINNED  REQUIREMENT  MATCHING  NEWEST  WHY
    containerd  0.1.0   *            0.1.0     0.1.0   up to date
    kubernetes  1.31.0  *            1.31.0    1.31.0  up to date
    web         0.1.0   =0.1.0       0.1.0     0.1.0   up to date
    ");
}
