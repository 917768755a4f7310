//! The operations that change an infra, one function per verb, in the spirit of cargo's
//! `ops::<verb>(ws, &opts)`: [`load`] (and `providers install`), [`remove`] (and `unload`),
//! [`init`], [`sync`] and [`update`]. Each plans without writing, then opens one
//! [`Transaction`], adds the steps of [`link`] or [`vendor`] to it, records the result in the
//! manifest and the lock, and commits; a failure anywhere puts everything back. Every one takes
//! an [`InfraSession`](crate::infra::session::InfraSession), which holds the locks, and
//! returns a typed report for the command to print ([`Report`], [`SyncReport`],
//! [`UpdateReport`]).

use std::collections::BTreeSet;

use crate::context::Context;
use crate::fs::Transaction;
use crate::infra::closure::InstalledManifests;
use crate::infra::lockfile::{Installed, LockEntry, Mode, PackPin, ProvidersLock, Signer};
use crate::infra::manifest::InfraManifestMut;
use crate::infra::session::InfraSession;
use crate::infra::{Infra, link, vendor};
use crate::module::Layout;
use crate::module::ModuleKind;
use crate::names::ModuleName;
use crate::registry::VerifiedPack;

mod init;
mod load;
pub mod mirror;
pub mod pack;
mod pack_options;
mod placement;
mod remove;
mod report;
mod signers;
mod sync;
mod update;
mod update_workspace;

pub use init::{InitOptions, init};
pub use load::{LoadOptions, load};
pub use pack_options::PackOptions;
pub use remove::{RemoveOptions, remove};
pub use report::{Event, Failure, Report};
pub use sync::{Pruned, SyncReport, SyncedEntry, sync};
pub use update::{UpdateOptions, UpdateReport, update};
pub use update_workspace::{WorkspaceUpdate, update_workspace};

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
/// is done, and `validate` reports the file, `sync` rewrites it. Rendered from the lock the
/// session committed, not read back from the disk.
pub(crate) fn regenerate(session: &InfraSession<'_>, leftovers: &mut Vec<String>) {
    regenerate_with(session, &InstalledManifests::default(), leftovers);
}

/// [`regenerate`], reading the modules' manifests through `manifests` (a command that has
/// already read them reads them once).
pub(crate) fn regenerate_with(
    session: &InfraSession<'_>,
    manifests: &InstalledManifests,
    leftovers: &mut Vec<String>,
) {
    let infra = &session.infra;
    match crate::infra::generated::refresh(session.context, infra, session.lock(), manifests) {
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
