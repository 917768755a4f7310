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
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
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
