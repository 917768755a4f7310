//! `providers install` in link mode, its refusals and its concurrency.

use insta::assert_snapshot;

use crate::common::TestContext;

#[test]
fn install_links_records_and_depends() {
    let context = TestContext::examples();
    assert_snapshot!(context.run(["providers", "install", "upcloud", "wuji"]), @"
    exit: 0
    --- stdout
    --- stderr
       Installed `upcloud_prov` 0.0.1 into `wuji` (link to `extensions/providers/upcloud/nickel`)
          Linked provisioning_core 0.1.0 (required by upcloud_prov)
    ");
    assert_snapshot!(context.tree("workspace/infra/wuji"), @r#"
    .nickel-modules/
    .nickel-modules/provisioning_core -> ../../../../schemas
    .nickel-modules/upcloud_prov -> ../../../../extensions/providers/upcloud/nickel
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
      | upcloud_prov = { path = "./.nickel-modules/upcloud_prov" }
      | provisioning_core = { path = "./.nickel-modules/provisioning_core" }
    providers.manifest.yaml:
      | # Written by `provisioning`; keep it in git.
      | # `provisioning providers sync <infra>` rebuilds the infra's modules from this file.
      | format_version: 1
      | providers:
      | - name: provisioning_core
      |   module: provisioning_core
      |   kind: core
      |   mode: link
      |   version: 0.1.0
      |   source: schemas
      |   required_by:
      |   - upcloud_prov
      |   direct: false
      | - name: upcloud
      |   module: upcloud_prov
      |   mode: link
      |   version: 0.0.1
      |   source: extensions/providers/upcloud/nickel
    "#);
    // The link is relative and resolves to the live source.
    let link = context.path("workspace/infra/wuji/.nickel-modules/upcloud_prov");
    assert!(std::fs::read_link(&link).expect("a link").is_relative());
    assert_eq!(
        link.canonicalize().expect("resolves"),
        context.path("extensions/providers/upcloud/nickel")
    );
}

#[test]
fn installing_twice_is_harmless() {
    let context = TestContext::examples();
    context
        .run(["providers", "install", "upcloud", "wuji"])
        .success();
    let before = context.tree("workspace/infra/wuji");
    assert_snapshot!(context.run(["providers", "install", "upcloud", "wuji"]), @"
    exit: 0
    --- stdout
    --- stderr
       Unchanged `upcloud_prov` 0.0.1 is already installed in `wuji`
    ");
    assert_eq!(context.tree("workspace/infra/wuji"), before);
}

#[test]
fn install_into_an_infra_given_as_a_path() {
    let context = TestContext::examples();
    let run = context
        .command()
        .current_dir(context.path("workspace/infra/homelab"))
        .args(["providers", "install", "local", "."])
        .output()
        .expect("runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_snapshot!(context.tree("workspace/infra/homelab"), @r#"
    .nickel-modules/
    .nickel-modules/local_prov -> ../../../../extensions/providers/local/nickel
    manifest.toml:
      | [package]
      | name = "homelab"
      | version = "0.1.0"
      | 
      | [dependencies]
      | local_prov = { path = "./.nickel-modules/local_prov" }
    providers.manifest.yaml:
      | # Written by `provisioning`; keep it in git.
      | # `provisioning providers sync <infra>` rebuilds the infra's modules from this file.
      | format_version: 1
      | providers:
      | - name: local
      |   module: local_prov
      |   mode: link
      |   version: 0.2.0
      |   source: extensions/providers/local/nickel
    "#);
}

#[test]
fn install_creates_a_missing_manifest() {
    let context = TestContext::examples();
    std::fs::create_dir_all(context.path("workspace/infra/fresh")).expect("mkdir");
    context
        .run(["providers", "install", "aws", "fresh"])
        .success();
    assert_snapshot!(context.read("workspace/infra/fresh/manifest.toml"), @r#"
    [package]
    name = "fresh"
    version = "0.1.0"

    [dependencies]
    aws_prov = { path = "./.nickel-modules/aws_prov" }
    provisioning_core = { path = "./.nickel-modules/provisioning_core" }
    "#);
}

#[test]
fn install_with_kcl_uses_the_legacy_layout() {
    let context = TestContext::examples();
    assert_snapshot!(context.run(["providers", "install", "upcloud", "homelab", "--kcl"]), @"
    exit: 0
    --- stdout
    --- stderr
       Installed `upcloud_prov` 0.0.1 into `homelab` (link to `extensions/providers/upcloud/kcl`)
    ");
    assert_snapshot!(context.tree("workspace/infra/homelab"), @r#"
    .kcl-modules/
    .kcl-modules/upcloud_prov -> ../../../../extensions/providers/upcloud/kcl
    kcl.mod:
      | [package]
      | name = "homelab"
      | version = "0.1.0"
      | 
      | [dependencies]
      | upcloud_prov = { path = "./.kcl-modules/upcloud_prov" }
    manifest.toml:
      | [package]
      | name = "homelab"
      | version = "0.1.0"
    providers.manifest.yaml:
      | # Written by `provisioning`; keep it in git.
      | # `provisioning providers sync <infra>` rebuilds the infra's modules from this file.
      | format_version: 1
      | providers:
      | - name: upcloud
      |   module: upcloud_prov
      |   mode: link
      |   version: 0.0.1
      |   source: extensions/providers/upcloud/kcl
      |   layout: kcl
    "#);
    assert_snapshot!(context.run(["providers", "install", "aws", "homelab", "--kcl"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: provider `aws` cannot be installed: no `kcl/` package
    ");
}

#[test]
fn unknown_provider_lists_the_known_ones_and_creates_nothing() {
    let context = TestContext::examples();
    let before = context.tree("");
    assert_snapshot!(context.run(["providers", "install", "gcp", "wuji"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: unknown provider `gcp`
    hint: found providers: `aws`, `local`, `upcloud`
    ");
    assert_eq!(context.tree(""), before);
}

#[test]
fn unknown_infra_lists_the_known_ones_and_creates_nothing() {
    let context = TestContext::examples();
    let before = context.tree("");
    assert_snapshot!(context.run(["providers", "install", "upcloud", "nowhere"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: unknown infra `nowhere`
    hint: found infras: `homelab`, `wuji`
    ");
    assert_snapshot!(context.run(["providers", "install", "upcloud", "./not/a/dir"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `[BASE]/not/a/dir` is not an infra directory
    ");
    assert_eq!(context.tree(""), before);
}

#[test]
fn invalid_names_are_usage_errors_and_touch_nothing() {
    let context = TestContext::examples();
    let before = context.tree("");
    assert_snapshot!(context.run(["providers", "install", "../x", "wuji"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value '../x' for '<PROVIDER>': `../x` is not a valid name: it must start with a lower-case letter or digit and hold only `a-z`, `0-9`, `_` and `-`

    For more information, try '--help'.
    ");
    assert_snapshot!(context.run(["providers", "install", "", "wuji"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value '' for '<PROVIDER>': a name cannot be empty

    For more information, try '--help'.
    ");
    assert_snapshot!(context.run(["providers", "install", "up cloud", "wuji"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value 'up cloud' for '<PROVIDER>': `up cloud` is not a valid name: it must start with a lower-case letter or digit and hold only `a-z`, `0-9`, `_` and `-`

    For more information, try '--help'.
    ");
    assert_snapshot!(context.run(["providers", "install", "upcloud", "Wu Ji"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: invalid infra name: `Wu Ji` is not a valid name: it must start with a lower-case letter or digit and hold only `a-z`, `0-9`, `_` and `-`
    hint: a name under the workspace's `infra/`, or a path containing `/`
    ");
    assert_eq!(context.tree(""), before);
}

#[test]
fn malformed_manifest_is_reported_with_its_line_and_left_as_it_was() {
    let context = TestContext::examples();
    let broken = "[package]\nname = \"wuji\"\n\n[dependencies\nupcloud_prov = 1\n";
    context.write("workspace/infra/wuji/manifest.toml", broken);
    let before = context.tree("workspace/infra/wuji");
    assert_snapshot!(context.run(["providers", "install", "upcloud", "wuji"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `upcloud` into `wuji`
      caused by: `[BASE]/workspace/infra/wuji/manifest.toml` is not valid TOML: line 4, column 14: unclosed table, expected `]`
    ");
    assert_eq!(context.tree("workspace/infra/wuji"), before);
    assert_eq!(context.read("workspace/infra/wuji/manifest.toml"), broken);
}

#[test]
fn malformed_lock_is_reported_with_its_line_and_left_as_it_was() {
    let context = TestContext::examples();
    let broken = "format_version: 1\nproviders:\n  - name: aws\n    module: [aws_prov\n";
    context.write("workspace/infra/wuji/providers.manifest.yaml", broken);
    let before = context.tree("workspace/infra/wuji");
    assert_snapshot!(context.run(["providers", "install", "upcloud", "wuji"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `upcloud` into `wuji`
      caused by: `[BASE]/workspace/infra/wuji/providers.manifest.yaml` is not a valid providers manifest: providers[0].module: invalid type: sequence, expected a string at line 4 column 13
    ");
    assert_eq!(context.tree("workspace/infra/wuji"), before);
    assert_snapshot!(context.run(["providers", "installed", "wuji"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `[BASE]/workspace/infra/wuji/providers.manifest.yaml` is not a valid providers manifest: providers[0].module: invalid type: sequence, expected a string at line 4 column 13
    ");
}

#[test]
fn a_directory_where_the_link_goes_is_refused_then_replaced_with_force() {
    let context = TestContext::examples();
    context.write(
        "workspace/infra/wuji/.nickel-modules/upcloud_prov/precious.ncl",
        "{}",
    );
    let before = context.tree("workspace/infra/wuji");
    assert_snapshot!(context.run(["providers", "install", "upcloud", "wuji"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `upcloud` into `wuji`
      caused by: `[BASE]/workspace/infra/wuji/.nickel-modules/upcloud_prov` is a directory, not a link; refusing to replace it
    hint: move it away, or pass `--force` to replace it
    ");
    assert_eq!(context.tree("workspace/infra/wuji"), before);
    context
        .run(["providers", "install", "upcloud", "wuji", "--force"])
        .success();
    let link = context.path("workspace/infra/wuji/.nickel-modules/upcloud_prov");
    assert!(
        link.symlink_metadata()
            .expect("exists")
            .file_type()
            .is_symlink()
    );
    let mut leftovers: Vec<_> =
        std::fs::read_dir(context.path("workspace/infra/wuji/.nickel-modules"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
    leftovers.sort();
    assert_eq!(
        leftovers,
        ["provisioning_core", "upcloud_prov"],
        "the replaced directory leaves nothing behind (the dependency is linked beside it)"
    );
}

#[test]
fn a_link_where_the_modules_directory_goes_is_refused() {
    let context = TestContext::examples();
    std::os::unix::fs::symlink(
        "../../../extensions",
        context.path("workspace/infra/wuji/.nickel-modules"),
    )
    .expect("symlink");
    let before = context.tree("workspace/infra/wuji");
    assert_snapshot!(context.run(["providers", "install", "upcloud", "wuji"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `upcloud` into `wuji`
      caused by: `[BASE]/workspace/infra/wuji/.nickel-modules` is a symlink (to `../../../extensions`), expected a directory
    hint: remove it; `provisioning` keeps one link per module inside a real `.nickel-modules` directory
    ");
    assert_eq!(context.tree("workspace/infra/wuji"), before);
}

#[test]
fn a_provider_whose_package_is_broken_is_not_installed() {
    let context = TestContext::examples();
    context.write(
        "extensions/providers/broken/nickel/manifest.toml",
        "[package]\nname = \"broken_prov\"\nversion = \"0.0.1\"\nentry = \"../escape.ncl\"\n",
    );
    let before = context.tree("workspace");
    assert_snapshot!(context.run(["providers", "install", "broken", "wuji"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: provider `broken` cannot be installed: `[BASE]/extensions/providers/broken/nickel/manifest.toml`: the entry point `../escape.ncl` must be a path inside the package
    ");
    assert_eq!(context.tree("workspace"), before);
}

#[test]
fn eight_concurrent_installs_into_one_infra_all_land() {
    let context = TestContext::new();
    context.infra("wuji");
    let names: Vec<String> = (0..8).map(|i| format!("p{i}")).collect();
    for name in &names {
        context.provider(name).create();
    }
    let commands: Vec<Vec<String>> = names
        .iter()
        .map(|name| {
            ["providers", "install", name, "wuji"]
                .map(String::from)
                .to_vec()
        })
        .collect();
    for run in context.run_concurrently(&commands) {
        run.success();
    }
    let lock = context.read("workspace/infra/wuji/providers.manifest.yaml");
    let manifest = context.read("workspace/infra/wuji/manifest.toml");
    for name in &names {
        assert!(
            lock.contains(&format!("- name: {name}\n")),
            "{name} missing from the lock:\n{lock}"
        );
        assert!(
            manifest.contains(&format!(
                "{name}_prov = {{ path = \"./.nickel-modules/{name}_prov\" }}"
            )),
            "{name} missing from manifest.toml:\n{manifest}"
        );
        assert!(
            context
                .path(&format!(
                    "workspace/infra/wuji/.nickel-modules/{name}_prov/main.ncl"
                ))
                .is_file()
        );
    }
    context.run(["providers", "validate", "wuji"]).success();
}
