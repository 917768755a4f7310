//! A registry in two directories: artifacts in the packages directory (`pack_path`) and one
//! metadata file per module in `registry_path/<module>.json`, so the registry grows per module
//! rather than as one big index. `package_file` names in the metadata are relative to the
//! packages directory, so the two directories can be copied or served as they are.
//!
//! Writers hold the registry's lock ([`crate::fs::dir_lock::DirLock`] on `registry_path`) while they
//! read, change and write a module's metadata.

use std::path::{Path, PathBuf};

use super::tuf_client::{Targets, TufError};
use super::{Fetched, ModuleMetadata, Registry, RegistryError, VersionEntry};
use crate::artifact::verify::SignatureFile;
use crate::config::Config;
use crate::fs::FileKind;
use crate::fs::dir_lock::DirLock;
use crate::names::{ModuleName, PackRef};
use crate::printer::Printer;

/// Where packing records each version's documentation, inside the registry directory (read by
/// the site's pages).
pub const DOCS_DIR: &str = "docs";

#[derive(Debug, Clone)]
pub struct DirectoryRegistry {
    pub pack_path: PathBuf,
    pub registry_path: PathBuf,
    /// How messages and locks name it: the registry directory, relative to the base if inside.
    label: String,
    /// Its pinned TUF root's gate, when the user pinned one (see [`super::tuf_client`]).
    tuf: Option<std::sync::Arc<super::tuf_client::Gate>>,
}

impl DirectoryRegistry {
    /// The configured directories (`distribution.pack_path`, `distribution.registry_path`).
    pub fn from_config(config: &Config) -> Self {
        let registry_path = config.distribution.registry_path.clone();
        Self {
            label: relative_label(&registry_path, &config.paths.base),
            pack_path: config.distribution.pack_path.clone(),
            registry_path,
            tuf: None,
        }
    }

    /// A `distribution/`-shaped directory: `packages/` and `registry/` inside it, named
    /// relative to `base` when inside it.
    pub fn in_distribution_dir(dir: &Path, base: &Path) -> Self {
        Self {
            label: relative_label(dir, base),
            pack_path: dir.join("packages"),
            registry_path: dir.join("registry"),
            tuf: None,
        }
    }

    /// Every read through the registry's interface checked against its TUF metadata, when the
    /// user pinned the root of the directory holding `registry/` (its `distribution/`). What
    /// publishing reads and writes ([`DirectoryRegistry::read`]) is not.
    pub fn with_tuf(self, options: &super::RegistryOptions<'_>) -> Self {
        let Some(site) = self.registry_path.parent() else {
            return self;
        };
        let gate = super::tuf_client::Gate::open(
            options.env,
            &super::tuf_client::RegistryId::of_directory(site),
            self.label.clone(),
            options.offline,
            options.warnings,
        );
        Self {
            tuf: gate.map(std::sync::Arc::new),
            ..self
        }
    }

    /// Takes the registry's lock, creating the registry directory when missing.
    pub fn lock(&self, printer: &Printer) -> std::io::Result<DirLock> {
        crate::fs::create_dir_all(&self.registry_path)?;
        DirLock::acquire(&self.registry_path, printer)
    }

    /// Removes what killed runs left in both directories and the documentation's. Only under
    /// the registry's lock, before anything is written.
    pub fn remove_debris(&self) -> std::io::Result<()> {
        crate::fs::remove_debris(&self.pack_path)?;
        crate::fs::remove_debris(&self.registry_path)?;
        crate::fs::remove_debris(&self.registry_path.join(DOCS_DIR))?;
        crate::fs::remove_debris(&self.pins_dir())?;
        Ok(())
    }

    /// Takes the registry's lock shared, when the registry exists: the versions read under it
    /// cannot be deleted (`pack clean` takes it exclusively) until it is released.
    pub fn lock_shared(&self, printer: &Printer) -> std::io::Result<Option<DirLock>> {
        if !self.registry_path.is_dir() {
            return Ok(None);
        }
        DirLock::acquire_shared(&self.registry_path, printer).map(Some)
    }

