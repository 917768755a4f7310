//! `provisioning` manages the modules of a Nickel infrastructure-as-code base: providers,
//! taskservs, clusters and the core schemas, linked into an infra (link mode) or packed into
//! signed, versioned artifacts shared through registries and vendored into it (pack mode).
//!
//! A command flows in one direction:
//!
//! ```text
//! arguments (cli) → resolved settings (context, config) → command (commands::*)
//!     → operations (ops) → domain (infra → registry → artifact, signing, nickel, catalog)
//!     → disk (fs)
//! ```
//!
//! - [`cli`] holds the clap definitions only; `--help`, completions and the man pages come from
//!   it.
//! - [`context`] owns the environment a command runs in: base directory, configuration, the
//!   environment variables and the working directory, so tests never touch the process state.
//! - [`config`] loads, layers, interpolates and type-checks `config.defaults.toml` and its
//!   overrides.
//! - [`printer`] owns output: data to stdout as a table, JSON or YAML; status to stderr.
//! - [`commands`] one function per command: parse, call an operation or the domain, print.
//! - [`ops`] the operations, one function per verb, in the spirit of cargo's `ops`: those that
//!   change an infra (load, remove, init, sync, update) plan a change whole and own its one
//!   transaction, returning a report the command prints; [`ops::pack`] packs a module into a
//!   registry directory: evaluate, check, build, sign, record.
//! - [`infra`] an infrastructure: its lock and manifest (data), its state (read only), the
//!   closure of an install, capabilities, the link and vendor steps, the generated import files,
//!   and the session that holds its locks (`infra::session`).
//! - [`resolve`] dependency resolution, pure and in memory; [`version_spec`] what `--version`
//!   asks for; [`dependencies`] a module's dependencies at their sources, for packing.
//! - [`catalog`] discovers providers, taskservs, clusters and the core under `extensions/`;
//!   [`module`] what a module is (its kind, layout and package manifest), below every layer
//!   that handles modules.
//! - [`registry`] where packs come from: the `Registry` trait, a directory, an OCI registry, a
//!   static HTTP registry, loose artifacts (`--from`), a chain of them; retention (`pack
//!   clean`); `index.json` and the web pages.
//! - [`artifact`] the pack artifact format: deterministic archives, their names, reading them as
//!   hostile input, verification.
//! - [`nickel`] evaluates Nickel in-process with `nickel-lang-core`, in bounded worker
//!   processes, and caches the results.
//! - [`signing`] manages minisign keys, signs artifacts and verifies signatures.
//! - [`provenance`] builds, reads and verifies the signed SLSA provenance written beside each
//!   pack (`<module>_<version>.intoto.jsonl`).
//! - [`names`], [`digest`], [`address`] the typed values parsed at the edge: module and short
//!   names, `module@version`, sha256, content hashes, the address of a remote registry.
//! - [`fs`] is the only place that writes to disk (atomic writes, transactions, symlinks) and
//!   reads the tool's own files whole (bounded, regular files only).
//! - [`fs::dir_lock`] serialises commands that change one infrastructure or one registry (taken
//!   for an infra only through `infra::session`).
//! - [`text`], [`time`] locate errors in files (line and column); format timestamps.
//!
//! [`main`] parses arguments, runs the command and maps the outcome to an exit code in one place.

pub mod address;
pub mod artifact;
pub mod catalog;
pub mod cli;
pub mod commands;
pub mod config;
pub mod context;
pub mod dependencies;
pub mod digest;
pub mod fs;
pub mod infra;
pub mod module;
pub mod names;
pub mod nickel;
pub mod ops;
pub mod printer;
pub mod provenance;
pub mod registry;
pub mod resolve;
pub mod sbom;
pub mod signing;
pub mod text;
pub mod time;
pub mod tuf;
pub mod version_spec;

use std::ffi::OsString;
use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::Cli;
use crate::context::Context;
use crate::printer::Printer;

/// How a command ended when it did not return an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything the command set out to do was done.
    Success,
    /// The command ran to its end but what it checked failed (`validate` found problems, one of
    /// several operations failed); it has already reported why.
    Failure,
}

/// Exit code for an operation or check that failed.
const EXIT_FAILURE: u8 = 1;
/// Exit code for a usage error (bad arguments), as clap uses.
const EXIT_USAGE: u8 = 2;

/// Runs `provisioning` with the given arguments (the first is the program name) against the
/// process environment, and returns the exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args = cli::expand_invocation_name(args.into_iter().collect());
    let cli = match Cli::try_parse_from(args).map_err(closest_subcommand_only) {
        Ok(cli) => cli,
        Err(error) => {
            // `--help` and `--version` are "errors" to clap that exit 0.
            let code = if error.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    undo_on_panic();
    // Evaluations run in bounded worker processes started from this executable.
    nickel::worker::enable();
    let printer = Printer::new(&cli.global);
    match run(cli, &printer) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failure) => ExitCode::from(EXIT_FAILURE),
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            printer.error(&error);
            let code = if is_usage_error(&error) {
                EXIT_USAGE
            } else {
                EXIT_FAILURE
            };
            ExitCode::from(code)
        }
    }
}

