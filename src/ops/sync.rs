//! Sync: the infra rebuilt from its lock alone, entry by entry, and what the lock does not list
//! pruned.

use anyhow::bail;

use super::{PackInstall, PackSources, clear_debris, vendor_pack};
use crate::context::Context;
use crate::fs::Transaction;
use crate::infra::lockfile::{Installed, LockEntry, Mode, PackPin, ProvidersLock, Signer};
use crate::infra::manifest::InfraManifestMut;
use crate::infra::state::{VendorState, source_path, vendor_state};
use crate::infra::{Change, Infra, link, link_dependency_path, vendor, vendor_dependency_path};
use crate::module::Layout;
use crate::names::PackRef;
use crate::version_spec::VersionSpec;

/// The outcome of syncing one lock entry.
#[derive(Debug)]
pub struct SyncedEntry {
    pub entry: LockEntry,
    pub result: anyhow::Result<Change>,
}

/// Rebuilds the links, vendored packs and manifest dependencies of `infra` from its lock alone,
/// and removes links the lock does not list. Every entry is tried; each one that fails is
/// reported and left as it was.
pub fn sync(
    context: &Context,
    infra: &Infra,
    sources: &PackSources<'_>,
) -> anyhow::Result<SyncReport> {
    clear_debris(context, infra)?;
    let lock = ProvidersLock::read(&infra.lock_path())?;
    // Packs missing from `vendor/` are fetched together first; each is then checked (re-hashed
    // once, by `sync_pack`), verified and vendored alone. The test here is only whether the
    // directory is there, so an intact vendor is not hashed twice.
    let missing: Vec<PackRef> = lock
        .providers
        .iter()
        .filter(|entry| entry.mode() == Mode::Pack && !infra.vendor_dir(&entry.module).is_dir())
        .map(|entry| PackRef::new(entry.module.clone(), entry.version.clone()))
        .collect();
    sources.registry.prefetch(&missing);
    let mut leftovers = Vec::new();
    let entries = lock
        .providers
        .iter()
        .map(|entry| {
            let result = match &entry.installed {
                Installed::Link { source } => sync_link(context, infra, entry, source),
                Installed::Pack(pin) => sync_pack(context, infra, entry, pin, sources),
            };
            SyncedEntry {
                entry: entry.clone(),
                result: result.map(|(change, mut left)| {
                    leftovers.append(&mut left);
                    change
                }),
            }
        })
        .collect();
    let mut transaction = Transaction::new();
    let links = link::prune(context, infra, &lock, &mut transaction)?;
    let packs = vendor::prune(infra, &lock, &mut transaction)?;
    let gone: Vec<&String> = links.iter().chain(&packs).collect();
    let dependencies = prune_dependencies(context, infra, &lock, &gone, &mut transaction)?;
    let pruned = Pruned {
        links,
        packs,
        dependencies,
    };
    leftovers.extend(transaction.commit());
    super::regenerate(context, infra, &mut leftovers);
    Ok(SyncReport {
        entries,
        pruned,
        leftovers,
    })
}

/// What sync did: each entry's outcome, what it pruned, what it could not delete.
#[derive(Debug)]
pub struct SyncReport {
    pub entries: Vec<SyncedEntry>,
    pub pruned: Pruned,
    pub leftovers: Vec<String>,
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
    context: &Context,
    infra: &Infra,
    lock: &ProvidersLock,
    gone: &[&String],
    transaction: &mut Transaction,
) -> anyhow::Result<Vec<String>> {
    let mut pruned = Vec::new();
    for layout in [Layout::Nickel, Layout::Kcl] {
        let path = infra.manifest_path(layout);
        if !path.is_file() {
            continue;
        }
        let read = crate::infra::manifest::InfraManifest::read(&path)?;
        let managed = [
            format!("./{}/", crate::infra::modules_dir_name(context, layout)),
            format!("./{}/", crate::infra::VENDOR_DIR),
        ];
        let stray: Vec<&String> = read
            .dependencies
            .iter()
            .filter(|(module, dependency)| {
                !lock
                    .providers
                    .iter()
                    .any(|entry| entry.layout == layout && entry.module == *module.as_str())
                    && dependency.path().is_some_and(|p| {
                        managed.iter().any(|prefix| p.starts_with(prefix))
                            && (gone.contains(module)
                                || crate::fs::entry_at(&infra.dir.join(p))
                                    .is_ok_and(|e| e == crate::fs::Entry::Missing))
                    })
            })
            .map(|(module, _)| module)
            .collect();
        if stray.is_empty() {
            continue;
        }
        let mut manifest = InfraManifestMut::open(&path, &infra.name)?;
        for module in stray {
            manifest.remove_dependency(module);
            pruned.push(module.clone());
        }
        transaction.write(&path, manifest.render().as_bytes())?;
    }
    Ok(pruned)
}

fn sync_link(
    context: &Context,
    infra: &Infra,
    entry: &LockEntry,
    source: &str,
) -> anyhow::Result<(Change, Vec<String>)> {
    let source_dir = source_path(context, source);
    if !source_dir.is_dir() {
        bail!(
            "the source `{source}` of `{}` does not exist\nhint: check out the provider, or `provisioning providers remove {} {}`",
            entry.name,
            entry.name,
            infra.name
        );
    }
    let mut transaction = Transaction::new();
    let mut changed = link::place(
        context,
        infra,
        entry.layout,
        &entry.module,
        &source_dir,
        false,
        &mut transaction,
    )?;
    let mut manifest = InfraManifestMut::open(&infra.manifest_path(entry.layout), &infra.name)?;
    manifest.set_path_dependency(
        entry.module.as_str(),
        &link_dependency_path(context, entry.layout, &entry.module),
    );
    changed |= transaction.write(manifest.path(), manifest.render().as_bytes())?;
    Ok((Change::from(changed), transaction.commit()))
}

/// Restores a pinned pack when `vendor/` or the manifest no longer match the lock, verifying as
/// `install` does, and requiring the registry to hold the very bytes pinned.
fn sync_pack(
    context: &Context,
    infra: &Infra,
    entry: &LockEntry,
    pin: &PackPin,
    sources: &PackSources<'_>,
) -> anyhow::Result<(Change, Vec<String>)> {
    let manifest =
        crate::infra::manifest::InfraManifest::read(&infra.manifest_path(Layout::Nickel))?;
    let dependency = manifest.dependencies.get(entry.module.as_str());
    // A requirement the manifest keeps (`^1.2`) stays when the pin satisfies it.
    let recorded = dependency
        .and_then(|dependency| dependency.version())
        .filter(|text| {
            VersionSpec::from_manifest(text).is_some_and(|spec| spec.matches(&entry.version))
        });
    let dependency_ok = recorded.is_some()
        && dependency.and_then(|d| d.path())
            == Some(vendor_dependency_path(&entry.module).as_str());
    if dependency_ok && vendor_state(infra, &entry.module, &pin.content_hash)? == VendorState::Ok {
        return Ok((Change::Unchanged, Vec::new()));
    }
    let exact = VersionSpec::Exact(entry.version.clone());
    let request = PackInstall {
        module: &entry.module,
        version: &exact,
        recorded,
        sources: *sources,
        allow_unsigned: pin.signer == Signer::Unsigned,
        direct: entry.direct,
        // The lock is the truth: sync puts back the pinned pack, over edits `validate` names.
        force: true,
        expected: None,
    };
    let report = vendor_pack(context, infra, &request, Some(&pin.sha256))?;
    let mut said = report.warnings;
    said.extend(report.leftovers);
    Ok((report.change, said))
}
