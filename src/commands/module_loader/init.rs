//! `module-loader init <infra> --providers .. --taskservs .. --clusters ..`: an infra from
//! nothing, then the modules loaded (all in one transaction); on an existing infra, only the
//! loading.

use super::load::find_all;
use crate::Outcome;
use crate::catalog::{Catalog, EntryKind, ModuleKind};
use crate::cli::InitArgs;
use crate::commands::changes::{self, Wording};
use crate::context::Context;
use crate::infra::ops::{self, InitOptions};
use crate::printer::Printer;

pub fn init(args: &InitArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let catalog = Catalog::new(&context.config);
    let wanted = [
        (ModuleKind::Providers, args.providers.as_slice()),
        (ModuleKind::Taskservs, args.taskservs.as_slice()),
        (ModuleKind::Clusters, args.clusters.as_slice()),
    ];
    // Every name is checked, and the set they make, before the infra is created.
    let modules = find_all(&catalog, &wanted, false)?;
    let kinds: Vec<EntryKind> = wanted
        .iter()
        .filter(|(_, names)| !names.is_empty())
        .map(|(kind, _)| EntryKind::from_module_kind(*kind))
        .collect();
    let options = InitOptions {
        infra: &args.infra,
        modules: &modules,
        kinds: &kinds,
        catalog: &catalog,
    };
    let report = ops::init(context, &options, printer)?;
    Ok(changes::print(report, Wording::MODULES, "loaded", printer))
}
