//! [`LooseSet`]: the artifacts `--from` names, as one [`Registry`] that the commands put first
//! in the chain, so that a module and its dependencies come from them before the configured
//! registries.
//!
//! Each `--from` value is one of:
//! - a file: one artifact (`downloads/aws_prov_1.0.0.tar`);
//! - a directory: every `*.tar` in it (not below it); when a `SHA256SUMS` sits beside them, every
//!   artifact it lists must be there with that sha256;
//! - an `http(s)://` URL ending in `.tar`: one artifact;
//! - any other `http(s)://` URL: a release, a directory on a static host whose `SHA256SUMS`
//!   ([`super::listing`]) lists its artifacts (a static host cannot list a directory, and a
//!   GitHub release page cannot be read without its API; a `SHA256SUMS` asset can).
//!
//! Artifacts are read when a module of theirs is asked for. Two artifacts of one module and
//! version are one when their bytes agree, and refused, naming both, when they do not.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::listing::{self, Listed};
use super::{LooseArtifact, LooseError, LooseSource};
use crate::address::is_http_url;
use crate::names::{ModuleName, PackRef};
use crate::registry::http::{HttpRegistry, HttpUrl};
use crate::registry::{Fetched, Registry, RegistryError, RegistryOptions, VersionEntry};

/// The artifacts of every `--from` value, one per module and version.
pub struct LooseSet {
    /// The values as given, for messages.
    given: Vec<String>,
    artifacts: Vec<LooseArtifact>,
}

impl LooseSet {
    /// Reads what each of `values` holds (a directory's entries, a release's listing); the
    /// artifacts themselves are read on first use, but for two of one module and version.
    pub fn open(values: &[String], options: &RegistryOptions<'_>) -> Result<Self, RegistryError> {
        let mut artifacts: Vec<LooseArtifact> = Vec::new();
        for value in values {
            for artifact in artifacts_of(value, options)? {
                match artifacts
                    .iter()
                    .find(|known| known.pack() == artifact.pack())
                {
                    Some(known) => refuse_conflict(known, &artifact)?,
                    None => artifacts.push(artifact),
                }
            }
        }
        Ok(Self {
            given: values.to_vec(),
            artifacts,
        })
    }

    /// The newest version of each module the artifacts hold: what resolution tries first.
    pub fn newest(&self) -> BTreeMap<ModuleName, semver::Version> {
        let mut newest: BTreeMap<ModuleName, semver::Version> = BTreeMap::new();
        for artifact in &self.artifacts {
            let pack = artifact.pack();
            let slot = newest
                .entry(pack.module.clone())
                .or_insert(pack.version.clone());
            if pack.version > *slot {
                slot.clone_from(&pack.version);
            }
        }
        newest
    }

    /// What the artifacts hold, for messages: `` `local_prov` 0.2.0 (`downloads/….tar`) ``.
    pub fn holdings(&self) -> String {
        let each: Vec<String> = self
            .artifacts
            .iter()
            .map(|artifact| {
                let pack = artifact.pack();
                format!(
                    "`{}` {} (`{}`)",
                    pack.module,
                    pack.version,
                    artifact.source_name()
                )
            })
            .collect();
        each.join(", ")
    }

    fn of_module<'a>(&'a self, module: &'a ModuleName) -> impl Iterator<Item = &'a LooseArtifact> {
        self.artifacts
            .iter()
            .filter(move |artifact| artifact.pack().module == *module)
    }
}

/// Refuses two artifacts of one module and version whose bytes differ.
fn refuse_conflict(known: &LooseArtifact, other: &LooseArtifact) -> Result<(), RegistryError> {
    let (first_sha256, second_sha256) = (known.sha256()?, other.sha256()?);
    if first_sha256 == second_sha256 {
        return Ok(());
    }
    Err(LooseError::Conflict {
        pack: known.pack().clone(),
        first: known.source_name().to_owned(),
        first_sha256,
        second: other.source_name().to_owned(),
        second_sha256,
    }
    .into())
}

/// The artifacts one `--from` value names.
fn artifacts_of(
    value: &str,
    options: &RegistryOptions<'_>,
) -> Result<Vec<LooseArtifact>, RegistryError> {
    if is_http_url(value) {
        if value.ends_with(".tar") {
            let source = LooseSource::parse(value, options.cwd)?;
            return Ok(vec![LooseArtifact::new(source, options)?]);
        }
        return release(value, options);
    }
    let path = crate::config::absolutize(options.cwd, Path::new(value));
    if path.is_dir() {
        return directory(&path, options);
    }
    Ok(vec![LooseArtifact::new(LooseSource::Path(path), options)?])
}

