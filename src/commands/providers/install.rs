//! `providers install <provider> <infra> [--version V | --from PATH|URL]`: the providers' front
//! end of the load operation, for one provider.

use anyhow::{Context as _, bail};

use crate::Outcome;
use crate::catalog;
use crate::cli::InstallArgs;
use crate::commands::changes::{self, Wording};
use crate::context::Context;
use crate::infra::Infra;
use crate::infra::session::{Access, InfraSession};
use crate::module::Layout;
use crate::ops::{self, LoadOptions, PackOptions};
use crate::printer::Printer;
use crate::registry::Registry;
use crate::registry::loose::{LooseArtifact, LooseSource};
use crate::version_spec::VersionSpec;

/// `providers install <provider> <infra>`: link the provider's live source into the infra, or
/// (with `--version` or `--from`) vendor a verified pack of it.
pub fn install(
    args: &InstallArgs,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let layout = Layout::from_kcl_flag(args.layout.kcl);
    let infra = Infra::resolve(context, &args.infra)?;
    let catalog = catalog::Catalog::new(&context.config);
    let (packs, what) = match (&args.version, &args.from) {
        (Some(version), _) => (
            Some(pack_options(version.clone(), Vec::new(), args)),
            format!("`{}` {version}", args.provider),
        ),
        (None, Some(from)) => {
            let (version, loose) = loose_artifact(args, from, context)?;
            let what = format!("`{}` {version}", args.provider);
            (Some(pack_options(version, vec![loose], args)), what)
        }
        (None, None) => (None, format!("`{}`", args.provider)),
    };
    let module = match &packs {
        // Pack mode: the catalog's source is read for capabilities when it is there.
        Some(_) => catalog::find_provider(&context.config.paths.extensions, &args.provider, layout)
            .unwrap_or_else(|_| registry_only(&args.provider)),
        None => {
            let module =
                catalog::find_provider(&context.config.paths.extensions, &args.provider, layout)?;
            if module.package().is_none() {
                bail!(
                    "provider `{}` cannot be installed: {}",
                    args.provider,
                    module.problem().unwrap_or_default()
                );
            }
            module
        }
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

fn pack_options(
    version: VersionSpec,
    first: Vec<Box<dyn Registry>>,
    args: &InstallArgs,
) -> PackOptions {
    PackOptions {
        version,
        allow_unsigned: args.allow_unsigned,
        first,
    }
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

/// `--from PATH|URL`: one loose artifact, which must be a pack of the provider named; its
/// dependencies come from the registries.
fn loose_artifact(
    args: &InstallArgs,
    from: &str,
    context: &Context,
) -> anyhow::Result<(VersionSpec, Box<dyn Registry>)> {
    let options = context.registry_options();
    let loose = LooseArtifact::new(LooseSource::parse(from, &context.cwd)?, &options)?;
    let module = args.provider.provider_module();
    let pack = loose.pack().clone();
    if pack.module != module {
        bail!(
            "`{from}` is a pack of `{}`, not of `{}` (`{module}`)\nhint: `provisioning providers install {} {} --from {from}`",
            pack.module,
            args.provider,
            pack.module.short_name(),
            args.infra
        );
    }
    Ok((VersionSpec::Exact(pack.version), Box::new(loose)))
}
