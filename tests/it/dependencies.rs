//! Module dependencies: closures installed in both modes, requirements shared and conflicting,
//! removal of what nothing needs, sync of a closure, hermetic packs, bad input, and the real
//! `nickel` CLI evaluating an installed infra as `validate` does.

use insta::assert_snapshot;

use crate::common::TestContext;

/// `web` builds on `upcloud`, which builds on the core schemas: a chain two levels deep.
fn with_web(context: &TestContext) {
    context
        .provider("web")
        .version("0.1.0")
        .dependency("upcloud_prov", "^0.0.1")
        .file(
            "main.ncl",
            "let upcloud = import \"upcloud_prov/main.ncl\" in\n{ provider = \"web\", front = upcloud.make_server { hostname = \"web-1\" } }\n",
        )
        .create();
}

#[test]
fn link_install_brings_the_closure_and_records_who_requires_what() {
    let context = TestContext::examples();
    with_web(&context);
    assert_snapshot!(context.run(["providers", "install", "web", "homelab"]), @"
    exit: 0
    --- stdout
    --- stderr
       Installed `web_prov` 0.1.0 into `homelab` (link to `extensions/providers/web/nickel`)
          Linked provisioning_core 0.1.0 (required by upcloud_prov)
          Linked upcloud_prov 0.0.1 (required by web_prov)
    ");
    assert_snapshot!(context.read("workspace/infra/homelab/providers.manifest.yaml"), @"
    # Written by `provisioning`; keep it in git.
    # `provisioning providers sync <infra>` rebuilds the infra's modules from this file.
    format_version: 1
    providers:
    - name: provisioning_core
      module: provisioning_core
      kind: core
      mode: link
      version: 0.1.0
      source: schemas
      required_by:
      - upcloud_prov
      direct: false
    - name: upcloud
      module: upcloud_prov
      mode: link
      version: 0.0.1
      source: extensions/providers/upcloud/nickel
      required_by:
      - web_prov
      direct: false
    - name: web
      module: web_prov
      mode: link
      version: 0.1.0
      source: extensions/providers/web/nickel
    ");
    assert_snapshot!(context.run(["providers", "installed", "homelab"]), @"
    exit: 0
    --- stdout
    NAME               MODULE             MODE  VERSION  STATE  SOURCE                               REQUIRED BY
    provisioning_core  provisioning_core  link  0.1.0    ok     schemas                              upcloud_prov
    upcloud            upcloud_prov       link  0.0.1    ok     extensions/providers/upcloud/nickel  web_prov
    web                web_prov           link  0.1.0    ok     extensions/providers/web/nickel      -
    --- stderr
    ");
    context.run(["providers", "validate", "homelab"]).success();
}

#[test]
fn pack_install_vendors_and_pins_the_closure_and_sync_restores_it() {
    let context = TestContext::examples();
    with_web(&context);
    let context = context.signed().packed(&["core", "providers"]);
    let _filters = context.filters().bind();
    let run = context.run([
        "providers",
        "install",
        "web",
        "homelab",
        "--version",
        "0.1.0",
    ]);
    assert_snapshot!(run, @"
    exit: 0
    --- stdout
    --- stderr
       Installed `web_prov` 0.1.0 into `homelab` (pack from `distribution/registry`, signed by [KEY])
        Vendored provisioning_core 0.1.0 (required by upcloud_prov)
        Vendored upcloud_prov 0.0.1 (required by web_prov)
    ");
    let lock = context.read("workspace/infra/homelab/providers.manifest.yaml");
    for module in ["web_prov", "upcloud_prov", "provisioning_core"] {
        assert!(
            lock.contains(&format!("module: {module}\n"))
                && context
                    .path(&format!(
                        "workspace/infra/homelab/vendor/{module}/manifest.toml"
                    ))
                    .is_file(),
            "{module} is pinned and vendored:\n{lock}"
        );
    }
    assert_eq!(lock.matches("mode: pack").count(), 3, "{lock}");
    context.run(["providers", "validate", "homelab"]).success();

    let installed = context.tree("workspace/infra/homelab");
    std::fs::remove_dir_all(context.path("workspace/infra/homelab/vendor")).expect("rm vendor");
    context.run(["providers", "sync", "homelab"]).success();
    assert_eq!(context.tree("workspace/infra/homelab"), installed);
}

#[test]
fn a_diamond_that_agrees_shares_one_version_in_both_modes() {
    let context = TestContext::examples()
        .signed()
        .packed(&["core", "providers"])
        .installed("wuji", &["upcloud@0.0.1"]);
    let second = context.run(["providers", "install", "aws", "wuji", "--version", "1.0.0"]);
    second.success();
    assert!(!second.stderr.contains("Vendored"), "{second}");
    let lock = context.read("workspace/infra/wuji/providers.manifest.yaml");
    assert_eq!(lock.matches("module: provisioning_core").count(), 1);
    assert!(
        lock.contains("required_by:\n  - aws_prov\n  - upcloud_prov\n"),
        "{lock}"
    );
    context.run(["providers", "validate", "wuji"]).success();
}

#[test]
fn a_diamond_that_conflicts_names_both_requirements_and_changes_nothing() {
    let context = TestContext::examples();
    context
        .provider("edge")
        .dependency("provisioning_core", "^0.2")
        .create();
    context
        .run(["providers", "install", "upcloud", "wuji"])
        .success();
    assert_snapshot!(context.run_unchanged("workspace/infra/wuji", ["providers", "install", "edge", "wuji"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `edge` into `wuji`
      caused by: no version of `provisioning_core` satisfies every requirement on it:
        upcloud_prov 0.0.1 requires provisioning_core ^0.1
        edge_prov 0.0.1 requires provisioning_core ^0.2
    hint: available: 0.1.0
    ");

    // The same in pack mode, where both versions of the core exist: `aws` packed against
    // the core 0.1.0, `edge` against 0.2.0.
    context.run(["keys", "generate"]).success();
    context.run(["pack", "core"]).success();
    context.run(["pack", "provider", "aws"]).success();
    let manifest = context.read("schemas/manifest.toml");
    context.write(
        "schemas/manifest.toml",
        &manifest.replace("version = \"0.1.0\"", "version = \"0.2.0\""),
    );
    context.run(["pack", "core"]).success();
    context.run(["pack", "provider", "edge"]).success();
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
    assert_snapshot!(context.run_unchanged("workspace/infra/homelab", ["providers", "install", "edge", "homelab", "--version", "0.0.1"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `edge` 0.0.1 into `homelab`
      caused by: no version of `provisioning_core` satisfies every requirement on it:
        aws_prov 1.0.0 requires provisioning_core ^0.1
        edge_prov 0.0.1 requires provisioning_core ^0.2
    hint: available: 0.1.0, 0.2.0
    ");
}

#[test]
fn removal_keeps_a_shared_dependency_until_nothing_needs_it() {
    let context = TestContext::examples_installed();
    assert_snapshot!(context.run(["providers", "remove", "upcloud", "wuji"]), @"
    exit: 0
    --- stdout
    --- stderr
         Removed `upcloud_prov` from `wuji`
    ");
    assert_snapshot!(context.run(["providers", "remove", "provisioning_core", "wuji"]), @"
    exit: 0
    --- stdout
    --- stderr
            Kept `provisioning_core` in `wuji`: required by aws_prov
    ");
    assert_snapshot!(context.run(["providers", "remove", "aws", "wuji"]), @"
    exit: 0
    --- stdout
    --- stderr
         Removed `aws_prov` from `wuji`
         Removed provisioning_core 0.1.0 (no longer required)
    ");
    // As before the first install: no empty `.nickel-modules/`, `[dependencies]` or lock.
    assert_snapshot!(context.tree("workspace/infra/wuji"), @r#"
    main.ncl:
      | # Modules are imported as Nickel packages, by module name, whichever mode installed them:
      | # `provisioning` evaluates with a package map naming every module the infra has installed.
      | let upcloud = import upcloud_prov in
      | let aws = import aws_prov in
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
    "#);
}

#[test]
fn imports_of_undeclared_modules_are_refused_by_pack_and_validate() {
    let context = TestContext::examples();
    context
        .provider("leaky")
        .file(
            "main.ncl",
            "let core = import \"provisioning_core/main.ncl\" in\n{ package = core.package }\n",
        )
        .create();
    context
        .provider("climber")
        .file(
            "main.ncl",
            "let core = import \"../../../../schemas/main.ncl\" in\n{ package = core.package }\n",
        )
        .create();
    assert_snapshot!(context.run(["pack", "provider", "leaky"]), @r#"
    exit: 1
    --- stdout
    --- stderr
    error: failed to pack `leaky_prov`
      caused by: `leaky_prov` is not hermetic: `[BASE]/extensions/providers/leaky/nickel/main.ncl`:1: `import "provisioning_core/main.ncl"` uses `provisioning_core`, which is not a declared dependency
    hint: declare it under `[dependencies]` in the module's `manifest.toml`: `provisioning_core = "^0.1"`
    "#);
    assert_snapshot!(context.run(["pack", "provider", "climber"]), @r#"
    exit: 1
    --- stdout
    --- stderr
    error: failed to pack `climber_prov`
      caused by: `climber_prov` is not self-contained: `[BASE]/extensions/providers/climber/nickel/main.ncl`:1: `import "../../../../schemas/main.ncl"` leaves the module (it reads `[BASE]/schemas/main.ncl`)
    hint: it reaches the module `provisioning_core`: import it by name (`import "provisioning_core/..."`) and declare it under `[dependencies]` in the module's `manifest.toml`: `provisioning_core = "^0.1"`
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
    error: `leaky_prov` is not packable: `[BASE]/workspace/infra/homelab/.nickel-modules/leaky_prov/main.ncl`:1: `import "provisioning_core/main.ncl"` uses `provisioning_core`, which is not a declared dependency
    hint: declare it under `[dependencies]` in the module's `manifest.toml`: `provisioning_core = "^0.1"`
    error: `homelab` is not valid: 1 problem
    "#);
}

#[test]
fn bad_dependencies_are_clear_errors_and_change_nothing() {
    let context = TestContext::examples();
    context
        .provider("orphan")
        .dependency("nosuch_prov", "1")
        .create();
    context
        .provider("vague")
        .dependency("provisioning_core", "latest")
        .create();
    context
        .provider("narcissus")
        .dependency("narcissus_prov", "*")
        .create();
    context
        .provider("ping")
        .dependency("pong_prov", "*")
        .create();
    context
        .provider("pong")
        .dependency("ping_prov", "*")
        .create();
    let before = context.tree("workspace/infra/wuji");
    for provider in ["orphan", "vague", "narcissus", "ping"] {
        let run = context.run(["providers", "install", provider, "wuji"]);
        assert_eq!(run.code, 1, "{run}");
        assert_eq!(context.tree("workspace/infra/wuji"), before, "{provider}");
    }
    assert_snapshot!(context.run(["providers", "install", "orphan", "wuji"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `orphan` into `wuji`
      caused by: unknown module `nosuch_prov`
        needed because orphan_prov 0.0.1 requires nosuch_prov ^1
    hint: found modules: `aws_prov`, `containerd`, `crio`, `kubernetes`, `local_prov`, `narcissus_prov`, `orphan_prov`, `ping_prov`, `pong_prov`, `provisioning_core`, `upcloud_prov`, `vague_prov`, `web`
    ");
    assert_snapshot!(context.run(["providers", "install", "vague", "wuji"]), @r#"
    exit: 1
    --- stdout
    --- stderr
    error: provider `vague` cannot be installed: `[BASE]/extensions/providers/vague/nickel/manifest.toml`: dependency `provisioning_core = "latest"`: `latest` is not a version requirement
    hint: use a version requirement in Cargo's syntax: `0.1` (meaning `^0.1`), `^1.2`, `~1.2.3`, `=1.2.3`, `>=1.0, <2.0` or `*`
    "#);
    assert_snapshot!(context.run(["providers", "install", "narcissus", "wuji"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: provider `narcissus` cannot be installed: `[BASE]/extensions/providers/narcissus/nickel/manifest.toml`: `narcissus_prov` depends on itself
    ");
    assert_snapshot!(context.run(["providers", "install", "ping", "wuji"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `ping` into `wuji`
      caused by: dependency cycle: ping_prov 0.0.1 -> pong_prov 0.0.1 -> ping_prov
    ");
    assert_snapshot!(context.run(["pack", "provider", "ping"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to pack `ping_prov`
      caused by: the dependencies of `ping_prov` cannot be resolved
      caused by: dependency cycle: ping_prov 0.0.1 -> pong_prov 0.0.1 -> ping_prov
    ");
}

#[test]
fn unsigned_dependencies_and_disagreeing_records_are_refused() {
    let context = TestContext::examples();
    // The core packed before the key existed: unsigned.
    context.run(["pack", "core"]).success();
    context.run(["keys", "generate"]).success();
    context.run(["pack", "provider", "aws"]).success();
    let before = context.tree("workspace/infra/wuji");
    assert_snapshot!(context.run(["providers", "install", "aws", "wuji", "--version", "1.0.0"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 1.0.0 into `wuji`
      caused by: no version of `provisioning_core` satisfies the requirement on it:
        aws_prov 1.0.0 requires provisioning_core ^0.1
    hint: available: 0.1.0 (unsigned); pass `--allow-unsigned=provisioning_core` to accept its unsigned versions
    ");
    assert_eq!(context.tree("workspace/infra/wuji"), before);

    // A registry whose record of a version's dependencies is not what the pack says.
    let metadata = context.read("distribution/registry/aws_prov.json");
    context.write(
        "distribution/registry/aws_prov.json",
        &metadata.replace(
            "\"provisioning_core\": \"^0.1\"",
            "\"provisioning_core\": \"^0.9\"",
        ),
    );
    let run = context.run([
        "providers",
        "install",
        "aws",
        "wuji",
        "--version",
        "1.0.0",
        "--allow-unsigned",
    ]);
    assert_snapshot!(run, @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 1.0.0 into `wuji`
      caused by: `aws_prov` 1.0.0 failed verification: dependencies: its manifest requires provisioning_core ^0.1, but the registry records provisioning_core ^0.9
    ");
    assert_eq!(context.tree("workspace/infra/wuji"), before);
}

/// The infra's `main.ncl` evaluated by the `nickel` CLI with the import path the tool documents,
/// and in-process as `validate` evaluates it: the same JSON.
fn assert_nickel_agrees(context: &TestContext, infra: &str) {
    let dir = context.path(&format!("workspace/infra/{infra}"));
    let output = std::process::Command::new(crate::common::nickel_cli())
        .args([
            "export",
            "--format",
            "json",
            "-I",
            ".nickel-modules",
            "-I",
            "vendor",
            "main.ncl",
        ])
        .current_dir(&dir)
        .output()
        .expect("run nickel");
    assert!(
        output.status.success(),
        "nickel export failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let import_paths = [dir.join(".nickel-modules"), dir.join("vendor")];
    let bounds = provisioning::nickel::Bounds {
        timeout: std::time::Duration::from_secs(60),
        max_memory_bytes: 1 << 31,
    };
    let export = provisioning::nickel::Evaluator::new(&import_paths, bounds)
        .export_json(&dir.join("main.ncl"))
        .expect("evaluates in-process");
    let cli: serde_json::Value = serde_json::from_slice(&output.stdout).expect("CLI JSON");
    let ours: serde_json::Value = serde_json::from_str(&export.text).expect("our JSON");
    assert_eq!(cli, ours);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim_end(),
        export.text.trim_end(),
        "byte for byte"
    );
}

#[test]
fn the_nickel_cli_evaluates_an_installed_infra_as_validate_does() {
    // A plain `nickel` resolves no package name: the path form.
    let context = TestContext::examples_installed().in_path_form();
    assert_nickel_agrees(&context, "wuji");
    // And once every module of the closure is a vendored pack.
    context.run(["keys", "generate"]).success();
    context.run(["pack", "core"]).success();
    context.run(["pack", "providers"]).success();
    for (provider, version) in [("upcloud", "0.0.1"), ("aws", "1.0.0")] {
        context
            .run([
                "providers",
                "install",
                provider,
                "wuji",
                "--version",
                version,
            ])
            .success();
    }
    assert!(
        context
            .read("workspace/infra/wuji/providers.manifest.yaml")
            .matches("mode: pack")
            .count()
            == 3
    );
    assert_nickel_agrees(&context, "wuji");
}

#[test]
fn sources_that_changed_since_the_install_are_seen_by_validate_and_remove() {
    let context = TestContext::examples_installed();
    let aws = context.read("extensions/providers/aws/nickel/manifest.toml");
    context.write(
        "extensions/providers/aws/nickel/manifest.toml",
        &format!("{aws}upcloud_prov = \"*\"\n"),
    );
    // `aws` now requires `upcloud`: removing `upcloud` keeps it, as `aws`'s dependency.
    assert_snapshot!(context.run(["providers", "remove", "upcloud", "wuji"]), @"
    exit: 0
    --- stdout
    --- stderr
            Kept `upcloud_prov` in `wuji`: required by aws_prov
    ");
    context.run(["providers", "validate", "wuji"]).success();
    // And `upcloud` requiring `aws` back makes a cycle, which validate refuses as pack does.
    let upcloud = context.read("extensions/providers/upcloud/nickel/manifest.toml");
    context.write(
        "extensions/providers/upcloud/nickel/manifest.toml",
        &format!("{upcloud}aws_prov = \"*\"\n"),
    );
    let run = context.run(["providers", "validate", "wuji"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("a dependency cycle"), "{run}");
}

#[test]
fn a_dependency_without_a_version_is_a_manifest_error() {
    let context = TestContext::examples();
    let aws = context.read("extensions/providers/aws/nickel/manifest.toml");
    context.write(
        "extensions/providers/aws/nickel/manifest.toml",
        &aws.replace("provisioning_core = \"^0.1\"", "provisioning_core = { }"),
    );
    assert_snapshot!(context.run(["providers", "install", "aws", "wuji"]), @r#"
    exit: 1
    --- stdout
    --- stderr
    error: provider `aws` cannot be installed: `[BASE]/extensions/providers/aws/nickel/manifest.toml`: dependency `provisioning_core` must be a version requirement (`provisioning_core = "^0.1"`) or a table with one (`provisioning_core = { version = "^0.1" }`)
    "#);
}
