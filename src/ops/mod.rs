//! The operations that change an infra, one function per verb, in the spirit of cargo's
//! `ops::<verb>(ws, &opts)`: [`load`] (and `providers install`), [`remove`] (and `unload`),
//! [`init`], [`sync`] and [`update`]. Each plans without writing, then opens one
//! [`Transaction`], adds the steps of [`link`] or [`vendor`] to it, records the result in the
//! manifest and the lock, and commits; a failure anywhere puts everything back. Load, remove and
//! init take an [`InfraSession`](super::session::InfraSession), which holds the locks, and
//! return a [`Report`] for the command to print.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;

use crate::artifact::unpack::Limits;
use crate::artifact::verify::Unsigned;
use crate::context::Context;
use crate::fs::Transaction;
use crate::infra::closure::{self, Plan, Provenance};
use crate::infra::lockfile::{
    Installed, LockEntry, Mode, ModuleKind, PackPin, ProvidersLock, Signer,
};
use crate::infra::manifest::InfraManifestMut;
use crate::infra::{Change, Infra, link, vendor, vendor_dependency_path};
use crate::module::Layout;
use crate::names::{ModuleName, PackRef};
use crate::registry::{Registry, Trust, VerifiedPack};
use crate::signing::TrustedKey;
use crate::version_spec::VersionSpec;

mod init;
mod load;
pub mod pack;
mod pack_options;
mod placement;
mod remove;
mod report;
mod sync;

use placement::Placement;

pub use init::{InitOptions, init};
pub use load::{LoadOptions, load};
pub use pack_options::PackOptions;
pub use remove::{RemoveOptions, remove};
pub use report::{Event, Failure, Report};
pub use sync::{Pruned, SyncReport, SyncedEntry, sync};

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
    pub expected: Option<ModuleKind>,
}

/// Removes what killed runs left in the infra (temporary files, staging directories, entries
/// set aside): every operation starts here, holding the infra's lock, so none is in use.
pub(crate) fn clear_debris(context: &Context, infra: &Infra) -> anyhow::Result<()> {
    let dirs = [
        infra.dir.clone(),
        infra.dir.join(crate::infra::VENDOR_DIR),
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
pub(crate) fn regenerate(context: &Context, infra: &Infra, leftovers: &mut Vec<String>) {
    match crate::infra::generated::refresh(context, infra) {
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
pub(crate) fn refuse_clash(
    infra: &Infra,
    lock: &ProvidersLock,
    module: &ModuleName,
    kind: ModuleKind,
) -> anyhow::Result<()> {
    if let Some(existing) = lock.clash(module, kind) {
        anyhow::bail!(
            "`{}` is already in `{}` as the {} `{}`; the {} `{module}` cannot be loaded beside it under the same name\nhint: unload it first (`provisioning module-loader unload {} {} {}`), or rename one of the modules",
            existing.name,
            infra.name,
            existing.kind.as_str(),
            existing.module,
            kind.as_str(),
            existing.kind.dir_name(),
            infra.name,
            existing.name
        );
    }
    Ok(())
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

/// What restoring one pinned pack did.
#[derive(Debug)]
pub(crate) struct Restored {
    pub change: Change,
    /// What to say although it worked (a yanked version stays pinned).
    pub warnings: Vec<String>,
    /// What could not be deleted after the change was made.
    pub leftovers: Vec<String>,
}

/// Restores one pack as the lock pins it (`sync`, entry by entry): fetched and verified at its
/// exact version (with `pinned`, the registry must hold exactly those bytes), vendored, with its
/// dependency and its lock entry, in one transaction. The rest of the closure has entries of
/// its own. Does not rewrite the generated files: `sync` does that once, at the end.
pub(crate) fn vendor_pack(
    context: &Context,
    infra: &Infra,
    request: &PackInstall<'_>,
    pinned: Option<&crate::digest::Sha256>,
) -> anyhow::Result<Restored> {
    let module = request.module.clone();
    let VersionSpec::Exact(version) = request.version else {
        bail!("`{module}` is restored at the exact version its lock entry pins");
    };
    let sources = &request.sources;
    let trust = Trust {
        keys: sources.keys,
        limits: sources.limits,
        unsigned: Unsigned::from_flag(request.allow_unsigned),
    };
    let pack = PackRef::new(module.clone(), version.clone());
    let verified = sources.registry.fetch_verified(&pack, &trust, pinned)?;
    if let Some(expected) = request.expected.filter(|kind| *kind != verified.kind) {
        bail!(
            "`{module}` {version} in `{}` is a {}, not a {}",
            verified.label,
            verified.kind.as_str(),
            expected.as_str()
        );
    }
    let mut lock = ProvidersLock::read(&infra.lock_path())?;
    refuse_clash(infra, &lock, &module, verified.kind)?;
    let existing = lock.module(&module);
    let mut entry = pack_entry(
        &verified,
        existing.map(|e| e.required_by.clone()).unwrap_or_default(),
        existing.is_none_or(|e| e.direct) || request.direct,
    );
    // Restoring the pinned bytes (`sync`), from wherever they were found (and whichever trusted
    // key signed that copy), keeps the pin as the lock records it: sync does not change the
    // lock.
    if pinned.is_some()
        && let (Some(recorded), Installed::Pack(pin)) =
            (existing.and_then(LockEntry::pin), &mut entry.installed)
    {
        pin.clone_from(recorded);
    }
    let mut manifest = InfraManifestMut::open(&infra.manifest_path(Layout::Nickel), &infra.name)?;
    let mut transaction = Transaction::new();
    let mut changed = vendor::place(infra, &verified, request.force, &mut transaction)?;
    changed |= link::remove_symlink(context, infra, Layout::Nickel, &module, &mut transaction)?;
    let recorded = request
        .recorded
        .map_or_else(|| request.version.manifest_text(), str::to_owned);
    manifest.set_pack_dependency(module.as_str(), &vendor_dependency_path(&module), &recorded);
    changed |= transaction.write(manifest.path(), manifest.render().as_bytes())?;
    lock.upsert(entry);
    changed |= transaction.write(&infra.lock_path(), lock.render().as_bytes())?;
    let leftovers = transaction.commit();
    let warnings = yanked_warning(&verified).into_iter().collect();
    Ok(Restored {
        change: Change::from(changed),
        warnings,
        leftovers,
    })
}

/// What to say when a pack installed is yanked.
pub(crate) fn yanked_warning(pack: &VerifiedPack) -> Option<String> {
    pack.yanked.then(|| {
        format!(
            "`{}` {} is yanked in `{}`: it stays because it is pinned or asked for exactly\nhint: to move off it, install again with a requirement that allows other versions (`--version ^X.Y`)",
            pack.pack.module, pack.pack.version, pack.label
        )
    })
}

/// The lock entry of a verified pack.
pub(crate) fn pack_entry(
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

/// Removes a Nickel-layout entry's link or vendored pack, its dependency in the manifest and
/// its lock entry.
pub(crate) fn drop_entry(
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

/// Carries out an update plan ([`crate::infra::versions::plan_update`]): every version that moves
/// is fetched and verified first, then vendored, with the manifest (requirements kept as
/// written) and the lock, in one transaction; a failure anywhere leaves the infra as it was.
/// Returns what could not be deleted after the change.
pub fn update(
    context: &Context,
    infra: &Infra,
    plan: &crate::infra::versions::UpdatePlan,
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
    Placement {
        context,
        infra,
        fetched: &fetched,
        force: false,
        named: &[],
    }
    .apply(
        &closure_plan,
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
