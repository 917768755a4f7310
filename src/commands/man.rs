//! `provisioning man [--output DIR]`: man pages generated from the clap definitions, one per
//! command (`provisioning.1`, `provisioning-providers.1`, `provisioning-providers-install.1`,
//! ...), each with the ENVIRONMENT and EXIT STATUS sections every command shares.

use std::path::Path;

use anyhow::Context as _;
use clap::CommandFactory as _;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, roman};

use crate::Outcome;
use crate::cli::{Cli, ManArgs};
use crate::printer::Printer;

/// Every environment variable the tool reads, as (names, meaning): the one list the man pages'
/// ENVIRONMENT section is made of. docs/reference/environment.md explains each at length, and a
/// test (`tests/it/docs.rs`) checks that it names every entry here, and that this list names
/// every variable the source reads.
pub const ENVIRONMENT: &[(&[&str], &str)] = &[
    (
        &["PROVISIONING"],
        "The provisioning base directory, when --base is not given.",
    ),
    (
        &["PROVISIONING_CONFIG"],
        "A user configuration file layered over the defaults, when --config is not given.",
    ),
    (
        &["PROVISIONING_<SECTION>_<KEY>"],
        "Overrides any configuration key over every file: PROVISIONING_, then the key in upper case with _ for ., e.g. PROVISIONING_DISTRIBUTION_REGISTRY_URL or PROVISIONING_EVALUATION_TIMEOUT_SECS.",
    ),
    (
        &["{{env.NAME}}"],
        "Any variable a configuration value names so is read; unset is an error naming the key.",
    ),
    (
        &["PROVISIONING_KEYRING"],
        "The directory of your signing key (keys/) and the keys you trust (trusted/), instead of $XDG_CONFIG_HOME/provisioning.",
    ),
    (
        &["XDG_CONFIG_HOME", "HOME"],
        "Where the signing key and the trusted keys live without PROVISIONING_KEYRING: $XDG_CONFIG_HOME/provisioning, else $HOME/.config/provisioning; HOME is also where ~/.docker and ~/.netrc are looked for.",
    ),
    (
        &["PROVISIONING_REGISTRY_TOKEN"],
        "A bearer token for the OCI or HTTP registry; it comes before every other credential.",
    ),
    (
        &[
            "PROVISIONING_REGISTRY_USERNAME",
            "PROVISIONING_REGISTRY_PASSWORD",
        ],
        "A user name and password for the OCI registry (both must be set).",
    ),
    (
        &["DOCKER_CONFIG"],
        "The directory of docker's config.json, whose credentials (as docker login leaves them, helpers included) the OCI registry uses when none of the above is set [default: ~/.docker].",
    ),
    (
        &["NETRC"],
        "The .netrc file whose machine entry the HTTP registry uses when no token is set [default: ~/.netrc].",
    ),
    (
        &["SOURCE_DATE_EPOCH"],
        "The time recorded as created in registry metadata, in seconds since 1970, for reproducible packs.",
    ),
    (
        &["NO_COLOR"],
        "When set and not empty, status output is not colored (with --color auto).",
    ),
    (&["TMPDIR"], "Where held temporary directories are made."),
    (
        &["PROVISIONING_TEST_PANIC_BEFORE_COMMIT"],
        "Debug builds only, for the test suite: a command panics with its change made and not yet committed, to show that the change is undone. Release builds ignore it.",
    ),
    (
        &["PATH"],
        "Where a docker credential helper that config.json names is found; no other program is run from it.",
    ),
];

/// The exit codes, as the EXIT STATUS section lists them (`lib.rs::main` maps them).
const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "Success."),
    (
        "1",
        "The operation or the check failed: an error, an infra that is not valid, a pack that fails verification, a pin behind with outdated --exit-code.",
    ),
    (
        "2",
        "Usage error: an unknown command or option, or a value that does not parse.",
    ),
];

