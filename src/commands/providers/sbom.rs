use std::path::PathBuf;

use anyhow::Context as _;

use crate::Outcome;
use crate::cli::{OutputFormat, SbomArgs, Target};
use crate::commands::workspace::every_infra;
use crate::context::Context;
use crate::infra::Infra;
use crate::infra::lockfile::ProvidersLock;
use crate::printer::Printer;
use crate::registry::DirectoryRegistry;
use crate::sbom;

/// `providers sbom <infra>|--workspace [--format cyclonedx|spdx] [--output FILE]`: the infra's
/// modules (or every infra's, in one document) as a CycloneDX or SPDX document, on stdout or
/// written atomically into FILE. Read-only: the locks are read without taking the infras' locks,
/// as `providers installed` does.
pub fn sbom(args: &SbomArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let spdx = match printer.format {
        OutputFormat::Spdx => true,
        OutputFormat::Table | OutputFormat::Json | OutputFormat::CycloneDx => false,
        other => {
            let format = format!("{other:?}").to_lowercase();
            return Err(crate::UsageError(format!(
                "`providers sbom` writes `cyclonedx` or `spdx`, not `{format}`\nhint: `--format cyclonedx` (the default) or `--format spdx`"
            ))
            .into());
        }
    };
    let (document, subject, count, outcome) = match args.target.target() {
        Target::Infra(name) => {
            let infra = Infra::resolve(context, name)?;
            let inventory = infra_inventory(context, &infra)?;
            let document = if spdx {
                sbom::spdx::render(&inventory)
            } else {
                sbom::cyclonedx::render(&inventory)
            };
            let count = inventory.components.len();
            (
                document,
                format!("`{}`", infra.name),
                count,
                Outcome::Success,
            )
        }
        Target::Workspace => {
            let (workspace, outcome) = workspace_inventory(context, printer)?;
            let document = if spdx {
                sbom::spdx::render_workspace(&workspace)
            } else {
                sbom::cyclonedx::render_workspace(&workspace)
            };
            let count = workspace.infras.iter().map(|i| i.components.len()).sum();
            let subject = format!("the workspace ({} infras)", workspace.infras.len());
            (document, subject, count, outcome)
        }
    };
    match &args.output {
        Some(path) => {
            let path = crate::config::absolutize(&context.cwd, path);
            crate::fs::atomic_write(&path, document.as_bytes())
                .with_context(|| format!("cannot write the SBOM `{}`", path.display()))?;
            printer.status(
                "Wrote",
                format!(
                    "the {} SBOM of {subject} ({count} modules) to `{}`",
                    if spdx { "SPDX" } else { "CycloneDX" },
                    context.display_path(&path).display()
                ),
            );
        }
        None => crate::write_stdout(&document)?,
    }
    Ok(outcome)
}

/// One infra's inventory: its lock, and what the local registry records of its pins.
fn infra_inventory(context: &Context, infra: &Infra) -> anyhow::Result<sbom::Inventory> {
    let lock_path = infra.lock_path();
    let lock = ProvidersLock::read(&lock_path)?;
    let created = crate::time::rfc3339(created(context, &[lock_path])?);
    let local = DirectoryRegistry::from_config(&context.config);
    Ok(sbom::inventory(&infra.name, created, &lock, &local))
}

/// Every infra's inventory, for one document. An infra whose lock cannot be read is reported
/// and left out, and the exit code is 1; the others are in the document.
fn workspace_inventory(
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<(sbom::WorkspaceInventory, Outcome)> {
    let infras = every_infra(context)?;
    let mut inventories = Vec::new();
    let mut outcome = Outcome::Success;
    for infra in &infras {
        match infra_inventory(context, infra) {
            Ok(inventory) => inventories.push(inventory),
            Err(error) => {
                printer.error(&error.context(format!("failed to describe `{}`", infra.name)));
                outcome = Outcome::Failure;
            }
        }
    }
    let locks: Vec<PathBuf> = infras.iter().map(Infra::lock_path).collect();
    let workspace = &context.config.paths.workspace;
    Ok((
        sbom::WorkspaceInventory {
            name: workspace.file_name().map_or_else(
                || "workspace".to_owned(),
                |name| name.to_string_lossy().into_owned(),
            ),
            created: crate::time::rfc3339(created(context, &locks)?),
            infras: inventories,
        },
        outcome,
    ))
}

/// When the described state came to be: `SOURCE_DATE_EPOCH` when set, else the time the newest
/// of the locks was last written (the epoch without any lock), so that the same locks give the
/// same document.
fn created(context: &Context, lock_paths: &[PathBuf]) -> anyhow::Result<u64> {
    if context.env.contains_key("SOURCE_DATE_EPOCH") {
        return context.now();
    }
    Ok(lock_paths
        .iter()
        .filter_map(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok())
        .filter_map(|modified| modified.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|elapsed| elapsed.as_secs())
        .max()
        .unwrap_or(0))
}
