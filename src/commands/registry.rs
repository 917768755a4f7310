//! `pack publish` and `registry list`: the OCI side of the registry.

use anyhow::bail;
use serde::Serialize;

use crate::Outcome;
use crate::cli::{PublishArgs, RegistryListArgs};
use crate::context::Context;
use crate::printer::{Printer, Table};
use crate::registry::oci::{self, OciRegistry, Publication, Published, RegistryUrl};
use crate::registry::{LocalRegistry, ModuleMetadata};

/// The OCI registry named by `--registry`, else the configured one.
fn registry(context: &Context, flag: Option<&str>) -> anyhow::Result<Option<OciRegistry>> {
    match flag {
        Some(url) => {
            let url = RegistryUrl::parse(url)?;
            let distribution = &context.config.distribution;
            Ok(Some(OciRegistry::new(
                url,
                &context.env,
                &distribution.cache_path,
                context.offline,
            )?))
        }
        None => crate::registry::configured_oci(context),
    }
}

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
    let Some(registry) = registry(context, args.registry.as_deref())? else {
        bail!(
            "the configured registry is a local directory: packs are already published there\nhint: publish to an OCI registry with `--registry oci://host[:port]/namespace`, or set `distribution.registry_type = \"oci\"`"
        );
    };
    let local = LocalRegistry::from_config(&context.config);
    let modules = local.modules()?;
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
    let mut rows = Vec::new();
    let mut failed = 0;
    for (publication, result) in publications.iter().zip(results) {
        let (module, version) = (&publication.module, &publication.entry.version);
        match &result {
            Ok(Published::Pushed) => printer.status(
                "Published",
                format!("`{module}` {version} to `{}`", registry.label()),
            ),
            Ok(Published::Unchanged) => {
                printer.verbose(format!("`{module}` {version} is already in the registry"))
            }
            Err(error) => {
                failed += 1;
                printer.error_message(format!("failed to publish `{module}` {version}: {error}"));
            }
        }
        rows.push(PublishRow {
            module: module.clone(),
            version: version.clone(),
            result: result.as_ref().ok().copied(),
            error: result.as_ref().err().map(ToString::to_string),
        });
    }
    printer.report(&rows)?;
    let pushed = rows
        .iter()
        .filter(|r| r.result == Some(Published::Pushed))
        .count();
    let unchanged = rows
        .iter()
        .filter(|r| r.result == Some(Published::Unchanged))
        .count();
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
            "{pushed} published, {unchanged} already there, in `{}`",
            registry.label()
        ),
    );
    Ok(Outcome::Success)
}

/// The packs named on the command line (every packed version when none is).
fn select(
    wanted: &[String],
    modules: &[ModuleMetadata],
    local: &LocalRegistry,
    context: &Context,
) -> anyhow::Result<Vec<Publication>> {
    let mut chosen = Vec::new();
    if wanted.is_empty() {
        for module in modules {
            chosen.extend(module.versions.iter().map(|entry| (module, entry)));
        }
    }
    for spec in wanted {
        let (name, version) = match spec.split_once('@') {
            Some((name, version)) => (name, Some(version)),
            None => (spec.as_str(), None),
        };
        let Some(module) = modules.iter().find(|m| m.name == name) else {
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
        match version {
            None => chosen.extend(module.versions.iter().map(|entry| (module, entry))),
            Some(version) => {
                let version = semver::Version::parse(version).map_err(|error| {
                    crate::UsageError(format!(
                        "`{spec}`: `{version}` is not a semantic version: {error}"
                    ))
                })?;
                let Some(entry) = module.get(&version) else {
                    let versions: Vec<&str> =
                        module.versions.iter().map(|v| v.version.as_str()).collect();
                    bail!(
                        "`{name}` has no packed version {version}\nhint: packed: {}",
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
            let path = local.artifact_path(&entry.package_file);
            let bytes = fs_err::read(&path)?;
            let signature = match &entry.signature {
                Some(signature) => Some(fs_err::read_to_string(local.artifact_path(signature))?),
                None => None,
            };
            Ok(Publication {
                module: module.name.clone(),
                annotations: oci::annotations(
                    &module.name,
                    entry,
                    &context.config.distribution.metadata,
                ),
                entry: entry.clone(),
                bytes,
                signature,
            })
        })
        .collect()
}

#[derive(Debug, Serialize)]
struct ListedVersion {
    module: String,
    version: String,
}

/// `registry list [<module>]`: modules and versions in the registry, local or OCI.
pub fn list(
    args: &RegistryListArgs,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let mut rows = Vec::new();
    let label = match registry(context, args.registry.as_deref())? {
        Some(registry) => {
            let modules = match &args.module {
                Some(module) => vec![module.clone()],
                None => registry.modules()?,
            };
            for module in modules {
                for version in registry.versions(&module)? {
                    rows.push(ListedVersion {
                        module: module.clone(),
                        version: version.to_string(),
                    });
                }
            }
            registry.label()
        }
        None => {
            let local = LocalRegistry::from_config(&context.config);
            for module in local.modules()? {
                if args
                    .module
                    .as_ref()
                    .is_some_and(|wanted| *wanted != module.name)
                {
                    continue;
                }
                for entry in &module.versions {
                    rows.push(ListedVersion {
                        module: module.name.clone(),
                        version: entry.version.clone(),
                    });
                }
            }
            context
                .display_path(&local.registry_path)
                .display()
                .to_string()
        }
    };
    printer.data(&rows, || {
        let mut table =
            Table::new(["MODULE", "VERSION"]).when_empty(&format!("no packs in `{label}`"));
        for row in &rows {
            table.row([row.module.clone(), row.version.clone()]);
        }
        table
    })?;
    Ok(Outcome::Success)
}
