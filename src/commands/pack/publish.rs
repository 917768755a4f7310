use anyhow::bail;
use serde::Serialize;

use crate::Outcome;
use crate::address::Remote;
use crate::cli::{PackSelector, PublishArgs};
use crate::context::Context;
use crate::names::PackRef;
use crate::printer::Printer;
use crate::registry::oci::{Publication, Published};
use crate::registry::{DirectoryRegistry, ModuleMetadata, Registries, Registry as _, VersionEntry};

#[derive(Debug, Serialize)]
struct PublishRow {
    module: String,
    version: String,
    result: Option<Published>,
    error: Option<String>,
}

/// `pack publish [<module>[@V] ...] [--registry URL]`.
pub fn publish(
    args: &PublishArgs,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let options = context.registry_options();
    if let Some(Remote::Http(_)) = Registries::remote_address(&options)? {
        bail!(
            "an HTTP registry is read-only: `pack publish` cannot write to it\nhint: publish by uploading the `distribution/` directory as it is (`rsync -a distribution/ host:/srv/provisioning/`, or any static upload)"
        );
    }
    let Some(registry) = Registries::remote_oci(&options)? else {
        bail!(
            "the configured registry is a local directory: packs are already published there\nhint: publish to an OCI registry with `--registry oci://host[:port]/namespace`, or set `distribution.registry_type = \"oci\"`"
        );
    };
    let local = DirectoryRegistry::from_config(&context.config);
    let modules = local.all()?;
    let publications = select(&args.packs, &modules, &local, context)?;
    if publications.is_empty() {
        printer.status("Skipped", "no packed versions to publish");
        return Ok(Outcome::Success);
    }
    let progress = printer.progress(publications.len(), "Publishing");
    let results = registry.publish(&publications, &|| {
        if let Some(bar) = &progress {
            bar.inc(1);
        }
    });
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let label = registry.label();
    let mut rows = Vec::new();
    let mut failed = 0;
    for (publication, result) in publications.iter().zip(results) {
        let (module, version) = (&publication.pack.module, &publication.pack.version);
        match &result {
            Ok(Published::Pushed) => {
                printer.status("Published", format!("`{module}` {version} to `{label}`"))
            }
            Ok(Published::Unchanged) => {
                printer.verbose(format!("`{module}` {version} is already in the registry"))
            }
            Err(error) => {
                failed += 1;
                printer.error_message(format!("failed to publish `{module}` {version}: {error}"));
            }
        }
        rows.push(PublishRow {
            module: module.to_string(),
            version: version.to_string(),
            result: result.as_ref().ok().copied(),
            error: result.as_ref().err().map(ToString::to_string),
        });
    }
    printer.report(&rows)?;
    let count = |wanted: Published| rows.iter().filter(|r| r.result == Some(wanted)).count();
    if failed > 0 {
        printer.error_message(format!(
            "{failed} of {} packs could not be published",
            rows.len()
        ));
        return Ok(Outcome::Failure);
    }
    printer.status(
        "Finished",
        format!(
            "{} published, {} already there, in `{label}`",
            count(Published::Pushed),
            count(Published::Unchanged)
        ),
    );
    Ok(Outcome::Success)
}

/// The packs named on the command line (every packed version when none is).
fn select(
    wanted: &[PackSelector],
    modules: &[ModuleMetadata],
    local: &DirectoryRegistry,
    context: &Context,
) -> anyhow::Result<Vec<Publication>> {
    let mut chosen: Vec<(&ModuleMetadata, &VersionEntry)> = Vec::new();
    if wanted.is_empty() {
        for module in modules {
            chosen.extend(module.versions.iter().map(|entry| (module, entry)));
        }
    }
    for selector in wanted {
        let name = match selector {
            PackSelector::Module(name) => name,
            PackSelector::Version(pack) => &pack.module,
        };
        let Some(module) = modules.iter().find(|m| m.name == *name) else {
            let known: Vec<String> = modules.iter().map(|m| format!("`{}`", m.name)).collect();
            bail!(
                "no packs of `{name}` in the local registry\nhint: packed modules: {}",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            );
        };
        match selector {
            PackSelector::Module(_) => {
                chosen.extend(module.versions.iter().map(|entry| (module, entry)))
            }
            PackSelector::Version(pack) => {
                let Some(entry) = module.get(&pack.version) else {
                    let versions: Vec<String> = module
                        .versions
                        .iter()
                        .map(|v| v.version.to_string())
                        .collect();
                    bail!(
                        "`{name}` has no packed version {}\nhint: packed: {}",
                        pack.version,
                        versions.join(", ")
                    );
                };
                chosen.push((module, entry));
            }
        }
    }
    chosen
        .into_iter()
        .map(|(module, entry)| {
            let bytes = crate::fs::read(
                &local.artifact_path(&entry.package_file.to_string()),
                crate::fs::FileKind::Artifact,
            )?;
            let signature = match &entry.signature {
                Some(signature) => Some(
                    String::from_utf8_lossy(&crate::fs::read(
                        &local.artifact_path(signature),
                        crate::fs::FileKind::Signature,
                    )?)
                    .into_owned(),
                ),
                None => None,
            };
            Ok(Publication::new(
                PackRef::new(module.name.clone(), entry.version.clone()),
                entry.clone(),
                bytes,
                signature,
                &context.config.distribution.metadata,
            ))
        })
        .collect()
}
