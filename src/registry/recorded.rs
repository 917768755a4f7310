//! The registries a lock records as the sources of its packs (`oci://…`, `https://…`, a loose
//! artifact, another `distribution/` directory), so that `sync`, `update`, `outdated` and
//! `install` find a pack where it came from: online, or from the cache with `--offline`.
//!
//! Each [`Recorded`] source answers only for the modules the lock records from it, and is opened
//! on the first question about one of them: a pack that the local directory (or the infra's
//! `vendor/`) already holds never opens it, and a source that cannot be opened fails only the
//! modules that need it. The lock's entries are given by the caller (the infra knows its lock;
//! this module does not read it).

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::loose::{LooseArtifact, LooseError, LooseSource};
use super::{
    DirectoryRegistry, Fetched, Registry, RegistryError, RegistryOptions, VersionEntry, Warnings,
};
use crate::address::Remote;
use crate::config::Config;
use crate::names::{ModuleName, PackRef};

/// What [`RegistryOptions`] holds, owned: a source is opened after the command set it up.
#[derive(Clone)]
struct Options {
    config: Config,
    env: BTreeMap<String, String>,
    cwd: PathBuf,
    offline: bool,
    warnings: Warnings,
}

impl Options {
    fn borrowed(&self) -> RegistryOptions<'_> {
        RegistryOptions {
            config: &self.config,
            env: &self.env,
            cwd: &self.cwd,
            flag: None,
            offline: self.offline,
            warnings: &self.warnings,
        }
    }
}

/// One source a lock records, for the modules recorded from it; opened on first use.
pub struct Recorded {
    label: String,
    modules: BTreeSet<ModuleName>,
    options: Options,
    opened: OnceCell<Box<dyn Registry>>,
}

impl Recorded {
    /// A source for each distinct label of `entries` (a lock's packs: the source each records,
    /// and its module), except `skip`: the labels of the registries the command opens anyway.
    pub fn from_lock<'a>(
        entries: impl IntoIterator<Item = (&'a str, &'a ModuleName)>,
        skip: &[String],
        options: &RegistryOptions<'_>,
    ) -> Vec<Self> {
        let mut by_label: BTreeMap<&str, BTreeSet<ModuleName>> = BTreeMap::new();
        for (label, module) in entries {
            if !skip.iter().any(|known| known == label) {
                by_label.entry(label).or_default().insert(module.clone());
            }
        }
        let owned = Options {
            config: options.config.clone(),
            env: options.env.clone(),
            cwd: options.cwd.to_path_buf(),
            offline: options.offline,
            warnings: options.warnings.clone(),
        };
        by_label
            .into_iter()
            .map(|(label, modules)| Self {
                label: label.to_owned(),
                modules,
                options: owned.clone(),
                opened: OnceCell::new(),
            })
            .collect()
    }

    /// The registry the label names: an artifact (`….tar`, a path relative to the base or a
    /// URL), a remote registry (`oci://…`, `https://…`), else a `distribution/` directory
    /// (relative to the base).
    fn registry(&self) -> Result<&dyn Registry, RegistryError> {
        if let Some(registry) = self.opened.get() {
            return Ok(registry.as_ref());
        }
        let options = self.options.borrowed();
        let base = &self.options.config.paths.base;
        let registry: Box<dyn Registry> = if !self.is_registry() {
            Box::new(LooseArtifact::new(
                LooseSource::parse(&self.label, base)?,
                &options,
            )?)
        } else if self.label.contains("://") {
            super::open_remote(&Remote::parse(&self.label)?, &options)
        } else {
            let dir = crate::config::absolutize(base, std::path::Path::new(&self.label));
            Box::new(DirectoryRegistry::in_distribution_dir(&dir, base).with_tuf(&options))
        };
        Ok(self.opened.get_or_init(|| registry).as_ref())
    }

    /// Whether the source is a registry (not one loose artifact): one that cannot be read may
    /// be passed over for a configured registry after it ([`super::Chain`]); a loose artifact
    /// gone is said as such.
    pub fn is_registry(&self) -> bool {
        !self.label.ends_with(".tar")
    }

    fn not_here(&self, module: &ModuleName) -> RegistryError {
        RegistryError::UnknownModule {
            module: module.clone(),
            registry: self.label.clone(),
            provider_pack: None,
        }
    }
}

