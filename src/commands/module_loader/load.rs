//! `module-loader load` and `unload`: modules of any kind into and out of an infra, in link
//! mode or (with `--version` or `--from`) pack mode, with the capability check of the set they leave.

use anyhow::bail;

use crate::Outcome;
use crate::artifact::verify::AllowUnsigned;
use crate::catalog::{Catalog, Module};
use crate::cli::{LoadArgs, ModuleArg, UnloadArgs};
use crate::commands::changes::{self, Wording};
use crate::context::Context;
use crate::infra::Infra;
use crate::infra::session::{Access, InfraSession};
use crate::module::{Layout, ModuleKind};
use crate::names::ModuleName;
use crate::ops::{self, LoadOptions, PackOptions, RemoveOptions};
use crate::printer::Printer;
use crate::registry::loose::set::LooseSet;
use crate::version_spec::VersionSpec;

/// How to load the modules of one command.
pub struct Request<'a> {
    pub version: Option<&'a VersionSpec>,
    /// `--from`: the loose artifacts (pack mode).
    pub from: Option<LooseSet>,
    pub allow_unsigned: AllowUnsigned,
    /// `--accept-signer`.
    pub accept_signer: bool,
    pub force: bool,
    /// Link even the modules the infra pins as packs.
    pub link: bool,
}

/// `module-loader load <kind> <infra> <names>...`.
pub fn load(args: &LoadArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let infra = Infra::resolve(context, &args.infra)?;
    let from = match args.from.values.as_slice() {
        [] => None,
        values => Some(LooseSet::open(values, &context.registry_options())?),
    };
    let packs = args.version.is_some() || from.is_some();
    let request = Request {
        version: args.version.as_ref(),
        from,
        allow_unsigned: AllowUnsigned::from_arg(args.allow_unsigned.clone()),
        accept_signer: args.accept_signer,
        force: args.force,
        link: args.link,
    };
    let catalog = Catalog::new(&context.config);
    let modules = find_all(&catalog, &[(args.kind, &args.names)], packs)?;
    load_modules(context, infra, request, &modules, &catalog, printer)
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
                        kind.as_str(),
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

/// Loads `modules` into `infra`, all or none: every module that cannot be loaded is reported,
/// and fails the exit code.
fn load_modules(
    context: &Context,
    infra: Infra,
    request: Request<'_>,
    modules: &[Module],
    catalog: &Catalog,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let packs = request.version.is_some() || request.from.is_some();
    let access = if packs { Access::Packs } else { Access::Links };
    let mut session = InfraSession::open(context, infra, access, printer)?;
    let options = LoadOptions {
        modules,
        catalog,
        packs: packs.then(|| PackOptions {
            version: request.version.cloned(),
            allow_unsigned: request.allow_unsigned,
            accept_signer: request.accept_signer,
            from: request.from,
        }),
        layout: Layout::Nickel,
        force: request.force,
        switch_pins: request.link,
    };
    let report = ops::load(&mut session, options)?;
    Ok(changes::print(report, Wording::MODULES, "loaded", printer))
}

/// `module-loader unload <kind> <infra> <names>...`.
pub fn unload(args: &UnloadArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let infra = Infra::resolve(context, &args.infra)?;
    let modules: Vec<ModuleName> = args
        .names
        .iter()
        .map(|name| match args.kind {
            ModuleKind::Provider => name.provider_module(),
            _ => ModuleName::from(name),
        })
        .collect();
    let mut session = InfraSession::open(context, infra, Access::Links, printer)?;
    let options = RemoveOptions {
        modules: &modules,
        kind: Some(args.kind),
        force: args.force,
        catalog: &Catalog::new(&context.config),
    };
    let report = ops::remove(&mut session, &options)?;
    let mut wording = Wording::MODULES;
    wording.verb = "unload";
    Ok(changes::print(report, wording, "unloaded", printer))
}
