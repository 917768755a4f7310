use anyhow::{Context as _, bail};

use crate::Outcome;
use crate::catalog::{self, Layout};
use crate::cli::InstallArgs;
use crate::context::Context;
use crate::infra::Infra;
use crate::infra::link::{self, Change};
use crate::lock::DirLock;
use crate::printer::Printer;

/// `providers install <provider> <infra>`: link the provider's live source into the infra.
pub fn install(
    args: &InstallArgs,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let layout = Layout::from_kcl_flag(args.layout.kcl);
    let infra = Infra::resolve(context, &args.infra)?;
    let module = catalog::find_provider(&context.config.paths.extensions, &args.provider, layout)?;
    let Some(package) = module.package() else {
        bail!(
            "provider `{}` cannot be installed: {}",
            args.provider,
            module.problem().unwrap_or_default()
        );
    };
    let _lock = DirLock::acquire(&infra.dir, printer)?;
    let (entry, change) =
        link::install(context, &infra, &args.provider, package, layout, args.force).with_context(
            || {
                format!(
                    "failed to install `{}` into `{}`",
                    args.provider, infra.name
                )
            },
        )?;
    match change {
        Change::Changed => printer.status(
            "Installed",
            format!(
                "`{}` {} into `{}` (link to `{}`)",
                entry.module, entry.version, infra.name, entry.source
            ),
        ),
        Change::Unchanged => printer.status(
            "Unchanged",
            format!(
                "`{}` {} is already installed in `{}`",
                entry.module, entry.version, infra.name
            ),
        ),
    }
    Ok(Outcome::Success)
}
