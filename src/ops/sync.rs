//! Sync: the infra rebuilt from its lock alone, and what the lock does not list pruned.
//!
//! Planned first: each link's source looked for, and each pinned pack that `vendor/` or the
//! manifest no longer match fetched and verified, the registry holding the very bytes pinned
//! (the registries include the source each entry records). Then applied in one transaction:
//! every entry that could be planned (one whose step fails is undone alone, back to a
//! savepoint, and reported), then the pruning, then the manifests, written once. An entry that
//! fails is left as it was; the lock is not changed.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::bail;

use crate::artifact::verify::{AllowUnsigned, Unsigned};
use crate::fs::Transaction;
use crate::infra::Infra;
use crate::infra::closure::InstalledManifests;
use crate::infra::lockfile::{Installed, LockEntry, PackPin, ProvidersLock, Signer};
use crate::infra::manifest::InfraManifestMut;
use crate::infra::session::InfraSession;
use crate::infra::state::{self, ModuleStatus, VendorState, source_path, vendor_state};
use crate::infra::{Change, link, link_dependency_path, vendor, vendor_dependency_path};
use crate::module::Layout;
use crate::names::{ModuleName, PackRef};
use crate::registry::{Registry, Trust, VerifiedPack};
use crate::version_spec::VersionSpec;

/// The outcome of syncing one lock entry.
#[derive(Debug)]
pub struct SyncedEntry {
    pub entry: LockEntry,
    pub result: anyhow::Result<Change>,
    /// The registry that gave its pack this time, when one did: not always the source the lock
    /// records (a mirror down, the upstream gave the same bytes).
    pub served_by: Option<String>,
}

/// What one entry needs.
enum Step {
    /// Nothing: its pack is vendored as pinned, its dependency as the manifest needs it.
    Unchanged,
    /// Its link (and dependency) to this source directory.
    Link(PathBuf),
    /// Its pack to fetch: the manifest keeps `recorded` for it.
    Fetch { pin: PackPin, recorded: String },
    /// Its pack, fetched and verified, to vendor; staged already ([`stage_packs`]) unless
    /// `None`.
    Vendor {
        verified: Box<VerifiedPack>,
        recorded: String,
        staged: Option<vendor::Staged>,
    },
}

/// Rebuilds the links, vendored packs and manifest dependencies of the session's infra from
/// its lock alone, and removes what the lock does not list. Every entry is tried; each one that
/// fails is reported and left as it was.
pub fn sync(session: &mut InfraSession<'_>) -> anyhow::Result<SyncReport> {
    let lock = session.lock().clone();
    let mut planned = plan(session, &lock)?;
    stage_packs(&session.infra, &mut planned);
    let (context, infra) = (session.context, &session.infra);
    let mut manifests = Manifests {
        nickel: session.manifest().clone(),
        kcl: None,
    };
    let mut transaction = Transaction::new();
    let mut leftovers: Vec<String> = planned
        .iter()
        .filter_map(|(entry, step)| match step {
            Ok(Step::Vendor { verified, .. }) => {
                super::signers::restored_signed_by_another(entry, verified)
            }
            _ => None,
        })
        .collect();
    let entries: Vec<SyncedEntry> = planned
        .into_iter()
        .map(|(entry, step)| {
            let served_by = match &step {
                Ok(Step::Vendor { verified, .. }) => Some(verified.label.clone()),
                _ => None,
            };
            let result = step.and_then(|step| {
                // Most entries of a synced infra need nothing: no savepoint, and no copy of the
                // manifests (a copy per entry would cost the square of the infra's size).
                if matches!(step, Step::Unchanged) {
                    return Ok(Change::Unchanged);
                }
                let savepoint = transaction.savepoint();
                let saved = manifests.clone();
                let placed = place(session, &entry, step, &mut manifests, &mut transaction);
                if placed.is_err() {
                    transaction.roll_back_to(savepoint);
                    manifests = saved;
                }
                placed.map(|(change, warning)| {
                    leftovers.extend(warning);
                    change
                })
            });
            SyncedEntry {
                entry,
                result,
                served_by,
            }
        })
        .collect();
    let mut links = Vec::new();
    for (layout, module) in link::prune(context, infra, &lock, &mut transaction)? {
        let manifest = manifests.of(session, layout)?;
        if link::points_here(context, manifest, layout, &module) {
            manifest.remove_dependency(&module);
        }
        links.push(module);
    }
    let packs = vendor::prune(infra, &lock, &mut transaction)?;
    let gone: Vec<&String> = links.iter().chain(&packs).collect();
    let dependencies = prune_dependencies(session, &lock, &gone, &mut manifests)?;
    let pruned = Pruned {
        links,
        packs,
        dependencies,
    };
    let nickel = manifests.nickel.render();
    if nickel != session.manifest().render() {
        transaction.write(manifests.nickel.path(), nickel.as_bytes())?;
    }
    if let Some((kcl, before)) = &manifests.kcl {
        let rendered = kcl.render();
        if rendered != *before {
            transaction.write(kcl.path(), rendered.as_bytes())?;
        }
    }
    leftovers.extend(transaction.commit());
    leftovers.extend(session.committed(lock, manifests.nickel));
    let installed = InstalledManifests::default();
    let remaining = remaining_problems(session, &entries, &installed)?;
    super::regenerate_with(session, &installed, &mut leftovers);
    Ok(SyncReport {
        entries,
        pruned,
        leftovers,
        remaining,
    })
}

