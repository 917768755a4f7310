//! `module-loader init <infra> --providers .. --taskservs .. --clusters ..`: an infra from
//! nothing, then the modules loaded (all in one transaction); on an existing infra, only the
//! loading.

use super::load::find_all;
use crate::Outcome;
use crate::catalog::Catalog;
use crate::cli::InitArgs;
use crate::commands::changes::{self, Wording};
use crate::context::Context;
use crate::module::ModuleKind;
use crate::ops::{self, InitOptions};
use crate::printer::Printer;

pub fn init(args: &InitArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let catalog = Catalog::new(&context.config);
    let wanted = [
        (ModuleKind::Provider, args.providers.as_slice()),
        (ModuleKind::Taskserv, args.taskservs.as_slice()),
        (ModuleKind::Cluster, args.clusters.as_slice()),
    ];
    // Every name is checked, and the set they make, before the infra is created.
    let modules = find_all(&catalog, &wanted, false)?;
    let kinds: Vec<ModuleKind> = wanted
        .iter()
        .filter(|(_, names)| !names.is_empty())
        .map(|(kind, _)| *kind)
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
