//! `registry list`: what the registry holds (a local directory, OCI or static HTTP); with
//! several configured, each of them in order with its state.

use serde::Serialize;

use crate::Outcome;
use crate::cli::RegistryListArgs;
use crate::context::Context;
use crate::names::ModuleName;
use crate::printer::{Printer, Table};
use crate::registry::{Named, Registries, Registry};

#[derive(Debug, Serialize)]
struct ListedVersion {
    module: String,
    version: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    yanked: bool,
}

/// The most modules whose versions `registry list` reads: a registry listing more is asked
/// about one module at a time.
pub const MAX_LISTED_MODULES: usize = 10_000;

/// One configured registry as `registry list` shows it when there are several.
#[derive(Debug, Serialize)]
struct ListedRegistry {
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    address: String,
    reachable: bool,
    /// How many modules it holds, when it could be read.
    modules: Option<usize>,
    error: Option<String>,
}

/// `registry list [<module>]`: modules and versions in the registry (`--registry`, else the
/// configured one, else the local directory); without a module and with several configured,
/// the registries in the order they are asked, each with its state.
pub fn list(
    args: &RegistryListArgs,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let registries = Registries::open(&context.registry_options())?;
    if args.module.is_none() && registries.configured.len() > 1 {
        return list_registries(registries.configured, context, printer);
    }
    let registry = registries.primary();
    let label = registry.label();
    let modules = match &args.module {
        Some(module) => vec![module.clone()],
        None => registry.modules()?,
    };
    if modules.len() > MAX_LISTED_MODULES {
        anyhow::bail!(
            "the registry `{label}` lists {} modules, more than the {MAX_LISTED_MODULES} `registry list` reads the versions of\nhint: name one: `provisioning registry list <module>`",
            modules.len()
        );
    }
    // Each module's versions and yanks, all under the command's one network deadline.
    let mut rows = Vec::new();
    for (module, listed) in modules.iter().zip(registry.listing(&modules)) {
        for (version, yanked) in listed? {
            rows.push(ListedVersion {
                module: module.to_string(),
                yanked,
                version: version.to_string(),
            });
        }
    }
    if let Some(module) = args.module.as_ref().filter(|_| rows.is_empty()) {
        anyhow::bail!(
            "no packs of `{module}` in the registry `{label}`\nhint: {}",
            held_instead(module, registry.as_ref())
        );
    }
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

/// What a registry holds instead of `module`: the provider's module when `module` is a
/// provider's name (`aws` for `aws_prov`), else the modules it has. A registry that cannot list
/// its modules (an OCI registry without a catalog) says only that it has none of `module`.
fn held_instead(module: &ModuleName, registry: &dyn Registry) -> String {
    let Ok(held) = registry.modules() else {
        return format!("it has no versions of `{module}`");
    };
    if let Some(meant) = crate::registry::provider_module(module).filter(|m| held.contains(m)) {
        return format!(
            "the provider `{module}` is packed as `{meant}`: `provisioning registry list {meant}`"
        );
    }
    if held.is_empty() {
        return "it holds no packs".to_owned();
    }
    let names: Vec<String> = held.iter().map(|m| format!("`{m}`")).collect();
    format!("modules there: {}", names.join(", "))
}

/// Each registry in order: reachable with how many modules it holds, or the error that says
/// why not. Exit 1 when one is not reachable.
fn list_registries(
    registries: Vec<Named>,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let configured = &context.config.distribution.registries;
    let rows: Vec<ListedRegistry> = registries
        .into_iter()
        .map(|named| {
            let name = named.name.unwrap_or_default();
            let kind = configured
                .iter()
                .find(|registry| registry.name == name)
                .map_or("", |registry| registry.location.kind());
            let held = named.registry.modules();
            ListedRegistry {
                kind,
                address: named.registry.label(),
                reachable: held.is_ok(),
                modules: held.as_ref().ok().map(Vec::len),
                error: held
                    .err()
                    .map(|error| crate::registry::transport::describe(&error)),
                name,
            }
        })
        .collect();
    printer.data(&rows, || {
        let mut table = Table::new(["NAME", "TYPE", "ADDRESS", "STATE"]);
        for row in &rows {
            let state = match (&row.modules, &row.error) {
                (Some(1), _) => "reachable, 1 module".to_owned(),
                (Some(count), _) => format!("reachable, {count} modules"),
                (None, error) => format!("unreachable: {}", error.as_deref().unwrap_or_default()),
            };
            table.row([
                row.name.clone(),
                row.kind.to_owned(),
                row.address.clone(),
                state,
            ]);
        }
        table
    })?;
    Ok(if rows.iter().all(|row| row.reachable) {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}
