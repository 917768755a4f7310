use anyhow::{Context as _, bail};

use crate::Outcome;
use crate::catalog::{self, Layout};
use crate::cli::InstallArgs;
use crate::context::Context;
use crate::infra::Infra;
use crate::infra::link::{self, Change};
use crate::infra::lockfile::{LockEntry, UNSIGNED};
use crate::infra::vendor;
use crate::lock::DirLock;
use crate::printer::Printer;

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
    let module = catalog::find_provider(&context.config.paths.extensions, &args.provider, layout)?;
    let Some(package) = module.package() else {
        bail!(
            "provider `{}` cannot be installed: {}",
            args.provider,
            module.problem().unwrap_or_default()
        );
    };
    let _lock = DirLock::acquire(&infra.dir, printer)?;
    let (entry, change) =
        link::install(context, &infra, &args.provider, package, layout, args.force).with_context(
            || {
                format!(
                    "failed to install `{}` into `{}`",
                    args.provider, infra.name
                )
            },
        )?;
    let how = format!("link to `{}`", entry.source);
    report(&entry, change, &infra, &how, printer);
    Ok(Outcome::Success)
}

fn report(entry: &LockEntry, change: Change, infra: &Infra, how: &str, printer: &Printer) {
    match change {
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
}

/// `providers install <provider> <infra> --version V`: verify the pack and vendor it.
fn install_pack(
    args: &InstallArgs,
    version: &semver::Version,
    infra: &Infra,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let _lock = DirLock::acquire(&infra.dir, printer)?;
    let request = vendor::PackRequest {
        name: &args.provider,
        version,
        allow_unsigned: args.allow_unsigned,
        pinned_sha256: None,
    };
    let (entry, change) = vendor::install(context, infra, &request).with_context(|| {
        format!(
            "failed to install `{}` {version} into `{}`",
            args.provider, infra.name
        )
    })?;
    let signer = match entry.signer.as_deref() {
        Some(UNSIGNED) | None => "unsigned, allowed by `--allow-unsigned`".to_owned(),
        Some(key_id) => format!("signed by {key_id}"),
    };
    let how = format!("pack from `{}`, {signer}", entry.source);
    report(&entry, change, infra, &how, printer);
    Ok(Outcome::Success)
}
