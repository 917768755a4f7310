//! Nickel-native packages (issue 25): `import <module>` through the package map, in an infra and
//! in a module, in both modes, with the same exports as the path form; an undeclared package
//! refused like an undeclared path import.

use insta::assert_snapshot;

use crate::common::TestContext;

/// `edge` builds on the core schemas, imported by name as a package, in its entry point and in
/// a file its entry point imports by path.
fn with_edge(context: &TestContext, bare: bool) {
    let core = if bare {
        "import provisioning_core"
    } else {
        "import \"provisioning_core/main.ncl\""
    };
    context
        .provider("edge")
        .version("0.1.0")
        .dependency("provisioning_core", "^0.1")
        .file(
            "main.ncl",
            &format!(
                "let core = {core} in\nlet lib = import \"lib.ncl\" in\n{{ provider = \"edge\", schemas = core.package, size = lib.size }}\n"
            ),
        )
        .file(
            "lib.ncl",
            &format!("let core = {core} in\n{{ size = std.array.length core.contracts }}\n"),
        )
        .create();
}

/// The infra's `main.ncl`, naming its modules as packages or by path.
fn infra_main(bare: bool) -> String {
    let import = |module: &str| {
        if bare {
            format!("import {module}")
        } else {
            format!("import \"{module}/main.ncl\"")
        }
    };
    format!(
        "let edge = {} in\nlet upcloud = {} in\n{{ front = edge, web = upcloud.make_server {{ hostname = \"web-1\" }} }}\n",
        import("edge_prov"),
        import("upcloud_prov")
    )
}

/// Installs `edge` and `upcloud` into `homelab` (linked, or pinned when `pack`), and exports
/// its `main.ncl` after validating the infra.
fn install_validate_export(context: &TestContext, bare: bool, pack: bool) -> String {
    context.write("workspace/infra/homelab/main.ncl", &infra_main(bare));
    for (provider, version) in [("edge", "0.1.0"), ("upcloud", "0.0.1")] {
        let mut args = vec!["providers", "install", provider, "homelab"];
        if pack {
            args.extend(["--version", version]);
        }
        context.run(args).success();
    }
    context.run(["providers", "validate", "homelab"]).success();
    let export = context.run(["export", "homelab"]);
    export.success();
    export.stdout
}

#[test]
fn bare_imports_validate_export_and_pack_as_the_path_form_does() {
    let exports: Vec<String> = [false, true]
        .into_iter()
        .flat_map(|bare| {
            let linked = TestContext::examples();
            with_edge(&linked, bare);
            let linked_export = install_validate_export(&linked, bare, false);
            let packed = TestContext::examples();
            with_edge(&packed, bare);
            let packed = packed.signed().packed(&["core", "providers"]);
            let packed_export = install_validate_export(&packed, bare, true);
            [linked_export, packed_export]
        })
        .collect();
    assert!(
        exports[0].contains("\"schemas\": \"provisioning_core\""),
        "{}",
        exports[0]
    );
    assert!(exports[0].contains("\"size\": 3"), "{}", exports[0]);
    for export in &exports[1..] {
        assert_eq!(
            export, &exports[0],
            "every form and mode exports the same bytes"
        );
    }
}