/// What still differs from the lock after the sync, besides the entries that failed (reported
/// with their error). An entry the plan found as the lock says and the sync left alone is not
/// looked at again: nothing in the sync touches it (pruning removes only what the lock does not
/// list). What changed is checked again, and the dependencies of every module, and strays.
fn remaining_problems(
    session: &InfraSession<'_>,
    entries: &[SyncedEntry],
    installed: &InstalledManifests,
) -> anyhow::Result<Vec<ModuleStatus>> {
    // Keyed by layout too: the two layouts may each have a module of one name.
    let settled: BTreeSet<(&str, &ModuleName)> = entries
        .iter()
        .filter(|synced| matches!(synced.result, Ok(Change::Unchanged)))
        .map(|synced| (synced.entry.layout.manifest_file(), &synced.entry.module))
        .collect();
    let failed: BTreeSet<&str> = entries
        .iter()
        .filter(|synced| synced.result.is_err())
        .map(|synced| synced.entry.module.as_str())
        .collect();
    let statuses = state::inspect_lock(
        session.context,
        &session.infra,
        session.lock(),
        &|entry| settled.contains(&(entry.layout.manifest_file(), &entry.module)),
        installed,
    )?;
    Ok(statuses
        .into_iter()
        .filter(|status| status.state.is_problem() && !failed.contains(status.module.as_str()))
        .collect())
}

/// The manifests sync edits: the Nickel layout's (the session's), and the legacy layout's,
/// opened when an entry of it needs it (with its text as read).
#[derive(Clone)]
struct Manifests {
    nickel: InfraManifestMut,
    kcl: Option<(InfraManifestMut, String)>,
}

impl Manifests {
    fn of(
        &mut self,
        session: &InfraSession<'_>,
        layout: Layout,
    ) -> anyhow::Result<&mut InfraManifestMut> {
        match layout {
            Layout::Nickel => Ok(&mut self.nickel),
            Layout::Kcl => {
                let kcl = match self.kcl.take() {
                    Some(kcl) => kcl,
                    None => {
                        let infra = &session.infra;
                        let manifest =
                            InfraManifestMut::open(&infra.manifest_path(layout), &infra.name)?;
                        let text = manifest.render();
                        (manifest, text)
                    }
                };
                Ok(&mut self.kcl.insert(kcl).0)
            }
        }
    }
}

