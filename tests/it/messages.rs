//! What a user reads when a command is given something wrong: each message names what it is
//! about (the module, the version, the file) and, when there is one, the next step.

use insta::assert_snapshot;

use crate::common::TestContext;

/// Regression: `pack --version` and `module@version` showed semver's parser errors
/// ("unexpected character 'l' while parsing major version number").
#[test]
fn a_version_that_does_not_parse_says_what_a_version_looks_like() {
    let context = TestContext::examples();
    assert_snapshot!(context.run(["pack", "provider", "aws", "--version", "latest"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value 'latest' for '--version <V>': `latest` is not a version
    hint: give an exact version, `MAJOR.MINOR.PATCH`: `1.2.3`, or `1.2.3-rc.1` for a pre-release

    For more information, try '--help'.
    ");
    assert_snapshot!(context.run(["pack", "core", "--version", "1.2"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value '1.2' for '--version <V>': `1.2` is not a version
    hint: give an exact version, `MAJOR.MINOR.PATCH`: `1.2.3`, or `1.2.3-rc.1` for a pre-release

    For more information, try '--help'.
    ");
    assert_snapshot!(context.run(["pack", "providers", "--version", "latest"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value 'latest' for '--version <V>': `latest` is not a version
    hint: give an exact version, `MAJOR.MINOR.PATCH`: `1.2.3`, or `1.2.3-rc.1` for a pre-release

    For more information, try '--help'.
    ");
    assert_snapshot!(context.run(["pack", "verify", "aws_prov@latest"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: `aws_prov@latest`: `latest` is not a version
    hint: give an exact version, `MAJOR.MINOR.PATCH`: `1.2.3`, or `1.2.3-rc.1` for a pre-release
    ");
    assert_snapshot!(context.run(["pack", "yank", "aws_prov@"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value 'aws_prov@' for '<PACK>': `aws_prov@`: the version is empty
    hint: give an exact version, `MAJOR.MINOR.PATCH`: `1.2.3`, or `1.2.3-rc.1` for a pre-release

    For more information, try '--help'.
    ");

    assert_snapshot!(context.run(["providers", "install", "aws", "wuji", "--version", "latest"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value 'latest' for '--version <V|REQ>': `latest` is neither a version nor a version requirement
    hint: give an exact version (`1.2.3`) or a version requirement in Cargo's syntax: `0.1` (meaning `^0.1`), `^1.2`, `~1.2.3`, `=1.2.3`, `>=1.0, <2.0` or `*`

    For more information, try '--help'.
    ");
}

/// Regression: a `.pub` file that does not exist was read as a base64 key ("base64 conversion
/// failed").
#[test]
fn keys_trust_of_a_missing_file_says_no_such_file() {
    let context = TestContext::examples();
    assert_snapshot!(context.run(["keys", "trust", "/nonexistent.pub"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: no such file `/nonexistent.pub`
    hint: give a minisign `.pub` file, or the public key itself (`RW...`, the second line of a `.pub` file)
    ");
    context.write("notes.txt", "not a key\n");
    assert_snapshot!(context.run(["keys", "trust", "notes.txt"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `notes.txt` is not a minisign key: base64 conversion failed - was an actual public key given?
    ");
}

/// Regression: `registry list <module>` of a module the registry lacks printed "no packs in
/// `distribution/registry`" and exited 0, naming neither the module nor what is there.
#[test]
fn registry_list_of_an_unknown_module_names_it() {
    let context = TestContext::examples();
    assert_snapshot!(context.run(["registry", "list", "aws_prov"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: no packs of `aws_prov` in the registry `distribution/registry`
    hint: it holds no packs
    ");
    context.run(["pack", "core"]).success();
    context.run(["pack", "provider", "aws"]).success();
    assert_snapshot!(context.run(["registry", "list", "nosuch_prov"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: no packs of `nosuch_prov` in the registry `distribution/registry`
    hint: modules there: `aws_prov`, `provisioning_core`
    ");
    assert_snapshot!(context.run(["registry", "list", "aws"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: no packs of `aws` in the registry `distribution/registry`
    hint: the provider `aws` is packed as `aws_prov`: `provisioning registry list aws_prov`
    ");
}

/// Regression: a provider's name where its module is meant (`pack yank aws@1.0.0`) got the
/// hint to pack `aws`, not the pack meant.
#[test]
fn a_provider_name_where_a_module_is_meant_names_the_module() {
    let context = TestContext::examples().packed(&["core", "provider aws"]);
    assert_snapshot!(context.run(["pack", "yank", "aws@1.0.0"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: no packs of `aws` in the registry `distribution/registry`
    hint: the provider `aws` is packed as `aws_prov`: `aws_prov@1.0.0`
    ");
    assert_snapshot!(context.run(["pack", "verify", "aws@1.0.0"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: no packs of `aws` in the registry `distribution/registry`
    hint: the provider `aws` is packed as `aws_prov`: `aws_prov@1.0.0`
    ");
    assert_snapshot!(context.run(["pack", "yank", "nosuch@1.0.0"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: no packs of `nosuch` in the registry `distribution/registry`
    hint: pack it first: `provisioning pack taskserv nosuch` (or `pack cluster nosuch`)
    ");
}

/// Regression: `pack verify`'s hint for an unsigned pack named `--allow-unsigned`, which `pack
/// verify` does not take (`install` does, and its hint still names it: `vendor.rs`).
#[test]
fn pack_verify_of_an_unsigned_pack_hints_only_at_signing() {
    let context = TestContext::examples().packed(&["provider local"]);
    assert_snapshot!(context.run(["pack", "verify", "local_prov@0.2.0"]), @"
    exit: 1
    --- stdout
    CHECK         STATUS  DETAIL
    size          ok      5632
    sha256        ok      07aedecd33a32252f35c71ace26b8990379cbab92837c10a26757f9990bcebe3
    content hash  ok      h1:gezkUb4dMRo4XJyOdeinAT21mZpqXSBCpQNfSVlF8ao=
    signature     FAILED  the artifact is not signed
    --- stderr
    error: signature: the artifact is not signed
    hint: sign packs with a key (`provisioning keys generate`, then pack again)
    error: `local_prov` 0.2.0 failed verification (signature)
    ");
    assert_snapshot!(context.run(["pack", "verify", "local_prov@0.2.0", "--allow-unsigned"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: unexpected argument '--allow-unsigned' found

      tip: to pass '--allow-unsigned' as a value, use '-- --allow-unsigned'

    Usage: provisioning pack verify <TARGET>

    For more information, try '--help'.
    ");
}

/// Regression: `info --kcl` listed an infra that uses the provider's Nickel package as if it
/// used the KCL one: each use now says which package.
#[test]
fn info_says_which_layout_each_infra_uses() {
    let context = TestContext::examples().installed("wuji", &["upcloud"]);
    context
        .run(["providers", "install", "upcloud", "homelab", "--kcl"])
        .success();
    assert_snapshot!(context.run(["providers", "info", "upcloud", "--kcl"]), @"
    exit: 0
    --- stdout
    FIELD            VALUE
    name             upcloud
    module           upcloud_prov
    package          upcloud_prov
    version          0.0.1
    description      UpCloud servers (legacy KCL layout)
    dependencies     -
    path             extensions/providers/upcloud
    entry            extensions/providers/upcloud/kcl/main.k
    files            kcl.mod, main.k
    packed versions  -
    used by          homelab (link 0.0.1, kcl), wuji (link 0.0.1, nickel)
    --- stderr
    ");
}

/// Regression: `update` of an infra of links only said "every pin ... is as new as its
/// requirements allow", where `outdated` says it has no pinned packs.
#[test]
fn update_and_outdated_agree_on_an_infra_without_pins() {
    let context = TestContext::examples_installed();
    assert_snapshot!(context.run(["providers", "outdated", "wuji"]), @"
    exit: 0
    --- stdout
    no pinned packs in `wuji`
    --- stderr
    ");
    assert_snapshot!(context.run(["providers", "update", "wuji"]), @"
    exit: 0
    --- stdout
    --- stderr
       Unchanged `wuji`: no pinned packs to update
    ");
}

/// Regression: errors in registry metadata were serde's and semver's ("invalid type: integer
/// `1`, expected semver version", "unexpected character 'x' while parsing minor version
/// number"), with the position last and no field: now the field, and what it must be.
#[test]
fn registry_metadata_errors_name_the_field_and_what_it_must_be() {
    let context = TestContext::examples().packed(&["core", "provider aws"]);
    let path = "distribution/registry/aws_prov.json";
    let good: serde_json::Value = serde_json::from_str(&context.read(path)).expect("json");
    let mut version = good.clone();
    version["versions"][0]["version"] = "1.x".into();
    let mut requirement = good.clone();
    requirement["versions"][0]["dependencies"]["provisioning_core"] = "latest".into();
    let mut size = good;
    size["versions"][0]["size"] = "big".into();
    let list_with = |broken: &serde_json::Value| {
        context.write(path, &serde_json::to_string_pretty(broken).expect("json"));
        context.run(["registry", "list", "aws_prov"])
    };
    assert_snapshot!(list_with(&version), @"
    exit: 1
    --- stdout
    --- stderr
    error: `[BASE]/distribution/registry/aws_prov.json` is not valid registry metadata: line 23, column 5: `versions[0].version`: `1.x` is not a version (`MAJOR.MINOR.PATCH`, e.g. `1.2.3`)
    ");
    assert_snapshot!(list_with(&requirement), @"
    exit: 1
    --- stdout
    --- stderr
    error: `[BASE]/distribution/registry/aws_prov.json` is not valid registry metadata: line 16, column 7: `versions[0].dependencies`: `provisioning_core`: `latest` is not a version requirement in Cargo's syntax: `0.1` (meaning `^0.1`), `^1.2`, `~1.2.3`, `=1.2.3`, `>=1.0, <2.0` or `*`
    ");
    assert_snapshot!(list_with(&size), @r#"
    exit: 1
    --- stdout
    --- stderr
    error: `[BASE]/distribution/registry/aws_prov.json` is not valid registry metadata: line 21, column 19: `versions[0].size`: expected a whole number (0 or more), found string "big"
    "#);
}

/// Regression: a malformed `--field` path and `--format toml` of an array both said "`main.ncl`
/// does not evaluate", blaming a file that evaluates fine.
#[test]
fn export_says_what_is_wrong_with_the_field_or_the_format() {
    let context = TestContext::examples_installed();
    assert_snapshot!(context.run(["export", "wuji", "--field", "servers.0.plan"]), @r#"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value 'servers.0.plan' for '--field <PATH>': `servers.0.plan`: `0` is not a field name: a field path cannot index an array (export the array, `servers`, and pick the item from the output)
    hint: a field path names record fields separated by `.`: `servers`, `network.zone`, `"a field".name`

    For more information, try '--help'.
    "#);
    assert_snapshot!(context.run(["export", "wuji", "--format", "toml", "--field", "servers"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: the value of `[BASE]/workspace/infra/wuji/main.ncl` at `--field servers` cannot be written as TOML: it is an array, and a TOML document is a table (a record)
    hint: JSON and YAML hold any value (`--format json`), or pick a record field with `--field`
    ");
    let missing = context.run(["export", "wuji", "--field", "nosuch"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.starts_with(
            "error: `[BASE]/workspace/infra/wuji/main.ncl` has no value at `--field nosuch`:"
        ),
        "{missing}"
    );
}

/// Regression: a file given where the infra goes said "invalid infra name" or "is not an infra
/// directory" with no hint, and a missing FILE's hint repeated the command just run.
#[test]
fn export_of_a_file_points_to_export_infra_file() {
    let context = TestContext::examples_installed();
    assert_snapshot!(context.run(["export", "workspace/infra/wuji/main.ncl"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: `workspace/infra/wuji/main.ncl` is a file, not an infra
    hint: `export` takes the infra, then the file in it: `provisioning export wuji main.ncl`
    ");
    let mut in_the_infra = context.command();
    in_the_infra
        .current_dir(context.path("workspace/infra/wuji"))
        .args(["export", "main.ncl"]);
    let run =
        crate::common::Run::from_output(in_the_infra.output().expect("run"), &context.base, &[]);
    assert_snapshot!(run, @"
    exit: 2
    --- stdout
    --- stderr
    error: `main.ncl` is a file, not an infra
    hint: `export` takes the infra, then the file in it: `provisioning export wuji main.ncl`
    ");
    assert_snapshot!(context.run(["export", "wuji", "defs/servers.ncl"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `defs/servers.ncl` is not a file of the infra `wuji` (looked for `[BASE]/workspace/infra/wuji/defs/servers.ncl`)
    hint: FILE is relative to the infra directory; its Nickel files: `main.ncl`, `providers.ncl`
    ");
}

/// Regression: `keys list` and `keys public` outside a base failed with "no provisioning base
/// found": keys belong to the user.
#[test]
fn keys_work_outside_a_base() {
    let context = TestContext::new();
    let outside = context.base.parent().expect("temp root").join("elsewhere");
    std::fs::create_dir_all(&outside).expect("mkdir");
    let keys = |args: &[&str]| {
        let mut command = context.command();
        command.current_dir(&outside).args(args);
        crate::common::Run::from_output(command.output().expect("run"), &context.base, &[])
    };
    assert_snapshot!(keys(&["keys", "list"]), @"
    exit: 0
    --- stdout
    no trusted keys
    hint: `provisioning keys generate`, or `provisioning keys trust <file>`
    --- stderr
    ");
    assert_eq!(keys(&["keys", "generate"]).code, 0);
    assert_eq!(keys(&["keys", "public"]).code, 0);
    assert_eq!(keys(&["keys", "list", "--format", "json"]).code, 0);
}

/// Regression: `providers install upcloud_prov wuji` listed the providers without saying that
/// `upcloud` was meant.
#[test]
fn a_providers_module_name_names_the_provider() {
    let context = TestContext::examples();
    assert_snapshot!(context.run(["providers", "install", "upcloud_prov", "wuji"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: unknown provider `upcloud_prov`
    hint: `upcloud_prov` is the module of the provider `upcloud`: commands name a provider `upcloud`
    ");
}

/// Regression: `providers install containerd wuji` said "unknown provider" and listed the
/// providers, though `containerd` is a taskserv of the base: it says so, with the command.
#[test]
fn installing_a_taskserv_as_a_provider_names_its_kind_and_the_command() {
    let context = TestContext::examples();
    assert_snapshot!(context.run_unchanged("workspace/infra/wuji", ["providers", "install", "containerd", "wuji"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `containerd` is a taskserv, not a provider
    hint: `provisioning module-loader load taskservs wuji containerd`
    ");
    assert_snapshot!(context.run(["providers", "install", "web", "wuji"]).stderr, @"
    error: `web` is a cluster, not a provider
    hint: `provisioning module-loader load clusters wuji web`
    ");
}
