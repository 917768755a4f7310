//! [`Chain`]: registries asked in order, the first that has a pack giving it; for a pinned
//! pack, the first that has the very bytes pinned.

use super::{FetchError, Fetched, Registry, RegistryError, Trust, VerifiedPack, VersionEntry};
use crate::digest::Sha256;
use crate::names::{ModuleName, PackRef};

/// Registries asked in order: a pack one does not have is asked of the next. The error of the
/// last one is the answer when none has it.
pub struct Chain {
    pub(super) registries: Vec<Box<dyn Registry>>,
    /// What [`Registry::prefetch`] fetched from the first registry to learn that it has a
    /// pack: kept for the fetch that follows, so the pack is not read twice.
    probed: std::sync::Mutex<std::collections::BTreeMap<PackRef, Fetched>>,
}

impl Chain {
    pub(super) fn new(registries: Vec<Box<dyn Registry>>) -> Self {
        Self {
            registries,
            probed: std::sync::Mutex::default(),
        }
    }

    /// `registry` (the `index`th of the chain) fetching `pack`: from what prefetch kept, for
    /// the first registry.
    fn fetch_from(
        &self,
        index: usize,
        registry: &dyn Registry,
        pack: &PackRef,
    ) -> Result<Fetched, RegistryError> {
        if index == 0
            && let Some(fetched) = self
                .probed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(pack)
        {
            return Ok(fetched);
        }
        registry.fetch(pack)
    }

    /// The registry that gives `pack` (see [`Registry::fetch_verified`]), and what it gave.
    fn serving(
        &self,
        pack: &PackRef,
        pinned: Option<&Sha256>,
    ) -> Result<(usize, Fetched), FetchError> {
        let mut mismatch = None;
        let mut not_found = None;
        for (index, registry) in self.registries.iter().enumerate() {
            match self.fetch_from(index, registry.as_ref(), pack) {
                Ok(fetched) if pinned.is_none_or(|pinned| fetched.entry.sha256 == *pinned) => {
                    return Ok((index, fetched));
                }
                Ok(fetched) => {
                    if let Some(pinned) = pinned {
                        mismatch.get_or_insert(FetchError::PinMismatch {
                            pack: pack.clone(),
                            pinned: *pinned,
                            found: fetched.entry.sha256,
                        });
                    }
                }
                Err(error) if error.is_not_found() => not_found = Some(error),
                Err(error) => return Err(error.into()),
            }
        }
        Err(mismatch.unwrap_or_else(|| {
            not_found
                .unwrap_or_else(|| RegistryError::UnknownModule {
                    module: pack.module.clone(),
                    registry: self.label(),
                    provider_pack: None,
                })
                .into()
        }))
    }

    /// Another registry of the chain (than `serving`) whose record has `pack` with the bytes
    /// `sha256`, signed: where a signature to publish already is.
    fn signed_elsewhere(&self, serving: usize, pack: &PackRef, sha256: &Sha256) -> Option<String> {
        self.registries
            .iter()
            .enumerate()
            .filter(|(index, _)| *index != serving)
            .find(|(_, registry)| {
                registry.index(&pack.module).is_ok_and(|entries| {
                    entries.iter().any(|entry| {
                        entry.version == pack.version
                            && entry.sha256 == *sha256
                            && entry.signature.is_some()
                    })
                })
            })
            .map(|(_, registry)| registry.label())
    }
}

impl Registry for Chain {
    fn label(&self) -> String {
        let labels: Vec<String> = self.registries.iter().map(|r| r.label()).collect();
        labels.join(", then ")
    }

    /// The loose artifacts' own description, then the registries' labels as one: "the artifacts
    /// given with `--from` (…) or the registry `distribution/registry, then oci://…`".
    fn description(&self) -> String {
        let (loose, registries): (Vec<_>, Vec<_>) = self
            .registries
            .iter()
            .partition(|registry| registry.has_loose());
        let mut parts: Vec<String> = loose
            .iter()
            .map(|registry| registry.description())
            .collect();
        if !registries.is_empty() {
            let labels: Vec<String> = registries.iter().map(|registry| registry.label()).collect();
            parts.push(format!("the registry `{}`", labels.join(", then ")));
        }
        parts.join(" or ")
    }

    fn has_loose(&self) -> bool {
        self.registries.iter().any(|registry| registry.has_loose())
    }

    fn modules(&self) -> Result<Vec<ModuleName>, RegistryError> {
        let mut modules = Vec::new();
        for registry in &self.registries {
            modules.extend(registry.modules()?);
        }
        modules.sort();
        modules.dedup();
        Ok(modules)
    }

