use anyhow::Context as _;
use serde::Serialize;

use crate::Outcome;
use crate::artifact::verify::AllowUnsigned;
use crate::catalog::Catalog;
use crate::cli::UpdateArgs;
use crate::commands::workspace::every_infra;
use crate::context::Context;
use crate::infra::Infra;
use crate::infra::session::{Access, InfraSession};
use crate::names::{ModuleName, ShortName};
use crate::ops::{self, UpdateOptions, UpdateReport, WorkspaceUpdate};
use crate::printer::{Printer, Table};
use crate::registry::shared::RunCache;

/// `providers update <infra> [providers...] [--dry-run]`: re-resolve the pinned modules (all,
/// or those named and what they need) within their requirements, and move what moves, as one
/// change.
pub fn update(args: &UpdateArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let Some(infra) = args.infra.as_deref().filter(|_| !args.workspace) else {
        return workspace(args, context, printer);
    };
    let infra = Infra::resolve(context, infra)?;
    let failed = || format!("failed to update `{}`", infra.name);
    let mut session =
        InfraSession::open(context, infra.clone(), Access::Packs, printer).with_context(failed)?;
    let catalog = Catalog::new(&context.config);
    let options = UpdateOptions {
        modules: &args.providers,
        catalog: &catalog,
        allow_unsigned: AllowUnsigned::from_arg(args.allow_unsigned.clone()),
        accept_signer: args.accept_signer,
        dry_run: args.dry_run,
    };
    let report = ops::update(&mut session, &options).with_context(failed)?;
    Ok(print(report, args.dry_run, printer))
}

/// `providers update --workspace [providers...] [--dry-run]`: every infra of the workspace as
/// one; a module moves to the same version everywhere it is pinned, or nowhere.
fn workspace(args: &UpdateArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    // With `--workspace`, the first name is a provider, not an infra.
    let providers: Vec<ShortName> = match &args.infra {
        Some(first) => std::iter::once(first.parse().map_err(|error| {
            crate::UsageError(format!("invalid provider name `{first}`: {error}"))
        })?)
        .chain(args.providers.iter().cloned())
        .collect(),
        None => args.providers.clone(),
    };
    let mut sessions = Vec::new();
    for infra in every_infra(context)? {
        let failed = format!("failed to open `{}`", infra.name);
        sessions.push(InfraSession::open(context, infra, Access::Packs, printer).context(failed)?);
    }
    let cache = RunCache::default();
    let mut sessions: Vec<InfraSession<'_>> = sessions
        .into_iter()
        .map(|session| session.sharing(Some(&cache)))
        .collect();
    let catalog = Catalog::new(&context.config);
    let options = UpdateOptions {
        modules: &providers,
        catalog: &catalog,
        allow_unsigned: AllowUnsigned::from_arg(args.allow_unsigned.clone()),
        accept_signer: args.accept_signer,
        dry_run: args.dry_run,
    };
    let update = ops::update_workspace(&mut sessions, &options)?;
    // The plan is data: a dry run's answer, and what was written; a refused one is not printed.
    if update.refusals.is_empty() || args.dry_run {
        print_plan(&update, printer)?;
    }
    if !update.refusals.is_empty() {
        // The same refusal in several infras gives the same hint: said once, after them all.
        let mut refusals = Vec::new();
        let mut hints: Vec<&str> = Vec::new();
        for refusal in &update.refusals {
            let (said, hinted): (Vec<&str>, Vec<&str>) = refusal
                .lines()
                .partition(|line| !line.starts_with("hint: "));
            refusals.push(format!("  {}", said.join("\n")));
            for hint in hinted {
                if !hints.contains(&hint) {
                    hints.push(hint);
                }
            }
        }
        // Without a hint of their own, the refusals are of versions that differ.
        if hints.is_empty() {
            hints.push("hint: align the requirements in the infras' `manifest.toml`, or update one infra alone: `provisioning providers update <infra>`");
        }
        printer.error_message(format!(
            "the workspace was not updated: nothing was written\n{}\n{}",
            refusals.join("\n"),
            hints.join("\n")
        ));
        return Ok(Outcome::Failure);
    }
    let mut outcome = Outcome::Success;
    for report in update.infras {
        if print(report, args.dry_run, printer) == Outcome::Failure {
            outcome = Outcome::Failure;
        }
    }
    Ok(outcome)
}

#[derive(Serialize)]
struct PlannedChange<'a> {
    infra: &'a str,
    module: &'a ModuleName,
    from: Option<&'a semver::Version>,
    to: Option<&'a semver::Version>,
}

/// The plan of the workspace on stdout: each change of each infra.
fn print_plan(update: &WorkspaceUpdate, printer: &Printer) -> anyhow::Result<()> {
    let changes: Vec<PlannedChange<'_>> = update
        .infras
        .iter()
        .flat_map(|report| {
            report.changes.iter().map(|change| PlannedChange {
                infra: &report.infra,
                module: &change.module,
                from: change.from.as_ref(),
                to: change.to.as_ref(),
            })
        })
        .collect();
    printer.data(&changes, || {
        let version =
            |v: Option<&semver::Version>| v.map_or_else(|| "-".to_owned(), ToString::to_string);
        let mut table = Table::new(["INFRA", "MODULE", "FROM", "TO"])
            .when_empty("no pin of the workspace moves");
        for change in &changes {
            table.row([
                change.infra.to_owned(),
                change.module.to_string(),
                version(change.from),
                version(change.to),
            ]);
        }
        table
    })
}

fn print(report: UpdateReport, dry_run: bool, printer: &Printer) -> Outcome {
    let infra = &report.infra;
    if report.changes.is_empty() {
        // Worded as `outdated` words it: an infra of links only has nothing to update.
        let message = if report.pinned {
            format!("every pin of `{infra}` is as new as its requirements allow")
        } else {
            format!("`{infra}`: no pinned packs to update")
        };
        printer.status("Unchanged", message);
        return Outcome::Success;
    }
    for change in &report.changes {
        match (&change.from, &change.to) {
            (Some(from), Some(to)) => {
                printer.status("Updating", format!("{} {from} -> {to}", change.module))
            }
            (None, Some(to)) => printer.status("Adding", format!("{} {to}", change.module)),
            (Some(from), None) => printer.status("Removing", format!("{} {from}", change.module)),
            (None, None) => {}
        }
    }
    if dry_run {
        for warning in &report.warnings {
            printer.warning(warning);
        }
        printer.warning("dry run: nothing was changed");
        return Outcome::Success;
    }
    if !report.failures.is_empty() {
        let moving = report.changes.iter().filter(|c| c.to.is_some()).count();
        let failed = report.failures.len();
        for failure in report.failures {
            let module = &failure.module;
            printer.error(
                &failure
                    .error
                    .context(format!("failed to update `{module}` in `{infra}`")),
            );
        }
        printer.error_message(format!(
            "{failed} of {moving} modules could not be updated in `{infra}`, so none were"
        ));
        return Outcome::Failure;
    }
    for warning in &report.warnings {
        printer.warning(warning);
    }
    let count = report.changes.len();
    printer.status(
        "Updated",
        format!(
            "`{infra}`: {count} change{}",
            if count == 1 { "" } else { "s" }
        ),
    );
    Outcome::Success
}
