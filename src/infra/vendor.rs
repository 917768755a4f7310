//! Pack mode in an infra: a verified pack unpacked into `vendor/<module>/`, beside its file list
//! `vendor/<module>.sha256sums`. That list is the `h1` summary of the pack's files (one
//! `<sha256>  <module>/<path>` line each), so its own hash is the content hash the lock records:
//! `validate` checks the list against the lock, then every file against the list, and names any
//! file edited, missing or added.
//!
//! Installing verifies before it touches the infra (size, sha256, content hash, every entry as
//! hostile input, the signature), unpacks into a staging directory inside the infra, and renames
//! it into place in the same transaction that edits the manifest and the lock.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use super::Infra;
use super::lockfile::{LockEntry, Mode, ProvidersLock, UNSIGNED};
use super::manifest::InfraManifestMut;
use crate::catalog::Layout;
use crate::context::Context;
use crate::fs::{Entry, Transaction, entry_at};
use crate::names::ProviderName;
use crate::pack::unpack::{self, Limits};
use crate::pack::verify::{self, Expected};

pub const VENDOR_DIR: &str = "vendor";
const SUMS_SUFFIX: &str = ".sha256sums";

/// `vendor/<module>`.
pub fn module_dir(infra: &Infra, module: &str) -> PathBuf {
    infra.dir.join(VENDOR_DIR).join(module)
}

/// `vendor/<module>.sha256sums`.
pub fn sums_path(infra: &Infra, module: &str) -> PathBuf {
    infra
        .dir
        .join(VENDOR_DIR)
        .join(format!("{module}{SUMS_SUFFIX}"))
}

/// The dependency path written for a pack: `./vendor/<module>`.
pub fn dependency_path(module: &str) -> String {
    format!("./{VENDOR_DIR}/{module}")
}

/// How a vendored module compares with the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VendorState {
    Ok,
    Missing,
    /// The file list does not hash to the lock's content hash.
    ListMismatch,
    Drifted {
        edited: Vec<String>,
        missing: Vec<String>,
        extra: Vec<String>,
    },
}

impl VendorState {
    pub fn describe(&self, module: &str) -> String {
        match self {
            VendorState::Ok => "ok".into(),
            VendorState::Missing => format!("`{VENDOR_DIR}/{module}` does not exist"),
            VendorState::ListMismatch => format!(
                "`{VENDOR_DIR}/{module}{SUMS_SUFFIX}` does not match the content hash in the lock"
            ),
            VendorState::Drifted {
                edited,
                missing,
                extra,
            } => {
                let mut parts = Vec::new();
                for (what, files) in [("edited", edited), ("missing", missing), ("extra", extra)] {
                    if !files.is_empty() {
                        let names: Vec<String> = files.iter().map(|f| format!("`{f}`")).collect();
                        parts.push(format!("{what}: {}", names.join(", ")));
                    }
                }
                format!(
                    "`{VENDOR_DIR}/{module}` differs from the pack: {}",
                    parts.join("; ")
                )
            }
        }
    }
}

/// Re-hashes `vendor/<module>` against the lock's content hash.
pub fn check(infra: &Infra, module: &str, content_hash: &str) -> anyhow::Result<VendorState> {
    let dir = module_dir(infra, module);
    if entry_at(&dir)? != Entry::Dir {
        return Ok(VendorState::Missing);
    }
    let sums = match std::fs::read_to_string(sums_path(infra, module)) {
        Ok(sums) => sums,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(VendorState::ListMismatch);
        }
        Err(error) => {
            return Err(error).with_context(|| {
                format!("failed to read `{}`", sums_path(infra, module).display())
            });
        }
    };
    if crate::pack::hash_summary(&sums) != content_hash {
        return Ok(VendorState::ListMismatch);
    }
    let prefix = format!("{module}/");
    let mut listed: BTreeMap<String, String> = BTreeMap::new();
    for line in sums.lines() {
        let Some((hash, name)) = line.split_once("  ") else {
            return Ok(VendorState::ListMismatch);
        };
        let Some(relative) = name.strip_prefix(&prefix) else {
            return Ok(VendorState::ListMismatch);
        };
        listed.insert(relative.to_owned(), hash.to_owned());
    }
    let mut on_disk = BTreeMap::new();
    collect_files(&dir, &dir, &mut on_disk)?;
    let (mut edited, mut missing, mut extra) = (Vec::new(), Vec::new(), Vec::new());
    for (name, hash) in &listed {
        match on_disk.get(name) {
            None => missing.push(name.clone()),
            Some(found) if found != hash => edited.push(name.clone()),
            Some(_) => {}
        }
    }
    extra.extend(
        on_disk
            .keys()
            .filter(|name| !listed.contains_key(*name))
            .cloned(),
    );
    if edited.is_empty() && missing.is_empty() && extra.is_empty() {
        Ok(VendorState::Ok)
    } else {
        Ok(VendorState::Drifted {
            edited,
            missing,
            extra,
        })
    }
}

