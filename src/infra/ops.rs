//! Install, remove and sync: the operations that change an infra. Each opens one
//! [`Transaction`], adds the steps of [`link`] or [`vendor`] to it, records the result in the
//! manifest and the lock, and commits; a failure anywhere puts everything back. Callers hold the
//! infra's [`crate::lock::DirLock`].

use anyhow::bail;

use super::lockfile::{Installed, LockEntry, Mode, PackPin, ProvidersLock, Signer};
use super::manifest::InfraManifestMut;
use super::state::{VendorState, source_path, vendor_state};
use super::{Change, Infra, link, link_dependency_path, vendor, vendor_dependency_path};
use crate::catalog::{Layout, Package};
use crate::context::Context;
use crate::fs::Transaction;
use crate::names::{PackRef, ProviderName};
use crate::pack::unpack::Limits;
use crate::registry::{Registry, Trust};
use crate::signing::TrustedKey;

/// What to link.
#[derive(Debug, Clone, Copy)]
pub struct LinkInstall<'a> {
    pub name: &'a ProviderName,
    pub package: &'a Package,
    pub layout: Layout,
    /// Replace a directory or file where the link goes.
    pub force: bool,
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
    pub name: &'a ProviderName,
    pub version: &'a semver::Version,
    pub sources: PackSources<'a>,
    pub allow_unsigned: bool,
}

/// Removes what killed runs left in the infra (temporary files, staging directories, entries
/// set aside): every operation starts here, holding the infra's lock, so none is in use.
fn clear_debris(context: &Context, infra: &Infra) -> anyhow::Result<()> {
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

/// What an install did.
#[derive(Debug)]
pub struct InstallReport {
    pub entry: LockEntry,
    pub change: Change,
    /// What could not be deleted after the change was made (to report; the next command
    /// removes it).
    pub leftovers: Vec<String>,
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
    let module = request.name.module_name();
    let layout = request.layout;
    let lock = ProvidersLock::read(&infra.lock_path())?;
    let mut manifest = InfraManifestMut::open(&infra.manifest_path(layout), &infra.name)?;
    let entry = LockEntry {
        name: request.name.clone(),
        module: module.clone(),
        version: request.package.manifest.version.clone(),
        layout,
        installed: Installed::Link {
            source: link::recorded_source(context, &request.package.dir)?,
        },
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
    if let Some(existing) = lock.get(request.name)
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
    changed |= record(&mut transaction, &manifest, infra, lock, entry.clone())?;
    let leftovers = transaction.commit();
    Ok(InstallReport {
        entry,
        change: Change::from(changed),
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
    let module = request.name.module_name();
    let pack = PackRef::new(module.clone(), request.version.clone());
    let sources = &request.sources;
    let trust = Trust {
        keys: sources.keys,
        limits: sources.limits,
        allow_unsigned: request.allow_unsigned,
    };
    clear_debris(context, infra)?;
    let verified = sources.registry.fetch_verified(&pack, &trust, pinned)?;
    let entry = LockEntry {
        name: request.name.clone(),
        module: module.clone(),
        version: request.version.clone(),
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
    };

    let lock = ProvidersLock::read(&infra.lock_path())?;
    let mut manifest = InfraManifestMut::open(&infra.manifest_path(Layout::Nickel), &infra.name)?;
    let mut transaction = Transaction::new();
    let mut changed = vendor::place(infra, &verified, &mut transaction)?;
    // A provider linked before is unlinked: one form at a time.
    changed |= link::remove_symlink(context, infra, Layout::Nickel, &module, &mut transaction)?;
    manifest.set_pack_dependency(
        module.as_str(),
        &vendor_dependency_path(&module),
        &request.version.to_string(),
    );
    changed |= record(&mut transaction, &manifest, infra, lock, entry.clone())?;
    let leftovers = transaction.commit();
    Ok(InstallReport {
        entry,
        change: Change::from(changed),
        leftovers,
    })
}

/// What [`remove`] found and took away.
#[derive(Debug, Default)]
pub struct Removal {
    pub lock_entry: Option<LockEntry>,
    pub link: bool,
    pub dependency: bool,
    /// What could not be deleted after the change was made.
    pub leftovers: Vec<String>,
}

impl Removal {
    pub fn found_anything(&self) -> bool {
        self.lock_entry.is_some() || self.link || self.dependency
    }
}

/// Removes the provider `name` from `infra` in every layout: its link or vendored pack, its
/// dependency and its lock entry. Anything but a symlink where the link should be, or a vendored
/// directory the lock does not record, is refused unless `force`.
pub fn remove(
    context: &Context,
    infra: &Infra,
    name: &ProviderName,
    force: bool,
) -> anyhow::Result<Removal> {
    clear_debris(context, infra)?;
    let module = name.module_name();
    let mut lock = ProvidersLock::read(&infra.lock_path())?;
    let mut removal = Removal::default();
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
        transaction.write(&infra.lock_path(), lock.render().as_bytes())?;
    }
    removal.leftovers = transaction.commit();
    Ok(removal)
}

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
    let pruned = Pruned {
        links: link::prune(context, infra, &lock, &mut transaction)?,
        packs: vendor::prune(infra, &lock, &mut transaction)?,
        dependencies: prune_dependencies(context, infra, &lock, &mut transaction)?,
    };
    leftovers.extend(transaction.commit());
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
/// lock does not list (a run killed between writing the manifest and the lock leaves one).
/// Dependencies elsewhere are the user's and stay.
fn prune_dependencies(
    context: &Context,
    infra: &Infra,
    lock: &ProvidersLock,
    transaction: &mut Transaction,
) -> anyhow::Result<Vec<String>> {
    let mut pruned = Vec::new();
    for layout in [Layout::Nickel, Layout::Kcl] {
        let path = infra.manifest_path(layout);
        if !path.is_file() {
            continue;
        }
        let read = super::manifest::InfraManifest::read(&path)?;
        let managed = [
            format!("./{}/", super::modules_dir_name(context, layout)),
            format!("./{}/", super::VENDOR_DIR),
        ];
        let stray: Vec<&String> = read
            .dependencies
            .iter()
            .filter(|(module, dependency)| {
                !lock
                    .providers
                    .iter()
                    .any(|entry| entry.layout == layout && entry.module == *module.as_str())
                    && dependency
                        .path()
                        .is_some_and(|p| managed.iter().any(|prefix| p.starts_with(prefix)))
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
    let manifest = super::manifest::InfraManifest::read(&infra.manifest_path(Layout::Nickel))?;
    let version = entry.version.to_string();
    let dependency_ok = manifest
        .dependencies
        .get(entry.module.as_str())
        .is_some_and(|dependency| {
            dependency.path() == Some(vendor_dependency_path(&entry.module).as_str())
                && dependency.version() == Some(version.as_str())
        });
    if dependency_ok && vendor_state(infra, &entry.module, &pin.content_hash)? == VendorState::Ok {
        return Ok((Change::Unchanged, Vec::new()));
    }
    let request = PackInstall {
        name: &entry.name,
        version: &entry.version,
        sources: *sources,
        allow_unsigned: pin.signer == Signer::Unsigned,
    };
    let report = install_pack(context, infra, &request, Some(&pin.sha256))?;
    Ok((report.change, report.leftovers))
}
