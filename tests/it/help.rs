//! The help texts say what the commands do: every kind of module, both modes, every kind of
//! registry, and the version `pack core` packs at.

use insta::assert_snapshot;

use crate::common::TestContext;

/// Regression: the description named "the providers" only, `module-loader` was "discovery and
/// sync", `pack` left out taskservs and clusters, `registry` and `--registry` left out
/// `https://`.
#[test]
fn the_top_level_help_names_every_kind_of_module_and_registry() {
    let context = TestContext::new();
    assert_snapshot!(context.run(["--help"]), @r#"
    exit: 0
    --- stdout
    Manage the modules of a Nickel infrastructure (providers, the core schemas, taskservs, clusters):
    link them live for development, pin signed packs for production

    Usage: provisioning [OPTIONS] <COMMAND>

    Commands:
      providers      Discover providers and install them into infrastructures
      module-loader  Modules of every kind (providers, taskservs, clusters) in an infra: discover, init,
                     load, unload, installed, graph, sync, test
      pack           Build versioned, reproducible artifacts of providers, taskservs, clusters and the
                     core schemas, and manage them in the registry
      keys           Create, show and trust minisign signing keys
      registry       Read the configured registry (a local directory, OCI, or a static HTTP host)
      git            Set up the git repository holding the base for a team: merge drivers for the lock
                     files
      lock           Merge infra lock files three ways (the merge driver `git setup` registers)
      export         Evaluate an infra's Nickel with its modules as packages and on the import path, as
                     `nickel export -I .nickel-modules -I vendor` would, and print it (JSON unless
                     `--format` says otherwise)
      env            Print the shell line that puts an infra's modules on `NICKEL_IMPORT_PATH`, so that
                     plain `nickel export main.ncl` works in the path form (`import
                     "upcloud_prov/main.ncl"`): `eval "$(provisioning env wuji)"`
      completions    Print a shell completion script on stdout
      man            Print the man page (roff) on stdout, or write one page per subcommand into a
                     directory
      help           Print this message or the help of the given subcommand(s)

    Options:
      -h, --help     Print help
      -V, --version  Print version

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
    "#);
}

/// Regression: `pack core --help` said the version defaults to `[nickel] core_version`; the
/// core is packed at its manifest's version, and `core_version` applies only without one.
#[test]
fn pack_core_help_says_the_version_comes_from_the_manifest() {
    let context = TestContext::new();
    assert_snapshot!(context.run(["pack", "core", "--help"]), @"
    exit: 0
    --- stdout
    Pack the core schemas (`[nickel] core_module`) as `core_package_name`, at their manifest's version

    Usage: provisioning pack core [OPTIONS]

    Options:
          --version <V>   The version to pack as [default: the `version` in the core's `manifest.toml`
                          (`schemas/manifest.toml`); `[nickel] core_version` only when the core has no
                          manifest]
          --output <DIR>  Write artifacts to DIR instead of the packages directory (the registry
                          metadata is then left as it is)
          --force         Replace an existing version whose contents differ (packed versions are
                          immutable otherwise), and sign with your key a version another key signed
          --skip-tests    Pack without running the examples in the module's doc comments (the registry
                          metadata records that they were not run)
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
fn pack_help_names_taskservs_and_clusters() {
    let context = TestContext::new();
    assert_snapshot!(context.run(["pack", "--help"]), @"
    exit: 0
    --- stdout
    Build versioned, reproducible artifacts of providers, taskservs, clusters and the core schemas, and
    manage them in the registry

    Usage: provisioning pack [OPTIONS] <COMMAND>

    Commands:
      core       Pack the core schemas (`[nickel] core_module`) as `core_package_name`, at their
                 manifest's version
      provider   Evaluate one provider and pack it with its registry metadata
      providers  Pack every provider, in parallel; one failure does not stop the others
      taskserv   Evaluate one taskserv and pack it with its registry metadata
      taskservs  Pack every taskserv, in parallel; one failure does not stop the others
      cluster    Evaluate one cluster and pack it with its registry metadata
      clusters   Pack every cluster, in parallel; one failure does not stop the others
      yank       Withdraw a version from resolution without deleting it (`--undo` restores it)
      list       Packages and versions present: size, created, hash, signed or not
      clean      Delete all but the newest versions of each package (semver order)
      verify     Check an artifact's size, hashes and signature; print who signed it
      publish    Push packed versions to an OCI registry (all that are not there yet, by default)
      mirror     Copy the packs some infras pin, or some requirements resolve to, into a mirror for
                 sites without a network: a directory that is itself a registry, or an OCI namespace
      index      Write the registry's `index.json` and web pages (`index.html`, `modules/*.html`) from
                 its metadata; every pack command keeps them current
      help       Print this message or the help of the given subcommand(s)

    Options:
      -h, --help  Print help

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
