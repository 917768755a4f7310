use anyhow::Context as _;

use crate::Outcome;
use crate::cli::{OutputFormat, SbomArgs};
use crate::context::Context;
use crate::infra::Infra;
use crate::infra::lockfile::ProvidersLock;
use crate::printer::Printer;
use crate::registry::DirectoryRegistry;
use crate::sbom;

/// `providers sbom <infra> [--format cyclonedx|spdx] [--output FILE]`: the infra's modules as a
/// CycloneDX or SPDX document, on stdout or written atomically into FILE. Read-only: the lock is
/// read without taking the infra's lock, as `providers installed` does.
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
    let infra = Infra::resolve(context, &args.infra)?;
    let lock_path = infra.lock_path();
    let lock = ProvidersLock::read(&lock_path)?;
    let created = crate::time::rfc3339(created(context, &lock_path)?);
    let local = DirectoryRegistry::from_config(&context.config);
    let inventory = sbom::inventory(&infra.name, created, &lock, &local);
    let document = if spdx {
        sbom::spdx::render(&inventory)
    } else {
        sbom::cyclonedx::render(&inventory)
    };
    match &args.output {
        Some(path) => {
            let path = crate::config::absolutize(&context.cwd, path);
            crate::fs::atomic_write(&path, document.as_bytes())
                .with_context(|| format!("cannot write the SBOM `{}`", path.display()))?;
            printer.status(
                "Wrote",
                format!(
                    "the {} SBOM of `{}` ({} modules) to `{}`",
                    if spdx { "SPDX" } else { "CycloneDX" },
                    infra.name,
                    inventory.components.len(),
                    context.display_path(&path).display()
                ),
            );
        }
        None => crate::write_stdout(&document)?,
    }
    Ok(Outcome::Success)
}

/// When the described state came to be: `SOURCE_DATE_EPOCH` when set, else the time the lock
/// was last written (the epoch for an infra without a lock), so that the same lock gives the
/// same document.
fn created(context: &Context, lock_path: &std::path::Path) -> anyhow::Result<u64> {
    if context.env.contains_key("SOURCE_DATE_EPOCH") {
        return context.now();
    }
    Ok(std::fs::metadata(lock_path)
        .and_then(|metadata| metadata.modified())
        .ok()
        .and_then(|modified| modified.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |elapsed| elapsed.as_secs()))
}
