//! [`RunCache`]: what the infras of one run (`--workspace`) share, so that a pack several of
//! them need is fetched and verified once: the remote registry opened once, with the index of
//! each module it answered kept ([`Remembered`]), and every pinned pack verified, kept by its
//! sha256. It owns no disk state: the cache of a remote registry stays that registry's.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use super::{Fetched, Registry, RegistryError, RegistryOptions, VerifiedPack, VersionEntry};
use crate::digest::Sha256;
use crate::names::{ModuleName, PackRef};

/// What one run over several infras shares. A run over one infra has none.
#[derive(Default)]
pub struct RunCache {
    /// The remote registry of the run (none when there is no remote), opened on first use.
    remote: RefCell<Option<Option<Rc<Remembered>>>>,
    /// Pinned packs verified against trusted keys, by what they are and the sha256 pinned.
    verified: RefCell<BTreeMap<(PackRef, Sha256), VerifiedPack>>,
}

impl RunCache {
    /// The run's remote registry, opened the first time an infra asks for it: every infra gets
    /// the same one, and what it answered.
    pub(super) fn remote(
        &self,
        open: impl FnOnce() -> Result<Option<Box<dyn Registry>>, RegistryError>,
    ) -> Result<Option<Box<dyn Registry>>, RegistryError> {
        if self.remote.borrow().is_none() {
            let opened = open()?.map(|registry| Rc::new(Remembered::new(registry)));
            *self.remote.borrow_mut() = Some(opened);
        }
        Ok(self
            .remote
            .borrow()
            .iter()
            .flatten()
            .next()
            .map(|remote| Box::new(Shared(Rc::clone(remote))) as Box<dyn Registry>))
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
    /// [`super::Registries::open`], with the remote registry the run shares.
    pub fn open_shared(
        options: &RegistryOptions<'_>,
        cache: &RunCache,
    ) -> Result<Self, RegistryError> {
        let mut opened = None;
        let remote = cache.remote(|| {
            let registries = Self::open(options)?;
            let remote = registries.remote;
            opened = Some(registries.local);
            Ok(remote)
        })?;
        let local = opened.unwrap_or_else(|| super::DirectoryRegistry::from_config(options.config));
        Ok(Self { local, remote })
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
