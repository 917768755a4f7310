//! The part of a plan beyond the module an install names: its dependencies linked or
//! vendored, those kept updated with who requires them, those no longer needed dropped.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;

use super::{DependencyAction, DependencyChange, drop_entry, pack_entry};
use crate::catalog::Layout;
use crate::context::Context;
use crate::fs::Transaction;
use crate::infra::closure::{Plan, Provenance};
use crate::infra::lockfile::{Installed, LockEntry, ProvidersLock};
use crate::infra::manifest::InfraManifestMut;
use crate::infra::{Infra, link, link_dependency_path, vendor, vendor_dependency_path};
use crate::names::ModuleName;
use crate::registry::VerifiedPack;

/// Carries out the part of a plan beyond the module asked for: dependencies linked or vendored,
/// those kept updated with who requires them, those no longer needed dropped; the manifest and
/// the lock edited to match.
pub(super) struct Placement<'a> {
    pub context: &'a Context,
    pub infra: &'a Infra,
    /// The verified packs of the plan's registry modules.
    pub fetched: &'a BTreeMap<ModuleName, VerifiedPack>,
    /// Replace a `vendor/<module>` this tool did not unpack even when that loses files.
    pub force: bool,
}

impl Placement<'_> {
    pub fn apply(
        &self,
        plan: &Plan,
        target: Option<&ModuleName>,
        manifest: &mut InfraManifestMut,
        lock: &mut ProvidersLock,
        transaction: &mut Transaction,
        changes: &mut Vec<DependencyChange>,
    ) -> anyhow::Result<bool> {
        let (context, infra) = (self.context, self.infra);
        let mut changed = false;
        for planned in plan.modules.iter().filter(|p| Some(&p.module) != target) {
            let module = &planned.module;
            let entry = match &planned.provenance {
                Provenance::Locked => {
                    let Some(existing) = lock.module(module) else {
                        continue;
                    };
                    let mut entry = existing.clone();
                    entry.required_by.clone_from(&planned.required_by);
                    entry
                }
                Provenance::Source(dir, kind) => {
                    changed |= link::place(
                        context,
                        infra,
                        Layout::Nickel,
                        module,
                        dir,
                        false,
                        transaction,
                    )?;
                    changed |= vendor::remove(infra, module, transaction)?;
                    manifest.set_path_dependency(
                        module.as_str(),
                        &link_dependency_path(context, Layout::Nickel, module),
                    );
                    changes.push(DependencyChange {
                        module: module.clone(),
                        version: planned.version.clone(),
                        action: DependencyAction::Linked,
                        required_by: planned.required_by.clone(),
                    });
                    LockEntry {
                        name: module.short_name(),
                        module: module.clone(),
                        kind: *kind,
                        version: planned.version.clone(),
                        layout: Layout::Nickel,
                        installed: Installed::Link {
                            source: link::recorded_source(context, dir)?,
                        },
                        required_by: planned.required_by.clone(),
                        direct: planned.direct,
                    }
                }
                Provenance::Registry(_) => {
                    let Some(verified) = self.fetched.get(module) else {
                        bail!("`{module}` {} was not fetched", planned.version);
                    };
                    changed |= vendor::place(infra, verified, self.force, transaction)?;
                    changed |=
                        link::remove_symlink(context, infra, Layout::Nickel, module, transaction)?;
                    let version = planned.version.to_string();
                    manifest.set_pack_dependency(
                        module.as_str(),
                        &vendor_dependency_path(module),
                        planned.recorded.as_deref().unwrap_or(&version),
                    );
                    changes.push(DependencyChange {
                        module: module.clone(),
                        version: planned.version.clone(),
                        action: DependencyAction::Vendored,
                        required_by: planned.required_by.clone(),
                    });
                    pack_entry(verified, planned.required_by.clone(), planned.direct)
                }
            };
            super::refuse_clash(infra, lock, module, entry.kind)?;
            if lock.module(module) != Some(&entry) {
                changed = true;
                lock.upsert(entry);
            }
        }
        for dropped in &plan.dropped {
            changed |= drop_entry(context, infra, dropped, manifest, lock, transaction)?;
            changes.push(DependencyChange {
                module: dropped.module.clone(),
                version: dropped.version.clone(),
                action: DependencyAction::Removed,
                required_by: BTreeSet::new(),
            });
        }
        Ok(changed)
    }
}
