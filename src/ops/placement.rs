//! Carrying out a plan: every module of it linked, vendored or kept (those the command named
//! among them), those no longer needed dropped, the manifest and the lock edited to match, all
//! in the one transaction it is given.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;

use super::report::Event;
use super::{DependencyAction, DependencyChange, drop_entry, pack_entry};
use crate::context::Context;
use crate::fs::Transaction;
use crate::infra::closure::{Plan, Planned, Provenance};
use crate::infra::lockfile::{Installed, LockEntry, ProvidersLock};
use crate::infra::manifest::InfraManifestMut;
use crate::infra::{Change, Infra, link, link_dependency_path, vendor, vendor_dependency_path};
use crate::module::Layout;
use crate::names::ModuleName;
use crate::registry::VerifiedPack;

/// How a plan is carried out.
pub(super) struct Placement<'a> {
    pub context: &'a Context,
    pub infra: &'a Infra,
    /// The verified packs of the plan's registry modules.
    pub fetched: &'a BTreeMap<ModuleName, VerifiedPack>,
    /// Replace what stands where a named module goes (a directory where its link goes, a
    /// `vendor/<module>` this tool did not unpack) even when that loses files.
    pub force: bool,
    /// The modules the command named, in its order, each with the layout it is linked in.
    pub named: &'a [(ModuleName, Layout)],
}

impl Placement<'_> {
    /// Adds every step of `plan` to `transaction`, edits `manifest` (the Nickel layout's) and
    /// `lock`, and says what it did in `events`: named modules first, in the plan's order, then
    /// the others. Returns whether anything changed.
    pub fn apply(
        &self,
        plan: &Plan,
        manifest: &mut InfraManifestMut,
        lock: &mut ProvidersLock,
        transaction: &mut Transaction,
        events: &mut Vec<Event>,
    ) -> anyhow::Result<bool> {
        let mut changed = false;
        let mut others = Vec::new();
        // The named first, in the command's order: their dependencies in the manifest follow them.
        let named = self.named.iter().filter_map(|(module, _)| {
            plan.modules
                .iter()
                .find(|planned| planned.module == *module)
        });
        let others_planned = plan
            .modules
            .iter()
            .filter(|planned| self.layout(&planned.module).is_none());
        for planned in named.chain(others_planned) {
            let module = &planned.module;
            let before = lock.module(module).cloned();
            let Some((entry, placed)) = self.place(planned, manifest, lock, transaction)? else {
                continue;
            };
            super::refuse_clash(self.infra, lock, module, entry.kind)?;
            let moved = placed || before.as_ref() != Some(&entry);
            changed |= moved;
            if moved {
                lock.upsert(entry.clone());
            }
            if self.layout(module).is_some() {
                let change = Change::from(moved);
                events.push(Event::Placed { entry, change });
                continue;
            }
            let action = match &planned.provenance {
                Provenance::Locked => continue,
                Provenance::Source(..) => DependencyAction::Linked,
                Provenance::Registry(_) | Provenance::Fetched => DependencyAction::Vendored,
            };
            others.push(Event::Dependency(DependencyChange {
                module: module.clone(),
                version: planned.version.clone(),
                action,
                required_by: planned.required_by.clone(),
            }));
        }
        for dropped in &plan.dropped {
            changed |= drop_entry(
                self.context,
                self.infra,
                dropped,
                manifest,
                lock,
                transaction,
            )?;
            others.push(Event::Dependency(DependencyChange {
                module: dropped.module.clone(),
                version: dropped.version.clone(),
                action: DependencyAction::Removed,
                required_by: BTreeSet::new(),
            }));
        }
        events.extend(others);
        Ok(changed)
    }

    /// The layout of a module the command named; `None` for the others.
    fn layout(&self, module: &ModuleName) -> Option<Layout> {
        self.named
            .iter()
            .find(|(named, _)| named == module)
            .map(|(_, layout)| *layout)
    }

    /// The steps of one module; returns its lock entry and whether its files or its
    /// dependency in the manifest changed (`None` for a module to keep that the lock lacks).
    fn place(
        &self,
        planned: &Planned,
        manifest: &mut InfraManifestMut,
        lock: &ProvidersLock,
        transaction: &mut Transaction,
    ) -> anyhow::Result<Option<(LockEntry, bool)>> {
        let (context, infra) = (self.context, self.infra);
        let module = &planned.module;
        let named = self.layout(module);
        let force = self.force && named.is_some();
        match &planned.provenance {
            Provenance::Locked => {
                let Some(existing) = lock.module(module) else {
                    return Ok(None);
                };
                let mut entry = existing.clone();
                entry.required_by.clone_from(&planned.required_by);
                Ok(Some((entry, false)))
            }
            Provenance::Source(dir, kind) => {
                let layout = named.unwrap_or(Layout::Nickel);
                let mut changed =
                    link::place(context, infra, layout, module, dir, force, transaction)?;
                changed |= vendor::remove(infra, module, transaction)?;
                // The legacy layout's manifest is edited by the caller.
                if layout == Layout::Nickel {
                    changed |= manifest.set_path_dependency(
                        module.as_str(),
                        &link_dependency_path(context, layout, module),
                    );
                }
                let entry = LockEntry {
                    name: module.short_name(),
                    module: module.clone(),
                    kind: *kind,
                    version: planned.version.clone(),
                    layout,
                    installed: Installed::Link {
                        source: link::recorded_source(context, dir)?,
                    },
                    required_by: planned.required_by.clone(),
                    direct: planned.direct,
                };
                Ok(Some((entry, changed)))
            }
            Provenance::Registry(_) | Provenance::Fetched => {
                let Some(verified) = self.fetched.get(module) else {
                    bail!("`{module}` {} was not fetched", planned.version);
                };
                let mut changed = vendor::place(infra, verified, force, transaction)?;
                changed |=
                    link::remove_symlink(context, infra, Layout::Nickel, module, transaction)?;
                let version = planned.version.to_string();
                changed |= manifest.set_pack_dependency(
                    module.as_str(),
                    &vendor_dependency_path(module),
                    planned.recorded.as_deref().unwrap_or(&version),
                );
                let entry = pack_entry(verified, planned.required_by.clone(), planned.direct);
                Ok(Some((entry, changed)))
            }
        }
    }
}