impl Registry for Recorded {
    fn label(&self) -> String {
        self.label.clone()
    }

    fn unsigned_hint(&self, pack: &PackRef, own_key: bool, signed_in: Option<&str>) -> String {
        match self.registry() {
            Ok(registry) => registry.unsigned_hint(pack, own_key, signed_in),
            Err(_) => format!("`{}` holds it unsigned", self.label),
        }
    }

    fn modules(&self) -> Result<Vec<ModuleName>, RegistryError> {
        let held = self.registry()?.modules()?;
        Ok(held
            .into_iter()
            .filter(|module| self.modules.contains(module))
            .collect())
    }

    fn index(&self, module: &ModuleName) -> Result<Vec<VersionEntry>, RegistryError> {
        if !self.modules.contains(module) {
            return Ok(Vec::new());
        }
        self.registry()?.index(module)
    }

    fn versions(&self, module: &ModuleName) -> Result<Vec<semver::Version>, RegistryError> {
        if !self.modules.contains(module) {
            return Ok(Vec::new());
        }
        self.registry()?.versions(module)
    }

    fn index_many(&self, modules: &[ModuleName]) -> Vec<Result<Vec<VersionEntry>, RegistryError>> {
        let mine: Vec<ModuleName> = modules
            .iter()
            .filter(|module| self.modules.contains(module))
            .cloned()
            .collect();
        if mine.is_empty() {
            return modules.iter().map(|_| Ok(Vec::new())).collect();
        }
        // A source that cannot be opened says why for each of its modules.
        let Ok(registry) = self.registry() else {
            return modules.iter().map(|module| self.index(module)).collect();
        };
        let mut answers = registry.index_many(&mine).into_iter();
        modules
            .iter()
            .map(|module| {
                if self.modules.contains(module) {
                    answers.next().unwrap_or_else(|| Ok(Vec::new()))
                } else {
                    Ok(Vec::new())
                }
            })
            .collect()
    }

    /// A recorded artifact that is gone says which modules the lock records from it.
    fn fetch(&self, pack: &PackRef) -> Result<Fetched, RegistryError> {
        if !self.modules.contains(&pack.module) {
            return Err(self.not_here(&pack.module));
        }
        self.registry()?.fetch(pack).map_err(|error| match error {
            RegistryError::Loose(LooseError::NotFound { source_name }) => {
                let modules: Vec<String> = self
                    .modules
                    .iter()
                    .map(|module| format!("`{module}`"))
                    .collect();
                LooseError::RecordedMissing {
                    source_name,
                    modules: modules.join(", "),
                }
                .into()
            }
            error => error,
        })
    }

    fn refetch(&self, pack: &PackRef, failed: &str) -> Result<Fetched, RegistryError> {
        self.registry()?.refetch(pack, failed)
    }

    fn provenance(
        &self,
        pack: &PackRef,
        sha256: &crate::digest::Sha256,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        if !self.modules.contains(&pack.module) {
            return Ok(None);
        }
        self.registry()?.provenance(pack, sha256)
    }

    fn yanked(&self, module: &ModuleName) -> Result<BTreeSet<semver::Version>, RegistryError> {
        if !self.modules.contains(module) {
            return Ok(BTreeSet::new());
        }
        self.registry()?.yanked(module)
    }

    fn prefetch(&self, packs: &[PackRef]) {
        let mine: Vec<PackRef> = packs
            .iter()
            .filter(|pack| self.modules.contains(&pack.module))
            .cloned()
            .collect();
        if mine.is_empty() {
            return;
        }
        if let Ok(registry) = self.registry() {
            registry.prefetch(&mine);
        }
    }
}
