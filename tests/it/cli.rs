//! The command line itself: invocation names, exit codes, completions, man page, base discovery.

use insta::assert_snapshot;

use crate::common::{BIN, TestContext};

#[test]
fn a_link_named_module_loader_behaves_as_the_subcommand() {
    let context = TestContext::examples();
    let link = context
        .base
        .parent()
        .expect("temp root")
        .join("module-loader");
    std::os::unix::fs::symlink(BIN, &link).expect("symlink");
    // Run by its path, as the guide's `./provisioning/core/cli/module-loader` is.
    let output = std::process::Command::new(&link)
        .current_dir(&context.base)
        .env("NO_COLOR", "1")
        .args(["discover", "providers", "up"])
        .output()
        .expect("run through the link");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_snapshot!(String::from_utf8_lossy(&output.stdout), @"
    NAME     CATEGORY  VERSION  DESCRIPTION                            PATH
    upcloud  -         0.0.1    UpCloud servers, networks and storage  extensions/providers/upcloud
    ");
}

/// The guide's scenarios run `providers install upcloud homelab` as a command of its own.
#[test]
fn a_link_named_providers_runs_the_guides_commands_as_written() {
    let context = TestContext::examples();
    let link = context.base.parent().expect("temp root").join("providers");
    std::os::unix::fs::symlink(BIN, &link).expect("symlink");
    let output = std::process::Command::new(&link)
        .current_dir(&context.base)
        .env("NO_COLOR", "1")
        .args(["install", "local", "homelab"])
        .output()
        .expect("run through the link");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        context
            .path("workspace/infra/homelab/.nickel-modules/local_prov")
            .is_symlink()
    );
}

#[test]
fn usage_errors_exit_2() {
    let context = TestContext::examples();
    assert_snapshot!(context.run(["providers", "frobnicate"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: unrecognized subcommand 'frobnicate'

    Usage: provisioning providers [OPTIONS] <COMMAND>

    For more information, try '--help'.
    ");
    assert_snapshot!(context.run(["providers", "list", "--format", "xml"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value 'xml' for '--format <FORMAT>'
      [possible values: table, json, yaml]

      tip: a similar value exists: 'yaml'

    For more information, try '--help'.
    ");
}

#[test]
fn without_a_base_the_error_says_how_to_name_one() {
    let context = TestContext::new();
    let outside = context.base.parent().expect("temp root").to_path_buf();
    let output = context
        .command()
        .current_dir(&outside)
        .args(["providers", "list"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr =
        String::from_utf8_lossy(&output.stderr).replace(&outside.display().to_string(), "[TEMP]");
    assert_snapshot!(stderr, @"
    error: no provisioning base found in `[TEMP]` or any of its parents
    hint: pass `--base DIR`, set `PROVISIONING`, or run inside a directory holding `extensions/` or `config/config.defaults.toml`
    ");
}

#[test]
fn the_base_is_found_from_a_nested_directory_and_from_the_environment() {
    let context = TestContext::examples();
    let nested = context.path("workspace/infra/wuji");
    let from_nested = context
        .command()
        .current_dir(&nested)
        .args(["providers", "list", "--format", "json"])
        .output()
        .expect("runs");
    let from_env = context
        .command()
        .current_dir(context.base.parent().expect("temp root"))
        .env("PROVISIONING", &context.base)
        .args(["providers", "list", "--format", "json"])
        .output()
        .expect("runs");
    let from_flag = context.run(["providers", "list", "--format", "json"]);
    assert!(from_nested.status.success() && from_env.status.success());
    assert_eq!(
        String::from_utf8_lossy(&from_nested.stdout),
        from_flag.stdout
    );
    assert_eq!(String::from_utf8_lossy(&from_env.stdout), from_flag.stdout);
    assert!(from_flag.stdout.contains("\"upcloud\""));
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    let context = TestContext::new();
    let bash = context.run(["completions", "bash"]);
    bash.success();
    assert!(
        bash.stdout.contains("providers") && bash.stdout.contains("module-loader"),
        "{bash}"
    );
    let zsh = context.run(["completions", "zsh"]);
    assert!(zsh.stdout.contains("#compdef provisioning"), "{zsh}");
    let man = context.run(["man"]);
    man.success();
    assert!(
        man.stdout.starts_with(".ie") || man.stdout.contains(".TH provisioning"),
        "{man}"
    );
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let context = TestContext::examples();
    let mut child = context
        .command()
        .args(["completions", "bash"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait");
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(0));
}

/// Regression: clap listed every similar subcommand, the least similar first, so `lsit`
/// suggested `validate` before `list`.
#[test]
fn a_mistyped_subcommand_suggests_the_closest_one() {
    let context = TestContext::examples();
    assert_snapshot!(context.run(["providers", "lsit"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: unrecognized subcommand 'lsit'

      tip: a similar subcommand exists: 'list'

    Usage: provisioning providers [OPTIONS] <COMMAND>

    For more information, try '--help'.
    ");
}

/// The eight global options sit under their own heading, apart from the subcommand's own.
#[test]
fn a_subcommands_help_lists_the_global_options_apart() {
    let context = TestContext::new();
    assert_snapshot!(context.run(["providers", "install", "--help"]), @"
    exit: 0
    --- stdout
    Install a provider into an infra as a live link (link mode)

    Usage: provisioning providers install [OPTIONS] <PROVIDER> <INFRA>

    Arguments:
      <PROVIDER>  The provider, e.g. `upcloud`
      <INFRA>     The infra: a name under the workspace's `infra/`, or a path (contains `/`, or is `.`)

    Options:
          --force            Replace whatever stands where the link goes (a directory, a stray file)
          --version <V|REQ>  Install a packed version (pack mode) instead of linking the live source:
                             exactly `1.2.3`, or the newest matching a requirement (`^1.2`, `~1.2.3`,
                             `>=1.0, <2.0`, `*`)
          --allow-unsigned   With `--version`: accept an unsigned pack, or one signed by an untrusted
                             key (recorded in the lock)
          --kcl              Use the legacy KCL layout (`kcl/`, `.kcl-modules/`, `kcl.mod`)
      -h, --help             Print help

    Global options:
          --base <DIR>          The provisioning base directory [default: `$PROVISIONING`, else the
                                nearest ancestor holding `config/config.defaults.toml` or `extensions/`]
          --config <FILE>       A user configuration file layered over the defaults [env:
                                PROVISIONING_CONFIG]
          --format <FORMAT>     How to print data on stdout [default: table] [possible values: table,
                                json, yaml]
      -q, --quiet               Print nothing on stderr but errors
      -v, --verbose             Print more about what is done
          --offline             Never use the network
          --registry <URL|DIR>  The registry for this run: `oci://host[:port]/namespace`, or a
                                `distribution/` directory [default: `distribution.registry_type` and
                                `registry_url`]
          --color <COLOR>       When to color status output (`NO_COLOR` turns it off in `auto`)
                                [default: auto] [possible values: auto, always, never]
    --- stderr
    ");
}
