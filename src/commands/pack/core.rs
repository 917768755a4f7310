use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{Setup, report_packed};
use crate::Outcome;
use crate::cli::PackCoreArgs;
use crate::context::Context;
use crate::module::{NICKEL_PKG_FILE, PackageManifest};
use crate::names::PackRef;
use crate::nickel::Evaluator;
use crate::ops::pack::PackInput;
use crate::printer::Printer;

/// `pack core`: the core schemas (`[nickel] core_module`) as `core_package_name`, at
/// `--version`, else their manifest's version, else `core_version` (no manifest).
pub fn core(args: &PackCoreArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let nickel = &context.config.nickel;
    let dir = &nickel.core_module;
    if !dir.is_dir() {
        anyhow::bail!(
            "the core schemas directory `{}` does not exist\nhint: set `[nickel] core_module` in the configuration",
            dir.display()
        );
    }
    let (manifest_path, manifest) = core_manifest(context, dir)?;
    let module = nickel.core_package_name.clone();
    // A core described by `Nickel-pkg.ncl` alone gets a `manifest.toml` in its pack, as a
    // provider does; the name Nickel code imports it by must be the one it is packed as.
    let described = manifest
        .as_ref()
        .filter(|_| manifest_path.ends_with(NICKEL_PKG_FILE))
        .cloned();
    if let Some(described) = &described
        && described.name != module.as_str()
    {
        anyhow::bail!(
            "`{}` names the package `{}`, expected `{module}`\nhint: the core schemas are packed as `[nickel] core_package_name`; name the package so in `{NICKEL_PKG_FILE}`",
            manifest_path.display(),
            described.name
        );
    }
    let entry_name = manifest
        .as_ref()
        .and_then(|manifest| manifest.entry.clone())
        .unwrap_or_else(|| "main.ncl".to_owned());
    // `--version`, else the version its manifest declares, else `[nickel] core_version`.
    let version = match (&args.version, &manifest) {
        (Some(version), _) => version.clone(),
        (None, Some(manifest)) => manifest.version.clone(),
        (None, None) => nickel.core_version.clone(),
    };
    if let (Some(version), Some(manifest)) = (&args.version, &manifest) {
        let subject = format!("the core `{module}`");
        let declared = (&manifest.version, manifest_path.as_path());
        super::warn_if_lower(&subject, version, declared, context, printer);
    }
    let input = PackInput {
        dependencies: manifest
            .map(|manifest| manifest.dependencies)
            .unwrap_or_default(),
        pack: PackRef::new(module, version),
        package_dir: dir.clone(),
        entry: dir.join(entry_name),
        kind: crate::module::ModuleKind::Core,
        category: None,
        described,
    };
    let setup = Setup::new(context, &args.output)?;
    let packed = setup
        .packer(context, printer, &args.output)
        .pack(
            &mut Evaluator::with_packages(
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

/// The core's manifest: its `manifest.toml`, else its `Nickel-pkg.ncl` (read as discovery reads
/// it, through `std.package.Manifest`), else none; with the file it is, or would be, read from.
fn core_manifest(
    context: &Context,
    dir: &Path,
) -> anyhow::Result<(PathBuf, Option<PackageManifest>)> {
    let manifest_path = dir.join("manifest.toml");
    if !manifest_path.is_file() && !dir.join(NICKEL_PKG_FILE).is_file() {
        return Ok((manifest_path, None));
    }
    let (path, manifest) = crate::catalog::Catalog::new(&context.config)
        .read_manifest(dir)
        .map_err(anyhow::Error::msg)?;
    Ok((path, Some(manifest)))
}
