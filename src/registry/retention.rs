//! The retention policy of `pack clean`: keep the newest N versions of each module (semver
//! order) and every version an infra pins; delete the rest with their signatures. Planning is
//! pure; [`apply`] writes the metadata first and then deletes files, so a crash leaves unindexed
//! files, never metadata that names files that are gone.

use std::collections::BTreeMap;

use super::{DirectoryRegistry, ModuleMetadata, VersionEntry};
use crate::names::PackRef;

/// One version to delete, and the files that go with it (relative to the packages directory).
#[derive(Debug, Clone)]
pub struct Doomed {
    pub pack: PackRef,
    pub files: Vec<String>,
}

/// What a clean does.
#[derive(Debug, Default)]
pub struct Plan {
    /// Versions past the newest N that stay because an infra pins them, with those infras.
    pub kept: Vec<(PackRef, Vec<String>)>,
    /// Each module that loses versions: its metadata after the clean, and what goes.
    pub modules: Vec<(ModuleMetadata, Vec<Doomed>)>,
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
        let mut newest_first: Vec<VersionEntry> = module.versions.clone();
        newest_first.sort_by(|a, b| b.version.cmp(&a.version));
        let mut doomed = Vec::new();
        for entry in newest_first.into_iter().skip(keep_latest) {
            let pack = PackRef::new(module.name.clone(), entry.version.clone());
            if let Some(infras) = pins.get(&pack).filter(|_| !force) {
                plan.kept.push((pack, infras.clone()));
                continue;
            }
            module.remove(&entry.version);
            let mut files = vec![entry.package_file.to_string()];
            // The signature beside it goes too, recorded or not.
            let signature = entry.package_file.signature();
            if entry.signature.is_some() || registry.artifact_path(&signature).exists() {
                files.push(signature);
            }
            doomed.push(Doomed { pack, files });
        }
        if !doomed.is_empty() {
            plan.modules.push((module, doomed));
        }
    }
    plan
}

/// Carries out a plan, module by module: the metadata first, then the files.
pub fn apply(registry: &DirectoryRegistry, plan: &Plan) -> std::io::Result<()> {
    for (module, doomed) in &plan.modules {
        if module.versions.is_empty() {
            registry.remove(&module.name)?;
        } else {
            registry.write(module)?;
        }
        for file in doomed.iter().flat_map(|d| &d.files) {
            crate::fs::remove_file_if_exists(&registry.artifact_path(file))?;
        }
    }
    Ok(())
}
