use anyhow::Context as _;

use crate::Outcome;
use crate::cli::UpdateArgs;
use crate::context::Context;
use crate::infra::Infra;
use crate::infra::session::{Access, InfraSession};
use crate::infra::versions;
use crate::names::ModuleName;
use crate::ops::{self, PackSources};
use crate::printer::Printer;

/// `providers update <infra> [providers...] [--dry-run]`: re-resolve the pinned modules (all,
/// or those named and what they need) within their requirements, and move what moves, as one
/// change.
pub fn update(args: &UpdateArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let infra = Infra::resolve(context, &args.infra)?;
    let session = InfraSession::open(context, infra, Access::Packs, printer)?;
    let infra = &session.infra;
    let registry = session.registry(Vec::new())?;
    let keys = session.keys()?;
    // A name as the lock has it (`aws`, `provisioning_core`), or a module name (`aws_prov`).
    let lock = session.lock();
    let named: Vec<ModuleName> = args
        .providers
        .iter()
        .map(|name| match lock.get(name) {
            Some(entry) => entry.module.clone(),
            None => {
                let module = ModuleName::from(name);
                if lock.module(&module).is_some() {
                    module
                } else {
                    name.provider_module()
                }
            }
        })
        .collect();
    let plan = versions::plan_update(context, infra, &named, registry, keys, args.allow_unsigned)
        .with_context(|| format!("failed to update `{}`", infra.name))?;
    if plan.changes.is_empty() {
        // Worded as `outdated` words it: an infra of links only has nothing to update.
        let message = if lock.providers.iter().any(|entry| entry.pin().is_some()) {
            format!(
                "every pin of `{}` is as new as its requirements allow",
                infra.name
            )
        } else {
            format!("`{}`: no pinned packs to update", infra.name)
        };
        printer.status("Unchanged", message);
        return Ok(Outcome::Success);
    }
    for change in &plan.changes {
        match (&change.from, &change.to) {
            (Some(from), Some(to)) => {
                printer.status("Updating", format!("{} {from} -> {to}", change.module))
            }
            (None, Some(to)) => printer.status("Adding", format!("{} {to}", change.module)),
            (Some(from), None) => printer.status("Removing", format!("{} {from}", change.module)),
            (None, None) => {}
        }
    }
    if args.dry_run {
        printer.warning("dry run: nothing was changed");
        return Ok(Outcome::Success);
    }
    let sources = PackSources {
        registry,
        keys,
        limits: context.unpack_limits(),
    };
    let leftovers = ops::update(context, infra, &plan, &sources, args.allow_unsigned)
        .with_context(|| format!("failed to update `{}`", infra.name))?;
    for leftover in &leftovers {
        printer.warning(leftover);
    }
    printer.status(
        "Updated",
        format!(
            "`{}`: {} change{}",
            infra.name,
            plan.changes.len(),
            if plan.changes.len() == 1 { "" } else { "s" }
        ),
    );
    Ok(Outcome::Success)
}
