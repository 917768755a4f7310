use serde::Serialize;

use crate::Outcome;
use crate::catalog;
use crate::cli::LayoutArgs;
use crate::context::Context;
use crate::module::{Layout, ModuleKind};
use crate::printer::{Printer, Table};

#[derive(Debug, Serialize)]
pub struct ProviderRow {
    pub name: String,
    pub module: String,
    pub version: Option<String>,
    pub description: Option<String>,
    pub nickel: bool,
    pub kcl: bool,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// `providers list [--kcl]`: every provider under `extensions/providers/`.
pub fn list(args: &LayoutArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let layout = Layout::from_kcl_flag(args.kcl);
    let rows: Vec<ProviderRow> = catalog::discover(
        &crate::catalog::Catalog::new(&context.config),
        ModuleKind::Provider,
        layout,
    )?
    .into_iter()
    .map(|module| {
        let manifest = module.package().map(|package| &package.manifest);
        ProviderRow {
            version: manifest.map(|m| m.version.to_string()),
            description: manifest.map(|m| m.description.clone()),
            problem: module.broken().map(str::to_owned),
            module: format!("{}{}", module.name, crate::names::MODULE_SUFFIX),
            name: module.name,
            nickel: module.has_nickel,
            kcl: module.has_kcl,
            path: context.display_path(&module.dir).display().to_string(),
        }
    })
    .collect();
    // A provider whose manifest is broken is listed (with `problem` in JSON and YAML), and its
    // error is an error, on stderr, naming the file: the listing fails.
    printer.data(&rows, || {
        let mut table = Table::new(["NAME", "VERSION", "NICKEL", "KCL", "PATH", "DESCRIPTION"])
            .when_empty(&format!(
                "no providers found in `{}`",
                context
                    .display_path(&context.config.paths.extensions.join("providers"))
                    .display()
            ));
        for row in &rows {
            table.row([
                row.name.clone(),
                row.version.clone().unwrap_or_else(|| "-".into()),
                yes_no(row.nickel).into(),
                yes_no(row.kcl).into(),
                row.path.clone(),
                match &row.problem {
                    Some(_) => "-".to_owned(),
                    None => row.description.clone().unwrap_or_default(),
                },
            ]);
        }
        table
    })?;
    let broken: Vec<&String> = rows.iter().filter_map(|row| row.problem.as_ref()).collect();
    for problem in &broken {
        printer.error_message(problem);
    }
    Ok(if broken.is_empty() {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

pub(super) fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}
