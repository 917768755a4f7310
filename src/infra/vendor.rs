//! Pack mode's steps: a verified pack unpacked into `vendor/<module>/`, beside its file list
//! `vendor/<module>.sha256sums`. That list is the `h1` summary of the pack's files (one
//! `<sha256>  <module>/<path>` line each), so its own hash is the content hash the lock records:
//! [`super::state`] checks the list against the lock, then every file against the list, and
//! names any file edited, missing or added.
//!
//! The pack arrives verified ([`crate::registry::Registry::fetch_verified`]); it is unpacked into
//! a staging directory inside the infra and renamed into place, as part of the transaction it
//! is given.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::lockfile::ProvidersLock;
use super::state::{VendorState, compare_files, vendor_state};
use super::{Infra, SUMS_SUFFIX, VENDOR_DIR};
use crate::artifact::unpack;
use crate::digest::Sha256;
use crate::fs::{Entry, StagedWrite, Transaction, entry_at};
use crate::names::ModuleName;
use crate::registry::VerifiedPack;

/// Unpacks `pack` into `vendor/<module>` (unless it is there intact already) and writes its file
/// list. Says whether anything changed. A `vendor/<module>` that this tool did not unpack as it
/// stands (put there by hand, or edited since) is replaced only if that loses nothing, or with
/// `force`: otherwise the error names every file that would be lost.
pub fn place(
    infra: &Infra,
    pack: &VerifiedPack,
    force: bool,
    transaction: &mut Transaction,
) -> anyhow::Result<bool> {
    let staged = stage(infra, pack, force)?;
    place_staged(infra, pack, staged, transaction)
}

/// A pack ready to be vendored: its file list, and unless `vendor/` has it intact already, the
/// pack unpacked into a staging directory with the list written under a temporary name,
/// neither visible yet.
pub struct Staged {
    sums: String,
    unpacked: Option<Unpacked>,
}

struct Unpacked {
    tree: Staging,
    list: StagedWrite,
    written: Vec<std::fs::Metadata>,
}

impl Staged {
    /// The file list to sync with others ([`crate::fs::sync_staged`]), when one was written.
    pub fn list_mut(&mut self) -> Option<&mut StagedWrite> {
        self.unpacked.as_mut().map(|unpacked| &mut unpacked.list)
    }
}

/// The first half of [`place`], which changes nothing visible: `pack` unpacked beside
/// `vendor/` and its file list written, unless `vendor/<module>` is intact already. Many packs
/// are staged, their lists synced together, then placed ([`place_staged`]): a restore waits for
/// the disk once, not once a pack.
pub fn stage(infra: &Infra, pack: &VerifiedPack, force: bool) -> anyhow::Result<Staged> {
    let module = &pack.pack.module;
    let sums = unpack::summary(module, &pack.files);
    if vendor_state(infra, module, &pack.content_hash)? == VendorState::Ok {
        return Ok(Staged {
            sums,
            unpacked: None,
        });
    }
    if !force {
        refuse_to_lose(infra, pack)?;
    }
    let tree = Staging::new(&infra.dir)?;
    let written = unpack::write_files(tree.path(), &pack.files).context("failed to unpack")?;
    let list = StagedWrite::new(&infra.sums_path(module), &infra.dir, sums.as_bytes())?;
    Ok(Staged {
        sums,
        unpacked: Some(Unpacked {
            tree,
            list,
            written,
        }),
    })
}

/// The second half of [`place`]: the staged pack moved into `vendor/<module>`, after its file
/// list. Says whether anything changed.
pub fn place_staged(
    infra: &Infra,
    pack: &VerifiedPack,
    staged: Staged,
    transaction: &mut Transaction,
) -> anyhow::Result<bool> {
    let module = &pack.pack.module;
    let Some(unpacked) = staged.unpacked else {
        return Ok(transaction.write(&infra.sums_path(module), staged.sums.as_bytes())?);
    };
    transaction.create_dir_all(&infra.dir.join(VENDOR_DIR))?;
    record_written(infra, module, &staged.sums, &pack.files, &unpacked.written);
    let target = infra.vendor_dir(module);
    if entry_at(&target)? != Entry::Missing {
        transaction.remove_dir(&target)?;
    }
    // The file list first, on the disk before it is in place: a run killed before the
    // directory lands leaves a list without a directory, which `prune` removes; never a
    // directory without its list, which would look like the user's own.
    transaction.put(unpacked.list)?;
    transaction.move_new_dir_into_place(unpacked.tree.path(), &target)?;
    unpacked.tree.moved();
    Ok(true)
}

/// Records in the infra's stat index the hash of each file just written (from its file list,
/// `sums`, hashed from the verified bytes in memory) with its `stat` as written: the check
/// after the change, and the next command, do not read the files back to hash them. A rename
/// of the directory they are in changes none of what the index compares.
fn record_written(
    infra: &Infra,
    module: &ModuleName,
    sums: &str,
    files: &[crate::artifact::ArtifactFile],
    written: &[std::fs::Metadata],
) {
    let hashes: std::collections::BTreeMap<&str, &str> = sums
        .lines()
        .filter_map(|line| line.split_once("  "))
        .map(|(hash, name)| (name, hash))
        .collect();
    for (file, metadata) in files.iter().zip(written) {
        let key = format!("{module}/{}", file.path);
        if let Some(hash) = hashes.get(key.as_str()) {
            infra.stat_index.record(&key, metadata, hash);
        }
    }
    // These are all its files: what the index recorded of the module before is replaced, even
    // when nothing checks the module again in this command (an `install`).
    infra.stat_index.examined(module.as_str());
}

