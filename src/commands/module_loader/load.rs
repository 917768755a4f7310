//! `module-loader load` and `unload`: modules of any kind into and out of an infra, in link
//! mode or (with `--version`) pack mode, with the capability check of the set they leave.

use anyhow::{Context as _, bail};

use crate::Outcome;
use crate::catalog::{Catalog, EntryKind, Layout, Module, ModuleKind};
use crate::cli::{LoadArgs, ModuleArg, UnloadArgs};
use crate::context::Context;
use crate::infra::capabilities;
use crate::infra::lockfile::ProvidersLock;
use crate::infra::ops::{self, LinkInstall, PackInstall, PackSources};
use crate::infra::{Change, Infra};
use crate::lock::DirLock;
use crate::names::ModuleName;
use crate::printer::Printer;
use crate::registry::Registries;
use crate::version_spec::VersionSpec;

/// How to load the modules of one command.
pub struct Request<'a> {
    pub version: Option<&'a VersionSpec>,
    pub allow_unsigned: bool,
    pub force: bool,
}

/// `module-loader load <kind> <infra> <names>...`.
pub fn load(args: &LoadArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let infra = Infra::resolve(context, &args.infra)?;
    let request = Request {
        version: args.version.as_ref(),
        allow_unsigned: args.allow_unsigned,
        force: args.force,
    };
    let catalog = Catalog::new(&context.config);
    let modules = find_all(
        &catalog,
        &[(args.kind, &args.names)],
        args.version.is_some(),
    )?;
    load_modules(context, &infra, &request, &modules, &catalog, printer)
}

/// Finds every module named, of its kind; every unknown name is reported at once.
///
/// In link mode a module must be in the catalog with a readable package. In pack mode
/// (`packs`) one the catalog lacks is looked for in the registry alone.
pub fn find_all(
    catalog: &Catalog,
    wanted: &[(ModuleKind, &[ModuleArg])],
    packs: bool,
) -> anyhow::Result<Vec<Module>> {
    let mut modules = Vec::new();
    let mut unknown = Vec::new();
    for (kind, names) in wanted {
        if *kind == ModuleKind::Core {
            bail!(
                "the core schemas are not loaded by name: a module that depends on them brings them"
            );
        }
        for name in *names {
            match catalog.find_named(*kind, name.as_str()) {
                Ok(module) if packs => modules.push(module),
                Ok(module) => match module.problem() {
                    None => modules.push(module),
                    Some(problem) => unknown.push(format!(
                        "{} `{}` cannot be loaded: {problem}",
                        kind.singular(),
                        module.name
                    )),
                },
                Err(crate::catalog::CatalogError::UnknownOfKind { .. }) if packs => {
                    modules.push(registry_only(*kind, name));
                }
                Err(error) => unknown.push(error.to_string()),
            }
        }
    }
    if !unknown.is_empty() {
        bail!("{}", unknown.join("\n"));
    }
    Ok(modules)
}

/// A module known to the registry only (pack mode): no source, so no package to read.
fn registry_only(kind: ModuleKind, name: &ModuleArg) -> Module {
    Module {
        kind,
        name: name.to_string(),
        category: None,
        dir: std::path::PathBuf::new(),
        has_nickel: false,
        has_kcl: false,
        layout: Layout::Nickel,
        package: crate::catalog::PackageState::Missing,
    }
}

