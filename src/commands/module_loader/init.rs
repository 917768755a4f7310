//! `module-loader init <infra> --providers .. --taskservs .. --clusters ..`: an infra from
//! nothing (its manifest, a `main.ncl` that imports the generated files, the lock), then the
//! modules loaded; on an existing infra, only the loading.

use anyhow::bail;

use super::load::{Request, find_all, load_modules};
use crate::Outcome;
use crate::catalog::{Catalog, ModuleKind};
use crate::cli::InitArgs;
use crate::context::Context;
use crate::infra::Infra;
use crate::infra::capabilities;
use crate::infra::generated;
use crate::infra::lockfile::EntryKind;
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
    let missing = match Infra::resolve(context, &args.infra) {
        // A directory that is not an infra yet (no manifest) is made one.
        Ok(infra) if !infra.manifest_path(crate::catalog::Layout::Nickel).exists() => Err(infra),
        Ok(infra) => Ok(infra),
        Err(crate::infra::InfraError::Unknown { name, root, .. }) => Err(Infra {
            dir: root.join(&name),
            name,
        }),
        Err(crate::infra::InfraError::NotADirectory { path }) if !path.exists() => Err(Infra {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            dir: path,
        }),
        Err(other) => return Err(other.into()),
    };
    let infra = match missing {
        Ok(infra) => infra,
        Err(infra) => {
            let kinds: Vec<EntryKind> = wanted
                .iter()
                .filter(|(_, names)| !names.is_empty())
                .map(|(kind, _)| EntryKind::from_module_kind(*kind))
                .collect();
            capabilities::check_change(context, &infra, &catalog, &modules, &[])?;
            create(&infra, &kinds)?;
            printer.status(
                "Created",
                format!(
                    "`{}` in `{}`",
                    infra.name,
                    context.display_path(&infra.dir).display()
                ),
            );
            infra
        }
    };
    if modules.is_empty() {
        return Ok(Outcome::Success);
    }
    let request = Request {
        version: None,
        allow_unsigned: false,
        force: false,
    };
    load_modules(context, &infra, &request, &modules, &catalog, printer)
}

/// Writes a new infra: `manifest.toml`, a `main.ncl` importing the generated file of each kind
/// it is created with, and an empty lock. Refuses a directory that exists.
fn create(infra: &Infra, kinds: &[EntryKind]) -> anyhow::Result<()> {
    crate::names::validate(&infra.name).map_err(crate::infra::InfraError::InvalidName)?;
    let manifest_path = infra.manifest_path(crate::catalog::Layout::Nickel);
    if manifest_path.exists() || infra.dir.join("main.ncl").exists() {
        bail!(
            "`{}` has a `manifest.toml` or a `main.ncl` already",
            infra.dir.display()
        );
    }
    let manifest = format!(
        "[package]\nname = \"{}\"\nversion = \"0.1.0\"\n",
        infra.name
    );
    let mut main = format!(
        "# The infrastructure `{}`. Its modules, one generated file per kind, are kept by\n# `provisioning module-loader load` and `unload`.\n",
        infra.name
    );
    let files: Vec<(&str, &str)> = kinds
        .iter()
        .filter_map(|kind| Some((kind.module_kind().dir_name(), generated::file_name(*kind)?)))
        .collect();
    // The bindings are named apart from the fields: a record's fields are in scope inside it.
    for (kind, file) in &files {
        main.push_str(&format!("let loaded_{kind} = import \"{file}\" in\n"));
    }
    main.push_str("{\n");
    for (kind, _) in &files {
        main.push_str(&format!("  {kind} = std.record.fields loaded_{kind},\n"));
    }
    main.push_str("}\n");
    let mut transaction = crate::fs::Transaction::new();
    transaction.create_dir_all(&infra.dir)?;
    transaction.write(
        &infra.manifest_path(crate::catalog::Layout::Nickel),
        manifest.as_bytes(),
    )?;
    transaction.write(&infra.dir.join("main.ncl"), main.as_bytes())?;
    transaction.write(
        &infra.lock_path(),
        crate::infra::lockfile::ProvidersLock::default()
            .render()
            .as_bytes(),
    )?;
    let leftovers = transaction.commit();
    if let Some(leftover) = leftovers.first() {
        bail!("{leftover}");
    }
    Ok(())
}
