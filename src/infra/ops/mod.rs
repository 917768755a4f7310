//! Install, remove and sync: the operations that change an infra. Each opens one
//! [`Transaction`], adds the steps of [`link`] or [`vendor`] to it, records the result in the
//! manifest and the lock, and commits; a failure anywhere puts everything back. Callers hold the
//! infra's [`crate::lock::DirLock`].

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;

use super::closure::{self, Plan, Provenance, Sources, Target};
use super::lockfile::{EntryKind, Installed, LockEntry, Mode, PackPin, ProvidersLock, Signer};
use super::manifest::InfraManifestMut;
use super::{Change, Infra, link, link_dependency_path, vendor, vendor_dependency_path};
use crate::catalog::{Catalog, Layout, Package};
use crate::context::Context;
use crate::fs::Transaction;
use crate::names::{ModuleName, PackRef};
use crate::pack::unpack::Limits;
use crate::pack::verify::Unsigned;
use crate::registry::{Registry, Trust, VerifiedPack};
use crate::signing::TrustedKey;
use crate::version_spec::{VersionSpec, exactly};

mod placement;
mod remove;
mod sync;

use placement::Placement;

pub use remove::{Removal, remove};
pub use sync::{Pruned, SyncReport, SyncedEntry, sync};

/// What to link.
#[derive(Debug, Clone, Copy)]
pub struct LinkInstall<'a> {
    /// Its module: `upcloud_prov`, `kubernetes`.
    pub module: &'a ModuleName,
    pub kind: EntryKind,
    pub package: &'a Package,
    pub layout: Layout,
    /// Replace a directory or file where the link goes.
    pub force: bool,
    /// Where its dependencies are found.
    pub catalog: &'a Catalog,
}

/// Where packs come from, and what they must satisfy.
#[derive(Clone, Copy)]
pub struct PackSources<'a> {
    pub registry: &'a dyn Registry,
    pub keys: &'a [TrustedKey],
    pub limits: Limits,
}

/// What to vendor, and from where.
#[derive(Clone, Copy)]
pub struct PackInstall<'a> {
    pub module: &'a ModuleName,
    /// Exactly one version, or a requirement resolved to the newest allowed one.
    pub version: &'a VersionSpec,
    /// What `manifest.toml` records for it [default: the version or requirement asked for].
    pub recorded: Option<&'a str>,
    pub sources: PackSources<'a>,
    pub allow_unsigned: bool,
    /// Installed by name (`false` for `sync` restoring a dependency: it stays one).
    pub direct: bool,
    /// Replace a `vendor/<module>` this tool did not unpack even when that loses files.
    pub force: bool,
    /// The kind the command asked for (`load taskservs`): a pack of another kind is refused.
    pub expected: Option<EntryKind>,
}

/// Removes what killed runs left in the infra (temporary files, staging directories, entries
/// set aside): every operation starts here, holding the infra's lock, so none is in use.
pub(super) fn clear_debris(context: &Context, infra: &Infra) -> anyhow::Result<()> {
    let dirs = [
        infra.dir.clone(),
        infra.dir.join(super::VENDOR_DIR),
        infra.modules_dir(context, Layout::Nickel),
        infra.modules_dir(context, Layout::Kcl),
    ];
    for dir in &dirs {
        crate::fs::remove_debris(dir)?;
    }
    Ok(())
}

/// Rewrites the infra's generated import files after a change (a second step: they are derived
/// from the lock and the disk the change left). A failure is said, not fatal: the change itself
/// is done, and `validate` reports the file, `sync` rewrites it.
pub(super) fn regenerate(context: &Context, infra: &Infra, leftovers: &mut Vec<String>) {
    match super::generated::refresh(context, infra) {
        Ok(done) => {
            leftovers.extend(done.kept.into_iter().map(|file| {
                format!("`{file}` was edited by hand and lists modules the infra no longer has; it stays\nhint: delete it, or edit it to match")
            }));
            leftovers.extend(done.discarded.into_iter().map(|file| {
                format!("`{file}` had been edited by hand; it is generated, and was written again from the lock")
            }));
            leftovers.extend(done.foreign.into_iter().map(|file| {
                format!("`{file}` in `{}` was not written by `provisioning`, so it stays as it is and does not list the infra's modules\nhint: rename it, and the next `provisioning providers sync {}` writes the generated file", infra.name, infra.name)
            }));
        }
        Err(error) => leftovers.push(format!(
            "the generated import files of `{}` could not be rewritten: {error:#}\nhint: `provisioning providers sync {}` rewrites them",
            infra.name, infra.name
        )),
    }
}

