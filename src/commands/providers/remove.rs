use anyhow::{Context as _, bail};

use crate::Outcome;
use crate::cli::RemoveArgs;
use crate::context::Context;
use crate::infra::Infra;
use crate::infra::lockfile::ProvidersLock;
use crate::infra::ops;
use crate::lock::DirLock;
use crate::printer::Printer;

/// `providers remove <provider> <infra>`: undo an install; the provider's source is never
/// touched.
pub fn remove(args: &RemoveArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let infra = Infra::resolve(context, &args.infra)?;
    let _lock = DirLock::acquire(&infra.dir, printer)?;
    let module = args.provider.module_name();
    if !args.force {
        crate::infra::capabilities::check_change(
            context,
            &infra,
            &crate::catalog::Catalog::new(&context.config),
            &[],
            std::slice::from_ref(&module),
        )
        .with_context(|| format!("failed to remove `{}` from `{}`", args.provider, infra.name))?;
    }
    let removal = ops::remove(context, &infra, &module, args.force)
        .with_context(|| format!("failed to remove `{}` from `{}`", args.provider, infra.name))?;
    if !removal.found_anything() {
        if args.force {
            printer.status(
                "Skipped",
                format!("`{}` is not installed in `{}`", args.provider, infra.name),
            );
            return Ok(Outcome::Success);
        }
        let installed: Vec<String> = ProvidersLock::read(&infra.lock_path())?
            .providers
            .iter()
            .map(|entry| format!("`{}`", entry.name))
            .collect();
        let hint = if installed.is_empty() {
            format!("`{}` has no providers installed", infra.name)
        } else {
            format!("installed: {}", installed.join(", "))
        };
        bail!(
            "`{}` is not installed in `{}`\nhint: {hint}",
            args.provider,
            infra.name
        );
    }
    for leftover in &removal.leftovers {
        printer.warning(leftover);
    }
    if let Some((module, required_by)) = &removal.kept {
        let required_by: Vec<String> = required_by.iter().map(ToString::to_string).collect();
        printer.status(
            "Kept",
            format!(
                "`{module}` in `{}`: required by {}",
                infra.name,
                required_by.join(", ")
            ),
        );
        return Ok(Outcome::Success);
    }
    if removal.lock_entry.is_none() {
        printer.warning(format!(
            "`{}` was not in the lock of `{}`; removed its leftovers",
            args.provider, infra.name
        ));
    }
    printer.status(
        "Removed",
        format!("`{}` from `{}`", args.provider.module_name(), infra.name),
    );
    super::install::report_dependencies(&removal.dependencies, printer);
    Ok(Outcome::Success)
}
