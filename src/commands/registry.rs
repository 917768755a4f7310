//! `registry list`: what the registry holds, local directory or OCI.

use serde::Serialize;

use crate::Outcome;
use crate::cli::RegistryListArgs;
use crate::context::Context;
use crate::printer::{Printer, Table};
use crate::registry::Registries;

#[derive(Debug, Serialize)]
struct ListedVersion {
    module: String,
    version: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    yanked: bool,
}

/// `registry list [<module>]`: modules and versions in the registry (`--registry`, else the
/// configured remote one, else the local directory).
pub fn list(
    args: &RegistryListArgs,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let registry = Registries::open(&context.registry_options())?.primary();
    let modules = match &args.module {
        Some(module) => vec![module.clone()],
        None => registry.modules()?,
    };
    let mut rows = Vec::new();
    for module in modules {
        let yanked = registry.yanked(&module)?;
        for version in registry.versions(&module)? {
            rows.push(ListedVersion {
                module: module.to_string(),
                yanked: yanked.contains(&version),
                version: version.to_string(),
            });
        }
    }
    let label = registry.label();
    printer.data(&rows, || {
        let mut table =
            Table::new(["MODULE", "VERSION"]).when_empty(&format!("no packs in `{label}`"));
        for row in &rows {
            let version = if row.yanked {
                format!("{} (yanked)", row.version)
            } else {
                row.version.clone()
            };
            table.row([row.module.clone(), version]);
        }
        table
    })?;
    Ok(Outcome::Success)
}
