//! The retention policy of `pack clean`: keep the newest N versions of each module (semver
//! order) and every version an infra pins; delete the rest with their signatures and provenance. [`apply`]
//! writes the metadata first and then deletes files, so a crash leaves unindexed files, never
//! metadata that names files that are gone; the next clean deletes such an unindexed artifact
//! like any other old version (when N indexed versions are newer and no infra pins it).
//!
//! Only artifacts are deleted: a version whose artifact or signature path holds something else
//! (a directory, a link to one, a FIFO) is refused and left as it is, metadata included.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::directory::ArtifactFile;
use super::{DirectoryRegistry, ModuleMetadata, VersionEntry};
use crate::artifact::ArtifactName;
use crate::fs::Transaction;
use crate::names::PackRef;

/// One version to delete, and the files that go with it (relative to the packages directory).
#[derive(Debug, Clone)]
pub struct Doomed {
    pub pack: PackRef,
    pub files: Vec<String>,
    /// Whether the metadata recorded it (else it is an artifact left unindexed).
    pub indexed: bool,
}

/// What a clean does.
#[derive(Debug, Default)]
pub struct Plan {
    /// Versions past the newest N that stay because an infra pins them, with those infras.
    pub kept: Vec<(PackRef, Vec<String>)>,
    /// Each module that loses versions: its metadata after the clean, and what goes.
    pub modules: Vec<(ModuleMetadata, Vec<Doomed>)>,
    /// Unindexed artifacts that go: no metadata to change.
    pub unindexed: Vec<Doomed>,
    /// Versions that would go, but whose files are not artifacts: left alone.
    pub refused: Vec<Refused>,
}

/// A version retention would delete, left alone: at `path` stands `what`, not an artifact.
#[derive(Debug, Clone)]
pub struct Refused {
    pub pack: PackRef,
    pub path: PathBuf,
    pub what: &'static str,
}

impl Plan {
    /// Every version that goes, indexed or not.
    pub fn doomed(&self) -> impl Iterator<Item = &Doomed> {
        let indexed = self.modules.iter().flat_map(|(_, doomed)| doomed);
        indexed.chain(&self.unindexed)
    }
}

/// Refuses a version whose artifact or signature path holds something that is not an artifact.
fn refuse_non_artifacts(
    registry: &DirectoryRegistry,
    pack: &PackRef,
    artifact: &ArtifactName,
) -> Result<(), Refused> {
    for file in [artifact.to_string(), artifact.signature()] {
        let path = registry.artifact_path(&file);
        if let ArtifactFile::Other(what) = ArtifactFile::at(&path) {
            return Err(Refused {
                pack: pack.clone(),
                path,
                what,
            });
        }
    }
    Ok(())
}

/// Plans a clean of `modules`. `pins` maps each pinned pack to the infras pinning it; with
/// `force`, pins are not consulted.
pub fn plan(
    registry: &DirectoryRegistry,
    modules: Vec<ModuleMetadata>,
    keep_latest: usize,
    pins: &BTreeMap<PackRef, Vec<String>>,
    force: bool,
) -> Plan {
    let mut plan = Plan::default();
    for mut module in modules {
        // What is on disk but was never in the metadata, judged against the metadata as read.
        for found in unindexed(registry, &module, keep_latest, pins, force) {
            match found {
                Ok(doomed) => plan.unindexed.push(doomed),
                Err(refused) => plan.refused.push(refused),
            }
        }
        let mut newest_first: Vec<VersionEntry> = module.versions.clone();
        newest_first.sort_by(|a, b| b.version.cmp(&a.version));
        let mut doomed = Vec::new();
        for entry in newest_first.into_iter().skip(keep_latest) {
            let pack = PackRef::new(module.name.clone(), entry.version.clone());
            if let Some(infras) = pins.get(&pack).filter(|_| !force) {
                plan.kept.push((pack, infras.clone()));
                continue;
            }
            if let Err(refused) = refuse_non_artifacts(registry, &pack, &entry.package_file) {
                plan.refused.push(refused);
                continue;
            }
            module.remove(&entry.version);
            let mut files = vec![entry.package_file.to_string()];
            // The signature beside it goes too, recorded or not.
            let signature = entry.package_file.signature();
            if entry.signature.is_some() || registry.artifact_path(&signature).exists() {
                files.push(signature);
            }
            // And its provenance.
            let provenance = crate::provenance::file_name(&entry.package_file);
            if registry.artifact_path(&provenance).exists() {
                files.push(provenance);
            }
            doomed.push(Doomed {
                pack,
                files,
                indexed: true,
            });
        }
        if !doomed.is_empty() {
            plan.modules.push((module, doomed));
        }
    }
    plan
}

/// The artifacts of `module` on disk that its metadata does not name, and that retention would
/// not keep: `keep_latest` recorded versions are newer, and no infra pins them. Newest first.
fn unindexed(
    registry: &DirectoryRegistry,
    module: &ModuleMetadata,
    keep_latest: usize,
    pins: &BTreeMap<PackRef, Vec<String>>,
    force: bool,
) -> Vec<Result<Doomed, Refused>> {
    let mut found: Vec<ArtifactName> = registry
        .artifact_entries()
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| name.pack().module == module.name)
        .filter(|name| module.get(&name.pack().version).is_none())
        .filter(|name| {
            let version = &name.pack().version;
            let newer = module
                .versions
                .iter()
                .filter(|v| v.version > *version)
                .count();
            newer >= keep_latest && (force || !pins.contains_key(name.pack()))
        })
        .collect();
    found.sort_by(|a, b| b.pack().cmp(a.pack()));
    found
        .into_iter()
        .map(|name| {
            refuse_non_artifacts(registry, name.pack(), &name)?;
            let mut files = vec![name.to_string()];
            if registry.artifact_path(&name.signature()).exists() {
                files.push(name.signature());
            }
            let provenance = crate::provenance::file_name(&name);
            if registry.artifact_path(&provenance).exists() {
                files.push(provenance);
            }
            Ok(Doomed {
                pack: name.pack().clone(),
                files,
                indexed: false,
            })
        })
        .collect()
}

/// Carries out a plan in one transaction: every module's metadata first, then the files (set
/// aside, deleted at the end). An error puts everything back; a kill leaves metadata that names
/// only files still there. Returns what could not be deleted at the end, to report.
pub fn apply(registry: &DirectoryRegistry, plan: &Plan) -> std::io::Result<Vec<String>> {
    let mut transaction = Transaction::new();
    for (module, _) in &plan.modules {
        let path = registry.metadata_path(&module.name);
        if module.versions.is_empty() {
            transaction.remove_file(&path)?;
        } else {
            transaction.write(&path, &DirectoryRegistry::render(module))?;
        }
    }
    for doomed in plan.doomed() {
        for file in &doomed.files {
            let path = registry.artifact_path(file);
            if path.exists() {
                transaction.remove_dir(&path)?;
            }
        }
        // The page's record of the version goes with it.
        let docs = super::site::docs_path(registry, &doomed.pack);
        if docs.exists() {
            transaction.remove_dir(&docs)?;
        }
    }
    Ok(transaction.commit())
}