#[test]
fn a_package_import_of_an_undeclared_module_is_refused_with_the_line_to_add() {
    let context = TestContext::examples();
    context
        .provider("leaky")
        .file(
            "main.ncl",
            "let core = import provisioning_core in\n{ package = core.package }\n",
        )
        .create();
    assert_snapshot!(context.run(["pack", "provider", "leaky"]), @r#"
    exit: 1
    --- stdout
    --- stderr
    error: failed to pack `leaky_prov`
      caused by: `leaky_prov` is not hermetic: `[BASE]/extensions/providers/leaky/nickel/main.ncl`:1: `import provisioning_core` uses `provisioning_core`, which is not a declared dependency
    hint: declare it under `[dependencies]` in the module's `manifest.toml`: `provisioning_core = "^0.1"`
    "#);
    assert!(!context.path("distribution").exists());
    context
        .run(["providers", "install", "upcloud", "homelab"])
        .success();
    context
        .run(["providers", "install", "leaky", "homelab"])
        .success();
    assert_snapshot!(context.run(["providers", "validate", "homelab"]), @r#"
    exit: 1
    --- stdout
    NAME               MODULE             MODE  STATE  EVALUATION
    leaky              leaky_prov         link  ok     failed
    provisioning_core  provisioning_core  link  ok     ok
    upcloud            upcloud_prov       link  ok     ok
    -                  providers.ncl      -     -      ok
    --- stderr
    error: `leaky_prov` is not packable: `[BASE]/workspace/infra/homelab/.nickel-modules/leaky_prov/main.ncl`:1: `import provisioning_core` uses `provisioning_core`, which is not a declared dependency
    hint: declare it under `[dependencies]` in the module's `manifest.toml`: `provisioning_core = "^0.1"`
    error: `homelab` is not valid: 1 problem
    "#);
}

#[test]
fn an_unknown_package_is_named_by_nickel() {
    let context = TestContext::examples();
    context
        .run(["providers", "install", "upcloud", "homelab"])
        .success();
    context.write(
        "workspace/infra/homelab/main.ncl",
        "let aws = import aws_prov in aws\n",
    );
    assert_snapshot!(context.run(["export", "homelab"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `[BASE]/workspace/infra/homelab/main.ncl` does not evaluate:
    error: unknown package aws_prov
      ┌─ [BASE]/workspace/infra/homelab/main.ncl:1:11
      │
    1 │ let aws = import aws_prov in aws
      │           ^^^^^^^^^^^^^^^ imported here
    ");
}

#[test]
fn every_pack_carries_a_nickel_pkg_that_the_real_nickel_accepts() {
    let context = TestContext::examples().packed(&["core", "provider upcloud"]);
    let artifact = context.path("distribution/packages/upcloud_prov_0.0.1.tar");
    let manifest = crate::common::artifact_file(&artifact, "upcloud_prov/Nickel-pkg.ncl");
    assert_snapshot!(manifest, @r#"
    # Generated by `provisioning pack` from the module's `manifest.toml` and the registry's metadata.
    {
      name = "upcloud_prov",
      version = "0.0.1",
      minimal_nickel_version = "1.12",
      authors = ["provisioning examples"],
      description = "UpCloud servers, networks and storage",
      license = "MIT",
      dependencies = {
        provisioning_core = 'Path "../provisioning_core",
      },
    } | std.package.Manifest
    "#);
    let core = context.path("distribution/packages/provisioning_core_0.1.0.tar");
    assert!(
        crate::common::artifact_file(&core, "provisioning_core/Nickel-pkg.ncl")
            .contains("dependencies = {},"),
    );
    // The real `nickel` applies `std.package.Manifest` to it, as `pack` did: it passes, and the
    // same file with a version that is not one does not.
    let eval = |text: &str| {
        // Not named `Nickel-pkg.ncl`: a package-enabled `nickel` would resolve its dependencies.
        let file = context.path("upcloud-manifest.ncl");
        std::fs::write(&file, text).expect("write");
        std::process::Command::new(crate::common::nickel_cli())
            .arg("eval")
            .arg(&file)
            .output()
            .expect("run nickel")
    };
    let passed = eval(&manifest);
    crate::common::assert_success(&passed);
    assert!(
        String::from_utf8_lossy(&passed.stdout)
            .contains("provisioning_core = 'Path \"../provisioning_core\""),
        "{}",
        String::from_utf8_lossy(&passed.stdout)
    );
    let broken = eval(&manifest.replace("version = \"0.0.1\"", "version = \"zero\""));
    assert!(!broken.status.success(), "the contract is applied");
}

/// The package-enabled `nickel` of `scripts/test` (`--features package-experimental`).
fn package_nickel(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let output = std::process::Command::new(crate::common::nickel_cli())
        .args(args)
        .current_dir(dir)
        .env("XDG_CACHE_HOME", dir.join(".cache"))
        .output()
        .expect("run nickel");
    crate::common::assert_success(&output);
    output
}

#[test]
fn a_package_enabled_nickel_exports_a_vendored_infra_as_export_does() {
    let context = TestContext::examples();
    with_edge(&context, true);
    let context = context.signed().packed(&["core", "providers"]);
    // Every module it reaches is written in the package form: `nickel` needs no import path.
    context.write(
        "workspace/infra/homelab/main.ncl",
        "let edge = import edge_prov in\nlet core = import provisioning_core in\n{ front = edge, contracts = core.contracts }\n",
    );
    context
        .run([
            "providers",
            "install",
            "edge",
            "homelab",
            "--version",
            "0.1.0",
        ])
        .success();
    let ours = context.run(["export", "homelab"]);
    ours.success();
    let run = context.run(["providers", "nickel-pkg", "homelab"]);
    assert_snapshot!(run, @"
    exit: 0
    --- stdout
    --- stderr
           Wrote `workspace/infra/homelab/Nickel-pkg.ncl`
    ");
    assert_snapshot!(context.read("workspace/infra/homelab/Nickel-pkg.ncl"), @r#"
    # Generated by `provisioning providers nickel-pkg` from the infra's lock; run it again after a change.
    {
      name = "homelab",
      version = "0.1.0",
      minimal_nickel_version = "1.12",
      authors = [],
      dependencies = {
        edge_prov = 'Path "vendor/edge_prov",
        provisioning_core = 'Path "vendor/provisioning_core",
      },
    } | std.package.Manifest
    "#);
    let infra = context.path("workspace/infra/homelab");
    let theirs = package_nickel(&infra, &["export", "main.ncl"]);
    assert_eq!(String::from_utf8_lossy(&theirs.stdout), ours.stdout);
}

#[test]
fn the_examples_package_form_exports_through_a_package_enabled_nickel_as_the_path_form_does() {
    // The examples as committed: `wuji` and the providers import their modules as packages.
    let context = TestContext::examples()
        .signed()
        .packed(&["core", "providers"])
        .installed("wuji", &["upcloud@0.0.1", "aws@1.0.0"]);
    context.run(["providers", "validate", "wuji"]).success();
    let ours = context.run(["export", "wuji"]);
    ours.success();
    context.run(["providers", "nickel-pkg", "wuji"]).success();
    let theirs = package_nickel(
        &context.path("workspace/infra/wuji"),
        &["export", "main.ncl"],
    );
    assert_eq!(String::from_utf8_lossy(&theirs.stdout), ours.stdout);
    // The same examples in the path form, linked, export the same bytes.
    let path_form = TestContext::examples_installed().in_path_form();
    let linked = path_form.run(["export", "wuji"]);
    linked.success();
    assert_eq!(linked.stdout, ours.stdout);
    assert!(
        ours.stdout.contains("\"hostname\": \"wuji-db-1\""),
        "{ours}"
    );
}

#[test]
fn the_examples_of_a_module_that_imports_its_dependency_by_name_run() {
    let context = TestContext::examples();
    context
        .provider("edge")
        .version("0.1.0")
        .dependency("provisioning_core", "^0.1")
        .file(
            "main.ncl",
            "let core = import provisioning_core in\n{\n  checked\n    | doc m%\"\n      ```nickel\n      checked \"web-1\"\n      # => \"web-1\"\n      ```\n    \"%\n    = fun name => name | core.Hostname,\n}\n",
        )
        .create();
    let tested = context.run(["providers", "test", "edge", "--format", "json"]);
    tested.success();
    let report: serde_json::Value = serde_json::from_str(&tested.stdout).expect("JSON");
    assert_eq!(
        (report["passed"].clone(), report["failed"].clone()),
        (serde_json::json!(1), serde_json::json!([])),
        "{tested}"
    );
}
