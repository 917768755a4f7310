//! Configuration layering as users see it.

use insta::assert_snapshot;

use crate::common::TestContext;

#[test]
fn the_workspace_can_move_through_the_environment() {
    let context = TestContext::examples();
    std::fs::rename(context.path("workspace"), context.path("elsewhere")).expect("move");
    let output = context
        .command()
        .env("PROVISIONING_PATHS_WORKSPACE", "{{paths.base}}/elsewhere")
        .args(["providers", "install", "upcloud", "wuji"])
        .output()
        .expect("runs");
    crate::common::assert_success(&output);
    assert!(
        context
            .path("elsewhere/infra/wuji/.nickel-modules/upcloud_prov/main.ncl")
            .is_file()
    );
}

#[test]
fn a_user_config_can_rename_the_modules_directory() {
    let context = TestContext::examples();
    context.write("user.toml", "[nickel]\nmodules_dir = \"modules\"\n");
    context
        .run([
            "--config",
            "user.toml",
            "providers",
            "install",
            "upcloud",
            "wuji",
        ])
        .success();
    assert!(
        context
            .path("workspace/infra/wuji/modules/upcloud_prov/main.ncl")
            .is_file()
    );
    assert!(
        context
            .read("workspace/infra/wuji/manifest.toml")
            .contains("upcloud_prov = { path = \"./modules/upcloud_prov\" }")
    );
}

