//! The local registry: artifacts in the packages directory (`pack_path`) and one metadata file
//! per module in `registry_path/<module>.json`, so the registry grows per module rather than as
//! one big index. `package_file` paths in the metadata are relative to the packages directory,
//! so the two directories can be copied or served as they are.
//!
//! Writers hold the registry's lock ([`crate::lock::DirLock`] on `registry_path`) while they
//! read, change and write a module's metadata.

pub mod metadata;
pub mod oci;

use std::path::{Path, PathBuf};

pub use metadata::{ModuleMetadata, VersionEntry};

use crate::config::Config;
use crate::lock::DirLock;
use crate::printer::Printer;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("failed to read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not valid registry metadata: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("`{module}` is not a module name: {message}")]
    InvalidModule { module: String, message: String },
    #[error("no packs of `{module}` in the registry `{}`\nhint: pack it first: `provisioning pack provider {}`", registry.display(), module.strip_suffix(crate::names::MODULE_SUFFIX).unwrap_or(module))]
    UnknownModule { module: String, registry: PathBuf },
    #[error(
        "`{module}` has no version {version} in the registry\nhint: {}",
        available_versions(available)
    )]
    UnknownVersion {
        module: String,
        version: String,
        available: Vec<String>,
    },
}

fn available_versions(available: &[String]) -> String {
    if available.is_empty() {
        "it has no versions".to_owned()
    } else {
        format!("available: {}", available.join(", "))
    }
}

/// The registry in two local directories.
#[derive(Debug, Clone)]
pub struct LocalRegistry {
    pub pack_path: PathBuf,
    pub registry_path: PathBuf,
}

impl LocalRegistry {
    pub fn from_config(config: &Config) -> Self {
        Self {
            pack_path: config.distribution.pack_path.clone(),
            registry_path: config.distribution.registry_path.clone(),
        }
    }

    /// Takes the registry's lock, creating the registry directory when missing.
    pub fn lock(&self, printer: &Printer) -> std::io::Result<DirLock> {
        fs_err::create_dir_all(&self.registry_path)?;
        DirLock::acquire(&self.registry_path, printer)
    }

    pub fn metadata_path(&self, module: &str) -> PathBuf {
        self.registry_path.join(format!("{module}.json"))
    }

    /// The metadata of `module`, if the registry has any.
    pub fn read(&self, module: &str) -> Result<Option<ModuleMetadata>, RegistryError> {
        crate::names::validate(module).map_err(|error| RegistryError::InvalidModule {
            module: module.to_owned(),
            message: error.to_string(),
        })?;
        read_metadata(&self.metadata_path(module))
    }

    /// Every module's metadata, sorted by name.
    pub fn modules(&self) -> Result<Vec<ModuleMetadata>, RegistryError> {
        let entries = match std::fs::read_dir(&self.registry_path) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(RegistryError::Read {
                    path: self.registry_path.clone(),
                    source,
                });
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        paths.sort();
        let mut modules = Vec::new();
        for path in paths {
            if let Some(metadata) = read_metadata(&path)? {
                modules.push(metadata);
            }
        }
        Ok(modules)
    }

    pub fn write(&self, metadata: &ModuleMetadata) -> std::io::Result<()> {
        let mut json = serde_json::to_string_pretty(metadata).map_err(std::io::Error::other)?;
        json.push('\n');
        crate::fs::atomic_write(&self.metadata_path(&metadata.name), json.as_bytes())
    }

    /// Removes the metadata file of a module that has no version left.
    pub fn remove(&self, module: &str) -> std::io::Result<()> {
        match fs_err::remove_file(self.metadata_path(module)) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }

    /// The recorded version `version` of `module`, and where its artifact is.
    pub fn resolve(
        &self,
        module: &str,
        version: &semver::Version,
    ) -> Result<(VersionEntry, PathBuf), RegistryError> {
        let metadata = self
            .read(module)?
            .ok_or_else(|| RegistryError::UnknownModule {
                module: module.to_owned(),
                registry: self.registry_path.clone(),
            })?;
        let entry =
            metadata
                .get(version)
                .cloned()
                .ok_or_else(|| RegistryError::UnknownVersion {
                    module: module.to_owned(),
                    version: version.to_string(),
                    available: metadata
                        .versions
                        .iter()
                        .map(|v| v.version.clone())
                        .collect(),
                })?;
        let path = self.artifact_path(&entry.package_file);
        Ok((entry, path))
    }

