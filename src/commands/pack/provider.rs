use anyhow::Context as _;

use super::{Setup, report_packed};
use crate::Outcome;
use crate::catalog::{self, Layout, Module, ModuleKind};
use crate::cli::{PackProviderArgs, PackProvidersArgs};
use crate::context::Context;
use crate::names::PackRef;
use crate::nickel;
use crate::packer::{PackInput, Packed};
use crate::printer::Printer;

/// What to pack for a discovered provider, or why it cannot be packed.
fn input_for(module: &Module, version: Option<&semver::Version>) -> anyhow::Result<PackInput> {
    let Some(package) = module.package() else {
        anyhow::bail!(
            "provider `{}` cannot be packed: {}",
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
    })
}

/// `pack provider <name>`: evaluate the provider (refusing to pack if it fails), build the
/// artifact and write its registry metadata.
pub fn provider(
    args: &PackProviderArgs,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let module =
        catalog::find_provider(&context.config.paths.extensions, &args.name, Layout::Nickel)?;
    let input = input_for(&module, args.version.as_ref())?;
    let setup = Setup::new(context, &args.output)?;
    let packed = setup
        .packer(context, printer, args.output.force)
        .pack(
            &mut nickel::Evaluator::new(&setup.import_paths(), context.evaluation_bounds()),
            &input,
        )
        .with_context(|| format!("failed to pack `{}`", input.pack.module))?;
    report_packed(&packed, context, printer);
    setup.refresh_site(context, printer);
    printer.report(&packed)?;
    Ok(Outcome::Success)
}

/// `pack providers [--version V]`: every discovered provider (each as V, for a release), in
/// parallel, with progress. Every failure is reported; the exit code says whether any failed.
pub fn providers(
    args: &PackProvidersArgs,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let modules = catalog::discover(
        &context.config.paths.extensions,
        ModuleKind::Providers,
        Layout::Nickel,
    )?;
    if modules.is_empty() {
        printer.warning(format!(
            "no providers found in `{}`",
            context
                .display_path(&context.config.paths.extensions.join("providers"))
                .display()
        ));
        printer.report(&Vec::<Packed>::new())?;
        return Ok(Outcome::Success);
    }
    let setup = Setup::new(context, &args.output)?;
    let packer = setup.packer(context, printer, args.output.force);
    let progress = printer.progress(modules.len(), "Packing");
    let results: Vec<anyhow::Result<Packed>> = nickel::with_evaluators(
        &setup.import_paths(),
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
        printer.error_message(format!("{failed} of {total} providers could not be packed"));
        return Ok(Outcome::Failure);
    }
    printer.status(
        "Finished",
        format!(
            "{total} provider{} packed",
            if total == 1 { "" } else { "s" }
        ),
    );
    Ok(Outcome::Success)
}
