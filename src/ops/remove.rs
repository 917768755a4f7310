//! Remove (and `unload`): modules' links or vendored packs, their dependencies and their lock
//! entries, then every module installed only as a dependency that nothing requires any more.
//! Every name is checked, and the capabilities of the set left, before anything is written;
//! then every module goes in one transaction.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;

use super::report::{Event, Failure, Report};
use super::{DependencyAction, DependencyChange, drop_entry};
use crate::catalog::Catalog;
use crate::context::Context;
use crate::fs::Transaction;
use crate::infra::capabilities;
use crate::infra::lockfile::{LockEntry, Mode, ProvidersLock};
use crate::infra::manifest::InfraManifestMut;
use crate::infra::session::InfraSession;
use crate::infra::{Infra, link, vendor};
use crate::module::{Layout, ModuleKind};
use crate::names::ModuleName;

/// What to remove.
pub struct RemoveOptions<'a> {
    pub modules: &'a [ModuleName],
    /// The kind the command names (`unload taskservs`): a module of another kind, or one not
    /// loaded, is refused. `None` for `providers remove`, which also cleans what a lock entry
    /// no longer records.
    pub kind: Option<ModuleKind>,
    /// Skip the capability check, and delete what is not a link or a recorded pack.
    pub force: bool,
    /// Where capability hints come from.
    pub catalog: &'a Catalog,
}

/// Removes `options.modules` from the session's infra, all or none.
pub fn remove(
    session: &mut InfraSession<'_>,
    options: &RemoveOptions<'_>,
) -> anyhow::Result<Report> {
    let lock = session.lock();
    if let Some(kind) = options.kind {
        let failures = refusals(session, options, kind);
        if !failures.is_empty() {
            return Ok(Report::refused(
                &session.infra.name,
                failures,
                options.modules.len(),
            ));
        }
    }
    if !options.force {
        let set = capabilities::changed_set(
            session.context,
            &session.infra,
            lock,
            Vec::new(),
            options.modules,
        );
        capabilities::refuse_misfit(&session.infra, &set, options.catalog, &[], options.modules)?;
    }
    let mut lock = lock.clone();
    let mut manifest = session.manifest().clone();
    let mut transaction = Transaction::new();
    let mut events = Vec::new();
    let mut steps = Steps {
        session,
        lock: &mut lock,
        manifest: &mut manifest,
        transaction: &mut transaction,
        force: options.force,
        requirers: None,
    };
    for module in options.modules {
        steps.remove_one(module, options.kind.is_none(), &mut events)?;
    }
    if lock == *session.lock() {
        // Nothing recorded changed.
    } else if lock.providers.is_empty() {
        // The last module gone: the infra is as it was before the first install.
        transaction.remove_file(&session.infra.lock_path())?;
    } else {
        session.stage_lock(&lock, &mut transaction)?;
    }
    // The manifest after the lock: a run killed in between leaves dependencies on what is
    // gone, which `sync` prunes as this would have.
    let rendered = manifest.render();
    if rendered != session.manifest().render() {
        transaction.write(manifest.path(), rendered.as_bytes())?;
    }
    let mut warnings = transaction.commit();
    let empty = lock.providers.is_empty();
    warnings.extend(session.committed(lock, manifest));
    let (context, infra) = (session.context, &session.infra);
    super::regenerate(session, &mut warnings);
    if empty {
        remove_empty_module_dirs(context, infra);
    }
    Ok(Report {
        infra: session.infra.name.clone(),
        events,
        warnings,
        failures: Vec::new(),
        named: options.modules.len(),
    })
}

/// The modules named that `unload <kind>` refuses: of another kind, or not loaded.
fn refusals(
    session: &InfraSession<'_>,
    options: &RemoveOptions<'_>,
    kind: ModuleKind,
) -> Vec<Failure> {
    options
        .modules
        .iter()
        .filter_map(|module| {
            let error =
                refuse_unloaded(&session.infra, session.lock(), module, kind, options.force)
                    .err()?;
            Some(Failure {
                module: module.clone(),
                error,
            })
        })
        .collect()
}