/// Each entry of the lock with what it needs, or why it cannot be synced; the packs to restore
/// fetched (together first) and verified.
fn plan(
    session: &InfraSession<'_>,
    lock: &ProvidersLock,
) -> anyhow::Result<Vec<(LockEntry, anyhow::Result<Step>)>> {
    let mut planned = Vec::new();
    for entry in &lock.providers {
        let step = match &entry.installed {
            Installed::Link { source } => link_step(session, entry, source),
            Installed::Pack(pin) => pack_step(session, entry, pin),
        };
        planned.push((entry.clone(), step));
    }
    reuse_verified(session, &mut planned);
    let wanted: Vec<PackRef> = planned
        .iter()
        .filter(|(_, step)| matches!(step, Ok(Step::Fetch { .. })))
        .map(|(entry, _)| PackRef::new(entry.module.clone(), entry.version.clone()))
        .collect();
    if wanted.is_empty() {
        return Ok(planned);
    }
    // Opened only now: with `vendor/` intact, no registry is asked anything.
    let registry = session.registry(Vec::new())?;
    let keys = session.keys()?;
    registry.prefetch(&wanted);
    for (entry, step) in &mut planned {
        let Ok(Step::Fetch { pin, recorded }) = step else {
            continue;
        };
        let trust = Trust {
            keys,
            limits: session.context.unpack_limits(),
            // A pin recorded unsigned was accepted so when it was installed; `sync` has no
            // `--allow-unsigned` for one recorded signed.
            unsigned: if pin.signer == Signer::Unsigned {
                Unsigned::Overridable(AllowUnsigned::All)
            } else {
                Unsigned::Refused
            },
        };
        let pack = PackRef::new(entry.module.clone(), entry.version.clone());
        let recorded = std::mem::take(recorded);
        *step = registry
            .fetch_verified(&pack, &trust, Some(&pin.sha256))
            .inspect(|verified| {
                if let Some(cache) = session.shared() {
                    cache.keep(verified);
                }
            })
            .map(|verified| Step::Vendor {
                verified: Box::new(verified),
                recorded,
                staged: None,
            })
            .map_err(Into::into);
    }
    Ok(planned)
}

/// Unpacks every pack to restore beside `vendor/` and writes its file list, then puts the lists
/// on the disk together (one wait for the disk, not one a pack): [`place`] then moves each into
/// place. A pack that cannot be staged is its entry's error; nothing staged is visible until
/// placed, and what is not placed is deleted.
fn stage_packs(infra: &Infra, planned: &mut [(LockEntry, anyhow::Result<Step>)]) {
    for (_, step) in planned.iter_mut() {
        let Ok(Step::Vendor {
            verified, staged, ..
        }) = step
        else {
            continue;
        };
        match vendor::stage(infra, verified, true) {
            Ok(done) => *staged = Some(done),
            Err(error) => *step = Err(error),
        }
    }
    let lists: Vec<&mut crate::fs::StagedWrite> = planned
        .iter_mut()
        .filter_map(|(_, step)| match step {
            Ok(Step::Vendor {
                staged: Some(staged),
                ..
            }) => staged.list_mut(),
            _ => None,
        })
        .collect();
    crate::fs::sync_staged(lists);
}

/// The packs to restore that another infra of the run (`--workspace`) has verified already:
/// vendored from that, neither fetched nor verified again.
fn reuse_verified(session: &InfraSession<'_>, planned: &mut [(LockEntry, anyhow::Result<Step>)]) {
    let Some(cache) = session.shared() else {
        return;
    };
    for (entry, step) in planned {
        let Ok(Step::Fetch { pin, recorded }) = step else {
            continue;
        };
        let pack = PackRef::new(entry.module.clone(), entry.version.clone());
        if let Some(verified) = cache.verified(&pack, &pin.sha256) {
            *step = Ok(Step::Vendor {
                verified: Box::new(verified),
                recorded: std::mem::take(recorded),
                staged: None,
            });
        }
    }
}

/// What sync did: each entry's outcome, what it pruned, what it could not delete, and what
/// still differs from the lock (besides the entries that failed).
#[derive(Debug)]
pub struct SyncReport {
    pub entries: Vec<SyncedEntry>,
    pub pruned: Pruned,
    pub leftovers: Vec<String>,
    pub remaining: Vec<ModuleStatus>,
}

/// What sync removed because the lock does not list it.
#[derive(Debug, Default)]
pub struct Pruned {
    /// Links in the modules directories (a pack's stale link would shadow its vendored copy).
    pub links: Vec<String>,
    /// Vendored packs this tool unpacked (a run killed before it wrote the lock).
    pub packs: Vec<String>,
    /// `manifest.toml` dependencies on a link or a vendored pack that the lock does not list.
    pub dependencies: Vec<String>,
}