/// Fails when `vendor/<module>` holds work that replacing it with `pack` would lose: it is not
/// a pack this tool unpacked (its file list is missing, or the files no longer match it), and
/// some of its files are not in `pack` as they are.
fn refuse_to_lose(infra: &Infra, pack: &VerifiedPack) -> anyhow::Result<()> {
    let module = &pack.pack.module;
    let dir = infra.vendor_dir(module);
    if entry_at(&dir)? != Entry::Dir || unpacked_here(infra, module)? {
        return Ok(());
    }
    let listed = pack
        .files
        .iter()
        .map(|file| (file.path.clone(), Sha256::of(&file.contents).to_string()))
        .collect();
    let VendorState::Drifted { edited, extra, .. } = compare_files(infra, module, &listed)? else {
        return Ok(());
    };
    if edited.is_empty() && extra.is_empty() {
        return Ok(());
    }
    let mut lost = Vec::new();
    for (what, files) in [("edited", &edited), ("not in the pack", &extra)] {
        if !files.is_empty() {
            let names: Vec<String> = files.iter().map(|f| format!("`{f}`")).collect();
            lost.push(format!("{what}: {}", names.join(", ")));
        }
    }
    anyhow::bail!(
        "`{VENDOR_DIR}/{module}` was not unpacked by `provisioning` and differs from `{module}` {}; replacing it would lose {}\nhint: keep those files elsewhere first, or pass `--force` to `providers install` to replace them",
        pack.pack.version,
        lost.join("; ")
    )
}

/// Removes `vendor/<module>` and its file list, when there. Says whether anything went.
pub fn remove(
    infra: &Infra,
    module: &ModuleName,
    transaction: &mut Transaction,
) -> anyhow::Result<bool> {
    let dir = infra.vendor_dir(module);
    let mut removed = false;
    if entry_at(&dir)? != Entry::Missing {
        transaction.remove_dir(&dir)?;
        removed = true;
    }
    removed |= transaction.remove_file(&infra.sums_path(module))?;
    Ok(removed)
}

/// Removes the vendored packs the lock does not list that this tool unpacked (their file list
/// is there and matches them: a run killed before it wrote the lock). Anything else in `vendor/`
/// is the user's: it stays, and `state` reports it as untracked. Returns the modules removed.
pub fn prune(
    infra: &Infra,
    lock: &ProvidersLock,
    transaction: &mut Transaction,
) -> anyhow::Result<Vec<String>> {
    let vendor_dir = infra.dir.join(VENDOR_DIR);
    if !vendor_dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut pruned = Vec::new();
    let mut entries: Vec<_> = fs_err::read_dir(&vendor_dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    let pinned = |module: &ModuleName| {
        lock.providers
            .iter()
            .any(|entry| entry.module == *module && entry.pin().is_some())
    };
    for dir_entry in entries {
        let file_name = dir_entry.file_name().to_string_lossy().into_owned();
        // A file list whose directory never landed (a run killed in between) is this tool's.
        if let Some(module) = file_name
            .strip_suffix(SUMS_SUFFIX)
            .and_then(|name| name.parse::<ModuleName>().ok())
        {
            if !pinned(&module) && entry_at(&infra.vendor_dir(&module))? == Entry::Missing {
                transaction.remove_file(&dir_entry.path())?;
            }
            continue;
        }
        let Ok(module) = file_name.parse::<ModuleName>() else {
            continue;
        };
        if pinned(&module) || !dir_entry.file_type()?.is_dir() || !unpacked_here(infra, &module)? {
            continue;
        }
        remove(infra, &module, transaction)?;
        pruned.push(module.to_string());
    }
    Ok(pruned)
}

/// Whether `vendor/<module>` is exactly what its file list says: what this tool unpacks.
fn unpacked_here(infra: &Infra, module: &ModuleName) -> anyhow::Result<bool> {
    let Ok(sums) =
        crate::fs::read_to_string(&infra.sums_path(module), crate::fs::FileKind::FileList)
    else {
        return Ok(false);
    };
    let listed = crate::digest::ContentHash::of_summary(&sums);
    Ok(vendor_state(infra, module, &listed)? == VendorState::Ok)
}

/// A staging directory inside the infra, removed unless it was moved into place.
struct Staging {
    path: PathBuf,
    moved: std::cell::Cell<bool>,
}

impl Staging {
    fn new(infra_dir: &Path) -> anyhow::Result<Self> {
        let path = crate::fs::new_staging_dir(infra_dir).with_context(|| {
            format!(
                "failed to create a staging directory in `{}`",
                infra_dir.display()
            )
        })?;
        Ok(Self {
            path,
            moved: std::cell::Cell::new(false),
        })
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn moved(&self) {
        self.moved.set(true);
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.moved.get() {
            let _ = crate::fs::remove_dir_all_if_exists(&self.path);
        }
    }
}
