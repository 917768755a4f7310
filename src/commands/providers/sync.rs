use crate::Outcome;
use crate::cli::SyncArgs;
use crate::context::Context;
use crate::infra::lockfile::Mode;
use crate::infra::session::{Access, InfraSession};
use crate::infra::state::ModuleStatus;
use crate::infra::{Change, Infra};
use crate::ops;
use crate::printer::Printer;

/// `providers sync <infra>` (and `module-loader sync`): rebuild the infra's links from its lock,
/// as a teammate does after `git pull`.
pub fn sync(args: &SyncArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let infra = Infra::resolve(context, &args.infra.infra)?;
    // The registry's lock, then the infra's: what sync restores is not cleaned away meanwhile.
    let mut session = InfraSession::open(context, infra, Access::Packs, printer)?;
    if args.verify {
        session.verify_vendor();
    }
    let report = ops::sync(&mut session)?;
    let infra = &session.infra;
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
    if failed + differences > 0 {
        return Ok(Outcome::Failure);
    }
    printer.status(
        "Synced",
        format!(
            "{total} module{} of `{}`",
            if total == 1 { "" } else { "s" },
            infra.name
        ),
    );
    Ok(Outcome::Success)
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
