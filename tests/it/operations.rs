//! The operation layer: a change of N modules is planned whole and applied in one transaction,
//! so a failure at any point leaves the infra byte-identical; a link ⇄ pack switch happens only
//! when asked; every front end of an install runs the same checks.

use insta::assert_snapshot;

use crate::common::TestContext;

const LAB: &str = "workspace/infra/lab";

/// Regression (issue 19): one module of a multi-module load failed ("so none were"), yet
/// `containerd`, which the load replaced, stayed switched from a link to a pack.
#[test]
fn a_load_that_fails_leaves_a_module_it_would_have_replaced_as_it_was() {
    let context =
        TestContext::released().initialized("lab", "taskservs", &["kubernetes", "containerd"]);
    let before = context.tree(LAB);
    let run = context.run_keyed([
        "module-loader",
        "load",
        "taskservs",
        "lab",
        "kubernetes",
        "containerd",
        "--version",
        "^0.1",
    ]);
    assert_snapshot!(run, @r"
    exit: 1
    --- stdout
    --- stderr
    error: failed to load `kubernetes` into `lab`
      caused by: no version of `kubernetes` satisfies the requirement on it:
        the command line requires kubernetes ^0.1
    hint: available: 1.30.0
    error: 1 of 2 modules could not be loaded into `lab`, so none were
    ");
    assert_eq!(context.tree(LAB), before);
}

/// Each point where a multi-module load can fail: a version that does not exist, a pack that
/// fails verification, a pack of another kind, packs whose own manifests do not fit together,
/// and a step of the transaction itself (a directory where a link goes). After each, the infra
/// is exactly as it was.
#[test]
fn every_failure_point_of_a_multi_module_load_leaves_the_infra_byte_identical() {
    let context = TestContext::released_and_pinned();
    let before = context.tree(LAB);
    let load = |names: &[&str], version: Option<&str>| {
        let mut args = vec!["module-loader", "load", "taskservs", "lab"];
        args.extend(names);
        if let Some(version) = version {
            args.extend(["--version", version]);
        }
        let run = context.run_keyed(&args);
        assert_eq!(run.code, 1, "{run}");
        assert_eq!(context.tree(LAB), before, "{run}");
        run
    };
    assert_snapshot!(load(&["crio", "kubernetes"], Some("^9")), @r"
    exit: 1
    --- stdout
    --- stderr
    error: failed to load `crio` into `lab`
      caused by: no version of `crio` satisfies the requirement on it:
        the command line requires crio ^9
    hint: available: 0.1.0
    error: failed to load `kubernetes` into `lab`
      caused by: no version of `kubernetes` satisfies the requirement on it:
        the command line requires kubernetes ^9
    hint: available: 1.30.0
    error: 2 of 2 modules could not be loaded into `lab`, so none were
    ");
    assert_snapshot!(load(&["kubernetes", "web"], Some("*")), @r"
    exit: 1
    --- stdout
    --- stderr
    error: failed to load `web` into `lab`
      caused by: `web` 0.1.0 in `distribution/registry` is a cluster, not a taskserv
    hint: `provisioning module-loader load clusters lab web --version 0.1.0`
    error: 1 of 2 modules could not be loaded into `lab`, so none were
    ");
    assert_snapshot!(load(&["kubernetes", "crio"], Some("*")), @"
    exit: 1
    --- stdout
    --- stderr
    error: refusing to change `lab`: its modules would not fit together
    `containerd` conflicts with `crio`: they cannot be loaded together
    hint: to replace `containerd` with `crio`, unload it first: `provisioning module-loader unload taskservs lab containerd --force`, then load `crio`
    ");
    // A pack whose bytes changed after it was signed.
    let artifact = context.path("distribution/packages/kubernetes_1.30.0.tar");
    let mut bytes = std::fs::read(&artifact).expect("read artifact");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&artifact, bytes).expect("tamper");
    let tampered = load(&["containerd", "kubernetes"], Some("*"));
    let _filters = context.filters().sha256().bind();
    assert_snapshot!(tampered, @r"
    exit: 1
    --- stdout
    --- stderr
    error: failed to load `kubernetes` into `lab`
      caused by: `kubernetes` 1.30.0 failed verification: sha256: expected [SHA256], found [SHA256]
    error: 1 of 2 modules could not be loaded into `lab`, so none were
    ");
    // The transaction: `aws` (with the core it needs) is placed, then `upcloud`'s link cannot
    // be, so everything goes back.
    std::fs::create_dir_all(context.path(&format!("{LAB}/.nickel-modules/upcloud_prov")))
        .expect("mkdir");
    let before = context.tree(LAB);
    let run = context.run([
        "module-loader",
        "load",
        "providers",
        "lab",
        "aws",
        "upcloud",
    ]);
    assert_eq!(run.code, 1, "{run}");
    assert_snapshot!(run, @r"
    exit: 1
    --- stdout
    --- stderr
    error: `[BASE]/workspace/infra/lab/.nickel-modules/upcloud_prov` is a directory, not a link; refusing to replace it
    hint: move it away, or pass `--force` to replace it
    ");
    assert_eq!(context.tree(LAB), before);
}

/// Regression (issue 19): `load`/`init` without `--version` silently turned a pinned pack back
/// into a link.
#[test]
fn load_and_init_without_version_keep_a_pinned_pack_and_say_so() {
    let context = TestContext::released_and_pinned();
    let before = context.tree(LAB);
    assert_snapshot!(context.run_keyed(["module-loader", "load", "taskservs", "lab", "containerd", "kubernetes"]), @r"
    exit: 0
    --- stdout
    --- stderr
            Kept taskserv `containerd` 0.1.0 in `lab` as the pack it pins (link mode was not asked for)
    hint: to link it instead: `provisioning module-loader load taskservs lab containerd --link`
       Unchanged taskserv `kubernetes` 1.30.0 is already loaded in `lab`
    ");
    assert_snapshot!(context.run_keyed(["module-loader", "init", "lab", "--taskservs", "containerd"]), @r"
    exit: 0
    --- stdout
    --- stderr
            Kept taskserv `containerd` 0.1.0 in `lab` as the pack it pins (link mode was not asked for)
    hint: to link it instead: `provisioning module-loader load taskservs lab containerd --link`
    ");
    assert_eq!(context.tree(LAB), before);
    // Asked for: `--link` switches.
    assert_snapshot!(context.run_keyed(["module-loader", "load", "taskservs", "lab", "containerd", "--link"]), @r"
    exit: 0
    --- stdout
    --- stderr
          Loaded taskserv `containerd` 0.1.0 into `lab` (link to `extensions/taskservs/container-runtime/containerd/nickel`)
    ");
    assert!(
        context
            .read(&format!("{LAB}/providers.manifest.yaml"))
            .contains("source: extensions/taskservs/container-runtime/containerd/nickel")
    );
    context.run(["providers", "validate", "lab"]).success();
}

/// Regression (issue 19): `providers install <p> <infra> --version V` skipped the capability
/// check that the same install through `module-loader load` runs.
#[test]
fn providers_install_of_a_pack_checks_capabilities_as_load_does() {
    let context = TestContext::examples().signed();
    context.provider("dnsmgr").create();
    let manifest = context.path("extensions/providers/dnsmgr/nickel/manifest.toml");
    let text = std::fs::read_to_string(&manifest).expect("read manifest");
    std::fs::write(
        &manifest,
        format!("{text}\n[capabilities]\nrequires = [\"dns\"]\n"),
    )
    .expect("write manifest");
    context.run(["pack", "provider", "dnsmgr"]).success();
    let before = context.tree("workspace/infra/homelab");
    let install = context.run([
        "providers",
        "install",
        "dnsmgr",
        "homelab",
        "--version",
        "0.0.1",
    ]);
    assert_snapshot!(install, @r"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `dnsmgr` 0.0.1 into `homelab`
      caused by: refusing to change `homelab`: its modules would not fit together
      `dnsmgr_prov` requires `dns`, which no module of the catalog provides
    ");
    let load = context.run([
        "module-loader",
        "load",
        "providers",
        "homelab",
        "dnsmgr",
        "--version",
        "0.0.1",
    ]);
    assert_snapshot!(load, @r"
    exit: 1
    --- stdout
    --- stderr
    error: refusing to change `homelab`: its modules would not fit together
    `dnsmgr_prov` requires `dns`, which no module of the catalog provides
    ");
    assert_eq!(context.tree("workspace/infra/homelab"), before);
}

/// An unload of N modules is one transaction too: a name that is not loaded leaves every
/// module loaded; when all are, they go together, with what only they needed.
#[test]
fn an_unload_of_several_modules_goes_whole_or_not_at_all() {
    let context = TestContext::released_and_pinned();
    let before = context.tree(LAB);
    let refused = context.run([
        "module-loader",
        "unload",
        "taskservs",
        "lab",
        "kubernetes",
        "crio",
    ]);
    assert_snapshot!(refused, @r"
    exit: 1
    --- stdout
    --- stderr
    error: failed to unload `crio` from `lab`
      caused by: the taskserv `crio` is not loaded in `lab`
    hint: loaded taskservs: `containerd`, `kubernetes`
    error: 1 of 2 modules could not be unloaded from `lab`, so none were
    ");
    assert_eq!(context.tree(LAB), before);
    // Alone, `containerd` may not go: `kubernetes` requires a container runtime.
    let alone = context.run(["module-loader", "unload", "taskservs", "lab", "containerd"]);
    assert_eq!(alone.code, 1, "{alone}");
    assert_eq!(context.tree(LAB), before);
    let together = context.run([
        "module-loader",
        "unload",
        "taskservs",
        "lab",
        "kubernetes",
        "containerd",
    ]);
    assert_snapshot!(together, @r"
    exit: 0
    --- stdout
    --- stderr
        Unloaded taskserv `kubernetes` from `lab`
        Unloaded taskserv `containerd` from `lab`
    ");
    assert_snapshot!(context.tree(LAB), @r#"
    main.ncl:
      | # The infrastructure `lab`. Its modules, one generated file per kind, are kept by
      | # `provisioning module-loader load` and `unload`.
      | let loaded_taskservs = import "taskservs.ncl" in
      | {
      |   taskservs = std.record.fields loaded_taskservs,
      | }
    manifest.toml:
      | [package]
      | name = "lab"
      | version = "0.1.0"
    taskservs.ncl:
      | # Generated by `provisioning` from providers.manifest.yaml; do not edit: `provisioning providers sync` rewrites it.
      | # sha256 of what follows: d914176fd50bd7f565700006a31aa97b79d3ad17cee20c8e5ff2061d5cb74817
      | {
      | }
    "#);
}

/// `init` creates the infra and loads its modules in one transaction: when the load is refused,
/// or fails part way, no infra is left behind.
#[test]
fn init_leaves_no_infra_when_its_modules_cannot_be_loaded() {
    let context = TestContext::examples();
    let refused = context.run(["module-loader", "init", "edge", "--taskservs", "kubernetes"]);
    assert_eq!(refused.code, 1, "{refused}");
    assert!(!context.path("workspace/infra/edge").exists(), "{refused}");
    // Fails in the transaction, once the manifest, `main.ncl` and the lock are written: a
    // directory that init makes an infra holds a file where the modules directory goes.
    context.write("workspace/infra/edge/.nickel-modules", "not a directory\n");
    let before = context.tree("workspace/infra/edge");
    let run = context.run([
        "module-loader",
        "init",
        "edge",
        "--taskservs",
        "kubernetes,containerd",
    ]);
    assert_eq!(run.code, 1, "{run}");
    assert_eq!(context.tree("workspace/infra/edge"), before, "{run}");
    std::fs::remove_file(context.path("workspace/infra/edge/.nickel-modules")).expect("rm");
    context
        .run([
            "module-loader",
            "init",
            "edge",
            "--taskservs",
            "kubernetes,containerd",
        ])
        .success();
    assert!(context.path("workspace/infra/edge/taskservs.ncl").is_file());
}

/// `released_and_pinned()` with `containerd` required as `^0.1` (so an update may move it), and
/// its version 0.1.1 packed from `manifest` (the module's `manifest.toml`, as it is at 0.1.1).
fn pinned_with_a_newer_containerd(manifest: &str) -> TestContext {
    let context = TestContext::released_and_pinned();
    let infra_manifest = format!("{LAB}/manifest.toml");
    let text = context.read(&infra_manifest);
    assert!(text.contains("version = \"0.1.0\""), "{text}");
    context.write(
        &infra_manifest,
        &text.replace("version = \"0.1.0\"", "version = \"^0.1\""),
    );
    context.write(
        "extensions/taskservs/container-runtime/containerd/nickel/manifest.toml",
        manifest,
    );
    context
        .run(["pack", "taskserv", "containerd", "--version", "0.1.1"])
        .success();
    context
}

/// Regression (issue 19): `providers update` moved pins without the capability check that
/// `install` and `load` run, so an update could leave `kubernetes` without a container runtime.
#[test]
fn an_update_that_would_break_capabilities_is_refused_and_changes_nothing() {
    // containerd 0.1.1 no longer provides a container runtime, which `kubernetes` requires.
    let context = pinned_with_a_newer_containerd(
        "[package]\nname = \"containerd\"\nversion = \"0.1.1\"\n\n[capabilities]\nconflicts_with = [\"crio\"]\n",
    );
    let before = context.tree(LAB);
    assert_snapshot!(context.run(["providers", "update", "lab"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to update `lab`
      caused by: refusing to update `lab`: with `containerd` 0.1.1 its modules would not fit together
      `kubernetes` requires `container-runtime`; provided by `crio` (not loaded)
    hint: update the other modules alone (`provisioning providers update lab MODULE...`), or narrow the requirement in `manifest.toml` to the versions that fit
    ");
    assert_eq!(
        context.tree(LAB),
        before,
        "refused before anything is written"
    );
    assert_eq!(
        context
            .run(["providers", "update", "lab", "--dry-run"])
            .code,
        0
    );
}

/// An update of several modules is one change: when the pack of one of them fails
/// verification, none moves; packed again intact, both move together.
#[test]
fn an_update_of_several_modules_where_one_fails_changes_nothing() {
    let context = pinned_with_a_newer_containerd(
        "[package]\nname = \"containerd\"\nversion = \"0.1.1\"\ndescription = \"containerd container runtime\"\n\n[capabilities]\nprovides = [\"container-runtime\"]\nconflicts_with = [\"crio\"]\n",
    );
    context
        .run([
            "module-loader",
            "load",
            "taskservs",
            "lab",
            "kubernetes",
            "--version",
            "^1.30",
        ])
        .success();
    context
        .run(["pack", "taskserv", "kubernetes", "--version", "1.30.1"])
        .success();
    let artifact = context.path("distribution/packages/containerd_0.1.1.tar");
    let intact = std::fs::read(&artifact).expect("read artifact");
    let mut tampered = intact.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x20;
    std::fs::write(&artifact, &tampered).expect("tamper");
    let before = context.tree(LAB);
    let failed = context.run(["providers", "update", "lab"]);
    insta::with_settings!({ filters => vec![(r"\b[0-9a-f]{64}\b", "[SHA256]")] }, {
        assert_snapshot!(failed, @"
        exit: 1
        --- stdout
        --- stderr
            Updating containerd 0.1.0 -> 0.1.1
            Updating kubernetes 1.30.0 -> 1.30.1
        error: failed to update `containerd` in `lab`
          caused by: `containerd` 0.1.1 failed verification: sha256: expected [SHA256], found [SHA256]
        error: 1 of 2 modules could not be updated in `lab`, so none were
        ");
    });
    assert_eq!(context.tree(LAB), before, "byte-identical");

    std::fs::write(&artifact, &intact).expect("restore");
    assert_snapshot!(context.run(["providers", "update", "lab"]), @"
    exit: 0
    --- stdout
    --- stderr
        Updating containerd 0.1.0 -> 0.1.1
        Updating kubernetes 1.30.0 -> 1.30.1
         Updated `lab`: 2 changes
    ");
    let lock = context.read(&format!("{LAB}/providers.manifest.yaml"));
    assert!(
        lock.contains("version: 0.1.1") && lock.contains("version: 1.30.1"),
        "{lock}"
    );
    context.run(["providers", "validate", "lab"]).success();
}

/// Regression (issue 26): a module that provides and requires one capability was offered as the
/// answer to its own requirement, and the hint (`load … selfish selfish`) grew by one name each
/// time it was followed. It is the same each run, and names another module when there is one.
#[test]
fn a_module_that_requires_what_it_provides_gets_the_same_hint_each_run() {
    let context = TestContext::examples();
    context
        .provider("selfish")
        .capabilities(&["dns"], &["dns"])
        .create();
    let load = |names: &[&str]| {
        let mut args = vec!["module-loader", "load", "providers", "homelab"];
        args.extend(names);
        context.run(args)
    };
    insta::allow_duplicates! {
        for names in [&["selfish"][..], &["selfish", "selfish"], &["selfish", "selfish", "selfish"]] {
            assert_snapshot!(load(names), @r"
            exit: 1
            --- stdout
            --- stderr
            error: refusing to change `homelab`: its modules would not fit together
            `selfish_prov` requires `dns`, which only `selfish_prov` itself provides (a module does not meet its own requirement)
            ");
        }
    }
    context
        .provider("resolver")
        .capabilities(&["dns"], &[])
        .create();
    insta::allow_duplicates! {
        for _ in 0..3 {
            assert_snapshot!(load(&["selfish"]), @r"
            exit: 1
            --- stdout
            --- stderr
            error: refusing to change `homelab`: its modules would not fit together
            `selfish_prov` requires `dns`; provided by `resolver_prov` (not loaded)
            hint: load them together: `provisioning module-loader load providers homelab selfish resolver`
            ");
        }
    }
    load(&["selfish", "resolver"]).success();
}