#[test]
fn config_errors_name_the_key_and_the_file() {
    let context = TestContext::examples();
    context.write("user.toml", "[paths]\nworkspace = \"{{paths.nope}}/ws\"\n");
    assert_snapshot!(context.run(["--config", "user.toml", "providers", "list"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to load the configuration
      caused by: `{{paths.nope}}` in `paths.workspace` (`[BASE]/user.toml`) refers to an unknown configuration key
    ");
    context.write(
        "config/config.defaults.toml",
        "[distribution]\npack_pth = \"x\"\n",
    );
    assert_snapshot!(context.run(["providers", "list"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to load the configuration
      caused by: unknown configuration key `distribution.pack_pth` in `[BASE]/config/config.defaults.toml`
    ");
    context.write(
        "config/config.defaults.toml",
        "[paths]\nbase = \"{{paths.extensions}}/..\"\n",
    );
    assert_snapshot!(context.run(["providers", "list"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to load the configuration
      caused by: configuration keys refer to each other in a cycle: paths.base → paths.extensions → paths.base
    ");
}

#[test]
fn a_typo_in_registry_type_is_a_config_error_naming_the_file() {
    let context = TestContext::examples();
    context.write("user.toml", "[distribution]\nregistry_type = \"ocl\"\n");
    assert_snapshot!(context.run(["--config", "user.toml", "providers", "list"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to load the configuration
      caused by: configuration key `distribution.registry_type` in `[BASE]/user.toml`: unknown variant `ocl`, expected one of `local`, `oci`, `http`
    ");
}

/// Regression (issue 19): a typo in `core_package_name` silently disabled the core schemas
/// (the name was parsed with `.ok()` where the catalog was built); `core_version` and
/// `registry_url` were parsed only where used. Each is an error when the configuration loads.
#[test]
fn values_that_name_nothing_are_config_errors_naming_the_key_and_the_file() {
    let context = TestContext::examples();
    let run = |text: &str| {
        context.write("user.toml", text);
        context.run(["--config", "user.toml", "providers", "list"])
    };
    assert_snapshot!(run("[nickel]\ncore_package_name = \"provisioning core\"\n"), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to load the configuration
      caused by: configuration key `nickel.core_package_name` in `[BASE]/user.toml`: `provisioning core` is not a valid name: it must start with a lower-case letter or digit and hold only `a-z`, `0-9`, `_` and `-`
    ");
    assert_snapshot!(run("[nickel]\ncore_version = \"0.1\"\n"), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to load the configuration
      caused by: configuration key `nickel.core_version` in `[BASE]/user.toml`: `0.1` is not a version
    hint: give an exact version, `MAJOR.MINOR.PATCH`: `1.2.3`, or `1.2.3-rc.1` for a pre-release
    ");
    assert_snapshot!(run("[nickel]\nmodules_dir = \"../shared\"\n"), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to load the configuration
      caused by: configuration key `nickel.modules_dir` in `[BASE]/user.toml`: `../shared` is not a directory inside an infra
    hint: a relative name such as `.nickel-modules`, without `..`
    ");
    assert_snapshot!(run("[distribution]\nregistry_type = \"oci\"\nregistry_url = \"oci://127.0.0.1:5000\"\n"), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to load the configuration
      caused by: configuration key `distribution.registry_url` in `[BASE]/user.toml`: `oci://127.0.0.1:5000` is not a registry URL: it has no namespace
    hint: `oci://host[:port]/namespace`, e.g. `oci://127.0.0.1:5000/provisioning`
    ");
    assert_snapshot!(run("[distribution]\nregistry_type = \"oci\"\n"), @r#"
    exit: 1
    --- stdout
    --- stderr
    error: failed to load the configuration
      caused by: configuration key `distribution.registry_type` in `[BASE]/user.toml`: `oci` needs `distribution.registry_url`, which is empty
    hint: set `registry_url = "oci://host[:port]/namespace"` in `[distribution]`, or `PROVISIONING_DISTRIBUTION_REGISTRY_URL`
    "#);
    assert_snapshot!(run("[paths]\nworkspace = \"\"\n"), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to load the configuration
      caused by: configuration key `paths.workspace` in `[BASE]/user.toml`: a path cannot be empty
    hint: `.` is the base directory
    ");
}

/// `[[distribution.registries]]` mistakes are configuration errors naming the key, the entry
/// and the file, before any registry is asked; one layer giving both the list and the single
/// keys says it one way too many.
#[test]
fn registry_list_errors_name_the_entry() {
    let context = TestContext::examples();
    let entry = |name: &str, kind: &str, place: &str| {
        format!("[[distribution.registries]]\nname = \"{name}\"\ntype = \"{kind}\"\n{place}\n")
    };
    let oci = "url = \"oci://127.0.0.1:5000/p\"";
    let cases = [
        entry("mirror", "oci", oci) + &entry("mirror", "oci", oci),
        entry("mirror", "local", oci),
        entry("Mirror", "oci", oci),
        entry("mirror", "ftp", oci),
        format!(
            "[distribution]\nregistry_type = \"oci\"\nregistry_url = \"oci://127.0.0.1:5000/p\"\n{}",
            entry("mirror", "oci", oci)
        ),
    ];
    let mut outputs = Vec::new();
    for case in cases {
        context.write("user.toml", &case);
        outputs.push(
            context
                .run(["--config", "user.toml", "registry", "list"])
                .to_string(),
        );
    }
    assert_snapshot!(outputs.join("\n"), @"
        exit: 1
        --- stdout
        --- stderr
        error: failed to load the configuration
          caused by: configuration key `distribution.registries` in `[BASE]/user.toml`: entry 2: the name `mirror` is given twice: each registry needs its own

        exit: 1
        --- stdout
        --- stderr
        error: failed to load the configuration
          caused by: configuration key `distribution.registries` in `[BASE]/user.toml`: entry 1: `mirror` is `local`: it needs a `path` (a `distribution/` directory), and no `url`

        exit: 1
        --- stdout
        --- stderr
        error: failed to load the configuration
          caused by: configuration key `distribution.registries` in `[BASE]/user.toml`: entry 1: `Mirror` is not a valid name: it must start with a lower-case letter or digit and hold only `a-z`, `0-9`, `_` and `-`

        exit: 1
        --- stdout
        --- stderr
        error: failed to load the configuration
          caused by: configuration key `distribution.registries` in `[BASE]/user.toml`: entry 1: unknown variant `ftp`, expected one of `local`, `oci`, `http`

        exit: 1
        --- stdout
        --- stderr
        error: failed to load the configuration
          caused by: configuration key `distribution.registries` in `[BASE]/user.toml`: `registry_type`/`registry_url` and `[[distribution.registries]]` are both set here: say it one way
        hint: make the single registry an entry of the list
        ");
}

/// With two remote registries configured, a command that writes to one asks which.
#[test]
fn publishing_with_two_remote_registries_asks_which() {
    let context = TestContext::examples();
    context.write(
        "user.toml",
        "[[distribution.registries]]\nname = \"mirror\"\ntype = \"oci\"\nurl = \"oci://127.0.0.1:5000/mirror\"\n[[distribution.registries]]\nname = \"upstream\"\ntype = \"oci\"\nurl = \"oci://127.0.0.1:5000/p\"\n",
    );
    assert_snapshot!(context.run(["--config", "user.toml", "pack", "publish"]), @"
        exit: 1
        --- stdout
        --- stderr
        error: the configuration names several remote registries (`mirror`, `upstream`): this command writes to one
        hint: say which with `--registry NAME`
        ");
}