/// After the last module is gone, the directories modules live in, when empty: anything left
/// in them is someone's.
fn remove_empty_module_dirs(context: &Context, infra: &Infra) {
    for dir in [
        infra.modules_dir(context, Layout::Nickel),
        infra.modules_dir(context, Layout::Kcl),
        infra.dir.join(crate::infra::VENDOR_DIR),
    ] {
        let _ = crate::fs::remove_dir_if_empty(&dir);
    }
}

/// Refuses to unload a module of another kind than named, or (without `force`) one the lock
/// does not have.
fn refuse_unloaded(
    infra: &Infra,
    lock: &ProvidersLock,
    module: &ModuleName,
    kind: ModuleKind,
    force: bool,
) -> anyhow::Result<()> {
    let name = module.short_name();
    match lock.module(module) {
        Some(entry) if entry.kind != kind => bail!(
            "`{module}` is a {} in `{}`, not a {}\nhint: `provisioning module-loader unload {} {} {name}`",
            entry.kind.as_str(),
            infra.name,
            kind.as_str(),
            entry.kind.dir_name(),
            infra.name
        ),
        Some(_) => Ok(()),
        None if force => Ok(()),
        None => {
            let loaded: Vec<String> = lock
                .providers
                .iter()
                .filter(|entry| entry.kind == kind)
                .map(|entry| format!("`{}`", entry.name))
                .collect();
            let dir_name = kind.dir_name();
            let hint = if loaded.is_empty() {
                format!("`{}` has no {dir_name} loaded", infra.name)
            } else {
                format!("loaded {dir_name}: {}", loaded.join(", "))
            };
            bail!(
                "the {} `{name}` is not loaded in `{}`\nhint: {hint}",
                kind.as_str(),
                infra.name
            )
        }
    }
}

/// The removal steps of one operation, sharing its lock, manifest and transaction.
struct Steps<'s, 'a> {
    session: &'s InfraSession<'a>,
    lock: &'s mut ProvidersLock,
    manifest: &'s mut InfraManifestMut,
    transaction: &'s mut Transaction,
    force: bool,
    /// Who requires each module, as the installed manifests say, read once per operation on
    /// first need (reading every module's manifest for each module removed made an unload of
    /// N modules read N² files).
    requirers: Option<BTreeMap<ModuleName, BTreeSet<ModuleName>>>,
}

impl Steps<'_, '_> {
    /// Removes `module` in every layout: its link or vendored pack, its dependency and its lock
    /// entry; a module others require stays, as their dependency. Anything but a symlink where
    /// the link should be, or a vendored directory the lock does not record, is refused unless
    /// `force`. `strays`: a module with no lock entry is cleaned of what it left, and one with
    /// nothing at all is an error (unless `force`).
    fn remove_one(
        &mut self,
        module: &ModuleName,
        strays: bool,
        events: &mut Vec<Event>,
    ) -> anyhow::Result<()> {
        let (context, infra) = (self.session.context, &self.session.infra);
        let name = module.short_name();
        if let Some(required_by) = self.keep_if_required(module) {
            events.push(Event::Kept {
                module: module.clone(),
                required_by,
            });
            return Ok(());
        }
        let mut found = false;
        for layout in [Layout::Nickel, Layout::Kcl] {
            found |= link::unlink(context, infra, layout, module, self.force, self.transaction)?;
            if layout == Layout::Nickel {
                found |= self.manifest.remove_dependency(module.as_str());
                continue;
            }
            let path = infra.manifest_path(layout);
            if !path.exists() {
                continue;
            }
            let mut legacy = InfraManifestMut::open(&path, &infra.name)?;
            if legacy.remove_dependency(module.as_str()) {
                found = true;
                self.transaction.write(&path, legacy.render().as_bytes())?;
            }
        }
        let pinned = self
            .lock
            .get(&name)
            .is_some_and(|entry| entry.mode() == Mode::Pack);
        if pinned || self.force {
            found |= vendor::remove(infra, module, self.transaction)?;
        } else if infra.vendor_dir(module).exists() {
            bail!(
                "`{}` is not recorded as a pack in the lock; refusing to delete it\nhint: pass `--force` to delete it too",
                infra.vendor_dir(module).display()
            );
        }
        let entry = self.lock.remove(&name);
        if entry.is_none() && !found {
            if self.force {
                events.push(Event::Absent {
                    module: module.clone(),
                });
                return Ok(());
            }
            if strays {
                bail!(
                    "`{name}` is not installed in `{}`\nhint: {}",
                    infra.name,
                    installed_hint(infra, self.lock)
                );
            }
        }
        let locked = entry.is_some();
        events.push(Event::Removed {
            module: module.clone(),
            entry,
        });
        if locked {
            self.drop_unneeded(module, events)?;
        }
        Ok(())
    }

