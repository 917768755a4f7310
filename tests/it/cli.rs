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
    crate::common::assert_success(&output);
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
    crate::common::assert_success(&output);
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
      [possible values: table, json, yaml, toml, text, dot, mermaid, cyclonedx, spdx]

      tip: a similar value exists: 'toml'

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
    let _filters = context.filters().bind();
    assert_snapshot!(String::from_utf8_lossy(&output.stderr), @"
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
    assert!(man.stdout.contains(".TH provisioning 1 "), "{man}");
    assert!(
        man.stdout.contains(".SH \"EXIT STATUS\"") && man.stdout.contains(".SH ENVIRONMENT"),
        "{man}"
    );
}

/// Regression: `man` printed the top page alone, whose SUBCOMMANDS section names pages
/// (`provisioning-providers(1)`) that nothing could produce.
#[test]
fn man_output_writes_a_page_per_command_each_with_exit_status_and_environment() {
    let context = TestContext::new();
    let dir = context.base.parent().expect("temp root").join("man/man1");
    let run = context.run(["man", "--output", &dir.display().to_string()]);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("the pages were written")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    let _filters = context.filters().bind();
    assert_snapshot!(format!("{}\n{run}", names.join("\n")), @"
    provisioning-completions.1
    provisioning-env.1
    provisioning-export.1
    provisioning-git-setup.1
    provisioning-git.1
    provisioning-keys-generate.1
    provisioning-keys-list.1
    provisioning-keys-public.1
    provisioning-keys-trust.1
    provisioning-keys.1
    provisioning-lock-merge.1
    provisioning-lock.1
    provisioning-man.1
    provisioning-module-loader-discover.1
    provisioning-module-loader-graph.1
    provisioning-module-loader-init.1
    provisioning-module-loader-installed.1
    provisioning-module-loader-load.1
    provisioning-module-loader-sync.1
    provisioning-module-loader-test.1
    provisioning-module-loader-unload.1
    provisioning-module-loader.1
    provisioning-pack-clean.1
    provisioning-pack-cluster.1
    provisioning-pack-clusters.1
    provisioning-pack-core.1
    provisioning-pack-index.1
    provisioning-pack-list.1
    provisioning-pack-mirror.1
    provisioning-pack-provider.1
    provisioning-pack-providers.1
    provisioning-pack-publish.1
    provisioning-pack-taskserv.1
    provisioning-pack-taskservs.1
    provisioning-pack-verify.1
    provisioning-pack-yank.1
    provisioning-pack.1
    provisioning-providers-audit.1
    provisioning-providers-info.1
    provisioning-providers-install.1
    provisioning-providers-installed.1
    provisioning-providers-list.1
    provisioning-providers-nickel-pkg.1
    provisioning-providers-outdated.1
    provisioning-providers-remove.1
    provisioning-providers-sbom.1
    provisioning-providers-sync.1
    provisioning-providers-test.1
    provisioning-providers-update.1
    provisioning-providers-validate.1
    provisioning-providers.1
    provisioning-registry-list.1
    provisioning-registry-tuf-init.1
    provisioning-registry-tuf-pin.1
    provisioning-registry-tuf-refresh.1
    provisioning-registry-tuf-rotate.1
    provisioning-registry-tuf-status.1
    provisioning-registry-tuf.1
    provisioning-registry.1
    provisioning.1
    exit: 0
    --- stdout
    --- stderr
           Wrote 60 man pages into `[TEMP]/man/man1`
    ");
    let mut references = 0;
    for name in &names {
        let page = std::fs::read_to_string(dir.join(name)).expect("read a page");
        assert!(
            page.contains(".SH \"EXIT STATUS\""),
            "{name} has no EXIT STATUS:\n{page}"
        );
        assert!(
            page.contains(".SH ENVIRONMENT"),
            "{name} has no ENVIRONMENT:\n{page}"
        );
        assert!(
            page.contains("PROVISIONING_REGISTRY_TOKEN"),
            "{name}:\n{page}"
        );
        // Every page a SUBCOMMANDS section names is one of those written.
        for line in page.lines().filter(|line| line.ends_with("(1)")) {
            let file = format!("{}.1", line.trim_end_matches("(1)").replace("\\-", "-"));
            assert!(
                names.contains(&file),
                "{name} names `{line}`, which was not written"
            );
            references += 1;
        }
    }
    assert!(
        references > 20,
        "the SUBCOMMANDS sections were read: {references}"
    );
}

/// The pages render with the system's `man` and groff without a warning, when they are there.
#[test]
fn man_pages_render_with_the_system_man_without_warnings() {
    let available = std::process::Command::new("man")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !available {
        // Optional: the pages are checked as text by the test above.
        return;
    }
    let context = TestContext::new();
    let dir = context.base.parent().expect("temp root").join("man1");
    context
        .run(["man", "--output", &dir.display().to_string()])
        .success();
    let output = std::process::Command::new("man")
        .env("MANWIDTH", "100")
        .arg("--warnings")
        .arg("-l")
        .arg(dir.join("provisioning-providers-install.1"))
        .output()
        .expect("man runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "", "groff warned");
    for heading in ["SYNOPSIS", "GLOBAL OPTIONS", "EXIT STATUS", "ENVIRONMENT"] {
        assert!(text.contains(heading), "no {heading}:\n{text}");
    }
}

#[test]
fn man_help_says_where_the_pages_go() {
    let context = TestContext::new();
    assert_snapshot!(context.run(["man", "--help"]), @"
    exit: 0
    --- stdout
    Print the man page (roff) on stdout, or write one page per subcommand into a directory

    Usage: provisioning man [OPTIONS]

    Options:
          --output <DIR>  Write `provisioning.1` and a page per subcommand
                          (`provisioning-providers-install.1`, ...) into DIR, e.g.
                          `~/.local/share/man/man1`, instead of printing the top page
      -h, --help          Print help

    Global options:
          --base <DIR>               The provisioning base directory [default: `$PROVISIONING`, else the
                                     nearest ancestor holding `config/config.defaults.toml` or
                                     `extensions/`]
          --config <FILE>            A user configuration file layered over the defaults [env:
                                     PROVISIONING_CONFIG]
          --format <FORMAT>          How to print data on stdout (`toml` and `text` are for `export`
                                     only, `dot` and `mermaid` for `module-loader graph`, `cyclonedx`
                                     and `spdx` for `providers sbom`) [default: table] [possible values:
                                     table, json, yaml, toml, text, dot, mermaid, cyclonedx, spdx]
      -q, --quiet                    Print nothing on stderr but errors
      -v, --verbose                  Print more about what is done
          --offline                  Never use the network
          --registry <NAME|URL|DIR>  The only registry for this run: a name of
                                     `[[distribution.registries]]`, `oci://host[:port]/namespace`, a
                                     static HTTP registry (`https://host/path`), or a `distribution/`
                                     directory [default: `distribution.registries` in order, or
                                     `registry_type` and `registry_url`]
          --color <COLOR>            When to color status output (`NO_COLOR` turns it off in `auto`)
                                     [default: auto] [possible values: auto, always, never]
    --- stderr
    ");
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
    Install a provider (or the core schemas, by their name) into an infra: a live link, or a verified
    pack with `--version` or `--from`

    Usage: provisioning providers install [OPTIONS] <PROVIDER> <INFRA>

    Arguments:
      <PROVIDER>  The provider, e.g. `upcloud`
      <INFRA>     The infra: a name under the workspace's `infra/`, or a path (contains `/`, or is `.`)

    Options:
          --force                        Replace whatever stands where the module goes: a directory or
                                         file where the link goes, or a `vendor/<module>` that
                                         `provisioning` did not unpack (its files are lost)
          --version <V|REQ>              Install a packed version (pack mode) instead of linking the
                                         live source: exactly `1.2.3`, or the newest matching a
                                         requirement (`^1.2`, `~1.2.3`, `>=1.0, <2.0`, `*`)
          --allow-unsigned[=<NAMES>...]  With `--version` or `--from`: accept unsigned packs, or packs
                                         signed by an untrusted key (recorded in the lock): of every
                                         module, or with `=NAMES` of the modules named only
                                         (`--allow-unsigned=provisioning_core`, a dependency), the
                                         others still checked
          --accept-signer                With `--version` or `--from`: accept a version signed by
                                         another key than the one that signed the version the infra pins
                                         (the lock then records the new signer); without it, moving such
                                         a pin is refused
          --from <PATH|DIR|URL>          Install from loose artifacts (pack mode), looked in before the
                                         configured registries for the module and its dependencies;
                                         repeatable. An artifact (`aws_prov_1.0.0.tar`, its `.minisig`
                                         beside it), a directory (every `*.tar` in it, checked against a
                                         `SHA256SUMS` there if any), an `https://` URL of an artifact,
                                         or a release URL: a directory on a static host whose
                                         `SHA256SUMS` lists its artifacts. Without `--version`, each
                                         module named is installed at the newest version the artifacts
                                         hold
          --kcl                          Use the legacy KCL layout (`kcl/`, `.kcl-modules/`, `kcl.mod`)
      -h, --help                         Print help

    Global options:
          --base <DIR>               The provisioning base directory [default: `$PROVISIONING`, else the
                                     nearest ancestor holding `config/config.defaults.toml` or
                                     `extensions/`]
          --config <FILE>            A user configuration file layered over the defaults [env:
                                     PROVISIONING_CONFIG]
          --format <FORMAT>          How to print data on stdout (`toml` and `text` are for `export`
                                     only, `dot` and `mermaid` for `module-loader graph`, `cyclonedx`
                                     and `spdx` for `providers sbom`) [default: table] [possible values:
                                     table, json, yaml, toml, text, dot, mermaid, cyclonedx, spdx]
      -q, --quiet                    Print nothing on stderr but errors
      -v, --verbose                  Print more about what is done
          --offline                  Never use the network
          --registry <NAME|URL|DIR>  The only registry for this run: a name of
                                     `[[distribution.registries]]`, `oci://host[:port]/namespace`, a
                                     static HTTP registry (`https://host/path`), or a `distribution/`
                                     directory [default: `distribution.registries` in order, or
                                     `registry_type` and `registry_url`]
          --color <COLOR>            When to color status output (`NO_COLOR` turns it off in `auto`)
                                     [default: auto] [possible values: auto, always, never]
    --- stderr
    ");
}
