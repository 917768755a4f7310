use anyhow::{Context as _, bail};

use crate::Outcome;
use crate::catalog::{self, Layout};
use crate::cli::InstallArgs;
use crate::context::Context;
use crate::infra::lockfile::{Installed, ProvidersLock, Signer};
use crate::infra::ops::{
    self, DependencyAction, DependencyChange, InstallReport, LinkInstall, PackInstall, PackSources,
};
use crate::infra::{Change, Infra};
use crate::lock::DirLock;
use crate::printer::Printer;
use crate::registry::loose::{LooseArtifact, LooseSource};
use crate::registry::{Registries, Registry};
use crate::version_spec::VersionSpec;

/// `providers install <provider> <infra>`: link the provider's live source into the infra.
pub fn install(
    args: &InstallArgs,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let layout = Layout::from_kcl_flag(args.layout.kcl);
    let infra = Infra::resolve(context, &args.infra)?;
    if let Some(version) = &args.version {
        return install_pack(args, version, &infra, context, printer);
    }
    if let Some(from) = &args.from {
        return install_loose(args, from, &infra, context, printer);
    }
    let module = catalog::find_provider(&context.config.paths.extensions, &args.provider, layout)?;
    let Some(package) = module.package() else {
        bail!(
            "provider `{}` cannot be installed: {}",
            args.provider,
            module.problem().unwrap_or_default()
        );
    };
    let _lock = DirLock::acquire(&infra.dir, printer)?;
    let catalog = catalog::Catalog::new(&context.config);
    crate::infra::capabilities::check_change(
        context,
        &infra,
        &catalog,
        std::slice::from_ref(&module),
        &[],
    )
    .with_context(|| {
        format!(
            "failed to install `{}` into `{}`",
            args.provider, infra.name
        )
    })?;
    let request = LinkInstall {
        module: &args.provider.module_name(),
        kind: crate::catalog::EntryKind::Provider,
        package,
        layout,
        force: args.force,
        catalog: &catalog,
    };
    let done = ops::install_link(context, &infra, &request).with_context(|| {
        format!(
            "failed to install `{}` into `{}`",
            args.provider, infra.name
        )
    })?;
    let how = format!("link to `{}`", done.entry.source());
    report(&done, &infra, &how, printer);
    Ok(Outcome::Success)
}

fn report(done: &InstallReport, infra: &Infra, how: &str, printer: &Printer) {
    let entry = &done.entry;
    for warning in done.warnings.iter().chain(&done.leftovers) {
        printer.warning(warning);
    }
    match done.change {
        Change::Changed => printer.status(
            "Installed",
            format!(
                "`{}` {} into `{}` ({how})",
                entry.module, entry.version, infra.name
            ),
        ),
        Change::Unchanged => printer.status(
            "Unchanged",
            format!(
                "`{}` {} is already installed in `{}`",
                entry.module, entry.version, infra.name
            ),
        ),
    }
    report_dependencies(&done.dependencies, printer);
}

/// One status line per dependency an install or removal linked, vendored or dropped, as Cargo
/// says `Adding` and `Removing`.
pub fn report_dependencies(changes: &[DependencyChange], printer: &Printer) {
    for change in changes {
        let required_by: Vec<String> = change.required_by.iter().map(ToString::to_string).collect();
        let (verb, why) = match change.action {
            DependencyAction::Linked => {
                ("Linked", format!("required by {}", required_by.join(", ")))
            }
            DependencyAction::Vendored => (
                "Vendored",
                format!("required by {}", required_by.join(", ")),
            ),
            DependencyAction::Removed => ("Removed", "no longer required".to_owned()),
        };
        printer.status(
            verb,
            format!("{} {} ({why})", change.module, change.version),
        );
    }
}

/// `providers install <provider> <infra> --from PATH|URL`: one loose artifact, verified as a
/// registry's pack and vendored; its dependencies come from the registries.
fn install_loose(
    args: &InstallArgs,
    from: &str,
    infra: &Infra,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let options = context.registry_options();
    let loose = LooseArtifact::new(LooseSource::parse(from, &context.cwd)?, &options)?;
    let module = args.provider.module_name();
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
    let version = VersionSpec::Exact(pack.version.clone());
    install_from(
        args,
        &version,
        vec![Box::new(loose)],
        infra,
        context,
        printer,
    )
}

/// `providers install <provider> <infra> --version V`: verify the pack and vendor it.
fn install_pack(
    args: &InstallArgs,
    version: &VersionSpec,
    infra: &Infra,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    install_from(args, version, Vec::new(), infra, context, printer)
}

/// Installs `version` of the provider from `first` (a loose artifact), else the registries.
fn install_from(
    args: &InstallArgs,
    version: &VersionSpec,
    first: Vec<Box<dyn Registry>>,
    infra: &Infra,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let registries = Registries::open(&context.registry_options())?;
    let keys = context.trusted_keys()?;
    // The registry first, then the infra (the order every command keeps): the version pinned
    // here cannot be cleaned away before the lock records it.
    let _registry_lock = registries.local.lock_shared(printer)?;
    let _lock = DirLock::acquire(&infra.dir, printer)?;
    let lock = ProvidersLock::read(&infra.lock_path())?;
    let registry =
        registries.chain_recorded(first, lock.pack_sources(), &context.registry_options());
    let module = args.provider.module_name();
    let request = PackInstall {
        module: &module,
        version,
        recorded: None,
        sources: PackSources {
            registry: &registry,
            keys: &keys,
            limits: context.unpack_limits(),
        },
        allow_unsigned: args.allow_unsigned,
        direct: true,
        force: args.force,
        expected: None,
    };
    let done = ops::install_pack(context, infra, &request, None).with_context(|| {
        format!(
            "failed to install `{}` {version} into `{}`",
            args.provider, infra.name
        )
    })?;
    let signer = match &done.entry.installed {
        Installed::Pack(pin) if pin.signer != Signer::Unsigned => {
            format!("signed by {}", pin.signer)
        }
        _ => "unsigned, allowed by `--allow-unsigned`".to_owned(),
    };
    let how = format!("pack from `{}`, {signer}", done.entry.source());
    report(&done, infra, &how, printer);
    Ok(Outcome::Success)
}