/// Refuses to put `module` (of `kind`) into an infra whose lock has its name for another
/// module or kind: one would silently replace the other.
pub(super) fn refuse_clash(
    infra: &Infra,
    lock: &ProvidersLock,
    module: &ModuleName,
    kind: EntryKind,
) -> anyhow::Result<()> {
    if let Some(existing) = lock.clash(module, kind) {
        anyhow::bail!(
            "`{}` is already in `{}` as the {} `{}`; the {} `{module}` cannot be loaded beside it under the same name\nhint: unload it first (`provisioning module-loader unload {} {} {}`), or rename one of the modules",
            existing.name,
            infra.name,
            existing.kind.as_str(),
            existing.module,
            kind.as_str(),
            existing.kind.module_kind().dir_name(),
            infra.name,
            existing.name
        );
    }
    Ok(())
}

/// What an install did.
#[derive(Debug)]
pub struct InstallReport {
    pub entry: LockEntry,
    pub change: Change,
    /// What it did to other modules: dependencies linked, vendored or dropped.
    pub dependencies: Vec<DependencyChange>,
    /// What to say although it worked (a yanked version installed because it was asked for
    /// exactly, or is pinned).
    pub warnings: Vec<String>,
    /// What could not be deleted after the change was made (to report; the next command
    /// removes it).
    pub leftovers: Vec<String>,
}