    pub fn metadata_path(&self, module: &ModuleName) -> PathBuf {
        self.registry_path.join(format!("{module}.json"))
    }

    /// The metadata of `module`, if the registry has any.
    pub fn read(&self, module: &ModuleName) -> Result<Option<ModuleMetadata>, RegistryError> {
        let path = self.metadata_path(module);
        let metadata = read_metadata(&path)?;
        if let Some(metadata) = &metadata
            && metadata.name != *module
        {
            return Err(RegistryError::Parse {
                path,
                message: format!("it describes `{}`, not `{module}`", metadata.name),
            });
        }
        Ok(metadata)
    }

    /// Every module's metadata, sorted by name. Only `<module>.json` files are read, each for
    /// the module its name says: a stray copy (`zz-backup.json`) is not a module.
    pub fn all(&self) -> Result<Vec<ModuleMetadata>, RegistryError> {
        let mut modules = Vec::new();
        for module in self.modules()? {
            modules.extend(self.read(&module)?);
        }
        Ok(modules)
    }

    pub fn write(&self, metadata: &ModuleMetadata) -> std::io::Result<()> {
        crate::fs::atomic_write(&self.metadata_path(&metadata.name), &Self::render(metadata))
    }

    /// The file's contents: pretty JSON and a final newline.
    pub fn render(metadata: &ModuleMetadata) -> Vec<u8> {
        // Serializing strings, numbers and typed values that print as strings cannot fail.
        let mut json = serde_json::to_vec_pretty(metadata).unwrap_or_default();
        json.push(b'\n');
        json
    }

    /// Removes the metadata file of a module that has no version left.
    pub fn remove(&self, module: &ModuleName) -> std::io::Result<()> {
        crate::fs::remove_file_if_exists(&self.metadata_path(module)).map(|_| ())
    }

    /// The recorded version of a pack.
    pub fn resolve(&self, pack: &PackRef) -> Result<VersionEntry, RegistryError> {
        let metadata = self
            .read(&pack.module)?
            .ok_or_else(|| self.unknown_module(pack))?;
        metadata.require(&pack.version)
    }

    /// The error for a pack of a module it has no metadata of, naming the provider's module when
    /// `pack` names a provider (`aws@1.1.0`) whose module (`aws_prov`) it has.
    fn unknown_module(&self, pack: &PackRef) -> RegistryError {
        let provider_pack = super::provider_module(&pack.module)
            .filter(|module| self.metadata_path(module).is_file())
            .map(|module| PackRef::new(module, pack.version.clone()));
        RegistryError::UnknownModule {
            module: pack.module.clone(),
            registry: self.label.clone(),
            provider_pack,
        }
    }

    /// Marks `pack` yanked (or not), under the registry's lock, with the reason given (a
    /// restored version keeps none); says whether anything changed.
    pub fn set_yanked(
        &self,
        pack: &PackRef,
        yanked: bool,
        reason: Option<&str>,
        printer: &Printer,
    ) -> Result<bool, RegistryError> {
        let lock_error = |source| RegistryError::Read {
            path: self.registry_path.clone(),
            source,
        };
        let _lock = self.lock(printer).map_err(lock_error)?;
        self.resolve(pack)?;
        let Some(mut metadata) = self.read(&pack.module)? else {
            return Err(self.unknown_module(pack));
        };
        let Some(entry) = metadata
            .versions
            .iter_mut()
            .find(|entry| entry.version == pack.version)
        else {
            return Ok(false);
        };
        // Yanking again with a reason records it; without one, the recorded reason stays.
        let yank_reason = match (yanked, reason) {
            (true, Some(reason)) => Some(reason.to_owned()),
            (true, None) => entry.yank_reason.clone(),
            (false, _) => None,
        };
        if entry.yanked == yanked && entry.yank_reason == yank_reason {
            return Ok(false);
        }
        entry.yanked = yanked;
        entry.yank_reason = yank_reason;
        self.write(&metadata)
            .map_err(|source| RegistryError::Write {
                path: self.metadata_path(&pack.module),
                source,
            })?;
        Ok(true)
    }