/// `provisioning man`: the top page on stdout; with `--output DIR`, every page into DIR.
pub fn man(args: &ManArgs, printer: &Printer) -> anyhow::Result<Outcome> {
    let pages = pages();
    match &args.output {
        None => {
            let (_, top) = pages.first().context("no man page was generated")?;
            crate::write_stdout(top)?;
        }
        Some(dir) => {
            write_pages(dir, &pages).with_context(|| {
                format!("failed to write the man pages into `{}`", dir.display())
            })?;
            printer.status(
                "Wrote",
                format!("{} man pages into `{}`", pages.len(), dir.display()),
            );
        }
    }
    Ok(Outcome::Success)
}

fn write_pages(dir: &Path, pages: &[(String, String)]) -> std::io::Result<()> {
    crate::fs::create_dir_all(dir)?;
    for (file_name, page) in pages {
        crate::fs::atomic_write(&dir.join(file_name), page.as_bytes())?;
    }
    Ok(())
}

/// Every page, the top one first, as (file name, roff).
pub fn pages() -> Vec<(String, String)> {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let mut pages = Vec::new();
    collect(command, &mut pages);
    pages
}

fn collect(command: clap::Command, pages: &mut Vec<(String, String)>) {
    let subcommands: Vec<clap::Command> = command
        .get_subcommands()
        .filter(|subcommand| !subcommand.is_hide_set())
        .cloned()
        .collect();
    let sections = Sections {
        subcommands: !subcommands.is_empty(),
        version: command.get_version().is_some(),
    };
    // Every page is of the same tool and version (clap_mangen names a subcommand's own).
    let man = Man::new(command).source(format!("provisioning {}", env!("CARGO_PKG_VERSION")));
    pages.push((man.get_filename(), render(&man, sections)));
    for subcommand in subcommands {
        collect(subcommand, pages);
    }
}

/// The sections clap_mangen renders only for some commands.
#[derive(Debug, Clone, Copy)]
struct Sections {
    subcommands: bool,
    version: bool,
}

/// One page: clap_mangen's sections, with EXIT STATUS and ENVIRONMENT before VERSION, where
/// man-pages(7) puts them.
fn render(man: &Man, sections: Sections) -> String {
    type Piece<'a> = Box<dyn Fn(&mut Vec<u8>) -> std::io::Result<()> + 'a>;
    let mut pieces: Vec<Piece<'_>> = vec![
        Box::new(|out| man.render_title(out)),
        Box::new(|out| man.render_name_section(out)),
        Box::new(|out| man.render_synopsis_section(out)),
        Box::new(|out| man.render_description_section(out)),
        // Every command has options: `--help` and the global ones.
        Box::new(|out| man.render_options_section(out)),
    ];
    if sections.subcommands {
        pieces.push(Box::new(|out| man.render_subcommands_section(out)));
    }
    pieces.push(Box::new(|out| {
        list_section("EXIT STATUS", EXIT_STATUS).to_writer(out)
    }));
    pieces.push(Box::new(|out| {
        let environment: Vec<(String, &str)> = ENVIRONMENT
            .iter()
            .map(|(names, meaning)| (names.join(", "), *meaning))
            .collect();
        list_section("ENVIRONMENT", &environment).to_writer(out)
    }));
    if sections.version {
        pieces.push(Box::new(|out| man.render_version_section(out)));
    }
    // Each piece starts with roff's preamble (what an empty document is): keep the first only.
    let preamble = Roff::new().render();
    let mut page = preamble.clone();
    for piece in pieces {
        let mut out = Vec::new();
        // Writing into a `Vec` cannot fail.
        let _ = piece(&mut out);
        let text = String::from_utf8_lossy(&out);
        page.push_str(text.strip_prefix(preamble.as_str()).unwrap_or(&text));
    }
    page
}

fn list_section(title: &str, items: &[(impl AsRef<str>, &str)]) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", [title]);
    for (term, description) in items {
        roff.control("TP", []);
        roff.text([bold(term.as_ref())]);
        roff.text([roman(*description)]);
    }
    roff
}