    fn versions(&self, module: &ModuleName) -> Result<Vec<semver::Version>, RegistryError> {
        let mut versions = Vec::new();
        for registry in &self.registries {
            versions.extend(registry.versions(module)?);
        }
        versions.sort();
        versions.dedup();
        Ok(versions)
    }

    fn index_many(&self, modules: &[ModuleName]) -> Vec<Result<Vec<VersionEntry>, RegistryError>> {
        let mut merged: Vec<Result<Vec<VersionEntry>, RegistryError>> =
            modules.iter().map(|_| Ok(Vec::new())).collect();
        for registry in &self.registries {
            for (slot, result) in merged.iter_mut().zip(registry.index_many(modules)) {
                if let Ok(entries) = slot {
                    match result {
                        Ok(more) => {
                            for entry in more {
                                if !entries.iter().any(|known| known.version == entry.version) {
                                    entries.push(entry);
                                }
                            }
                        }
                        Err(error) => *slot = Err(error),
                    }
                }
            }
        }
        for entries in merged.iter_mut().flatten() {
            entries.sort_by(|a, b| a.version.cmp(&b.version));
        }
        merged
    }

    /// Every registry's versions; where two hold the same version, the first one's record (the
    /// one a fetch gets).
    fn index(&self, module: &ModuleName) -> Result<Vec<VersionEntry>, RegistryError> {
        let mut entries: Vec<VersionEntry> = Vec::new();
        for registry in &self.registries {
            for entry in registry.index(module)? {
                if !entries.iter().any(|known| known.version == entry.version) {
                    entries.push(entry);
                }
            }
        }
        entries.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(entries)
    }

    fn yanked(
        &self,
        module: &ModuleName,
    ) -> Result<std::collections::BTreeSet<semver::Version>, RegistryError> {
        let mut yanked = std::collections::BTreeSet::new();
        for registry in &self.registries {
            yanked.extend(registry.yanked(module)?);
        }
        Ok(yanked)
    }

    fn fetch(&self, pack: &PackRef) -> Result<Fetched, RegistryError> {
        let mut last = None;
        for (index, registry) in self.registries.iter().enumerate() {
            match self.fetch_from(index, registry.as_ref(), pack) {
                Err(error) if error.is_not_found() => last = Some(error),
                result => return result,
            }
        }
        Err(last.unwrap_or_else(|| RegistryError::UnknownModule {
            module: pack.module.clone(),
            registry: self.label(),
            provider_pack: None,
        }))
    }

    /// The first registry that has the pack gives it; for a pinned pack, the first whose record
    /// has the pinned sha256 (a local directory may hold another build of the same version than
    /// the registry the lock names). A pack it gives unsigned gets the hint of that registry,
    /// naming another one of the chain that holds the same bytes signed.
    fn fetch_verified(
        &self,
        pack: &PackRef,
        trust: &Trust<'_>,
        pinned: Option<&Sha256>,
    ) -> Result<VerifiedPack, FetchError> {
        let (serving, fetched) = self.serving(pack, pinned)?;
        let sha256 = fetched.entry.sha256;
        let hint = |own_key| {
            let signed_in = self.signed_elsewhere(serving, pack, &sha256);
            self.registries[serving].unsigned_hint(pack, own_key, signed_in.as_deref())
        };
        let registry = self.registries[serving].as_ref();
        super::verify_or_refetch(registry, fetched, pack, trust, pinned, &hint)
    }

    /// From the first registry that has one for these bytes.
    fn provenance(
        &self,
        pack: &PackRef,
        sha256: &Sha256,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        for registry in &self.registries {
            if let Some(bytes) = registry.provenance(pack, sha256)? {
                return Ok(Some(bytes));
            }
        }
        Ok(None)
    }

    fn unsigned_hint(&self, pack: &PackRef, own_key: bool, signed_in: Option<&str>) -> String {
        match self.registries.first() {
            Some(first) => first.unsigned_hint(pack, own_key, signed_in),
            None => String::new(),
        }
    }

    fn prefetch(&self, packs: &[PackRef]) {
        // What the first registry has needs no prefetch; the rest go to the next ones.
        let Some((first, rest)) = self.registries.split_first() else {
            return;
        };
        let mut missing = Vec::new();
        for pack in packs {
            match first.fetch(pack) {
                Ok(fetched) => {
                    self.probed
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(pack.clone(), fetched);
                }
                Err(_) => missing.push(pack.clone()),
            }
        }
        for registry in rest {
            registry.prefetch(&missing);
        }
    }
}
