use serde::Serialize;

use crate::Outcome;
use crate::cli::CleanArgs;
use crate::cli::OutputFormat;
use crate::context::Context;
use crate::infra::pins;
use crate::printer::{Printer, escape_controls};
use crate::registry::{DirectoryRegistry, retention};

#[derive(Debug, Serialize)]
struct Deletion {
    module: String,
    version: String,
    files: Vec<String>,
}

/// `pack clean --keep-latest N`: keep the newest N versions of each package (semver order) and
/// every version an infra pins (a workspace infra, or one the pin record names), delete the
/// others with their signatures, and update the metadata. `--dry-run` only says so, from the
/// same plan. A version whose files are not artifacts is left alone, and the exit code says so.
pub fn clean(args: &CleanArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let registry = DirectoryRegistry::from_config(&context.config);
    let _lock = if args.dry_run {
        None
    } else {
        let lock = registry.lock(printer)?;
        registry.remove_debris()?;
        Some(lock)
    };
    let known = if args.force {
        pins::Known::default()
    } else {
        pins::pinned_packs(context, &registry)?
    };
    let plan = retention::plan(
        &registry,
        registry.all()?,
        args.keep_latest,
        &known.pins,
        args.force,
    );
    refuse_unreadable(&plan, &known.unreadable)?;
    // A dry run's plan is data: on stdout (as JSON or YAML with `--format`); a clean's record of
    // what it did is status, on stderr.
    let mut lines = Lines {
        dry_run: args.dry_run,
        printer,
        plan: Vec::new(),
    };
    for (pack, infras) in &plan.kept {
        let infras: Vec<String> = infras.iter().map(|infra| format!("`{infra}`")).collect();
        lines.say(
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
        super::check_tuf_keys(&registry, context)?;
        for leftover in retention::apply(&registry, &plan)? {
            printer.warning(leftover);
        }
        // Records whose infra is gone or pins nothing: nothing reads them again.
        for stale in &known.stale {
            if let Err(error) = crate::fs::remove_file_if_exists(stale) {
                printer.warning(format!("a stale pin record stays: {error}"));
            }
        }
        // Under the lock still held: the index and the pages no longer show what went.
        if let Err(error) = super::index::write(&registry, context, printer) {
            super::index::warn(&error, printer);
        }
    }
    let deletions = print_deletions(&plan, &mut lines);
    if args.dry_run && printer.format == OutputFormat::Table {
        crate::write_stdout(&lines.plan.concat())?;
    }
    for refused in &plan.refused {
        printer.error_message(format!(
            "`{}` is {}, not an artifact, so `{}` {} is left as it is\nhint: move it out of the packages directory, or delete it by hand",
            context.display_path(&refused.path).display(),
            refused.what,
            refused.pack.module,
            refused.pack.version
        ));
    }
    if deletions.is_empty() && plan.refused.is_empty() {
        let versions = format!(
            "{} version{}",
            args.keep_latest,
            if args.keep_latest == 1 { "" } else { "s" }
        );
        // The `Kept` lines above said which versions past the newest N stay, and why.
        let summary = if plan.kept.is_empty() {
            format!("no package has more than {versions}")
        } else {
            format!("nothing to delete: every version past the newest {versions} is pinned")
        };
        printer.status("Clean", summary);
    }
    printer.report(&deletions)?;
    Ok(if plan.refused.is_empty() {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

/// Refuses the whole clean when it would delete a version that a recorded infra whose lock
/// cannot be read may pin.
fn refuse_unreadable(
    plan: &retention::Plan,
    unreadable: &[pins::Unreadable],
) -> anyhow::Result<()> {
    for infra in unreadable {
        let doomed: Vec<String> = plan
            .doomed()
            .filter(|doomed| infra.packs.contains(&doomed.pack))
            .map(|doomed| format!("`{}` {}", doomed.pack.module, doomed.pack.version))
            .collect();
        if !doomed.is_empty() {
            anyhow::bail!(
                "cannot tell whether infra `{}` still pins {}, so nothing is deleted: {}\nhint: repair its lock or remove the infra, or pass `--force` to delete regardless",
                infra.infra,
                doomed.join(", "),
                infra.reason
            );
        }
    }
    Ok(())
}

/// Where the plan's lines go: status lines on stderr for a clean, and the lines of the plan,
/// for stdout, for a dry run.
struct Lines<'a> {
    dry_run: bool,
    printer: &'a Printer,
    plan: Vec<String>,
}

impl Lines<'_> {
    fn say(&mut self, verb: &str, message: String) {
        if self.dry_run {
            let line = format!("{verb:>12} {message}\n");
            self.plan.push(escape_controls(&line).into_owned());
        } else {
            self.printer.status(verb, message);
        }
    }
}

/// Says what goes (or would go), and returns it for `--format`.
fn print_deletions(plan: &retention::Plan, lines: &mut Lines) -> Vec<Deletion> {
    let verb = if lines.dry_run {
        "Would delete"
    } else {
        "Deleted"
    };
    let mut deletions = Vec::new();
    for doomed in plan.doomed() {
        let unindexed = if doomed.indexed { "" } else { ", unindexed" };
        lines.say(
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
    deletions
}