    /// Where a file named in the metadata is on disk.
    pub fn artifact_path(&self, file_name: &str) -> PathBuf {
        self.pack_path.join(file_name)
    }

    /// Every entry of the packages directory named like an artifact, with what stands there,
    /// sorted by name. A directory that cannot be listed has none.
    pub fn artifact_entries(&self) -> Vec<(crate::artifact::ArtifactName, ArtifactFile)> {
        let mut found: Vec<_> = std::fs::read_dir(&self.pack_path)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name: crate::artifact::ArtifactName =
                    entry.file_name().to_str()?.parse().ok()?;
                Some((name, ArtifactFile::at(&entry.path())))
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    }
}

/// What stands at a path of the packages directory: an artifact is a regular file (or a link
/// to one). Anything else named like one (a directory, a link to a directory, a FIFO) is not
/// the registry's: no command reads it as an artifact, and `pack clean` leaves it alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactFile {
    Missing,
    Regular,
    /// Not an artifact: what it is, for messages ("a directory").
    Other(&'static str),
}

impl ArtifactFile {
    pub fn at(path: &Path) -> Self {
        let entry = match std::fs::symlink_metadata(path) {
            Ok(entry) => entry,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Self::Missing,
            Err(_) => return Self::Other("unreadable"),
        };
        if entry.is_dir() {
            return Self::Other("a directory");
        }
        match std::fs::metadata(path) {
            Ok(target) if target.is_file() => Self::Regular,
            Ok(target) if target.is_dir() => Self::Other("a link to a directory"),
            Ok(_) if entry.is_symlink() => Self::Other("a link to a special file"),
            Ok(_) => Self::Other("a special file"),
            Err(_) if entry.is_symlink() => Self::Other("a dangling link"),
            Err(_) => Self::Other("unreadable"),
        }
    }
}

impl Registry for DirectoryRegistry {
    fn label(&self) -> String {
        self.label.clone()
    }

    /// Packing signs what it writes here: with a key, packing again adds the signature.
    fn unsigned_hint(&self, pack: &PackRef, own_key: bool, _signed_in: Option<&str>) -> String {
        if own_key {
            format!(
                "pack it again to sign it with your key: {}",
                crate::catalog::pack_command(&pack.module)
            )
        } else {
            "sign packs with a key (`provisioning keys generate`, then pack again)".to_owned()
        }
    }

    fn record(&self, module: &ModuleName) -> Result<Option<ModuleMetadata>, RegistryError> {
        self.read_checked(module)
    }

    /// With a pinned root, the modules its targets list.
    fn modules(&self) -> Result<Vec<ModuleName>, RegistryError> {
        if let Some(targets) = self.tuf_targets()? {
            return Ok(targets.modules());
        }
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
        let mut modules: Vec<ModuleName> = entries
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name();
                name.to_str()?.strip_suffix(".json")?.parse().ok()
            })
            .collect();
        modules.sort();
        Ok(modules)
    }

    /// The file beside the artifact, when the metadata records these bytes.
    fn provenance(
        &self,
        pack: &PackRef,
        sha256: &crate::digest::Sha256,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        let Some(entry) = self
            .index(&pack.module)?
            .into_iter()
            .find(|entry| entry.version == pack.version && entry.sha256 == *sha256)
        else {
            return Ok(None);
        };
        // Always the name the artifact's gives: a name read from the metadata could lead
        // anywhere.
        let name = crate::provenance::file_name(&entry.package_file);
        let path = self.artifact_path(&name);
        match crate::fs::read(&path, crate::fs::FileKind::Provenance) {
            Ok(bytes) => {
                self.check_file(&format!("packages/{name}"), &bytes)?;
                Ok(Some(bytes))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(RegistryError::Read { path, source }),
        }
    }

    fn yanked(
        &self,
        module: &ModuleName,
    ) -> Result<std::collections::BTreeSet<semver::Version>, RegistryError> {
        Ok(self
            .index(module)?
            .into_iter()
            .filter(|entry| entry.yanked)
            .map(|entry| entry.version)
            .collect())
    }

    fn index(&self, module: &ModuleName) -> Result<Vec<VersionEntry>, RegistryError> {
        Ok(self
            .read_checked(module)?
            .map(|metadata| metadata.versions)
            .unwrap_or_default())
    }

    fn fetch(&self, pack: &PackRef) -> Result<Fetched, RegistryError> {
        let entry = match self.tuf_targets()? {
            None => self.resolve(pack)?,
            Some(_) => self
                .read_checked(&pack.module)?
                .ok_or_else(|| self.unknown_module(pack))?
                .require(&pack.version)?,
        };
        let path = self.artifact_path(&entry.package_file.to_string());
        let read_error = |source| RegistryError::Read {
            path: path.clone(),
            source,
        };
        let bytes = crate::fs::read(&path, crate::fs::FileKind::Artifact).map_err(read_error)?;
        let signature = SignatureFile::beside(&path).map_err(read_error)?;
        self.check_file(&format!("packages/{}", entry.package_file), &bytes)?;
        if let (Some(name), Some(signature)) = (&entry.signature, &signature) {
            self.check_file(&format!("packages/{name}"), signature.text.as_bytes())?;
        }
        Ok(Fetched {
            entry,
            bytes,
            signature,
            label: self.label.clone(),
            loose: false,
            cached: false,
        })
    }
}

