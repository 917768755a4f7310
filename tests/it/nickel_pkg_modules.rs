//! Modules described by `Nickel-pkg.ncl` alone (issue 25): read through `std.package.Manifest`,
//! installed in both modes; `'Git` and `'Index` dependencies refused with what to do; a
//! `Nickel-pkg.ncl` that disagrees with its `manifest.toml` reported by `validate`.

use insta::assert_snapshot;

use crate::common::TestContext;

/// `Nickel-pkg.ncl` of the provider `edge`, with these dependencies.
fn edge_pkg(version: &str, dependencies: &str) -> String {
    format!(
        "{{\n  name = \"edge_prov\",\n  version = \"{version}\",\n  minimal_nickel_version = \"1.12\",\n  authors = [\"Edge team\"],\n  description = \"Edge servers\",\n  license = \"MIT\",\n  dependencies = {{ {dependencies} }},\n}} | std.package.Manifest\n"
    )
}

/// The core schemas, as `'Path` from a provider's `nickel/` directory.
const CORE: &str = "provisioning_core = 'Path \"../../../../schemas\"";

/// `edge`, described by `Nickel-pkg.ncl` alone, building on the core schemas, which it imports
/// as a package.
fn with_edge(context: &TestContext) {
    context
        .provider("edge")
        .nickel_pkg_only(&edge_pkg("0.2.0", CORE))
        .file(
            "main.ncl",
            "let core = import provisioning_core in\n{ provider = \"edge\", schemas = core.package }\n",
        )
        .create();
}

fn validate_and_export(context: &TestContext, infra: &str) -> String {
    context.run(["providers", "validate", infra]).success();
    let export = context.run(["export", infra]);
    export.success();
    export.stdout
}