    /// Where an artifact named in the metadata is on disk.
    pub fn artifact_path(&self, package_file: &str) -> PathBuf {
        self.pack_path.join(package_file)
    }
}

/// A pack as a registry gave it, before verification.
#[derive(Debug, Clone)]
pub struct Source {
    /// What the registry records about it: verification checks the bytes against this.
    pub entry: VersionEntry,
    pub bytes: Vec<u8>,
    pub signature: Option<crate::pack::verify::SignatureFile>,
    /// Where it came from, as the lock records it.
    pub label: String,
}

/// The configured registry's OCI side, when `registry_type = "oci"`.
pub fn configured_oci(
    context: &crate::context::Context,
) -> anyhow::Result<Option<oci::OciRegistry>> {
    let distribution = &context.config.distribution;
    match distribution.registry_type.as_str() {
        "local" => Ok(None),
        "oci" => {
            if distribution.registry_url.is_empty() {
                return Err(oci::OciError::NoUrl.into());
            }
            let url = oci::RegistryUrl::parse(&distribution.registry_url)?;
            Ok(Some(oci::OciRegistry::new(
                url,
                &context.env,
                &distribution.cache_path,
                context.offline,
            )?))
        }
        other => {
            anyhow::bail!("`distribution.registry_type` is `{other}`; it must be `local` or `oci`")
        }
    }
}

/// Finds `module` at `version`: in the local registry first, then, when the configured
/// registry is OCI, in its cache or on the network.
pub fn fetch(
    context: &crate::context::Context,
    module: &str,
    version: &semver::Version,
) -> anyhow::Result<Source> {
    let local = LocalRegistry::from_config(&context.config);
    match local.resolve(module, version) {
        Ok((entry, path)) => {
            let bytes = fs_err::read(&path)?;
            let signature = crate::pack::verify::SignatureFile::beside(&path)?;
            let label = context
                .display_path(&local.registry_path)
                .to_string_lossy()
                .replace('\\', "/");
            Ok(Source {
                entry,
                bytes,
                signature,
                label,
            })
        }
        Err(
            error @ (RegistryError::UnknownModule { .. } | RegistryError::UnknownVersion { .. }),
        ) => {
            let Some(registry) = configured_oci(context)? else {
                return Err(error.into());
            };
            let fetched = registry.fetch(module, version)?;
            Ok(Source {
                entry: fetched.entry,
                bytes: fetched.bytes,
                signature: fetched.signature,
                label: registry.label(),
            })
        }
        Err(error) => Err(error.into()),
    }
}

/// Fills the cache with the packs that are neither in the local registry nor cached yet, many at
/// a time, when the configured registry is OCI. Best effort: what fails here fails again, with
/// its error, when the pack itself is fetched.
pub fn prefetch(context: &crate::context::Context, packs: &[(String, semver::Version)]) {
    let local = LocalRegistry::from_config(&context.config);
    let remote: Vec<(String, semver::Version)> = packs
        .iter()
        .filter(|(module, version)| local.resolve(module, version).is_err())
        .cloned()
        .collect();
    if remote.len() < 2 || context.offline {
        return;
    }
    if let Ok(Some(registry)) = configured_oci(context) {
        let _ = registry.prefetch(&remote);
    }
}

fn read_metadata(path: &Path) -> Result<Option<ModuleMetadata>, RegistryError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(RegistryError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let metadata: ModuleMetadata =
        serde_json::from_str(&text).map_err(|error| RegistryError::Parse {
            path: path.to_owned(),
            message: error.to_string(),
        })?;
    metadata.check().map_err(|message| RegistryError::Parse {
        path: path.to_owned(),
        message,
    })?;
    Ok(Some(metadata))
}
