//! [`RunCache`]: what the infras of one run (`--workspace`) share, so that a pack several of
//! them need is fetched and verified once: the configured registries opened once, with the
//! index of each module they answered kept ([`Remembered`]), and every pinned pack verified,
//! kept by its sha256. It owns no disk state: the cache of a remote registry stays that
//! registry's.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use super::configured::Named;
use super::{Fetched, Registry, RegistryError, RegistryOptions, VerifiedPack, VersionEntry};
use crate::digest::Sha256;
use crate::names::{ModuleName, PackRef};

/// A configured registry as the run shares it: its name, and what it answered.
type SharedNamed = (Option<String>, Rc<Remembered>);

/// What one run over several infras shares. A run over one infra has none.
#[derive(Default)]
pub struct RunCache {
    /// The configured registries of the run, in order, opened on first use.
    configured: RefCell<Option<Vec<SharedNamed>>>,
    /// Pinned packs verified against trusted keys, by what they are and the sha256 pinned.
    verified: RefCell<BTreeMap<(PackRef, Sha256), VerifiedPack>>,
}

impl RunCache {
    /// The run's configured registries, opened the first time an infra asks for them: every
    /// infra gets the same ones, and what they answered.
    fn configured(
        &self,
        open: impl FnOnce() -> Result<Vec<Named>, RegistryError>,
    ) -> Result<Vec<Named>, RegistryError> {
        if self.configured.borrow().is_none() {
            let opened = open()?
                .into_iter()
                .map(|named| (named.name, Rc::new(Remembered::new(named.registry))))
                .collect();
            *self.configured.borrow_mut() = Some(opened);
        }
        Ok(self
            .configured
            .borrow()
            .iter()
            .flatten()
            .map(|(name, registry)| Named {
                name: name.clone(),
                registry: Box::new(Shared(Rc::clone(registry))),
            })
            .collect())
    }

    /// `pack` with the bytes `sha256`, when another infra of the run had it verified.
    pub fn verified(&self, pack: &PackRef, sha256: &Sha256) -> Option<VerifiedPack> {
        self.verified
            .borrow()
            .get(&(pack.clone(), *sha256))
            .cloned()
    }

    /// Keeps a pinned pack verified for the next infras. Only a signed one: whether an unsigned
    /// pack is accepted depends on the infra that asks.
    pub fn keep(&self, verified: &VerifiedPack) {
        if verified.signer.is_some() {
            self.verified
                .borrow_mut()
                .insert((verified.pack.clone(), verified.sha256), verified.clone());
        }
    }
}

impl super::Registries {
    /// [`super::Registries::open`], with the configured registries the run shares.
    pub fn open_shared(
        options: &RegistryOptions<'_>,
        cache: &RunCache,
    ) -> Result<Self, RegistryError> {
        let configured = cache.configured(|| Ok(Self::open(options)?.configured))?;
        Ok(Self {
            local: super::DirectoryRegistry::from_config(options.config),
            configured,
            warnings: options.warnings.clone(),
        })
    }
}

/// A registry whose answers to `index` and `yanked` are kept for the rest of the run: a module
/// that twenty infras pin is read once.
pub struct Remembered {
    inner: Box<dyn Registry>,
    indexes: RefCell<BTreeMap<ModuleName, Vec<VersionEntry>>>,
    yanked: RefCell<BTreeMap<ModuleName, BTreeSet<semver::Version>>>,
}

impl Remembered {
    fn new(inner: Box<dyn Registry>) -> Self {
        Self {
            inner,
            indexes: RefCell::default(),
            yanked: RefCell::default(),
        }
    }
}

/// The run's [`Remembered`] remote, as one infra's chain holds it.
struct Shared(Rc<Remembered>);

impl Registry for Shared {
    fn label(&self) -> String {
        self.0.inner.label()
    }

    fn description(&self) -> String {
        self.0.inner.description()
    }

    fn modules(&self) -> Result<Vec<ModuleName>, RegistryError> {
        self.0.inner.modules()
    }

    fn index(&self, module: &ModuleName) -> Result<Vec<VersionEntry>, RegistryError> {
        if let Some(entries) = self.0.indexes.borrow().get(module) {
            return Ok(entries.clone());
        }
        let entries = self.0.inner.index(module)?;
        self.0
            .indexes
            .borrow_mut()
            .insert(module.clone(), entries.clone());
        Ok(entries)
    }

    /// The modules not read yet are read together, as the registry reads many.
    fn index_many(&self, modules: &[ModuleName]) -> Vec<Result<Vec<VersionEntry>, RegistryError>> {
        let missing: Vec<ModuleName> = {
            let known = self.0.indexes.borrow();
            modules
                .iter()
                .filter(|module| !known.contains_key(*module))
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        let mut errors = BTreeMap::new();
        for (module, result) in missing.iter().zip(self.0.inner.index_many(&missing)) {
            match result {
                Ok(entries) => {
                    self.0.indexes.borrow_mut().insert(module.clone(), entries);
                }
                Err(error) => {
                    errors.insert(module.clone(), error);
                }
            }
        }
        modules
            .iter()
            .map(|module| match errors.remove(module) {
                Some(error) => Err(error),
                None => self.index(module),
            })
            .collect()
    }

    fn yanked(&self, module: &ModuleName) -> Result<BTreeSet<semver::Version>, RegistryError> {
        if let Some(yanked) = self.0.yanked.borrow().get(module) {
            return Ok(yanked.clone());
        }
        let yanked = self.0.inner.yanked(module)?;
        self.0
            .yanked
            .borrow_mut()
            .insert(module.clone(), yanked.clone());
        Ok(yanked)
    }

    fn fetch(&self, pack: &PackRef) -> Result<Fetched, RegistryError> {
        self.0.inner.fetch(pack)
    }

    fn refetch(&self, pack: &PackRef, failed: &str) -> Result<Fetched, RegistryError> {
        self.0.inner.refetch(pack, failed)
    }

    fn provenance(
        &self,
        pack: &PackRef,
        sha256: &Sha256,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        self.0.inner.provenance(pack, sha256)
    }

    fn prefetch(&self, packs: &[PackRef]) {
        self.0.inner.prefetch(packs);
    }

    fn unsigned_hint(&self, pack: &PackRef, own_key: bool, signed_in: Option<&str>) -> String {
        self.0.inner.unsigned_hint(pack, own_key, signed_in)
    }
}
