//! Init: an infra from nothing (its manifest, a `main.ncl` that imports the generated files,
//! the lock) and the modules loaded into it, in one transaction: a module that cannot be
//! loaded, or a set that does not fit, leaves no infra behind. On an existing infra, only the
//! loading.

use anyhow::bail;

use super::load::{self, LoadOptions};
use super::report::{Event, Report};
use crate::catalog::{Catalog, Module};
use crate::context::Context;
use crate::fs::Transaction;
use crate::infra::session::{Access, InfraSession};
use crate::infra::{Infra, InfraError, generated};
use crate::module::{Layout, ModuleKind};
use crate::printer::Printer;

/// What to create, and load.
pub struct InitOptions<'a> {
    /// The command line's `<infra>`: a name under the workspace's `infra/`, or a path.
    pub infra: &'a str,
    /// The modules to load, every kind at once.
    pub modules: &'a [Module],
    /// The kinds named (each gets its generated file imported by a new `main.ncl`).
    pub kinds: &'a [ModuleKind],
    pub catalog: &'a Catalog,
}

/// Creates the infra when it is missing, then loads the modules (link mode; a module the
/// infra pins as a pack keeps its pin).
pub fn init(
    context: &Context,
    options: &InitOptions<'_>,
    printer: &Printer,
) -> anyhow::Result<Report> {
    let infra = match missing_infra(context, options.infra)? {
        Ok(infra) => {
            let mut session = InfraSession::open(context, infra, Access::Links, printer)?;
            return load::load(&mut session, load_options(options));
        }
        Err(missing) => missing,
    };
    let mut transaction = Transaction::new();
    create(&infra, options.kinds, &mut transaction)?;
    let name = infra.name.clone();
    let dir = context.display_path(&infra.dir).into_owned();
    let mut session = InfraSession::open(context, infra, Access::Links, printer)?;
    let mut report = match load::plan(&session, load_options(options))? {
        Ok(plan) => load::apply(&mut session, plan, &mut transaction)?,
        Err(refused) => return Ok(refused),
    };
    report.events.insert(0, Event::Created { infra: name, dir });
    report.warnings.extend(transaction.commit());
    if !options.modules.is_empty() {
        super::regenerate(&session, &mut report.warnings);
    }
    Ok(report)
}

fn load_options<'a>(options: &InitOptions<'a>) -> LoadOptions<'a> {
    LoadOptions {
        modules: options.modules,
        catalog: options.catalog,
        packs: None,
        layout: Layout::Nickel,
        force: false,
        switch_pins: false,
    }
}

/// The infra, when it exists (`Ok`), or the one to create (`Err`): a directory that is not an
/// infra yet (no manifest) is made one.
fn missing_infra(context: &Context, argument: &str) -> anyhow::Result<Result<Infra, Infra>> {
    Ok(match Infra::resolve(context, argument) {
        Ok(infra) if !infra.manifest_path(Layout::Nickel).exists() => Err(infra),
        Ok(infra) => Ok(infra),
        Err(InfraError::Unknown { name, root, .. }) => {
            Err(Infra::new(context, name.clone(), root.join(&name)))
        }
        Err(InfraError::NotADirectory { path, .. }) if !path.exists() => Err(Infra::new(
            context,
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            path,
        )),
        Err(other) => return Err(other.into()),
    })
}

/// Writes a new infra into `transaction`: `manifest.toml`, a `main.ncl` importing the generated
/// file of each kind it is created with, and an empty lock. Refuses a directory that has a
/// manifest or a `main.ncl`.
fn create(
    infra: &Infra,
    kinds: &[ModuleKind],
    transaction: &mut Transaction,
) -> anyhow::Result<()> {
    crate::names::validate(&infra.name).map_err(InfraError::InvalidName)?;
    let manifest_path = infra.manifest_path(Layout::Nickel);
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
        .filter_map(|kind| Some((kind.dir_name(), generated::file_name(*kind)?)))
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
    transaction.create_dir_all(&infra.dir)?;
    transaction.write(&manifest_path, manifest.as_bytes())?;
    transaction.write(&infra.dir.join("main.ncl"), main.as_bytes())?;
    transaction.write(
        &infra.lock_path(),
        crate::infra::lockfile::ProvidersLock::default()
            .render()
            .as_bytes(),
    )?;
    Ok(())
}
