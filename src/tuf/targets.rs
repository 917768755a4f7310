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

/// Every target of the registry whose `distribution/` is `site_dir`, sorted by path. Names
/// starting with a dot (locks, what a killed run left) are not targets.
pub fn describe(site_dir: &Path) -> Result<Vec<(TargetPath, TargetDescription)>, TufError> {
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
            let description = describe_file(&site_dir.join(&relative))?;
            let path = TargetPath::new(relative.clone()).map_err(|error| TufError::Malformed {
                path: site_dir.join(&relative),
                role: "targets",
                message: error.to_string(),
            })?;
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