/// A registry with a pinned root: the refresh reads its `tuf/` files, and what the registry's
/// interface reads is checked against the targets (a record they do not list is absent).
impl DirectoryRegistry {
    fn tuf_targets(&self) -> Result<Option<&Targets>, RegistryError> {
        let (Some(gate), Some(site)) = (&self.tuf, self.registry_path.parent()) else {
            return Ok(None);
        };
        gate.targets(&|file, _| read_if_exists(&site.join(file), FileKind::Metadata))
            .map(Some)
    }

    /// The record of `module` as [`DirectoryRegistry::read`] gives it, checked against its
    /// target when the root is pinned.
    fn read_checked(&self, module: &ModuleName) -> Result<Option<ModuleMetadata>, RegistryError> {
        let Some(targets) = self.tuf_targets()? else {
            return self.read(module);
        };
        let file = format!("registry/{module}.json");
        if targets.get(&file).is_err() {
            return Ok(None);
        }
        let path = self.metadata_path(module);
        let Some(bytes) = read_if_exists(&path, FileKind::Metadata)? else {
            return Err(TufError::Missing {
                registry: self.label.clone(),
                file,
            }
            .into());
        };
        targets.check(&file, &bytes)?;
        let metadata = parse_metadata(&path, &bytes)?;
        if metadata.name != *module {
            return Err(RegistryError::Parse {
                path,
                message: format!("it describes `{}`, not `{module}`", metadata.name),
            });
        }
        Ok(Some(metadata))
    }

    /// `bytes`, read as `file` (below `distribution/`), are its target, when the root is pinned.
    fn check_file(&self, file: &str, bytes: &[u8]) -> Result<(), RegistryError> {
        match self.tuf_targets()? {
            Some(targets) => Ok(targets.check(file, bytes)?),
            None => Ok(()),
        }
    }
}

fn read_if_exists(path: &Path, kind: FileKind) -> Result<Option<Vec<u8>>, RegistryError> {
    match crate::fs::read(path, kind) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(RegistryError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

fn parse_metadata(path: &Path, bytes: &[u8]) -> Result<ModuleMetadata, RegistryError> {
    ModuleMetadata::from_json(bytes).map_err(|message| RegistryError::Parse {
        path: path.to_owned(),
        message,
    })
}

/// `path` relative to `base` when inside it, `/`-separated: how messages and locks name it.
fn relative_label(path: &Path, base: &Path) -> String {
    let label = match path.strip_prefix(base) {
        Ok(relative) if !relative.as_os_str().is_empty() => relative,
        _ => path,
    };
    label.to_string_lossy().replace('\\', "/")
}

fn read_metadata(path: &Path) -> Result<Option<ModuleMetadata>, RegistryError> {
    let text = match crate::fs::read_to_string(path, crate::fs::FileKind::Metadata) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(RegistryError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    parse_metadata(path, text.as_bytes()).map(Some)
}
