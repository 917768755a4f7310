//! Link mode: installing a provider as a relative symlink to its live source, removing it, and
//! rebuilding links from the lock. Each operation runs in one [`Transaction`]: the link, the
//! manifest dependency and the lock entry land together or not at all. Callers hold the infra's
//! [`crate::lock::DirLock`].

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use super::lockfile::{LockEntry, Mode, ProvidersLock};
use super::manifest::InfraManifestMut;
use super::state::source_path;
use super::vendor;
use super::{Infra, link_dependency_path, modules_dir_name};
use crate::catalog::{Layout, Package};
use crate::context::Context;
use crate::fs::{Entry, Transaction, entry_at, relative_path};
use crate::names::ProviderName;

/// What an install or a removal changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Changed,
    Unchanged,
}

impl From<bool> for Change {
    fn from(changed: bool) -> Self {
        if changed {
            Change::Changed
        } else {
            Change::Unchanged
        }
    }
}

/// Writes the edited manifest and the lock with `entry` in it, as part of `transaction`; says
/// whether either file changed. Every install ends here, in either mode.
pub(super) fn record(
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

/// Installs `package` (the provider `name`'s package in `layout`) into `infra` as a link.
pub fn install(
    context: &Context,
    infra: &Infra,
    name: &ProviderName,
    package: &Package,
    layout: Layout,
    force: bool,
) -> anyhow::Result<(LockEntry, Change)> {
    let module = name.module_name();
    let lock = ProvidersLock::read(&infra.lock_path())?;
    let mut manifest = InfraManifestMut::open(&infra.manifest_path(layout), &infra.name)?;
    // A provider installed in the other layout moves: its old link and dependency go.
    let mut old_layout_manifest = match lock.get(name.as_str()) {
        Some(existing) if existing.layout != layout => Some(InfraManifestMut::open(
            &infra.manifest_path(existing.layout),
            &infra.name,
        )?),
        _ => None,
    };

    let mut transaction = Transaction::new();
    let modules_dir = ensure_modules_dir(context, infra, layout, &mut transaction)?;
    let link = modules_dir.join(&module);
    clear_for_link(&link, force, &mut transaction)?;

    let canonical = |path: &Path| {
        std::fs::canonicalize(path)
            .with_context(|| format!("failed to resolve `{}`", path.display()))
    };
    let target = relative_path(&canonical(&modules_dir)?, &canonical(&package.dir)?);
    let source = relative_path(
        &canonical(&context.config.paths.base)?,
        &canonical(&package.dir)?,
    );
    let entry = LockEntry::link(
        name.as_str(),
        &module,
        &package.manifest.version,
        path_to_record(&source),
        layout,
    );

    let mut changed = transaction.symlink(&target, &link)?;
    // A pinned pack of this provider goes: one form at a time.
    changed |= remove_vendored(infra, &module, &mut transaction)?;
    if let Some(old_manifest) = &mut old_layout_manifest {
        let old_layout = if layout == Layout::Nickel {
            Layout::Kcl
        } else {
            Layout::Nickel
        };
        changed |=
            transaction.remove_symlink(&infra.modules_dir(context, old_layout).join(&module))?;
        old_manifest.remove_dependency(&module);
        transaction.write(old_manifest.path(), old_manifest.render().as_bytes())?;
    }
    manifest.set_path_dependency(&module, &link_dependency_path(context, layout, &module));
    changed |= record(&mut transaction, &manifest, infra, lock, entry.clone())?;
    transaction.commit();
    Ok((entry, Change::from(changed)))
}

/// The modules directory of `layout`, created when missing; refuses a file or a symlink there.
fn ensure_modules_dir(
    context: &Context,
    infra: &Infra,
    layout: Layout,
    transaction: &mut Transaction,
) -> anyhow::Result<PathBuf> {
    let dir = infra.modules_dir(context, layout);
    match entry_at(&dir)? {
        Entry::Dir => {}
        Entry::Missing => transaction.create_dir_all(&dir)?,
        Entry::Symlink(target) => bail!(
            "`{}` is a symlink (to `{}`), expected a directory\nhint: remove it; `provisioning` keeps one link per module inside a real `{}` directory",
            dir.display(),
            target.display(),
            modules_dir_name(context, layout)
        ),
        Entry::File => bail!(
            "`{}` is a file, expected a directory\nhint: remove or rename it",
            dir.display()
        ),
    }
    Ok(dir)
}

/// Makes room for a link at `link`: a symlink is replaced in place later; anything else is
/// refused unless `force`.
fn clear_for_link(link: &Path, force: bool, transaction: &mut Transaction) -> anyhow::Result<()> {
    let what = match entry_at(link)? {
        Entry::Missing | Entry::Symlink(_) => return Ok(()),
        Entry::Dir => "a directory",
        Entry::File => "a file",
    };
    if !force {
        bail!(
            "`{}` is {what}, not a link; refusing to replace it\nhint: move it away, or pass `--force` to replace it",
            link.display()
        );
    }
    transaction.remove_dir(link)?;
    Ok(())
}

/// A path as recorded in the lock: `/`-separated on every platform.
fn path_to_record(path: &Path) -> String {
    path.components()
        .map(|component| component.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// What [`remove`] found and took away.
#[derive(Debug, Default)]
pub struct Removal {
    pub lock_entry: Option<LockEntry>,
    pub link: bool,
    pub dependency: bool,
}

impl Removal {
    pub fn found_anything(&self) -> bool {
        self.lock_entry.is_some() || self.link || self.dependency
    }
}

/// Removes the provider `name` from `infra` in every layout: its link, its dependency and its
/// lock entry. Anything but a symlink where the link should be is refused unless `force`.
pub fn remove(
    context: &Context,
    infra: &Infra,
    name: &ProviderName,
    force: bool,
) -> anyhow::Result<Removal> {
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
        let link = infra.modules_dir(context, layout).join(&module);
        match entry_at(&link)? {
            Entry::Missing => {}
            Entry::Symlink(_) => removal.link |= transaction.remove_symlink(&link)?,
            Entry::Dir | Entry::File if force => {
                transaction.remove_dir(&link)?;
                removal.link = true;
            }
            Entry::Dir | Entry::File => bail!(
                "`{}` is not a link; refusing to delete it\nhint: pass `--force` to delete it too",
                link.display()
            ),
        }
        if manifest.remove_dependency(&module) {
            removal.dependency = true;
            transaction.write(&manifest_path, manifest.render().as_bytes())?;
        }
    }
    let pinned = lock
        .get(name.as_str())
        .is_some_and(|entry| entry.mode == Mode::Pack);
    if pinned || force {
        removal.link |= remove_vendored(infra, &module, &mut transaction)?;
    } else if vendor::module_dir(infra, &module).exists() {
        bail!(
            "`{}` is not recorded as a pack in the lock; refusing to delete it\nhint: pass `--force` to delete it too",
            vendor::module_dir(infra, &module).display()
        );
    }
    removal.lock_entry = lock.remove(name.as_str());
    if removal.lock_entry.is_some() {
        transaction.write(&infra.lock_path(), lock.render().as_bytes())?;
    }
    transaction.commit();
    Ok(removal)
}

/// The outcome of syncing one lock entry.
#[derive(Debug)]
pub struct SyncedEntry {
    pub entry: LockEntry,
    pub result: anyhow::Result<Change>,
}

/// Rebuilds the links and manifest dependencies of `infra` from its lock alone, and removes
/// links (and their dependencies) the lock does not list. Every entry is tried; each one that
/// fails is reported and left as it was.
pub fn sync(context: &Context, infra: &Infra) -> anyhow::Result<(Vec<SyncedEntry>, Vec<String>)> {
    let lock = ProvidersLock::read(&infra.lock_path())?;
    // Packs missing from `vendor/` are fetched together first; each is then checked (re-hashed
    // once, by `sync_pack`), verified and vendored alone. The test here is only whether the
    // directory is there, so an intact vendor is not hashed twice.
    let missing: Vec<(String, semver::Version)> = lock
        .providers
        .iter()
        .filter(|entry| entry.mode == Mode::Pack)
        .filter(|entry| !vendor::module_dir(infra, &entry.module).is_dir())
        .filter_map(|entry| {
            Some((
                entry.module.clone(),
                semver::Version::parse(&entry.version).ok()?,
            ))
        })
        .collect();
    crate::registry::prefetch(context, &missing);
    let mut results = Vec::new();
    for entry in &lock.providers {
        let result = sync_entry(context, infra, entry);
        results.push(SyncedEntry {
            entry: entry.clone(),
            result,
        });
    }
    let pruned = prune_untracked(context, infra, &lock)?;
    Ok((results, pruned))
}

fn sync_entry(context: &Context, infra: &Infra, entry: &LockEntry) -> anyhow::Result<Change> {
    if entry.mode == Mode::Pack {
        return sync_pack(context, infra, entry);
    }
    let source = source_path(context, entry);
    if !source.is_dir() {
        bail!(
            "the source `{}` of `{}` does not exist\nhint: check out the provider, or `provisioning providers remove {} {}`",
            entry.source,
            entry.name,
            entry.name,
            infra.name
        );
    }
    let mut transaction = Transaction::new();
    let modules_dir = ensure_modules_dir(context, infra, entry.layout, &mut transaction)?;
    let link = modules_dir.join(&entry.module);
    clear_for_link(&link, false, &mut transaction)?;
    let target = relative_path(
        &std::fs::canonicalize(&modules_dir)?,
        &std::fs::canonicalize(&source)?,
    );
    let mut changed = transaction.symlink(&target, &link)?;
    let mut manifest = InfraManifestMut::open(&infra.manifest_path(entry.layout), &infra.name)?;
    manifest.set_path_dependency(
        &entry.module,
        &link_dependency_path(context, entry.layout, &entry.module),
    );
    changed |= transaction.write(manifest.path(), manifest.render().as_bytes())?;
    transaction.commit();
    Ok(Change::from(changed))
}

/// Removes symlinks in the modules directories, and the dependencies pointing at them, that
/// the lock does not list. Real directories are never touched. Returns the modules removed.
fn prune_untracked(
    context: &Context,
    infra: &Infra,
    lock: &ProvidersLock,
) -> anyhow::Result<Vec<String>> {
    let mut pruned = Vec::new();
    let mut transaction = Transaction::new();
    for layout in [Layout::Nickel, Layout::Kcl] {
        let modules_dir = infra.modules_dir(context, layout);
        if !modules_dir.is_dir() {
            continue;
        }
        let tracked = |module: &str| {
            lock.providers
                .iter()
                .any(|e| e.layout == layout && e.module == module)
        };
        let manifest_path = infra.manifest_path(layout);
        let mut manifest = InfraManifestMut::open(&manifest_path, &infra.name)?;
        let mut manifest_changed = false;
        let mut entries: Vec<_> = fs_err::read_dir(&modules_dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|entry| entry.file_name());
        for dir_entry in entries {
            let module = dir_entry.file_name().to_string_lossy().into_owned();
            if module.starts_with('.') || tracked(&module) {
                continue;
            }
            if transaction.remove_symlink(&dir_entry.path())? {
                let dependency = manifest.dependency_path(&module);
                if dependency.as_deref()
                    == Some(link_dependency_path(context, layout, &module).as_str())
                {
                    manifest_changed |= manifest.remove_dependency(&module);
                }
                pruned.push(module);
            }
        }
        if manifest_changed {
            transaction.write(&manifest_path, manifest.render().as_bytes())?;
        }
    }
    transaction.commit();
    Ok(pruned)
}

/// Removes `vendor/<module>` and its file list, when there. Says whether anything went.
fn remove_vendored(
    infra: &Infra,
    module: &str,
    transaction: &mut Transaction,
) -> anyhow::Result<bool> {
    let dir = vendor::module_dir(infra, module);
    let mut removed = false;
    if entry_at(&dir)? != Entry::Missing {
        transaction.remove_dir(&dir)?;
        removed = true;
    }
    removed |= transaction.remove_file(&vendor::sums_path(infra, module))?;
    Ok(removed)
}

/// Restores a pinned pack from the local registry when `vendor/` no longer matches the lock,
/// verifying as `install` does, and requiring the registry to hold the very bytes pinned.
fn sync_pack(context: &Context, infra: &Infra, entry: &LockEntry) -> anyhow::Result<Change> {
    let content_hash = entry.content_hash.as_deref().unwrap_or_default();
    let manifest = super::manifest::InfraManifest::read(&infra.manifest_path(Layout::Nickel))?;
    let dependency_ok = manifest
        .dependencies
        .get(&entry.module)
        .is_some_and(|dependency| {
            dependency.path() == Some(vendor::dependency_path(&entry.module).as_str())
                && dependency.version() == Some(entry.version.as_str())
        });
    if dependency_ok
        && vendor::check(infra, &entry.module, content_hash)? == vendor::VendorState::Ok
    {
        return Ok(Change::Unchanged);
    }
    let name: ProviderName = entry.name.parse()?;
    let version = semver::Version::parse(&entry.version)?;
    let request = vendor::PackRequest {
        name: &name,
        version: &version,
        allow_unsigned: entry.signer.as_deref() == Some(super::lockfile::UNSIGNED),
        pinned_sha256: entry.sha256.as_deref(),
    };
    let (_, change) = vendor::install(context, infra, &request)?;
    Ok(change)
}