/// Removes the dependencies that point into the modules directory or `vendor/` for modules the
/// lock does not list, when what they point at is gone or goes with this sync (`gone`: a run
/// killed between writing the manifest and the lock leaves one). A dependency on something
/// that stays (a `vendor/` unpacked by hand, the guide's migration) is the user's: it stays,
/// and `installed` reports the module untracked. Dependencies elsewhere stay too.
fn prune_dependencies(
    session: &InfraSession<'_>,
    lock: &ProvidersLock,
    gone: &[&String],
    manifests: &mut Manifests,
) -> anyhow::Result<Vec<String>> {
    let (context, infra) = (session.context, &session.infra);
    let mut pruned = Vec::new();
    for layout in [Layout::Nickel, Layout::Kcl] {
        if !infra.manifest_path(layout).is_file() {
            continue;
        }
        let managed = [
            format!("./{}/", crate::infra::modules_dir_name(context, layout)),
            format!("./{}/", crate::infra::VENDOR_DIR),
        ];
        let manifest = manifests.of(session, layout)?;
        let stray: Vec<String> = manifest
            .dependency_names()
            .into_iter()
            .filter(|module| {
                !lock
                    .providers
                    .iter()
                    .any(|entry| entry.layout == layout && entry.module == *module.as_str())
                    && manifest.dependency_path(module).is_some_and(|p| {
                        managed.iter().any(|prefix| p.starts_with(prefix))
                            && (gone.contains(&module)
                                || crate::fs::entry_at(&infra.dir.join(&p))
                                    .is_ok_and(|e| e == crate::fs::Entry::Missing))
                    })
            })
            .collect();
        for module in stray {
            manifest.remove_dependency(&module);
            pruned.push(module);
        }
    }
    Ok(pruned)
}

/// A link's source, which must exist.
fn link_step(session: &InfraSession<'_>, entry: &LockEntry, source: &str) -> anyhow::Result<Step> {
    let source_dir = source_path(session.context, source);
    if !source_dir.is_dir() {
        bail!(
            "the source `{source}` of `{}` does not exist\nhint: check out the provider, or `provisioning providers remove {} {}`",
            entry.name,
            entry.name,
            session.infra.name
        );
    }
    Ok(Step::Link(source_dir))
}

/// Whether a pinned pack must be restored: `vendor/` or the manifest no longer match the lock.
fn pack_step(session: &InfraSession<'_>, entry: &LockEntry, pin: &PackPin) -> anyhow::Result<Step> {
    let infra = &session.infra;
    let manifest = session.manifest();
    let module = entry.module.as_str();
    // A requirement the manifest keeps (`^1.2`) stays when the pin satisfies it.
    let recorded = manifest.dependency_version(module).filter(|text| {
        VersionSpec::from_manifest(text).is_some_and(|spec| spec.matches(&entry.version))
    });
    let dependency_ok = recorded.is_some()
        && manifest.dependency_path(module) == Some(vendor_dependency_path(&entry.module));
    if dependency_ok && vendor_state(infra, &entry.module, &pin.content_hash)? == VendorState::Ok {
        return Ok(Step::Unchanged);
    }
    Ok(Step::Fetch {
        pin: pin.clone(),
        recorded: recorded.unwrap_or_else(|| entry.version.to_string()),
    })
}

/// Adds the steps of one entry to `transaction`; returns whether anything changed, and what to
/// say about it (a yanked version restored).
fn place(
    session: &InfraSession<'_>,
    entry: &LockEntry,
    step: Step,
    manifests: &mut Manifests,
    transaction: &mut Transaction,
) -> anyhow::Result<(Change, Option<String>)> {
    let (context, infra) = (session.context, &session.infra);
    let module = &entry.module;
    match step {
        Step::Unchanged => Ok((Change::Unchanged, None)),
        Step::Link(source_dir) => {
            let mut changed = link::place(
                context,
                infra,
                entry.layout,
                module,
                &source_dir,
                false,
                transaction,
            )?;
            changed |= manifests.of(session, entry.layout)?.set_path_dependency(
                module.as_str(),
                &link_dependency_path(context, entry.layout, module),
            );
            Ok((Change::from(changed), None))
        }
        Step::Fetch { .. } => bail!("`{module}` {} was not fetched", entry.version),
        Step::Vendor {
            verified,
            recorded,
            staged,
        } => {
            // The lock is the truth: sync puts back the pinned pack, over edits `validate` names.
            let staged = match staged {
                Some(staged) => staged,
                None => vendor::stage(infra, &verified, true)?,
            };
            let mut changed = vendor::place_staged(infra, &verified, staged, transaction)?;
            changed |= link::remove_symlink(context, infra, Layout::Nickel, module, transaction)?;
            changed |= manifests.nickel.set_pack_dependency(
                module.as_str(),
                &vendor_dependency_path(module),
                &recorded,
            );
            Ok((Change::from(changed), super::yanked_warning(&verified)))
        }
    }
}
