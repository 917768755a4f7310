//! [`Chain`]: registries asked in order, the first that has a pack giving it; for a pinned
//! pack, the first that has the very bytes pinned. A configured registry (one of
//! `[[distribution.registries]]`, by name) that cannot be read is passed over for the rest of
//! the run, with a warning naming it, when another follows it: what a pack is, is its hash, so
//! the next registry's copy is verified against the same record and pin. So is a source a lock
//! records (named by its address), when a configured registry follows it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};

use super::configured::Warnings;
use super::{FetchError, Fetched, Registry, RegistryError, Trust, VerifiedPack, VersionEntry};
use crate::digest::Sha256;
use crate::names::{ModuleName, PackRef};

/// Registries asked in order: a pack one does not have is asked of the next. The error of the
/// last one is the answer when none has it.
pub struct Chain {
    pub(super) registries: Vec<Box<dyn Registry>>,
    /// The configured name of each registry: one that has a name may be passed over.
    names: Vec<Option<String>>,
    /// The registries passed over in this run.
    skipped: Mutex<BTreeSet<usize>>,
    warnings: Warnings,
    /// What [`Registry::prefetch`] fetched from the first registry to learn that it has a
    /// pack: kept for the fetch that follows, so the pack is not read twice.
    probed: Mutex<BTreeMap<PackRef, Fetched>>,
}

impl Chain {
    /// `links`: each registry in order, with its configured name when it has one.
    pub(super) fn new(links: Vec<(Option<String>, Box<dyn Registry>)>, warnings: Warnings) -> Self {
        let (names, registries) = links.into_iter().unzip();
        Self {
            registries,
            names,
            skipped: Mutex::default(),
            warnings,
            probed: Mutex::default(),
        }
    }

    fn is_skipped(&self, index: usize) -> bool {
        self.skipped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&index)
    }

    /// Passes over the `index`th registry for the rest of the run when `error` says it cannot
    /// be read (not that it lacks something) and it is a configured one with another after it;
    /// the first time, with a warning naming it. Whether it was passed over.
    fn pass_over(&self, index: usize, error: &RegistryError) -> bool {
        let Some(name) = self.names.get(index).and_then(Option::as_ref) else {
            return false;
        };
        if error.is_not_found() || index + 1 >= self.registries.len() {
            return false;
        }
        let newly = self
            .skipped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(index);
        if newly {
            let label = self.registries[index].label();
            let named = if *name == label {
                format!("`{label}`")
            } else {
                format!("`{name}` (`{label}`)")
            };
            self.warnings.push(format!(
                "the registry {named} cannot be read, asking the next one for the rest of this run: {}",
                super::transport::describe(error)
            ));
        }
        true
    }

    /// The registries still asked in this run, with their places.
    fn asked(&self) -> impl Iterator<Item = (usize, &dyn Registry)> {
        self.registries
            .iter()
            .enumerate()
            .filter(|(index, _)| !self.is_skipped(*index))
            .map(|(index, registry)| (index, registry.as_ref()))
    }

    /// `ask` of each registry still asked, in order; one that cannot answer is passed over
    /// when it may be (see [`Chain::pass_over`]).
    fn each<T>(
        &self,
        ask: impl Fn(&dyn Registry) -> Result<T, RegistryError>,
    ) -> Result<Vec<T>, RegistryError> {
        let mut answers = Vec::new();
        for (index, registry) in self.asked() {
            match ask(registry) {
                Ok(answer) => answers.push(answer),
                Err(error) if self.pass_over(index, &error) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(answers)
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
                .unwrap_or_else(PoisonError::into_inner)
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
        for (index, registry) in self.asked() {
            match self.fetch_from(index, registry, pack) {
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
                Err(error) if self.pass_over(index, &error) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Err(mismatch.unwrap_or_else(|| self.none_has(pack, not_found).into()))
    }

    /// The answer when no registry has `pack`: the last "not found", else one naming the chain.
    fn none_has(&self, pack: &PackRef, not_found: Option<RegistryError>) -> RegistryError {
        not_found.unwrap_or_else(|| RegistryError::UnknownModule {
            module: pack.module.clone(),
            registry: self.label(),
            provider_pack: None,
        })
    }

    /// Another registry of the chain (than `serving`) whose record has `pack` with the bytes
    /// `sha256`, signed: where a signature to publish already is.
    fn signed_elsewhere(&self, serving: usize, pack: &PackRef, sha256: &Sha256) -> Option<String> {
        self.asked()
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
        let mut modules: Vec<ModuleName> = self.each(|registry| registry.modules())?.concat();
        modules.sort();
        modules.dedup();
        Ok(modules)
    }

    fn versions(&self, module: &ModuleName) -> Result<Vec<semver::Version>, RegistryError> {
        let mut versions = self.each(|registry| registry.versions(module))?.concat();
        versions.sort();
        versions.dedup();
        Ok(versions)
    }

    fn index_many(&self, modules: &[ModuleName]) -> Vec<Result<Vec<VersionEntry>, RegistryError>> {
        let mut merged: Vec<Result<Vec<VersionEntry>, RegistryError>> =
            modules.iter().map(|_| Ok(Vec::new())).collect();
        for (index, registry) in self.asked() {
            for (slot, result) in merged.iter_mut().zip(registry.index_many(modules)) {
                if let Ok(entries) = slot {
                    match result {
                        Err(error) if self.pass_over(index, &error) => {}
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
        for entry in self.each(|registry| registry.index(module))?.concat() {
            if !entries.iter().any(|known| known.version == entry.version) {
                entries.push(entry);
            }
        }
        entries.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(entries)
    }

    fn yanked(
        &self,
        module: &ModuleName,
    ) -> Result<std::collections::BTreeSet<semver::Version>, RegistryError> {
        Ok(self
            .each(|registry| registry.yanked(module))?
            .into_iter()
            .flatten()
            .collect())
    }

    fn fetch(&self, pack: &PackRef) -> Result<Fetched, RegistryError> {
        let mut last = None;
        for (index, registry) in self.asked() {
            match self.fetch_from(index, registry, pack) {
                Err(error) if error.is_not_found() => last = Some(error),
                Err(error) if self.pass_over(index, &error) => {}
                result => return result,
            }
        }
        Err(self.none_has(pack, last))
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
        for (index, registry) in self.asked() {
            match registry.provenance(pack, sha256) {
                Ok(Some(bytes)) => return Ok(Some(bytes)),
                Ok(None) => {}
                Err(error) if self.pass_over(index, &error) => {}
                Err(error) => return Err(error),
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
                        .unwrap_or_else(PoisonError::into_inner)
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