/// A panic is a bug; what it must not do is leave a change half made. The release build aborts
/// on a panic (`panic = "abort"`: no unwinding tables, docs/performance.md "Binary size"), which
/// runs no `Drop`, so the hook undoes every unfinished [`fs::Transaction`] itself, after the
/// panic's message, as unwinding would have. A kill is different: docs/robustness.md.
fn undo_on_panic() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        let undone = fs::undo_unfinished();
        if undone > 0 {
            let changes = if undone == 1 { "change" } else { "changes" };
            let _ = writeln!(
                std::io::stderr(),
                "error: provisioning stopped on a bug; the {undone} {changes} it had begun were undone\nhint: please report it with the lines above"
            );
        }
    }));
}

/// clap suggests every subcommand similar to a mistyped one, the least similar first (`providers
/// lsit`: "'validate', 'list'"); keep only the closest, as clap does for flags and values.
fn closest_subcommand_only(mut error: clap::Error) -> clap::Error {
    use clap::error::{ContextKind, ContextValue};
    if let Some(ContextValue::Strings(similar)) = error.get(ContextKind::SuggestedSubcommand)
        && let Some(closest) = similar.last().cloned()
    {
        error.insert(
            ContextKind::SuggestedSubcommand,
            ContextValue::String(closest),
        );
    }
    error
}

fn run(cli: Cli, printer: &Printer) -> anyhow::Result<Outcome> {
    check_format(&cli)?;
    // Commands that need no provisioning base.
    if let cli::Command::Completions(args) = &cli.command {
        return commands::completions(args, printer);
    }
    if let cli::Command::Man(args) = &cli.command {
        return commands::man::man(args, printer);
    }
    if let cli::Command::EvaluateWorker(args) = &cli.command {
        return commands::evaluate_worker(args);
    }
    // The merge driver runs wherever git runs it, and merges the files it is given alone.
    if let cli::Command::Lock(cli::LockCommand::Merge(args)) = &cli.command {
        return commands::git::lock_merge(args, printer);
    }
    let context = match Context::from_process(&cli.global) {
        Ok(context) => context,
        // Keys belong to the user, not to a base: `keys` works anywhere.
        Err(error)
            if matches!(
                error.downcast_ref(),
                Some(context::BaseError::NotFound { .. })
            ) && matches!(cli.command, cli::Command::Keys(_)) =>
        {
            let cli::Command::Keys(command) = cli.command else {
                return Err(error);
            };
            return commands::keys::run_outside_a_base(command, &context::process_env(), printer);
        }
        Err(error) => return Err(error),
    };
    for ignored in &context.config.ignored {
        printer.warning(ignored);
    }
    let outcome = commands::dispatch(cli.command, &context, printer);
    for warning in context.registry_warnings.take() {
        printer.warning(warning);
    }
    outcome
}

/// The formats only one command prints are refused by the others, before they run.
fn check_format(cli: &Cli) -> Result<(), UsageError> {
    use cli::{Command, ModuleLoaderCommand, OutputFormat, ProvidersCommand};
    let only = match (cli.global.format, &cli.command) {
        (OutputFormat::Table | OutputFormat::Json | OutputFormat::Yaml, _)
        | (OutputFormat::Toml | OutputFormat::Text, Command::Export(_))
        | (
            OutputFormat::Dot | OutputFormat::Mermaid,
            Command::ModuleLoader(ModuleLoaderCommand::Graph(_)),
        )
        | (
            OutputFormat::CycloneDx | OutputFormat::Spdx,
            Command::Providers(ProvidersCommand::Sbom(_)),
        ) => return Ok(()),
        (OutputFormat::Toml | OutputFormat::Text, _) => "`export`",
        (OutputFormat::Dot | OutputFormat::Mermaid, _) => "`module-loader graph`",
        (OutputFormat::CycloneDx | OutputFormat::Spdx, _) => "`providers sbom`",
    };
    let format = format!("{:?}", cli.global.format).to_lowercase();
    Err(UsageError(format!(
        "`--format {format}` is for {only} only\nhint: other commands print `table`, `json` or `yaml`"
    )))
}

/// A mistake in how the tool was called that clap could not see (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn is_usage_error(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.is::<UsageError>()
            || matches!(
                cause.downcast_ref(),
                Some(infra::InfraError::InvalidName(_))
            )
    })
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Writes to stdout, treating a closed pipe as the reader's choice rather than an error.
pub(crate) fn write_stdout(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}
