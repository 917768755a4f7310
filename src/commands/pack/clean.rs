use std::collections::BTreeMap;

use serde::Serialize;

use crate::infra::Infra;
use crate::infra::lockfile::{Mode, ProvidersLock};

use crate::Outcome;
use crate::cli::CleanArgs;
use crate::context::Context;
use crate::printer::Printer;
use crate::registry::LocalRegistry;

#[derive(Debug, Serialize)]
struct Deletion {
    module: String,
    version: String,
    files: Vec<String>,
}

/// `pack clean --keep-latest N`: keep the newest N versions of each package (semver order),
/// delete the others with their signatures, and update the metadata. `--dry-run` only says so.
pub fn clean(args: &CleanArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let registry = LocalRegistry::from_config(&context.config);
    let _lock = if args.dry_run {
        None
    } else {
        Some(registry.lock(printer)?)
    };
    let pins = if args.force {
        BTreeMap::new()
    } else {
        pinned_versions(context)?
    };
    let mut deletions = Vec::new();
    for mut module in registry.modules()? {
        let mut newest_first = module.versions.clone();
        newest_first.sort_by_key(|entry| std::cmp::Reverse(entry.semver()));
        let (doomed, pinned): (Vec<_>, Vec<_>) = newest_first
            .into_iter()
            .skip(args.keep_latest)
            .partition(|entry| {
                args.force || !pins.contains_key(&(module.name.clone(), entry.version.clone()))
            });
        for entry in pinned {
            let infras = &pins[&(module.name.clone(), entry.version.clone())];
            printer.status(
                "Kept",
                format!(
                    "`{}` {}: pinned by {}",
                    module.name,
                    entry.version,
                    infras.join(", ")
                ),
            );
        }
        if doomed.is_empty() {
            continue;
        }
        for entry in &doomed {
            if let Some(version) = entry.semver() {
                module.remove(&version);
            }
        }
        if !args.dry_run {
            // The metadata first: a crash then leaves unindexed files, never metadata naming
            // files that are gone.
            if module.versions.is_empty() {
                registry.remove(&module.name)?;
            } else {
                registry.write(&module)?;
            }
        }
        for entry in doomed {
            let mut files = vec![entry.package_file.clone()];
            files.extend(entry.signature.clone());
            let signature = format!("{}.minisig", entry.package_file);
            if !files.contains(&signature) && registry.artifact_path(&signature).exists() {
                files.push(signature);
            }
            let verb = if args.dry_run {
                "Would delete"
            } else {
                "Deleted"
            };
            if !args.dry_run {
                for file in &files {
                    match fs_err::remove_file(registry.artifact_path(file)) {
                        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                            return Err(error.into());
                        }
                        _ => {}
                    }
                }
            }
            printer.status(
                verb,
                format!("`{}` {} ({})", module.name, entry.version, files.join(", ")),
            );
            deletions.push(Deletion {
                module: module.name.clone(),
                version: entry.version,
                files,
            });
        }
    }
    if deletions.is_empty() {
        printer.status(
            "Clean",
            format!(
                "no package has more than {} version{}",
                args.keep_latest,
                if args.keep_latest == 1 { "" } else { "s" }
            ),
        );
    }
    printer.report(&deletions)?;
    Ok(Outcome::Success)
}

/// Every `(module, version)` a pack-mode install pins, with the infras that pin it.
fn pinned_versions(context: &Context) -> anyhow::Result<BTreeMap<(String, String), Vec<String>>> {
    let mut pins: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for infra in Infra::all(context) {
        let lock = ProvidersLock::read(&infra.lock_path()).map_err(|error| {
            anyhow::anyhow!(
                "cannot tell what infra `{}` pins, so nothing is safe to delete: {error}\nhint: repair its lock, or pass `--force`",
                infra.name
            )
        })?;
        for entry in lock
            .providers
            .iter()
            .filter(|entry| entry.mode == Mode::Pack)
        {
            pins.entry((entry.module.clone(), entry.version.clone()))
                .or_default()
                .push(format!("`{}`", infra.name));
        }
    }
    Ok(pins)
}