    /// When installed modules still require `module` (those the lock records, and those whose
    /// manifest, a linked source may have changed, requires it now), it stays as their
    /// dependency: returns who requires it.
    fn keep_if_required(&mut self, module: &ModuleName) -> Option<BTreeSet<ModuleName>> {
        let entry = self.lock.module(module)?.clone();
        let mut requirers = entry.required_by.clone();
        let installed = self.installed_requirers().get(&entry.module).cloned();
        requirers.extend(installed.into_iter().flatten().filter(|other| {
            // Only those still installed: a module removed earlier in this run requires nothing.
            *other != entry.module && self.lock.module(other).is_some()
        }));
        if requirers.is_empty() {
            return None;
        }
        let mut kept = entry;
        kept.direct = false;
        kept.required_by = requirers.clone();
        self.lock.upsert(kept);
        Some(requirers)
    }

    /// Who requires each module according to the installed manifests of the lock's modules,
    /// each read once.
    fn installed_requirers(&mut self) -> &BTreeMap<ModuleName, BTreeSet<ModuleName>> {
        let (context, infra, lock) = (self.session.context, &self.session.infra, &*self.lock);
        self.requirers.get_or_insert_with(|| {
            let mut requirers: BTreeMap<ModuleName, BTreeSet<ModuleName>> = BTreeMap::new();
            for entry in lock.providers.iter().filter(|e| e.layout == Layout::Nickel) {
                let dependencies =
                    crate::infra::closure::installed_dependencies(context, infra, entry);
                for dependency in dependencies.into_iter().flat_map(|d| d.into_keys()) {
                    requirers
                        .entry(dependency)
                        .or_default()
                        .insert(entry.module.clone());
                }
            }
            requirers
        })
    }

    /// Forgets `removed` as a requirer, then drops every module installed only as a dependency
    /// that nothing requires any more, and again for what those required.
    fn drop_unneeded(
        &mut self,
        removed: &ModuleName,
        events: &mut Vec<Event>,
    ) -> anyhow::Result<()> {
        let (context, infra) = (self.session.context, &self.session.infra);
        let mut gone = vec![removed.clone()];
        while let Some(module) = gone.pop() {
            for entry in &mut self.lock.providers {
                entry.required_by.remove(&module);
            }
            let unneeded: Vec<LockEntry> = self
                .lock
                .providers
                .iter()
                .filter(|entry| !entry.direct && entry.required_by.is_empty())
                .cloned()
                .collect();
            for entry in unneeded {
                drop_entry(
                    context,
                    infra,
                    &entry,
                    self.manifest,
                    self.lock,
                    self.transaction,
                )?;
                gone.push(entry.module.clone());
                events.push(Event::Dependency(DependencyChange {
                    module: entry.module,
                    version: entry.version,
                    action: DependencyAction::Removed,
                    required_by: BTreeSet::new(),
                }));
            }
        }
        Ok(())
    }
}

/// What an infra has installed, for the hint of `providers remove` of a module it does not
/// have: its providers, and the command that unloads a module of another kind.
fn installed_hint(infra: &Infra, lock: &ProvidersLock) -> String {
    let names = |kind: ModuleKind| -> Vec<String> {
        lock.providers
            .iter()
            .filter(|entry| entry.kind == kind)
            .map(|entry| format!("`{}`", entry.name))
            .collect()
    };
    let providers = names(ModuleKind::Provider);
    let mut hint = if providers.is_empty() {
        format!("`{}` has no providers installed", infra.name)
    } else {
        format!("installed providers: {}", providers.join(", "))
    };
    for kind in [ModuleKind::Taskserv, ModuleKind::Cluster] {
        let others = names(kind);
        if !others.is_empty() {
            hint.push_str(&format!(
                "; {} {} (`provisioning module-loader unload {} {} MODULE`)",
                kind.dir_name(),
                others.join(", "),
                kind.dir_name(),
                infra.name
            ));
        }
    }
    hint
}
