use serde::Serialize;

use crate::Outcome;
use crate::cli::CleanArgs;
use crate::context::Context;
use crate::infra::pins;
use crate::printer::Printer;
use crate::registry::{DirectoryRegistry, retention};

#[derive(Debug, Serialize)]
struct Deletion {
    module: String,
    version: String,
    files: Vec<String>,
}

/// `pack clean --keep-latest N`: keep the newest N versions of each package (semver order) and
/// every version an infra pins, delete the others with their signatures, and update the
/// metadata. `--dry-run` only says so.
pub fn clean(args: &CleanArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let registry = DirectoryRegistry::from_config(&context.config);
    let _lock = if args.dry_run {
        None
    } else {
        let lock = registry.lock(printer)?;
        registry.remove_debris()?;
        Some(lock)
    };
    let pins = if args.force {
        pins::Pins::new()
    } else {
        pins::pinned_packs(context)?
    };
    let plan = retention::plan(
        &registry,
        registry.all()?,
        args.keep_latest,
        &pins,
        args.force,
    );
    for (pack, infras) in &plan.kept {
        let infras: Vec<String> = infras.iter().map(|infra| format!("`{infra}`")).collect();
        printer.status(
            "Kept",
            format!(
                "`{}` {}: pinned by {}",
                pack.module,
                pack.version,
                infras.join(", ")
            ),
        );
    }
    if !args.dry_run {
        for leftover in retention::apply(&registry, &plan)? {
            printer.warning(leftover);
        }
        // Under the lock still held: the index and the pages no longer show what went.
        if let Err(error) = super::index::write(&registry, context, printer) {
            super::index::warn(&error, printer);
        }
    }
    let verb = if args.dry_run {
        "Would delete"
    } else {
        "Deleted"
    };
    let mut deletions = Vec::new();
    let all = plan.modules.iter().flat_map(|(_, doomed)| doomed);
    for doomed in all.chain(&plan.unindexed) {
        let unindexed = if doomed.indexed { "" } else { ", unindexed" };
        printer.status(
            verb,
            format!(
                "`{}` {} ({}{unindexed})",
                doomed.pack.module,
                doomed.pack.version,
                doomed.files.join(", ")
            ),
        );
        deletions.push(Deletion {
            module: doomed.pack.module.to_string(),
            version: doomed.pack.version.to_string(),
            files: doomed.files.clone(),
        });
    }
    if deletions.is_empty() {
        printer.status(
            "Clean",
            format!(
                "no package has more than {} version{}",
                args.keep_latest,
                if args.keep_latest == 1 { "" } else { "s" }
            ),
        );
    }
    printer.report(&deletions)?;
    Ok(Outcome::Success)
}
