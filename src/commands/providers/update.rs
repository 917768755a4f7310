use anyhow::Context as _;

use crate::Outcome;
use crate::artifact::verify::AllowUnsigned;
use crate::catalog::Catalog;
use crate::cli::UpdateArgs;
use crate::context::Context;
use crate::infra::Infra;
use crate::infra::session::{Access, InfraSession};
use crate::ops::{self, UpdateOptions, UpdateReport};
use crate::printer::Printer;

/// `providers update <infra> [providers...] [--dry-run]`: re-resolve the pinned modules (all,
/// or those named and what they need) within their requirements, and move what moves, as one
/// change.
pub fn update(args: &UpdateArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let infra = Infra::resolve(context, &args.infra)?;
    let failed = || format!("failed to update `{}`", infra.name);
    let mut session =
        InfraSession::open(context, infra.clone(), Access::Packs, printer).with_context(failed)?;
    let catalog = Catalog::new(&context.config);
    let options = UpdateOptions {
        modules: &args.providers,
        catalog: &catalog,
        allow_unsigned: AllowUnsigned::from_arg(args.allow_unsigned.clone()),
        dry_run: args.dry_run,
    };
    let report = ops::update(&mut session, &options).with_context(failed)?;
    Ok(print(report, args.dry_run, printer))
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
