use anyhow::Context as _;

use crate::Outcome;
use crate::catalog::Catalog;
use crate::cli::RemoveArgs;
use crate::commands::changes::{self, Wording};
use crate::context::Context;
use crate::infra::Infra;
use crate::infra::session::{Access, InfraSession};
use crate::ops::{self, RemoveOptions};
use crate::printer::Printer;

/// `providers remove <provider> <infra>`: undo an install; the provider's source is never
/// touched.
pub fn remove(args: &RemoveArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let infra = Infra::resolve(context, &args.infra)?;
    let failed = || format!("failed to remove `{}` from `{}`", args.provider, infra.name);
    let mut session =
        InfraSession::open(context, infra.clone(), Access::Links, printer).with_context(failed)?;
    // A name as the lock has it (`provisioning_core` too), else the provider's module.
    let module = session.lock().get(&args.provider).map_or_else(
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