#[test]
fn a_nickel_pkg_only_provider_installs_linked_and_packed() {
    let context = TestContext::examples();
    with_edge(&context);
    let main = "let edge = import \"edge_prov/main.ncl\" in { front = edge }\n";
    context.write("workspace/infra/homelab/main.ncl", main);
    context.write("workspace/infra/edgepack/main.ncl", main);
    // Link mode: the dependency on the core comes from the `'Path`, at the core's version.
    context
        .run(["providers", "install", "edge", "homelab"])
        .success();
    let lock = context.read("workspace/infra/homelab/providers.manifest.yaml");
    assert!(lock.contains("module: provisioning_core"), "{lock}");
    let linked = validate_and_export(&context, "homelab");
    assert!(
        linked.contains("\"schemas\": \"provisioning_core\""),
        "{linked}"
    );
    // Pack mode: the pack's `manifest.toml` is written from `Nickel-pkg.ncl`.
    let context = context.signed().packed(&["core", "provider edge"]);
    let artifact = context.path("distribution/packages/edge_prov_0.2.0.tar");
    assert_snapshot!(crate::common::artifact_file(&artifact, "edge_prov/manifest.toml"), @r#"
    [package]
    name = "edge_prov"
    version = "0.2.0"
    description = "Edge servers"

    [dependencies]
    provisioning_core = "^0.1.0"
    "#);
    assert!(
        crate::common::artifact_file(&artifact, "edge_prov/Nickel-pkg.ncl")
            .contains("provisioning_core = 'Path \"../provisioning_core\""),
    );
    context
        .run([
            "providers",
            "install",
            "edge",
            "edgepack",
            "--version",
            "0.2.0",
        ])
        .success();
    assert_eq!(validate_and_export(&context, "edgepack"), linked);
}

#[test]
fn git_and_index_dependencies_are_refused_with_what_to_do() {
    let context = TestContext::examples();
    context
        .provider("gitdep")
        .nickel_pkg_only(
            &edge_pkg(
                "0.1.0",
                "json = 'Git { url = \"https://github.com/example/json.git\", ref = 'Tag \"v1\" }",
            )
            .replace("edge_prov", "gitdep_prov"),
        )
        .create();
    context
        .provider("indexdep")
        .nickel_pkg_only(
            &edge_pkg(
                "0.1.0",
                "json = 'Index { package = \"github:example/json\", version = \"1.2\" }",
            )
            .replace("edge_prov", "indexdep_prov"),
        )
        .create();
    assert_snapshot!(context.run(["providers", "install", "gitdep", "homelab"]), @r#"
    exit: 1
    --- stdout
    --- stderr
    error: provider `gitdep` cannot be installed: `[BASE]/extensions/providers/gitdep/nickel/Nickel-pkg.ncl`: the dependency `json` is a `'Git` dependency (`https://github.com/example/json.git`), which `provisioning` does not resolve
    hint: make it a module of the catalog (under `extensions/`) and depend on it with `'Path` to its directory, or, if it is published as a pack, describe this module with a `manifest.toml` that declares it under `[dependencies]`: `json = "<requirement>"`
    "#);
    assert_snapshot!(context.run(["pack", "provider", "indexdep"]), @r#"
    exit: 1
    --- stdout
    --- stderr
    error: provider `indexdep` cannot be packed: `[BASE]/extensions/providers/indexdep/nickel/Nickel-pkg.ncl`: the dependency `json` is an `'Index` dependency (`github:example/json`, version `1.2`), which `provisioning` does not resolve
    hint: make it a module of the catalog (under `extensions/`) and depend on it with `'Path` to its directory, or, if it is published as a pack, describe this module with a `manifest.toml` that declares it under `[dependencies]`: `json = "^1.2"`
    "#);
    assert!(
        !context
            .path("workspace/infra/homelab/.nickel-modules")
            .exists()
    );
}

#[test]
fn a_nickel_pkg_that_breaks_the_contract_is_an_error_naming_it() {
    let context = TestContext::examples();
    context
        .provider("edge")
        .nickel_pkg_only(&edge_pkg("two", ""))
        .create();
    assert_snapshot!(context.run(["providers", "install", "edge", "homelab"]), @r#"
    exit: 1
    --- stdout
    --- stderr
    error: provider `edge` cannot be installed: `[BASE]/extensions/providers/edge/nickel/Nickel-pkg.ncl` is not a valid Nickel package manifest (`std.package.Manifest`):
    error: contract broken by the value of `version`
           invalid semver
         ┌─ <stdlib/std.ncl>:3610:17
         │
    3610 │               | Semver
         │                 ------ expected type
         │
         ┌─ [BASE]/extensions/providers/edge/nickel/Nickel-pkg.ncl:3:13
         │
       3 │   version = "two",
         │             ^^^^^ applied to this expression
         │
         ┌─ <unknown> (generated by evaluation):1:1
         │
       1 │ "two"
         │ ----- evaluated to this value
    "#);
}

#[test]
fn validate_reports_a_nickel_pkg_that_disagrees_with_the_manifest() {
    let context = TestContext::examples();
    context
        .provider("edge")
        .version("0.2.0")
        .file("Nickel-pkg.ncl", &edge_pkg("0.3.0", CORE))
        .create();
    context
        .run(["providers", "install", "edge", "homelab"])
        .success();
    assert_snapshot!(context.run(["providers", "validate", "homelab"]), @"
    exit: 1
    --- stdout
    NAME  MODULE         MODE  STATE  EVALUATION
    edge  edge_prov      link  ok     failed
    -     providers.ncl  -     -      ok
    --- stderr
    error: `[BASE]/workspace/infra/homelab/.nickel-modules/edge_prov/manifest.toml` and `[BASE]/workspace/infra/homelab/.nickel-modules/edge_prov/Nickel-pkg.ncl` disagree:
      `version`: `0.2.0` in `manifest.toml`, `0.3.0` in `Nickel-pkg.ncl`
      `dependencies`: none in `manifest.toml`, `provisioning_core` in `Nickel-pkg.ncl`
    hint: `manifest.toml` is the module's manifest for `provisioning`; make `Nickel-pkg.ncl` say the same, or remove it (every pack carries one generated from `manifest.toml`)
    error: `homelab` is not valid: 1 problem
    ");
    // Made to agree, it validates; and a pack, whose two files are generated together, too.
    context.write(
        "extensions/providers/edge/nickel/manifest.toml",
        "[package]\nname = \"edge_prov\"\nversion = \"0.3.0\"\n\n[dependencies]\nprovisioning_core = \"^0.1\"\n",
    );
    context
        .run(["providers", "install", "edge", "homelab"])
        .success();
    context.run(["providers", "validate", "homelab"]).success();
    let context = context.signed().packed(&["core", "provider edge"]);
    context
        .run([
            "providers",
            "install",
            "edge",
            "homelab",
            "--version",
            "0.3.0",
        ])
        .success();
    context.run(["providers", "validate", "homelab"]).success();
}

#[test]
fn an_undeclared_import_of_a_nickel_pkg_only_module_says_to_declare_it_there() {
    let context = TestContext::examples();
    context
        .provider("edge")
        .nickel_pkg_only(&edge_pkg("0.2.0", ""))
        .file(
            "main.ncl",
            "let core = import provisioning_core in\n{ schemas = core.package }\n",
        )
        .create();
    assert_snapshot!(context.run(["pack", "provider", "edge"]), @r#"
    exit: 1
    --- stdout
    --- stderr
    error: failed to pack `edge_prov`
      caused by: `edge_prov` is not hermetic: `[BASE]/extensions/providers/edge/nickel/main.ncl`:1: `import provisioning_core` uses `provisioning_core`, which is not a declared dependency
    hint: declare it in `dependencies` of the module's `Nickel-pkg.ncl`, as a `'Path` to its package directory: `provisioning_core = 'Path "…"`
    "#);
    context
        .run(["providers", "install", "upcloud", "homelab"])
        .success();
    context
        .run(["providers", "install", "edge", "homelab"])
        .success();
    assert_snapshot!(context.run(["providers", "validate", "homelab"]), @r#"
    exit: 1
    --- stdout
    NAME               MODULE             MODE  STATE  EVALUATION
    edge               edge_prov          link  ok     failed
    provisioning_core  provisioning_core  link  ok     ok
    upcloud            upcloud_prov       link  ok     ok
    -                  providers.ncl      -     -      ok
    --- stderr
    error: `edge_prov` is not packable: `[BASE]/workspace/infra/homelab/.nickel-modules/edge_prov/main.ncl`:1: `import provisioning_core` uses `provisioning_core`, which is not a declared dependency
    hint: declare it in `dependencies` of the module's `Nickel-pkg.ncl`, as a `'Path` to its package directory: `provisioning_core = 'Path "…"`
    error: `homelab` is not valid: 1 problem
    "#);
}

#[test]
fn a_nickel_pkg_that_never_finishes_is_stopped_by_the_evaluation_deadline() {
    let context = TestContext::examples();
    context
        .provider("edge")
        .nickel_pkg_only("let rec spin = fun x => spin x in spin 0\n")
        .create();
    let run = context
        .command()
        .env("PROVISIONING_EVALUATION_TIMEOUT_SECS", "2")
        .args(["providers", "install", "edge", "homelab"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("extensions/providers/edge/nickel/Nickel-pkg.ncl` did not finish evaluating in 2 s, and was stopped")
            && stderr.contains("raise `evaluation.timeout_secs`"),
        "{stderr}"
    );
}

#[test]
fn a_core_described_by_nickel_pkg_alone_packs_and_installs_in_both_modes() {
    let context = TestContext::examples();
    std::fs::remove_file(context.path("schemas/manifest.toml")).expect("rm");
    context.write(
        "schemas/Nickel-pkg.ncl",
        "{\n  name = \"provisioning_core\",\n  version = \"0.1.5\",\n  minimal_nickel_version = \"1.12\",\n  authors = [\"Core team\"],\n  description = \"Core contracts, for Nickel\",\n  license = \"MIT\",\n  dependencies = {},\n} | std.package.Manifest\n",
    );
    let main = "let upcloud = import upcloud_prov in { web = upcloud.make_server { hostname = \"web-1\" } }\n";
    context.write("workspace/infra/homelab/main.ncl", main);
    context.write("workspace/infra/corepack/main.ncl", main);
    // Link mode: `upcloud` requires the core `^0.1`, which `Nickel-pkg.ncl` says it is.
    context
        .run(["providers", "install", "upcloud", "homelab"])
        .success();
    let lock = context.read("workspace/infra/homelab/providers.manifest.yaml");
    assert!(lock.contains("version: 0.1.5"), "{lock}");
    let linked = validate_and_export(&context, "homelab");
    // Pack mode: at the version `Nickel-pkg.ncl` says, with a `manifest.toml` written from it.
    let context = context.signed().packed(&["core", "provider upcloud"]);
    let artifact = context.path("distribution/packages/provisioning_core_0.1.5.tar");
    assert_snapshot!(crate::common::artifact_file(&artifact, "provisioning_core/manifest.toml"), @r#"
    [package]
    name = "provisioning_core"
    version = "0.1.5"
    description = "Core contracts, for Nickel"
    "#);
    assert!(
        crate::common::artifact_file(&artifact, "provisioning_core/Nickel-pkg.ncl")
            .contains("version = \"0.1.5\""),
    );
    // Rebuilt from its source, read the same way, to the same bytes.
    context
        .run(["pack", "verify", "provisioning_core@0.1.5", "--rebuild"])
        .success();
    context
        .run([
            "providers",
            "install",
            "upcloud",
            "corepack",
            "--version",
            "0.0.1",
        ])
        .success();
    let lock = context.read("workspace/infra/corepack/providers.manifest.yaml");
    assert!(lock.contains("version: 0.1.5"), "{lock}");
    assert_eq!(validate_and_export(&context, "corepack"), linked);
}

#[test]
fn a_core_nickel_pkg_naming_another_package_is_not_packed() {
    let context = TestContext::examples();
    std::fs::remove_file(context.path("schemas/manifest.toml")).expect("rm");
    context.write(
        "schemas/Nickel-pkg.ncl",
        "{\n  name = \"schemas\",\n  version = \"0.1.5\",\n  minimal_nickel_version = \"1.12\",\n  authors = [],\n} | std.package.Manifest\n",
    );
    assert_snapshot!(context.run(["pack", "core"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `[BASE]/schemas/Nickel-pkg.ncl` names the package `schemas`, expected `provisioning_core`
    hint: the core schemas are packed as `[nickel] core_package_name`; name the package so in `Nickel-pkg.ncl`
    ");
    assert!(!context.path("distribution").exists());
}