/// What an install or removal did to a module other than the one named.
#[derive(Debug, Clone)]
pub struct DependencyChange {
    pub module: ModuleName,
    pub version: semver::Version,
    pub action: DependencyAction,
    /// Who requires it (none for a dropped one).
    pub required_by: BTreeSet<ModuleName>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DependencyAction {
    Linked,
    Vendored,
    /// Nothing needs it any more.
    Removed,
}

/// Writes the edited manifest and the lock with `entry` in it, as part of `transaction`; says
/// whether either file changed. Every install ends here, in either mode.
fn record(
    transaction: &mut Transaction,
    manifest: &InfraManifestMut,
    infra: &Infra,
    mut lock: ProvidersLock,
    entry: LockEntry,
) -> std::io::Result<bool> {
    let mut changed = transaction.write(manifest.path(), manifest.render().as_bytes())?;
    lock.upsert(entry);
    changed |= transaction.write(&infra.lock_path(), lock.render().as_bytes())?;
    Ok(changed)
}

/// Installs a provider's package as a link; a pinned pack of it, or its link in the other
/// layout, goes in the same transaction.
pub fn install_link(
    context: &Context,
    infra: &Infra,
    request: &LinkInstall<'_>,
) -> anyhow::Result<InstallReport> {
    clear_debris(context, infra)?;
    let module = request.module.clone();
    let name = module.short_name();
    let layout = request.layout;
    let mut lock = ProvidersLock::read(&infra.lock_path())?;
    refuse_clash(infra, &lock, &module, request.kind)?;
    let mut manifest = InfraManifestMut::open(&infra.manifest_path(layout), &infra.name)?;
    let mut entry = LockEntry {
        name: name.clone(),
        module: module.clone(),
        kind: request.kind,
        version: request.package.manifest.version.clone(),
        layout,
        installed: Installed::Link {
            source: link::recorded_source(context, &request.package.dir)?,
        },
        required_by: BTreeSet::new(),
        direct: true,
    };
    // The legacy KCL layout has no dependencies.
    let plan = match layout {
        Layout::Nickel => Some(closure::plan(
            context,
            infra,
            &lock,
            Target {
                module: module.clone(),
                requirement: exactly(&entry.version),
                fixed: Some((
                    entry.version.clone(),
                    request.package.manifest.dependencies.clone(),
                    Provenance::Source(request.package.dir.clone(), request.kind),
                )),
            },
            &Sources::Catalog(request.catalog),
        )?),
        Layout::Kcl => None,
    };

    let mut transaction = Transaction::new();
    let mut changed = link::place(
        context,
        infra,
        layout,
        &module,
        &request.package.dir,
        request.force,
        &mut transaction,
    )?;
    // One form at a time: a pinned pack goes, and so does a link in the other layout.
    changed |= vendor::remove(infra, &module, &mut transaction)?;
    if let Some(existing) = lock.get(&name)
        && existing.layout != layout
    {
        let old = existing.layout;
        changed |= link::remove_symlink(context, infra, old, &module, &mut transaction)?;
        let mut old_manifest = InfraManifestMut::open(&infra.manifest_path(old), &infra.name)?;
        old_manifest.remove_dependency(module.as_str());
        transaction.write(old_manifest.path(), old_manifest.render().as_bytes())?;
    }
    manifest.set_path_dependency(
        module.as_str(),
        &link_dependency_path(context, layout, &module),
    );
    let mut dependencies = Vec::new();
    if let Some(plan) = &plan {
        entry.required_by = plan.required_by(&module);
        let placed = Placement {
            context,
            infra,
            fetched: &BTreeMap::new(),
            force: request.force,
        };
        changed |= placed.apply(
            plan,
            Some(&module),
            &mut manifest,
            &mut lock,
            &mut transaction,
            &mut dependencies,
        )?;
    }
    changed |= record(&mut transaction, &manifest, infra, lock, entry.clone())?;
    let mut leftovers = transaction.commit();
    regenerate(context, infra, &mut leftovers);
    Ok(InstallReport {
        entry,
        change: Change::from(changed),
        dependencies,
        warnings: Vec::new(),
        leftovers,
    })
}

/// Fetches, verifies and vendors a pack, replacing a link or another version of the module in
/// the same transaction. `pinned` is the sha256 a lock pins (for `sync`): the registry must
/// still hold exactly those bytes.
pub fn install_pack(
    context: &Context,
    infra: &Infra,
    request: &PackInstall<'_>,
    pinned: Option<&crate::digest::Sha256>,
) -> anyhow::Result<InstallReport> {
    let mut report = vendor_pack(context, infra, request, pinned)?;
    regenerate(context, infra, &mut report.leftovers);
    Ok(report)
}

/// [`install_pack`] without rewriting the generated files: `sync` restores many entries this
/// way, then rewrites them once.
pub(super) fn vendor_pack(
    context: &Context,
    infra: &Infra,
    request: &PackInstall<'_>,
    pinned: Option<&crate::digest::Sha256>,
) -> anyhow::Result<InstallReport> {
    let module = request.module.clone();
    let sources = &request.sources;
    let trust = Trust {
        keys: sources.keys,
        limits: sources.limits,
        unsigned: Unsigned::from_flag(request.allow_unsigned),
    };
    clear_debris(context, infra)?;
    // An exact version is fetched and verified first: what the registry has of it decides.
    let prefetched = match request.version {
        VersionSpec::Exact(version) => Some(sources.registry.fetch_verified(
            &PackRef::new(module.clone(), version.clone()),
            &trust,
            pinned,
        )?),
        VersionSpec::Requirement { .. } => None,
    };
    let mut lock = ProvidersLock::read(&infra.lock_path())?;
    // `sync` (a pinned pack) restores the one entry as the lock has it: the rest of the
    // closure has entries of its own.
    let plan = match (&prefetched, pinned) {
        (Some(_), Some(_)) => Plan {
            modules: Vec::new(),
            dropped: Vec::new(),
        },
        _ => closure::plan(
            context,
            infra,
            &lock,
            Target {
                module: module.clone(),
                requirement: request.version.requirement(),
                fixed: prefetched.as_ref().map(|verified| {
                    (
                        verified.pack.version.clone(),
                        verified.dependencies.clone(),
                        Provenance::Locked,
                    )
                }),
            },
            &Sources::Registry {
                registry: sources.registry,
                keys: sources.keys,
                allow_unsigned: request.allow_unsigned,
            },
        )?,
    };
    // Every pack the closure adds is fetched and verified before anything is written.
    let wanted: Vec<PackRef> = plan
        .modules
        .iter()
        .filter(|planned| matches!(planned.provenance, Provenance::Registry(_)))
        .map(|planned| PackRef::new(planned.module.clone(), planned.version.clone()))
        .collect();
    sources.registry.prefetch(&wanted);
    let mut fetched = BTreeMap::new();
    for dependency in wanted {
        let verified = sources.registry.fetch_verified(&dependency, &trust, None)?;
        fetched.insert(dependency.module, verified);
    }
    let verified = match prefetched {
        Some(verified) => verified,
        None => fetched
            .remove(&module)
            .ok_or_else(|| anyhow::anyhow!("`{module}` was not resolved"))?,
    };
    if let Some(expected) = request.expected.filter(|kind| *kind != verified.kind) {
        bail!(
            "`{module}` {} in `{}` is a {}, not a {}\nhint: `provisioning module-loader load {} {} {} --version {}`",
            verified.pack.version,
            verified.label,
            verified.kind.as_str(),
            expected.as_str(),
            verified.kind.module_kind().dir_name(),
            infra.name,
            module.short_name(),
            verified.pack.version
        );
    }
    refuse_clash(infra, &lock, &module, verified.kind)?;
    let existing = lock.module(&module);
    let mut entry = pack_entry(
        &verified,
        existing.map(|e| e.required_by.clone()).unwrap_or_default(),
        existing.is_none_or(|e| e.direct) || request.direct,
    );
    match (
        pinned,
        existing.and_then(LockEntry::pin),
        &mut entry.installed,
    ) {
        (None, _, _) => entry.required_by = plan.required_by(&module),
        // Restoring the pinned bytes (`sync`), from wherever they were found (and whichever
        // trusted key signed that copy), keeps the pin as the lock records it: sync does not
        // change the lock.
        (Some(_), Some(recorded), Installed::Pack(pin)) => pin.clone_from(recorded),
        (Some(_), _, _) => {}
    }

    let mut manifest = InfraManifestMut::open(&infra.manifest_path(Layout::Nickel), &infra.name)?;
    let mut transaction = Transaction::new();
    let mut changed = vendor::place(infra, &verified, request.force, &mut transaction)?;
    // A provider linked before is unlinked: one form at a time.
    changed |= link::remove_symlink(context, infra, Layout::Nickel, &module, &mut transaction)?;
    let recorded = request
        .recorded
        .map_or_else(|| request.version.manifest_text(), str::to_owned);
    manifest.set_pack_dependency(module.as_str(), &vendor_dependency_path(&module), &recorded);
    let mut dependencies = Vec::new();
    let placed = Placement {
        context,
        infra,
        fetched: &fetched,
        force: request.force,
    };
    changed |= placed.apply(
        &plan,
        Some(&module),
        &mut manifest,
        &mut lock,
        &mut transaction,
        &mut dependencies,
    )?;
    changed |= record(&mut transaction, &manifest, infra, lock, entry.clone())?;
    let leftovers = transaction.commit();
    let warnings = std::iter::once(&verified)
        .chain(fetched.values())
        .filter(|pack| pack.yanked)
        .map(|pack| {
            format!(
                "`{}` {} is yanked in `{}`: it stays because it is pinned or asked for exactly\nhint: to move off it, install again with a requirement that allows other versions (`--version ^X.Y`)",
                pack.pack.module, pack.pack.version, pack.label
            )
        })
        .collect();
    Ok(InstallReport {
        entry,
        change: Change::from(changed),
        dependencies,
        warnings,
        leftovers,
    })
}

/// The lock entry of a verified pack.
pub(super) fn pack_entry(
    verified: &VerifiedPack,
    required_by: BTreeSet<ModuleName>,
    direct: bool,
) -> LockEntry {
    let module = verified.pack.module.clone();
    LockEntry {
        name: module.short_name(),
        kind: verified.kind,
        module,
        version: verified.pack.version.clone(),
        layout: Layout::Nickel,
        installed: Installed::Pack(PackPin {
            source: verified.label.clone(),
            sha256: verified.sha256,
            content_hash: verified.content_hash,
            signer: verified
                .signer
                .as_ref()
                .map_or(Signer::Unsigned, |signer| Signer::Key(signer.key_id)),
        }),
        required_by,
        direct,
    }
}

impl Plan {
    /// Who requires `module` after the install.
    fn required_by(&self, module: &ModuleName) -> BTreeSet<ModuleName> {
        self.modules
            .iter()
            .find(|planned| planned.module == *module)
            .map(|planned| planned.required_by.clone())
            .unwrap_or_default()
    }
}

/// Removes a Nickel-layout entry's link or vendored pack, its dependency in the manifest and
/// its lock entry.
pub(super) fn drop_entry(
    context: &Context,
    infra: &Infra,
    entry: &LockEntry,
    manifest: &mut InfraManifestMut,
    lock: &mut ProvidersLock,
    transaction: &mut Transaction,
) -> anyhow::Result<bool> {
    let mut changed = match entry.mode() {
        Mode::Link => {
            link::remove_symlink(context, infra, entry.layout, &entry.module, transaction)?
        }
        Mode::Pack => vendor::remove(infra, &entry.module, transaction)?,
    };
    changed |= manifest.remove_dependency(entry.module.as_str());
    changed |= lock.remove(&entry.name).is_some();
    Ok(changed)
}

/// Carries out an update plan ([`super::versions::plan_update`]): every version that moves
/// is fetched and verified first, then vendored, with the manifest (requirements kept as
/// written) and the lock, in one transaction; a failure anywhere leaves the infra as it was.
/// Returns what could not be deleted after the change.
pub fn update(
    context: &Context,
    infra: &Infra,
    plan: &super::versions::UpdatePlan,
    sources: &PackSources<'_>,
    allow_unsigned: bool,
) -> anyhow::Result<Vec<String>> {
    clear_debris(context, infra)?;
    let trust = Trust {
        keys: sources.keys,
        limits: sources.limits,
        unsigned: Unsigned::from_flag(allow_unsigned),
    };
    let wanted: Vec<PackRef> = plan
        .changes
        .iter()
        .filter_map(|change| {
            let version = change.to.clone()?;
            Some(PackRef::new(change.module.clone(), version))
        })
        .collect();
    sources.registry.prefetch(&wanted);
    let mut fetched = BTreeMap::new();
    for pack in wanted {
        let verified = sources.registry.fetch_verified(&pack, &trust, None)?;
        fetched.insert(pack.module, verified);
    }
    let mut lock = ProvidersLock::read(&infra.lock_path())?;
    let modules = plan
        .resolution
        .iter()
        .map(|(module, resolved)| closure::Planned {
            module: module.clone(),
            version: resolved.version.clone(),
            provenance: match plan.records.get(module) {
                Some(record) if fetched.contains_key(module) => {
                    Provenance::Registry(Box::new(record.clone()))
                }
                _ => Provenance::Locked,
            },
            required_by: resolved.required_by.clone(),
            direct: lock.module(module).is_some_and(|entry| entry.direct) || resolved.root,
            recorded: plan.recorded.get(module).cloned(),
        })
        .collect();
    let dropped = plan
        .changes
        .iter()
        .filter(|change| change.to.is_none())
        .filter_map(|change| lock.module(&change.module).cloned())
        .collect();
    let closure_plan = Plan { modules, dropped };
    let mut manifest = InfraManifestMut::open(&infra.manifest_path(Layout::Nickel), &infra.name)?;
    let mut transaction = Transaction::new();
    let placed = Placement {
        context,
        infra,
        fetched: &fetched,
        force: false,
    };
    placed.apply(
        &closure_plan,
        None,
        &mut manifest,
        &mut lock,
        &mut transaction,
        &mut Vec::new(),
    )?;
    transaction.write(manifest.path(), manifest.render().as_bytes())?;
    transaction.write(&infra.lock_path(), lock.render().as_bytes())?;
    let mut leftovers = transaction.commit();
    regenerate(context, infra, &mut leftovers);
    Ok(leftovers)
}
