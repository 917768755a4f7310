//! The targets of a registry: every file a client reads, by its path relative to
//! `distribution/`, with its length and SHA-256.

use std::collections::HashMap;
use std::path::Path;

use tuf::crypto::{HashAlgorithm, HashValue};
use tuf::metadata::{TargetDescription, TargetPath};

use super::TufError;
use crate::registry::metadata::RegistryIndex;

/// The directories of `distribution/` whose files are targets; `registry/`'s JSON records only
/// (its `docs/` feed the web pages, which no client reads).
const TARGET_DIRS: [(&str, Option<&str>); 2] = [("registry", Some(".json")), ("packages", None)];

/// The artifacts the registry's records describe, by target path (`packages/<file>`): their
/// size and sha256, so that signing a change does not read every artifact again.
pub type Recorded = HashMap<String, (u64, crate::digest::Sha256)>;

/// What the records of `modules` say of their artifacts.
pub fn recorded(modules: &[crate::registry::ModuleMetadata]) -> Recorded {
    modules
        .iter()
        .flat_map(|module| &module.versions)
        .map(|entry| {
            let path = format!("packages/{}", entry.package_file);
            (path, (entry.size, entry.sha256))
        })
        .collect()
}

/// What the records of the registry whose `distribution/` is `site_dir` say of their
/// artifacts (read from `registry/`).
pub fn read_recorded(site_dir: &Path) -> Result<Recorded, TufError> {
    let registry = crate::registry::DirectoryRegistry::in_distribution_dir(site_dir, site_dir);
    let modules = registry.all().map_err(TufError::Records)?;
    Ok(recorded(&modules))
}

/// The paths of every target of the registry whose `distribution/` is `site_dir`, sorted, each
/// checked to be one TUF can sign. Names starting with a dot (locks, what a killed run left)
/// are not targets.
pub fn target_paths(site_dir: &Path) -> Result<Vec<(String, TargetPath)>, TufError> {
    let mut paths = Vec::new();
    if site_dir.join(RegistryIndex::FILE_NAME).is_file() {
        paths.push(RegistryIndex::FILE_NAME.to_owned());
    }
    for (dir, suffix) in TARGET_DIRS {
        let full = site_dir.join(dir);
        let entries = match std::fs::read_dir(&full) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(TufError::io(&full)(error)),
        };
        for entry in entries {
            let entry = entry.map_err(TufError::io(&full))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let is_file = entry.file_type().map_err(TufError::io(&full))?.is_file();
            if is_file && !name.starts_with('.') && suffix.is_none_or(|s| name.ends_with(s)) {
                paths.push(format!("{dir}/{name}"));
            }
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|relative| {
            let path = TargetPath::new(relative.clone()).map_err(|error| TufError::NotATarget {
                path: site_dir.join(&relative),
                message: error.to_string(),
            })?;
            Ok((relative, path))
        })
        .collect()
}

/// Every target of the registry whose `distribution/` is `site_dir` ([`target_paths`]). An
/// artifact whose record gives its sha256 (`recorded`) and whose size on disk is the recorded
/// one is described by its record; every other file is read and hashed. (A record that lies
/// about its artifact is then signed as it is: clients refuse the artifact by its hash, as they
/// refuse it by the record's.)
pub fn describe(
    site_dir: &Path,
    recorded: &Recorded,
) -> Result<Vec<(TargetPath, TargetDescription)>, TufError> {
    target_paths(site_dir)?
        .into_iter()
        .map(|(relative, path)| {
            let file = site_dir.join(&relative);
            let on_record = recorded.get(&relative).filter(|(size, _)| {
                file.metadata()
                    .is_ok_and(|metadata| metadata.len() == *size)
            });
            let description = match on_record {
                Some((size, sha256)) => description(*size, sha256.as_bytes())?,
                None => describe_file(&file)?,
            };
            Ok((path, description))
        })
        .collect()
}

/// The length and SHA-256 of one file (bounded as an artifact is).
pub fn describe_file(path: &Path) -> Result<TargetDescription, TufError> {
    let bytes = crate::fs::read(path, crate::fs::FileKind::Artifact).map_err(TufError::io(path))?;
    description(
        bytes.len() as u64,
        crate::digest::Sha256::of(&bytes).as_bytes(),
    )
}

/// The description of `length` bytes hashing to `sha256`.
pub fn description(length: u64, sha256: &[u8]) -> Result<TargetDescription, TufError> {
    let hashes = HashMap::from([(HashAlgorithm::Sha256, HashValue::new(sha256.to_vec()))]);
    TargetDescription::new(length, hashes, HashMap::new())
        .map_err(TufError::crypto("describe a target"))
}
