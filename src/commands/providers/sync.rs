use serde::Serialize;

use crate::Outcome;
use crate::cli::SyncArgs;
use crate::commands::workspace::{self, Each, Verb};
use crate::context::Context;
use crate::infra::lockfile::Mode;
use crate::infra::session::{Access, InfraSession};
use crate::infra::state::ModuleStatus;
use crate::infra::{Change, Infra};
use crate::ops;
use crate::printer::{Printer, Table};
use crate::registry::shared::RunCache;

/// What sync did in one infra, for `--workspace`'s table and `--format json|yaml`.
#[derive(Debug, Serialize)]
struct Synced {
    infra: String,
    modules: Vec<SyncedModule>,
    /// What still differs from the lock besides the modules that failed.
    differences: usize,
}

#[derive(Debug, Serialize)]
struct SyncedModule {
    module: String,
    version: String,
    mode: String,
    /// `restored`, `linked`, `unchanged` or `failed`.
    result: &'static str,
}

/// `providers sync <infra>|--workspace` (and `module-loader sync`): rebuild the infra's links
/// from its lock, as a teammate does after `git pull`.
pub fn sync(args: &SyncArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let verb = Verb {
        name: "sync",
        prints_one: false,
    };
    workspace::run(
        args.target.target(),
        verb,
        context,
        printer,
        |infra, shared| one(args, infra, shared, context, printer),
    )
}

fn one(
    args: &SyncArgs,
    infra: &Infra,
    shared: Option<&RunCache>,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Each<Synced>> {
    // The registry's lock, then the infra's: what sync restores is not cleaned away meanwhile.
    let mut session =
        InfraSession::open(context, infra.clone(), Access::Packs, printer)?.sharing(shared);
    if args.verify {
        session.verify_vendor();
    }
    let report = ops::sync(&mut session)?;
    let (results, pruned) = (&report.entries, &report.pruned);
    for leftover in &report.leftovers {
        printer.warning(leftover);
    }
    let failed = print_entries(printer, results);
    print_pruned(printer, pruned);
    // Sync promises the lock's state exactly: whatever still differs is a failure too.
    let differences = remaining_differences(&report.remaining, printer);
    let total = results.len();
    if failed > 0 {
        printer.error_message(format!(
            "{failed} of {total} modules of `{}` could not be synced",
            infra.name
        ));
    }
    if differences > 0 {
        printer.error_message(format!(
            "`{}` still differs from its lock: {differences} problem{}\nhint: `provisioning providers installed {}` shows each; adopt what the lock lacks with `providers install`, or remove it",
            infra.name,
            if differences == 1 { "" } else { "s" },
            infra.name
        ));
    }
    let outcome = if failed + differences > 0 {
        Outcome::Failure
    } else {
        printer.status(
            "Synced",
            format!(
                "{total} module{} of `{}`",
                if total == 1 { "" } else { "s" },
                infra.name
            ),
        );
        Outcome::Success
    };
    let synced = Synced {
        infra: infra.name.clone(),
        modules: results.iter().map(synced_module).collect(),
        differences,
    };
    Ok(Each {
        table: table(&synced),
        data: synced,
        outcome,
    })
}

fn synced_module(synced: &ops::SyncedEntry) -> SyncedModule {
    let entry = &synced.entry;
    SyncedModule {
        module: entry.module.to_string(),
        version: entry.version.to_string(),
        mode: entry.mode().to_string(),
        result: match &synced.result {
            Ok(Change::Changed) if entry.mode() == Mode::Pack => "restored",
            Ok(Change::Changed) => "linked",
            Ok(Change::Unchanged) => "unchanged",
            Err(_) => "failed",
        },
    }
}

fn table(synced: &Synced) -> Table {
    let mut table = Table::new(["MODULE", "VERSION", "MODE", "RESULT"])
        .when_empty(&format!("no modules in the lock of `{}`", synced.infra));
    for module in &synced.modules {
        table.row([
            module.module.clone(),
            module.version.clone(),
            module.mode.clone(),
            module.result.to_owned(),
        ]);
    }
    table
}

/// Prints what sync did to each entry of the lock; returns how many failed. A hint is said
/// once: a hundred packs signed by a key not trusted are a hundred errors and one hint.
fn print_entries(printer: &Printer, results: &[ops::SyncedEntry]) -> usize {
    let mut failed = 0;
    let mut hinted = std::collections::BTreeSet::new();
    for synced in results {
        match &synced.result {
            Ok(Change::Changed) if synced.entry.mode() == Mode::Pack => printer.status(
                "Restored",
                format!(
                    "`{}` {} from `{}` (verified)",
                    synced.entry.module,
                    synced.entry.version,
                    synced.served_by.as_deref().unwrap_or(synced.entry.source())
                ),
            ),
            Ok(Change::Changed) => printer.status(
                "Linked",
                format!("`{}` → `{}`", synced.entry.module, synced.entry.source()),
            ),
            Ok(Change::Unchanged) => {
                printer.verbose(format!("`{}` is up to date", synced.entry.module))
            }
            Err(error) => {
                failed += 1;
                let message = format!("failed to sync `{}`: {error:#}", synced.entry.module);
                match message.split_once("\nhint: ") {
                    Some((error, hint)) if !hinted.insert(hint.to_owned()) => {
                        printer.error_message(error)
                    }
                    _ => printer.error_message(message),
                }
            }
        }
    }
    failed
}

/// Prints what sync removed because the lock does not list it.
fn print_pruned(printer: &Printer, pruned: &ops::Pruned) {
    for module in &pruned.links {
        printer.status(
            "Unlinked",
            format!("`{module}`, which the lock does not list"),
        );
    }
    for module in &pruned.packs {
        printer.status(
            "Removed",
            format!("`vendor/{module}`, which the lock does not list"),
        );
    }
    for module in &pruned.dependencies {
        printer.status(
            "Removed",
            format!("the dependency on `{module}`, which the lock does not list"),
        );
    }
}

/// Sync promises the lock's state exactly: whatever still differs (and was not reported as a
/// failed entry) is printed, and counted as a failure too.
fn remaining_differences(remaining: &[ModuleStatus], printer: &Printer) -> usize {
    for module in remaining {
        printer.error_message(format!(
            "`{}` ({}): {}",
            module.module,
            module.state.as_str(),
            module.detail.as_deref().unwrap_or_default()
        ));
    }
    remaining.len()
}
