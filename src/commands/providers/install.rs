//! `providers install <provider> <infra> [--version V] [--from PATH|DIR|URL]...`: the
//! providers' front end of the load operation, for one provider (or the core schemas).

use anyhow::{Context as _, bail};

use crate::Outcome;
use crate::artifact::verify::AllowUnsigned;
use crate::catalog;
use crate::cli::InstallArgs;
use crate::commands::changes::{self, Wording};
use crate::context::Context;
use crate::infra::Infra;
use crate::infra::session::{Access, InfraSession};
use crate::module::{Layout, ModuleKind};
use crate::ops::{self, LoadOptions, PackOptions};
use crate::printer::Printer;
use crate::registry::loose::set::LooseSet;

/// `providers install <provider> <infra>`: link the provider's live source into the infra, or
/// (with `--version` or `--from`) vendor a verified pack of it. The name of the core schemas
/// (`core_package_name`) installs the core.
pub fn install(
    args: &InstallArgs,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let layout = Layout::from_kcl_flag(args.layout.kcl);
    let infra = Infra::resolve(context, &args.infra)?;
    let catalog = catalog::Catalog::new(&context.config);
    let core = catalog.core.1.as_str() == args.provider.as_str();
    let module_name = if core {
        catalog.core.1.clone()
    } else {
        args.provider.provider_module()
    };
    let from = match args.from.values.as_slice() {
        [] => None,
        values => Some(LooseSet::open(values, &context.registry_options())?),
    };
    // The version said in messages: asked for, else the newest the artifacts hold.
    let version = match (&args.version, &from) {
        (Some(version), _) => Some(version.to_string()),
        (None, Some(set)) => set.newest().get(&module_name).map(ToString::to_string),
        (None, None) => None,
    };
    let what = match &version {
        Some(version) => format!("`{}` {version}", args.provider),
        None => format!("`{}`", args.provider),
    };
    let packs = (args.version.is_some() || from.is_some()).then(|| PackOptions {
        version: args.version.clone(),
        allow_unsigned: AllowUnsigned::from_arg(args.allow_unsigned.clone()),
        accept_signer: args.accept_signer,
        from,
    });
    let module = if core {
        if layout == Layout::Kcl {
            bail!(
                "the core schemas `{}` are installed in the Nickel layout only\nhint: drop `--kcl`",
                args.provider
            );
        }
        catalog.find_named(crate::module::ModuleKind::Core, args.provider.as_str())?
    } else {
        find_provider(context, args, layout, packs.is_some())
            .map_err(|error| another_kind(&catalog, &args.provider, &args.infra, error))?
    };
    let access = if packs.is_some() {
        Access::Packs
    } else {
        Access::Links
    };
    let failed = || format!("failed to install {what} into `{}`", infra.name);
    let mut session =
        InfraSession::open(context, infra.clone(), access, printer).with_context(failed)?;
    let options = LoadOptions {
        modules: std::slice::from_ref(&module),
        catalog: &catalog,
        packs,
        layout,
        force: args.force,
        // Naming one provider without `--version` asks for its link.
        switch_pins: true,
    };
    let mut report = ops::load(&mut session, options).with_context(failed)?;
    if let Some(failure) = report.failures.pop() {
        return Err(failure.error.context(failed()));
    }
    Ok(changes::print(
        report,
        Wording::PROVIDERS,
        "installed",
        printer,
    ))
}

/// The provider named, from the catalog; in pack mode one the catalog lacks is known to the
/// registries alone (its source is read for capabilities when it is there).
fn find_provider(
    context: &Context,
    args: &InstallArgs,
    layout: Layout,
    packs: bool,
) -> anyhow::Result<catalog::Module> {
    let found = catalog::find_provider(
        &crate::catalog::Catalog::new(&context.config),
        &args.provider,
        layout,
    );
    if packs {
        return Ok(found.unwrap_or_else(|_| registry_only(&args.provider)));
    }
    let module = found?;
    if module.package().is_none() {
        bail!(
            "provider `{}` cannot be installed: {}",
            args.provider,
            module.problem().unwrap_or_default()
        );
    }
    Ok(module)
}

/// An unknown provider that is a taskserv or a cluster: the error says so, with the command that
/// loads it (`providers` commands are about providers, as `providers remove` refuses them).
fn another_kind(
    catalog: &catalog::Catalog,
    name: &crate::names::ShortName,
    infra: &str,
    error: anyhow::Error,
) -> anyhow::Error {
    if !matches!(
        error.downcast_ref::<catalog::CatalogError>(),
        Some(catalog::CatalogError::UnknownProvider { .. })
    ) {
        return error;
    }
    for kind in [ModuleKind::Taskserv, ModuleKind::Cluster] {
        if catalog.find_named(kind, name.as_str()).is_ok() {
            return anyhow::anyhow!(
                "`{name}` is a {}, not a provider\nhint: `provisioning module-loader load {} {infra} {name}`",
                kind.as_str(),
                kind.dir_name()
            );
        }
    }
    error
}

/// A provider known to a registry only: no source here.
fn registry_only(provider: &crate::names::ShortName) -> catalog::Module {
    catalog::Module {
        kind: crate::module::ModuleKind::Provider,
        name: provider.to_string(),
        category: None,
        dir: std::path::PathBuf::new(),
        has_nickel: false,
        has_kcl: false,
        layout: Layout::Nickel,
        package: catalog::PackageState::Missing,
    }
}
