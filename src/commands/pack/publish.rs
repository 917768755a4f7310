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
    /// `pushed`, `unchanged`, `signature_added` or `signed_by_another_key`; none on error.
    result: Option<&'static str>,
    /// The key whose signature the registry keeps, when it is not the local one.
    registry_signer: Option<String>,
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
    let mut tally = Tally::default();
    for (publication, result) in publications.iter().zip(results) {
        if let Err(error) = &result {
            let (module, version) = (&publication.pack.module, &publication.pack.version);
            printer.error_message(format!("failed to publish `{module}` {version}: {error}"));
        }
        tally.add(&result);
        report_one(publication, &result, &label, printer);
        rows.push(PublishRow {
            module: publication.pack.module.to_string(),
            version: publication.pack.version.to_string(),
            result: result.as_ref().ok().map(|published| published.name()),
            registry_signer: match &result {
                Ok(Published::SignedByAnother(theirs)) => theirs.map(|key| key.to_string()),
                _ => None,
            },
            error: result.as_ref().err().map(ToString::to_string),
        });
    }
    printer.report(&rows)?;
    if tally.failed > 0 {
        printer.error_message(format!(
            "{} of {} packs could not be published",
            tally.failed,
            rows.len()
        ));
        return Ok(Outcome::Failure);
    }
    printer.status("Finished", format!("{}, in `{label}`", tally.summary()));
    Ok(Outcome::Success)
}

/// What a publication did, counted.
#[derive(Debug, Default)]
struct Tally {
    pushed: usize,
    signed: usize,
    unchanged: usize,
    other_key: usize,
    failed: usize,
}

impl Tally {
    fn add(&mut self, result: &Result<Published, crate::registry::oci::OciError>) {
        match result {
            Ok(Published::Pushed) => self.pushed += 1,
            Ok(Published::SignatureAdded) => self.signed += 1,
            Ok(Published::Unchanged) => self.unchanged += 1,
            Ok(Published::SignedByAnother(_)) => self.other_key += 1,
            Err(_) => self.failed += 1,
        }
    }

    /// `2 published, 1 signature added, 3 already there`: what was added is never counted as
    /// already there.
    fn summary(&self) -> String {
        let mut parts = vec![format!("{} published", self.pushed)];
        if self.signed > 0 {
            parts.push(format!(
                "{} {} added",
                self.signed,
                if self.signed == 1 {
                    "signature"
                } else {
                    "signatures"
                }
            ));
        }
        parts.push(format!("{} already there", self.unchanged));
        if self.other_key > 0 {
            parts.push(format!("{} signed there by another key", self.other_key));
        }
        parts.join(", ")
    }
}

/// The status line (or warning) of one publication that did not fail.
fn report_one(
    publication: &Publication,
    result: &Result<Published, crate::registry::oci::OciError>,
    label: &str,
    printer: &Printer,
) {
    let (module, version) = (&publication.pack.module, &publication.pack.version);
    let ours = publication
        .entry
        .signer
        .map_or_else(|| "unknown".to_owned(), |key| key.to_string());
    match result {
        Ok(Published::Pushed) => {
            printer.status("Published", format!("`{module}` {version} to `{label}`"));
        }
        Ok(Published::SignatureAdded) => printer.status(
            "Signed",
            format!(
                "`{module}` {version} in `{label}`: added the signature of key {ours} (the published bytes are unchanged)"
            ),
        ),
        Ok(Published::Unchanged) => {
            printer.verbose(format!("`{module}` {version} is already in the registry"));
        }
        Ok(Published::SignedByAnother(theirs)) => {
            let theirs = theirs.map_or_else(
                || "a key it does not name".to_owned(),
                |key| format!("key {key}"),
            );
            printer.warning(format!(
                "`{label}` keeps `{module}` {version} signed by {theirs}: your signature (key {ours}) was not published\nhint: a published signature is never replaced; whoever installs it must trust {theirs} (`provisioning keys trust <public key>`)"
            ));
        }
        Err(_) => {}
    }
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
            let pack = PackRef::new(module.name.clone(), entry.version.clone());
            // Its provenance goes with it, as a referrer of its manifest.
            let provenance = crate::registry::Registry::provenance(local, &pack, &entry.sha256)?;
            let mut publication = Publication::new(
                pack,
                entry.clone(),
                bytes,
                signature,
                &context.config.distribution.metadata,
            );
            publication.provenance = provenance;
            Ok(publication)
        })
        .collect()
}
