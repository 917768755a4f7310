use anyhow::{Context as _, anyhow};

use crate::Outcome;
use crate::catalog::Catalog;
use crate::cli::RemoveArgs;
use crate::commands::changes::{self, Wording};
use crate::context::Context;
use crate::infra::Infra;
use crate::infra::session::{Access, InfraSession};
use crate::module::ModuleKind;
use crate::ops::{self, RemoveOptions};
use crate::printer::Printer;

/// `providers remove <provider> <infra>`: undo an install; the provider's source is never
/// touched. The core schemas are removed by their name; a taskserv or a cluster is refused,
/// with the `module-loader unload` that removes it.
pub fn remove(args: &RemoveArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let infra = Infra::resolve(context, &args.infra)?;
    let failed = || format!("failed to remove `{}` from `{}`", args.provider, infra.name);
    let mut session =
        InfraSession::open(context, infra.clone(), Access::Links, printer).with_context(failed)?;
    // A name as the lock has it (`provisioning_core` too), else the provider's module.
    let entry = session.lock().get(&args.provider);
    if let Some(entry) = entry
        && matches!(entry.kind, ModuleKind::Taskserv | ModuleKind::Cluster)
    {
        // `providers` commands are about providers (and the core, which `providers install`
        // installs by its name): another kind is unloaded by the command that names kinds.
        let refusal = anyhow!(
            "`{}` is a {} in `{}`, not a provider\nhint: `provisioning module-loader unload {} {} {}`",
            entry.name,
            entry.kind.as_str(),
            infra.name,
            entry.kind.dir_name(),
            args.infra,
            entry.name
        );
        return Err(refusal).with_context(failed);
    }
    let module = entry.map_or_else(
        || args.provider.provider_module(),
        |entry| entry.module.clone(),
    );
    let options = RemoveOptions {
        modules: &[module],
        kind: None,
        force: args.force,
        catalog: &Catalog::new(&context.config),
    };
    let report = ops::remove(&mut session, &options).with_context(failed)?;
    Ok(changes::print(
        report,
        Wording::PROVIDERS,
        "removed",
        printer,
    ))
}