/// Every `*.tar` in `dir`, checked against the `SHA256SUMS` beside them when there is one.
fn directory(
    dir: &Path,
    options: &RegistryOptions<'_>,
) -> Result<Vec<LooseArtifact>, RegistryError> {
    let base = &options.config.paths.base;
    let read_error = |source| LooseError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        if path.extension().is_some_and(|ext| ext == "tar") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    let listing_path = dir.join(listing::FILE_NAME);
    let listed = match crate::fs::read(&listing_path, crate::fs::FileKind::Metadata) {
        Ok(bytes) => {
            let label = LooseSource::Path(listing_path.clone()).label(base);
            let text = String::from_utf8_lossy(&bytes);
            let listed = listing::parse(&text, &label).map_err(LooseError::from)?;
            for entry in &listed {
                if !files.iter().any(|file| file.ends_with(&entry.file)) {
                    return Err(LooseError::ListedMissing {
                        listing: label,
                        file: entry.file.clone(),
                    }
                    .into());
                }
            }
            Some((label, listed))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(LooseError::Read {
                path: listing_path,
                source,
            }
            .into());
        }
    };
    if files.is_empty() {
        return Err(LooseError::NoArtifacts {
            source_name: LooseSource::Path(dir.to_owned()).label(base),
        }
        .into());
    }
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let artifact = LooseArtifact::new(LooseSource::Path(path), options)?;
            Ok(match (&listed, name) {
                (Some((label, listed)), Some(name)) => with_listed(artifact, label, listed, &name),
                _ => artifact,
            })
        })
        .collect()
}

fn with_listed(
    artifact: LooseArtifact,
    label: &str,
    listed: &[Listed],
    file: &str,
) -> LooseArtifact {
    match listed.iter().find(|entry| entry.file == file) {
        Some(entry) => artifact.listed(label.to_owned(), entry.sha256),
        None => artifact,
    }
}

/// The artifacts a release's `SHA256SUMS` lists.
fn release(
    value: &str,
    options: &RegistryOptions<'_>,
) -> Result<Vec<LooseArtifact>, RegistryError> {
    let url = HttpUrl::parse(value)?;
    let http = HttpRegistry::new(
        url.clone(),
        options.env,
        &options.config.distribution,
        options.offline,
    );
    let dir = url.display();
    let label = format!("{dir}/{}", listing::FILE_NAME);
    let bytes = http
        .read_file(listing::FILE_NAME, listing::MAX_BYTES)?
        .ok_or_else(|| LooseError::NoListing { url: dir.clone() })?;
    let listed =
        listing::parse(&String::from_utf8_lossy(&bytes), &label).map_err(LooseError::from)?;
    if listed.is_empty() {
        return Err(LooseError::NoArtifacts { source_name: label }.into());
    }
    listed
        .into_iter()
        .map(|entry| {
            let source = LooseSource::Url {
                dir: dir.clone(),
                file: entry.file,
            };
            Ok(LooseArtifact::new(source, options)?.listed(label.clone(), entry.sha256))
        })
        .collect()
}

impl Registry for LooseSet {
    fn label(&self) -> String {
        self.given.join(", ")
    }

    fn description(&self) -> String {
        let each: Vec<String> = self
            .given
            .iter()
            .map(|value| format!("`{value}`"))
            .collect();
        format!("the artifacts given with `--from` ({})", each.join(", "))
    }

    fn has_loose(&self) -> bool {
        true
    }

    fn unsigned_hint(&self, pack: &PackRef, _own_key: bool, signed_in: Option<&str>) -> String {
        super::unsigned_hint(pack, signed_in)
    }

    fn modules(&self) -> Result<Vec<ModuleName>, RegistryError> {
        Ok(self.newest().into_keys().collect())
    }

    fn index(&self, module: &ModuleName) -> Result<Vec<VersionEntry>, RegistryError> {
        let mut entries = Vec::new();
        for artifact in self.of_module(module) {
            entries.extend(artifact.index(module)?);
        }
        entries.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(entries)
    }

    fn fetch(&self, pack: &PackRef) -> Result<Fetched, RegistryError> {
        let mut versions = Vec::new();
        for artifact in self.of_module(&pack.module) {
            if artifact.pack().version == pack.version {
                return artifact.fetch(pack);
            }
            versions.push(artifact.pack().version.clone());
        }
        if versions.is_empty() {
            return Err(RegistryError::UnknownModule {
                module: pack.module.clone(),
                registry: self.label(),
                provider_pack: None,
            });
        }
        versions.sort();
        Err(RegistryError::UnknownVersion {
            module: pack.module.clone(),
            version: pack.version.clone(),
            available: versions,
        })
    }
}
