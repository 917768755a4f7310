use serde::Serialize;

use crate::Outcome;
use crate::catalog;
use crate::cli::DiscoverArgs;
use crate::context::Context;
use crate::module::{Layout, ModuleKind};
use crate::printer::{Printer, Table};

#[derive(Debug, Serialize)]
pub struct DiscoveredModule {
    #[serde(serialize_with = "ModuleKind::serialize_dir_name")]
    pub kind: ModuleKind,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    pub version: Option<String>,
    pub description: Option<String>,
    pub path: String,
    /// Why the module's package cannot be used, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// `module-loader discover <kind> [query]`: modules of one kind whose name contains `query`;
/// exit 1 when one of them cannot be used.
pub fn discover(
    args: &DiscoverArgs,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let layout = Layout::from_kcl_flag(args.layout.kcl);
    let modules: Vec<DiscoveredModule> = catalog::discover(
        &crate::catalog::Catalog::new(&context.config),
        args.kind,
        layout,
    )?
    .into_iter()
    .filter(|module| {
        args.query
            .as_deref()
            .is_none_or(|query| module.name.contains(query))
    })
    .map(|module| {
        let manifest = module.package().map(|package| &package.manifest);
        DiscoveredModule {
            version: manifest.map(|m| m.version.to_string()),
            description: manifest.map(|m| m.description.clone()),
            problem: module.broken().map(str::to_owned),
            kind: module.kind,
            name: module.name,
            category: module.category,
            path: context.display_path(&module.dir).display().to_string(),
        }
    })
    .collect();
    printer.data(&modules, || {
        let mut table = Table::new(["NAME", "CATEGORY", "VERSION", "DESCRIPTION", "PATH"])
            .when_empty(&match &args.query {
                Some(query) => format!("no {} matching `{query}` found", args.kind.dir_name()),
                None => format!("no {} found", args.kind.dir_name()),
            });
        for module in &modules {
            let description = match &module.problem {
                Some(_) => "-".to_owned(),
                None => module.description.clone().unwrap_or_default(),
            };
            table.row([
                module.name.clone(),
                module.category.clone().unwrap_or_else(|| "-".into()),
                module.version.clone().unwrap_or_else(|| "-".into()),
                description,
                module.path.clone(),
            ]);
        }
        table
    })?;
    // As `providers list`: a module that cannot be used is listed, and its error (naming the
    // file or directory at fault) is an error on stderr: the discovery fails.
    let broken: Vec<&String> = modules
        .iter()
        .filter_map(|module| module.problem.as_ref())
        .collect();
    for problem in &broken {
        printer.error_message(problem);
    }
    Ok(if broken.is_empty() {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}