/// Loads `modules` one by one (each one transaction); every failure is reported and fails the
/// exit code at the end.
pub fn load_modules(
    context: &Context,
    infra: &Infra,
    request: &Request<'_>,
    modules: &[Module],
    catalog: &Catalog,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let registries = match request.version {
        Some(_) => Some(Registries::open(&context.registry_options())?),
        None => None,
    };
    let keys = context.trusted_keys()?;
    let _registry_lock = match &registries {
        Some(registries) => registries.local.lock_shared(printer)?,
        None => None,
    };
    let _lock = DirLock::acquire(&infra.dir, printer)?;
    // Checked under the infra's lock: two loads at once cannot each pass against the set
    // before the other's change.
    capabilities::check_change(context, infra, catalog, modules, &[])?;
    let before = ProvidersLock::read(&infra.lock_path())?;
    let registry = registries.map(Registries::chain);
    let mut failed = 0;
    let mut loaded: Vec<ModuleName> = Vec::new();
    for module in modules {
        let name = module.module_name()?;
        let kind = EntryKind::from_module_kind(module.kind);
        let done = match (request.version, &registry) {
            (Some(version), Some(registry)) => ops::install_pack(
                context,
                infra,
                &PackInstall {
                    module: &name,
                    version,
                    recorded: None,
                    sources: PackSources {
                        registry,
                        keys: &keys,
                        limits: context.unpack_limits(),
                    },
                    allow_unsigned: request.allow_unsigned,
                    direct: true,
                    force: request.force,
                    expected: Some(kind),
                },
                None,
            ),
            _ => match module.package() {
                Some(package) => ops::install_link(
                    context,
                    infra,
                    &LinkInstall {
                        module: &name,
                        kind,
                        package,
                        layout: Layout::Nickel,
                        force: request.force,
                        catalog,
                    },
                ),
                None => Err(anyhow::anyhow!(
                    "{} `{}` cannot be loaded: {}",
                    module.kind.singular(),
                    module.name,
                    module.problem().unwrap_or_default()
                )),
            },
        };
        match done.with_context(|| format!("failed to load `{name}` into `{}`", infra.name)) {
            Ok(report) => {
                for warning in report.warnings.iter().chain(&report.leftovers) {
                    printer.warning(warning);
                }
                let entry = &report.entry;
                let how = match entry.pin() {
                    Some(pin) => format!("pack from `{}`, signed by {}", pin.source, pin.signer),
                    None => format!("link to `{}`", entry.source()),
                };
                match report.change {
                    Change::Changed => printer.status(
                        "Loaded",
                        format!(
                            "{} `{}` {} into `{}` ({how})",
                            entry.kind.as_str(),
                            entry.module,
                            entry.version,
                            infra.name
                        ),
                    ),
                    Change::Unchanged => printer.status(
                        "Unchanged",
                        format!(
                            "{} `{}` {} is already loaded in `{}`",
                            entry.kind.as_str(),
                            entry.module,
                            entry.version,
                            infra.name
                        ),
                    ),
                }
                crate::commands::providers::report_dependencies(&report.dependencies, printer);
                loaded.push(report.entry.module.clone());
            }
            Err(error) => {
                failed += 1;
                printer.error(&error);
            }
        }
    }
    // The modules of one command go together: when one failed, or the packs as loaded do not
    // fit together (their own manifests may say other than the sources the check read), what
    // this command added goes again.
    let misfit = if failed == 0 {
        let lock = ProvidersLock::read(&infra.lock_path())?;
        capabilities::check_against(&capabilities::loaded(context, infra, &lock), catalog)
    } else {
        Vec::new()
    };
    if failed > 0 || !misfit.is_empty() {
        for problem in &misfit {
            printer.error_message(format!("as loaded, {problem}"));
        }
        roll_back(context, infra, &before, &loaded, printer);
        printer.error_message(format!(
            "{} of {} modules could not be loaded into `{}`, so none were",
            if failed > 0 { failed } else { modules.len() },
            modules.len(),
            infra.name
        ));
        return Ok(Outcome::Failure);
    }
    Ok(Outcome::Success)
}

/// Unloads what one command loaded that the infra did not have before it.
fn roll_back(
    context: &Context,
    infra: &Infra,
    before: &ProvidersLock,
    loaded: &[ModuleName],
    printer: &Printer,
) {
    for module in loaded.iter().rev() {
        if before.module(module).is_some() {
            continue;
        }
        match ops::remove(context, infra, module, true) {
            Ok(_) => printer.status("Unloaded", format!("`{module}` again")),
            Err(error) => printer.error(&error.context(format!(
                "failed to unload `{module}` again; `provisioning module-loader unload` it by hand"
            ))),
        }
    }
}

/// `module-loader unload <kind> <infra> <names>...`.
pub fn unload(args: &UnloadArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let infra = Infra::resolve(context, &args.infra)?;
    let lock = ProvidersLock::read(&infra.lock_path())?;
    let kind = EntryKind::from_module_kind(args.kind);
    let mut modules = Vec::new();
    for name in &args.names {
        let module: ModuleName = match args.kind {
            ModuleKind::Providers => name.module_name(),
            _ => ModuleName::from(name),
        };
        match lock.module(&module) {
            Some(entry) if entry.kind != kind => bail!(
                "`{module}` is a {} in `{}`, not a {}\nhint: `provisioning module-loader unload {} {} {name}`",
                entry.kind.as_str(),
                infra.name,
                kind.as_str(),
                entry.kind.module_kind().dir_name(),
                infra.name
            ),
            Some(_) => modules.push(module),
            None if args.force => modules.push(module),
            None => {
                let loaded: Vec<String> = lock
                    .providers
                    .iter()
                    .filter(|entry| entry.kind == kind)
                    .map(|entry| format!("`{}`", entry.name))
                    .collect();
                let hint = if loaded.is_empty() {
                    format!("`{}` has no {} loaded", infra.name, args.kind.dir_name())
                } else {
                    format!("loaded {}: {}", args.kind.dir_name(), loaded.join(", "))
                };
                bail!(
                    "the {} `{name}` is not loaded in `{}`\nhint: {hint}",
                    kind.as_str(),
                    infra.name
                );
            }
        }
    }
    let _lock = DirLock::acquire(&infra.dir, printer)?;
    if !args.force {
        capabilities::check_change(
            context,
            &infra,
            &Catalog::new(&context.config),
            &[],
            &modules,
        )?;
    }
    for module in &modules {
        let removal = ops::remove(context, &infra, module, args.force)
            .with_context(|| format!("failed to unload `{module}` from `{}`", infra.name))?;
        for leftover in &removal.leftovers {
            printer.warning(leftover);
        }
        if let Some((kept, required_by)) = &removal.kept {
            let required_by: Vec<String> = required_by.iter().map(ToString::to_string).collect();
            printer.status(
                "Kept",
                format!(
                    "`{kept}` in `{}`: required by {}",
                    infra.name,
                    required_by.join(", ")
                ),
            );
            continue;
        }
        printer.status(
            "Unloaded",
            format!("{} `{module}` from `{}`", kind.as_str(), infra.name),
        );
        crate::commands::providers::report_dependencies(&removal.dependencies, printer);
    }
    Ok(Outcome::Success)
}
