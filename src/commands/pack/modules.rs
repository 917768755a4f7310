//! `pack provider(s)`, `pack taskserv(s)`, `pack cluster(s)`: one discovered module, or every
//! module of a kind in parallel, evaluated and packed with its registry metadata.

use anyhow::Context as _;

use super::{Setup, report_packed, tally};
use crate::Outcome;
use crate::catalog::{self, Catalog, Module};
use crate::cli::{PackModuleArgs, PackOutputArgs, PackProviderArgs, PackProvidersArgs};
use crate::context::Context;
use crate::module::{Layout, ModuleKind};
use crate::names::PackRef;
use crate::nickel;
use crate::ops::pack::{PackInput, Packed};
use crate::printer::Printer;

/// What to pack for a discovered module, or why it cannot be packed.
pub(crate) fn input_for(
    module: &Module,
    version: Option<&semver::Version>,
) -> anyhow::Result<PackInput> {
    let Some(package) = module.package() else {
        anyhow::bail!(
            "{} `{}` cannot be packed: {}",
            module.kind.as_str(),
            module.name,
            module.problem().unwrap_or_default()
        );
    };
    let module_name = package.manifest.name.parse().with_context(|| {
        format!(
            "`{}` names the module `{}`",
            package.manifest_path.display(),
            package.manifest.name
        )
    })?;
    let version = version.unwrap_or(&package.manifest.version).clone();
    Ok(PackInput {
        pack: PackRef::new(module_name, version),
        package_dir: package.dir.clone(),
        entry: package.entry.clone(),
        dependencies: package.manifest.dependencies.clone(),
        kind: module.kind,
        category: module.category.clone(),
        // A module described by `Nickel-pkg.ncl` alone gets a `manifest.toml` in its pack.
        described: package
            .manifest_path
            .ends_with(crate::module::NICKEL_PKG_FILE)
            .then(|| package.manifest.clone()),
    })
}

/// [`super::warn_if_lower`] for a discovered module.
fn warn_if_lower(
    module: &Module,
    version: Option<&semver::Version>,
    context: &Context,
    printer: &Printer,
) {
    if let (Some(version), Some(package)) = (version, module.package()) {
        let subject = format!("{} `{}`", module.kind.as_str(), module.name);
        let declared = (&package.manifest.version, package.manifest_path.as_path());
        super::warn_if_lower(&subject, version, declared, context, printer);
    }
}

/// `pack provider <name>`.
pub fn provider(
    args: &PackProviderArgs,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let module = catalog::find_provider(
        &crate::catalog::Catalog::new(&context.config),
        &args.name,
        Layout::Nickel,
    )?;
    one(
        &module,
        args.version.as_ref(),
        &args.output,
        context,
        printer,
    )
}

/// `pack taskserv <name>` and `pack cluster <name>`.
pub fn named(
    kind: ModuleKind,
    args: &PackModuleArgs,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let module = Catalog::new(&context.config).find_named(kind, args.name.as_str())?;
    one(
        &module,
        args.version.as_ref(),
        &args.output,
        context,
        printer,
    )
}

/// Evaluates `module` (refusing to pack if it fails), builds the artifact and writes its
/// registry metadata.
fn one(
    module: &Module,
    version: Option<&semver::Version>,
    output: &PackOutputArgs,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let input = input_for(module, version)?;
    warn_if_lower(module, version, context, printer);
    let setup = Setup::new(context, output)?;
    let packed = setup
        .packer(context, printer, output)
        .pack(
            &mut nickel::Evaluator::with_packages(
                &setup.import_paths(),
                setup.packages(),
                context.evaluation_bounds(),
            ),
            &input,
        )
        .with_context(|| format!("failed to pack `{}`", input.pack.module))?;
    report_packed(&packed, context, printer);
    setup.refresh_site(context, printer);
    printer.report(&packed)?;
    Ok(Outcome::Success)
}

/// `pack providers|taskservs|clusters [--version V]`: every discovered module of the kind (each
/// as V, for a release), in parallel, with progress. Every failure is reported; the exit code
/// says whether any failed.
pub fn all(
    kind: ModuleKind,
    args: &PackProvidersArgs,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let modules = catalog::discover(
        &crate::catalog::Catalog::new(&context.config),
        kind,
        Layout::Nickel,
    )?;
    let plural = kind.dir_name();
    if modules.is_empty() {
        printer.warning(format!(
            "no {plural} found in `{}`",
            context
                .display_path(&context.config.paths.extensions.join(plural))
                .display()
        ));
        printer.report(&Vec::<Packed>::new())?;
        return Ok(Outcome::Success);
    }
    for module in &modules {
        warn_if_lower(module, args.version.as_ref(), context, printer);
    }
    let setup = Setup::with_discovered(context, &args.output, Some((kind, &modules)))?;
    let packer = setup.packer(context, printer, &args.output);
    let progress = printer.progress(modules.len(), "Packing");
    let results: Vec<anyhow::Result<Packed>> = nickel::with_package_evaluators(
        &setup.import_paths(),
        setup.packages(),
        context.evaluation_bounds(),
        &modules,
        |evaluator, module| {
            let result = input_for(module, args.version.as_ref()).and_then(|input| {
                packer
                    .pack(evaluator, &input)
                    .with_context(|| format!("failed to pack `{}`", input.pack.module))
            });
            if let Some(bar) = &progress {
                bar.set_message(module.name.clone());
                bar.inc(1);
            }
            result
        },
    );
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let mut packed = Vec::new();
    let mut failed = 0;
    for result in results {
        match result {
            Ok(done) => {
                report_packed(&done, context, printer);
                packed.push(done);
            }
            Err(error) => {
                failed += 1;
                printer.error(&error);
            }
        }
    }
    // What was packed is in the index and the pages, even when another provider failed.
    if !packed.is_empty() {
        setup.refresh_site(context, printer);
    }
    printer.report(&packed)?;
    let total = modules.len();
    if failed > 0 {
        printer.error_message(format!("{failed} of {total} {plural} could not be packed"));
        return Ok(Outcome::Failure);
    }
    let noun = if total == 1 { kind.as_str() } else { plural };
    // What each was (`3 providers: 2 packed, 1 unchanged`): a run that changed nothing says so.
    printer.status("Finished", format!("{total} {noun}: {}", tally(&packed)));
    Ok(Outcome::Success)
}
