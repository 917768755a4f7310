//! Remove: a module's link or vendored pack, its dependency and its lock entry, then every
//! module installed only as a dependency that nothing requires any more.

use std::collections::BTreeSet;

use anyhow::bail;

use super::{DependencyAction, DependencyChange, clear_debris, drop_entry};
use crate::catalog::Layout;
use crate::context::Context;
use crate::fs::Transaction;
use crate::infra::lockfile::{LockEntry, Mode, ProvidersLock};
use crate::infra::manifest::InfraManifestMut;
use crate::infra::{Infra, link, vendor};
use crate::names::ModuleName;

/// What [`remove`] found and took away.
#[derive(Debug, Default)]
pub struct Removal {
    pub lock_entry: Option<LockEntry>,
    pub link: bool,
    pub dependency: bool,
    /// When installed modules still require it: the module, and who requires it. It stays, as
    /// their dependency.
    pub kept: Option<(ModuleName, BTreeSet<ModuleName>)>,
    /// Its dependencies that nothing needs any more, removed with it.
    pub dependencies: Vec<DependencyChange>,
    /// What could not be deleted after the change was made.
    pub leftovers: Vec<String>,
}

impl Removal {
    pub fn found_anything(&self) -> bool {
        self.lock_entry.is_some() || self.link || self.dependency || self.kept.is_some()
    }
}

/// Removes the module from `infra` in every layout: its link or vendored pack, its
/// dependency and its lock entry. Anything but a symlink where the link should be, or a vendored
/// directory the lock does not record, is refused unless `force`.
pub fn remove(
    context: &Context,
    infra: &Infra,
    module: &ModuleName,
    force: bool,
) -> anyhow::Result<Removal> {
    clear_debris(context, infra)?;
    let name = &module.short_name();
    let module = module.clone();
    let mut lock = ProvidersLock::read(&infra.lock_path())?;
    let mut removal = Removal::default();
    // A module others require stays, as their dependency: those the lock records, and those
    // whose manifest (a linked source may have changed) requires it now.
    let requirers: BTreeSet<ModuleName> = match lock.get(name) {
        Some(entry) => {
            let mut requirers = entry.required_by.clone();
            requirers.extend(
                lock.providers
                    .iter()
                    .filter(|other| other.module != entry.module && other.layout == Layout::Nickel)
                    .filter(|other| {
                        crate::infra::closure::installed_dependencies(context, infra, other)
                            .is_some_and(|dependencies| dependencies.contains_key(&entry.module))
                    })
                    .map(|other| other.module.clone()),
            );
            requirers
        }
        None => BTreeSet::new(),
    };
    if let Some(entry) = lock.get(name)
        && !requirers.is_empty()
    {
        let mut entry = entry.clone();
        removal.kept = Some((entry.module.clone(), requirers.clone()));
        if entry.direct || entry.required_by != requirers {
            entry.direct = false;
            entry.required_by = requirers;
            lock.upsert(entry);
            crate::fs::atomic_write(&infra.lock_path(), lock.render().as_bytes())?;
        }
        return Ok(removal);
    }
    let mut transaction = Transaction::new();
    for layout in [Layout::Nickel, Layout::Kcl] {
        let manifest_path = infra.manifest_path(layout);
        if layout == Layout::Kcl
            && !manifest_path.exists()
            && !infra.modules_dir(context, layout).exists()
        {
            continue;
        }
        let mut manifest = InfraManifestMut::open(&manifest_path, &infra.name)?;
        removal.link |= link::unlink(context, infra, layout, &module, force, &mut transaction)?;
        if manifest.remove_dependency(module.as_str()) {
            removal.dependency = true;
            transaction.write(&manifest_path, manifest.render().as_bytes())?;
        }
    }
    let pinned = lock
        .get(name)
        .is_some_and(|entry| entry.mode() == Mode::Pack);
    if pinned || force {
        removal.link |= vendor::remove(infra, &module, &mut transaction)?;
    } else if infra.vendor_dir(&module).exists() {
        bail!(
            "`{}` is not recorded as a pack in the lock; refusing to delete it\nhint: pass `--force` to delete it too",
            infra.vendor_dir(&module).display()
        );
    }
    removal.lock_entry = lock.remove(name);
    if removal.lock_entry.is_some() {
        removal.dependencies = drop_unneeded(context, infra, &module, &mut lock, &mut transaction)?;
        if lock.providers.is_empty() {
            // The last module gone: the infra is as it was before the first install.
            transaction.remove_file(&infra.lock_path())?;
        } else {
            transaction.write(&infra.lock_path(), lock.render().as_bytes())?;
        }
    }
    removal.leftovers = transaction.commit();
    super::regenerate(context, infra, &mut removal.leftovers);
    if lock.providers.is_empty() {
        for dir in [
            infra.modules_dir(context, Layout::Nickel),
            infra.modules_dir(context, Layout::Kcl),
            infra.dir.join(crate::infra::VENDOR_DIR),
        ] {
            // Only when empty: anything left in them is someone's.
            let _ = crate::fs::remove_dir_if_empty(&dir);
        }
    }
    Ok(removal)
}

/// Forgets `removed` as a requirer, then drops every module installed only as a dependency
/// that nothing requires any more, and again for what those required.
fn drop_unneeded(
    context: &Context,
    infra: &Infra,
    removed: &ModuleName,
    lock: &mut ProvidersLock,
    transaction: &mut Transaction,
) -> anyhow::Result<Vec<DependencyChange>> {
    let mut dropped = Vec::new();
    let mut gone = vec![removed.clone()];
    while let Some(module) = gone.pop() {
        for entry in &mut lock.providers {
            entry.required_by.remove(&module);
        }
        let unneeded: Vec<LockEntry> = lock
            .providers
            .iter()
            .filter(|entry| !entry.direct && entry.required_by.is_empty())
            .cloned()
            .collect();
        if unneeded.is_empty() {
            continue;
        }
        let path = infra.manifest_path(Layout::Nickel);
        let mut manifest = InfraManifestMut::open(&path, &infra.name)?;
        for entry in unneeded {
            drop_entry(context, infra, &entry, &mut manifest, lock, transaction)?;
            gone.push(entry.module.clone());
            dropped.push(DependencyChange {
                module: entry.module,
                version: entry.version,
                action: DependencyAction::Removed,
                required_by: BTreeSet::new(),
            });
        }
        transaction.write(&path, manifest.render().as_bytes())?;
    }
    Ok(dropped)
}