/// Every file under `dir` (a symlink counts as a file: it should not be there), with its hash.
fn collect_files(
    root: &Path,
    dir: &Path,
    out: &mut BTreeMap<String, String>,
) -> anyhow::Result<()> {
    for entry in fs_err::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let relative = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            collect_files(root, &path, out)?;
        } else if file_type.is_symlink() {
            out.insert(relative, "symlink".into());
        } else {
            out.insert(relative, crate::pack::sha256_hex(&fs_err::read(&path)?));
        }
    }
    Ok(())
}

/// What to install.
#[derive(Debug, Clone)]
pub struct PackRequest<'a> {
    pub name: &'a ProviderName,
    pub version: &'a semver::Version,
    pub allow_unsigned: bool,
    /// `sync` passes the sha256 the lock pins: the registry must still hold exactly that.
    pub pinned_sha256: Option<&'a str>,
}

/// Whether an install changed anything.
pub use super::link::Change;

/// Resolves, verifies and vendors a pack into `infra`, replacing a link or another version of
/// the module in the same transaction. Callers hold the infra's lock.
pub fn install(
    context: &Context,
    infra: &Infra,
    request: &PackRequest<'_>,
) -> anyhow::Result<(LockEntry, Change)> {
    let module = request.name.module_name();
    let version = request.version.to_string();
    let source = crate::registry::fetch(context, &module, request.version)?;
    let recorded = &source.entry;
    if let Some(pinned) = request.pinned_sha256
        && pinned != recorded.sha256
    {
        bail!(
            "the registry's `{module}` {version} has sha256 {}, but the lock pins {pinned}: refusing to change a pinned pack",
            recorded.sha256
        );
    }
    let bytes = &source.bytes;
    let signature = source.signature.clone();
    let trusted = crate::signing::trusted_keys(&context.env, &context.base)?;
    let limits = Limits::from_config(&context.config.distribution);
    let expected = Expected {
        size: Some(recorded.size),
        sha256: Some(recorded.sha256.clone()),
        content_hash: Some(recorded.content_hash.clone()),
    };
    let report = verify::verify(
        bytes,
        &module,
        &version,
        &expected,
        signature.as_ref(),
        &trusted,
        &limits,
        request.allow_unsigned,
    );
    if let Some(failure) = report.first_failure() {
        bail!(
            "`{module}` {version} failed verification: {}: {}",
            failure.check,
            failure.detail
        );
    }
    // Verification read the archive and hashed its files; both come with the report.
    let (Some(files), Some(content_hash)) = (report.files, report.content_hash) else {
        bail!("`{module}` {version} could not be read");
    };
    let entry = LockEntry {
        name: request.name.to_string(),
        module: module.clone(),
        mode: Mode::Pack,
        version: version.clone(),
        source: source.label.clone(),
        layout: Layout::Nickel,
        sha256: Some(report.sha256.clone()),
        content_hash: Some(content_hash.clone()),
        signer: Some(
            report
                .signer
                .as_ref()
                .map_or_else(|| UNSIGNED.to_owned(), |s| s.key_id.clone()),
        ),
    };

    let lock = ProvidersLock::read(&infra.lock_path())?;
    let mut manifest = InfraManifestMut::open(&infra.manifest_path(Layout::Nickel), &infra.name)?;
    let link = infra.modules_dir(context, Layout::Nickel).join(&module);
    let vendored_ok = check(infra, &module, &content_hash)? == VendorState::Ok;

    let mut transaction = Transaction::new();
    let mut changed = false;
    if !vendored_ok {
        let vendor = infra.dir.join(VENDOR_DIR);
        transaction.create_dir_all(&vendor)?;
        let staging = Staging::new(&infra.dir)?;
        unpack::write_files(staging.path(), &files).context("failed to unpack")?;
        let target = module_dir(infra, &module);
        if entry_at(&target)? != Entry::Missing {
            transaction.remove_dir(&target)?;
        }
        transaction.move_new_dir_into_place(staging.path(), &target)?;
        staging.moved();
        changed = true;
    }
    changed |= transaction.write(
        &sums_path(infra, &module),
        unpack::summary(&module, &files).as_bytes(),
    )?;
    // A provider linked before is unlinked: one form at a time.
    changed |= transaction.remove_symlink(&link)?;
    manifest.set_pack_dependency(&module, &dependency_path(&module), &version);
    changed |= super::link::record(&mut transaction, &manifest, infra, lock, entry.clone())?;
    transaction.commit();
    Ok((entry, Change::from(changed)))
}

/// A staging directory inside the infra, removed unless it was moved into place.
struct Staging {
    path: PathBuf,
    moved: std::cell::Cell<bool>,
}

impl Staging {
    fn new(infra_dir: &Path) -> anyhow::Result<Self> {
        let path = tempfile::Builder::new()
            .prefix(".provisioning-unpack-")
            .tempdir_in(infra_dir)
            .with_context(|| {
                format!(
                    "failed to create a staging directory in `{}`",
                    infra_dir.display()
                )
            })?
            .keep();
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
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
