//! Checks what an infra records against what is on disk: for every provider in the lock, its
//! link and its manifest dependency; and anything in the modules directory or the manifest that
//! the lock does not know. `installed`, `validate` and `sync` all see an infra through this.

use std::path::{Path, PathBuf};

use serde::Serialize;

use std::collections::BTreeMap;

use anyhow::Context as _;

use super::closure::InstalledManifests;
use super::lockfile::{Installed, LockEntry, Mode, ProvidersLock};
use super::manifest::InfraManifest;
use super::{Infra, VENDOR_DIR, link_dependency_path, vendor_dependency_path};
use crate::config::absolutize;
use crate::context::Context;
use crate::digest::ContentHash;
use crate::fs::{Entry, entry_at};
use crate::module::Layout;
use crate::module::ModuleKind;
use crate::names::ModuleName;
use crate::version_spec::VersionSpec;

mod stat_index;
mod untracked;

pub use stat_index::StatIndex;

use untracked::untracked;

/// The state of one installed (or stray) module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Ok,
    /// The lock lists it but there is no link.
    MissingLink,
    /// The link points at nothing.
    DanglingLink,
    /// A directory or file stands where the link should be.
    NotALink,
    /// The link resolves, but not to the source the lock records.
    WrongTarget,
    /// `manifest.toml` lacks the dependency or gives another path.
    ManifestMismatch,
    /// On disk or in `manifest.toml`, but not in the lock.
    Untracked,
    /// The lock pins a pack that is not in `vendor/`.
    MissingVendor,
    /// `vendor/<module>` no longer matches the pinned pack.
    DriftedVendor,
    /// A module it requires is not installed, or not at a version it accepts.
    UnmetDependency,
    /// A `manifest.toml` dependency that points outside `.nickel-modules/` and `vendor/` (the
    /// guide's hand-extracted pack): not managed here, and not on Nickel's import path. Worth
    /// saying, not a failure.
    Unmanaged,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::MissingLink => "missing link",
            State::DanglingLink => "dangling link",
            State::NotALink => "not a link",
            State::WrongTarget => "wrong target",
            State::ManifestMismatch => "manifest mismatch",
            State::Untracked => "untracked",
            State::MissingVendor => "missing vendor",
            State::DriftedVendor => "drifted vendor",
            State::UnmetDependency => "unmet dependency",
            State::Unmanaged => "unmanaged",
        }
    }

    /// Whether it makes the infra invalid (everything but `ok` and `unmanaged`).
    pub fn is_problem(self) -> bool {
        !matches!(self, State::Ok | State::Unmanaged)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ModuleStatus {
    pub name: String,
    pub module: String,
    /// A provider unless it says otherwise.
    #[serde(skip_serializing_if = "ModuleKind::is_default")]
    pub kind: ModuleKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<semver::Version>,
    pub source: String,
    #[serde(skip_serializing_if = "Layout::is_default")]
    pub layout: Layout,
    pub state: State,
    /// What exactly is wrong, when the state is not `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The installed modules that require it.
    pub required_by: Vec<String>,
    /// Whether it was installed by name, rather than only as a dependency.
    pub direct: bool,
}

impl ModuleStatus {
    /// Its mode as a table cell: `-` when the lock records none.
    pub fn mode_cell(&self) -> String {
        self.mode
            .map_or_else(|| "-".into(), |mode| mode.to_string())
    }

    /// Its version as a table cell: `-` when there is none.
    pub fn version_cell(&self) -> String {
        self.version
            .as_ref()
            .map_or_else(|| "-".into(), ToString::to_string)
    }
}

/// Reads the lock and both layouts' manifests and links, and compares them: one status per
/// module the lock lists, then one per stray module it does not.
pub fn inspect(context: &Context, infra: &Infra) -> anyhow::Result<Vec<ModuleStatus>> {
    let lock = ProvidersLock::read(&infra.lock_path())?;
    inspect_lock(
        context,
        infra,
        &lock,
        &|_| false,
        &InstalledManifests::default(),
    )
}

/// [`inspect`] of `lock` (the lock file as the caller holds it), taking the entries `settled`
/// says were checked already in this command, and found as the lock says, as ok without
/// looking at them again (their dependencies are still checked, and strays still found); the
/// modules' manifests are read through `manifests`.
pub fn inspect_lock(
    context: &Context,
    infra: &Infra,
    lock: &ProvidersLock,
    settled: &dyn Fn(&LockEntry) -> bool,
    manifests: &InstalledManifests,
) -> anyhow::Result<Vec<ModuleStatus>> {
    let mut modules = Vec::new();
    for layout in [Layout::Nickel, Layout::Kcl] {
        let manifest_path = infra.manifest_path(layout);
        let manifest = if layout == Layout::Nickel || manifest_path.exists() {
            InfraManifest::read(&manifest_path)?
        } else {
            InfraManifest::default()
        };
        let entries: Vec<&LockEntry> = lock
            .providers
            .iter()
            .filter(|e| e.layout == layout)
            .collect();
        for entry in &entries {
            let mut status = if settled(entry) {
                status_of(entry, State::Ok, None)
            } else {
                check_entry(context, infra, entry, &manifest)?
            };
            if status.state == State::Ok
                && layout == Layout::Nickel
                && let Some(problem) = unmet_dependency(context, infra, entry, lock, manifests)
            {
                status.state = State::UnmetDependency;
                status.detail = Some(problem);
            }
            modules.push(status);
        }
        modules.extend(untracked(context, infra, layout, &entries, &manifest)?);
    }
    Ok(modules)
}

/// The first requirement of an installed module that the infra does not meet: a dependency
/// not installed, or installed at a version the requirement does not accept.
fn unmet_dependency(
    context: &Context,
    infra: &Infra,
    entry: &LockEntry,
    lock: &ProvidersLock,
    manifests: &InstalledManifests,
) -> Option<String> {
    let manifest = manifests.of(context, infra, entry)?;
    for (dependency, requirement) in &manifest.dependencies {
        match lock.module(dependency) {
            None => {
                return Some(format!(
                    "`{}` requires {dependency} {requirement}, which is not installed\nhint: install `{}` again to bring its dependencies: `provisioning providers install {} {}`",
                    entry.module, entry.module, entry.name, infra.name
                ));
            }
            Some(installed) if !requirement.matches(&installed.version) => {
                return Some(format!(
                    "`{}` requires {dependency} {requirement}, but `{}` has {dependency} {}",
                    entry.module, infra.name, installed.version
                ));
            }
            Some(_) => {}
        }
    }
    None
}

/// Where a linked entry's source is on disk.
pub fn source_path(context: &Context, source: &str) -> PathBuf {
    absolutize(&context.config.paths.base, Path::new(source))
}

fn check_entry(
    context: &Context,
    infra: &Infra,
    entry: &LockEntry,
    manifest: &InfraManifest,
) -> anyhow::Result<ModuleStatus> {
    let (disk_state, expected_dependency, expected_version) = match &entry.installed {
        Installed::Link { source } => {
            let link = infra.modules_dir(context, entry.layout).join(&entry.module);
            (
                link_state(&link, &source_path(context, source)),
                link_dependency_path(context, entry.layout, &entry.module),
                None,
            )
        }
        Installed::Pack(pin) => {
            let state = match vendor_state(infra, &entry.module, &pin.content_hash)? {
                VendorState::Ok => (State::Ok, None),
                VendorState::Missing => (
                    State::MissingVendor,
                    Some(VendorState::Missing.describe(&entry.module)),
                ),
                drifted => (State::DriftedVendor, Some(drifted.describe(&entry.module))),
            };
            (
                state,
                vendor_dependency_path(&entry.module),
                Some(&entry.version),
            )
        }
    };
    let (state, detail) = match disk_state {
        (State::Ok, _) => {
            manifest_agreement(entry, manifest, &expected_dependency, expected_version)
        }
        other => other,
    };
    Ok(status_of(entry, state, detail))
}

/// The status of a module the lock lists.
fn status_of(entry: &LockEntry, state: State, detail: Option<String>) -> ModuleStatus {
    ModuleStatus {
        name: entry.name.to_string(),
        module: entry.module.to_string(),
        kind: entry.kind,
        mode: Some(entry.mode()),
        version: Some(entry.version.clone()),
        source: entry.source().to_owned(),
        layout: entry.layout,
        state,
        detail,
        required_by: entry.required_by.iter().map(ToString::to_string).collect(),
        direct: entry.direct,
    }
}

/// Whether the infra's manifest depends on `entry` as the lock says it should: at
/// `expected_dependency`, and, for a pack, with a version or requirement that the pinned
/// `expected_version` satisfies.
fn manifest_agreement(
    entry: &LockEntry,
    manifest: &InfraManifest,
    expected_dependency: &str,
    expected_version: Option<&semver::Version>,
) -> (State, Option<String>) {
    let allows = |text: Option<&str>, pinned: &semver::Version| {
        text.and_then(VersionSpec::from_manifest)
            .is_some_and(|spec| spec.matches(pinned))
    };
    match manifest
        .dependencies
        .get(entry.module.as_str())
        .map(|dep| (dep.path(), dep.version()))
    {
        Some((Some(path), version))
            if path == expected_dependency
                && expected_version.is_none_or(|pinned| allows(version, pinned)) =>
        {
            (State::Ok, None)
        }
        Some((Some(path), version)) if path == expected_dependency => (
            State::ManifestMismatch,
            Some(format!(
                "`{}` asks for `{}` {}, the lock pins {}",
                entry.layout.manifest_file(),
                entry.module,
                version.unwrap_or("(none)"),
                entry.version
            )),
        ),
        Some((path, _)) => (
            State::ManifestMismatch,
            Some(format!(
                "`{}` gives `{}` the path `{}`, expected `{expected_dependency}`",
                entry.layout.manifest_file(),
                entry.module,
                path.unwrap_or("(none)")
            )),
        ),
        None => (
            State::ManifestMismatch,
            Some(format!(
                "`{}` has no dependency `{}`",
                entry.layout.manifest_file(),
                entry.module
            )),
        ),
    }
}

/// Compares the link at `link` with the directory it should resolve to.
pub fn link_state(link: &Path, expected: &Path) -> (State, Option<String>) {
    match entry_at(link) {
        Ok(Entry::Missing) => (
            State::MissingLink,
            Some(format!("`{}` does not exist", link.display())),
        ),
        Ok(Entry::Dir | Entry::File) => (
            State::NotALink,
            Some(format!("`{}` is not a symlink", link.display())),
        ),
        Ok(Entry::Symlink(target)) => {
            let resolved = link.parent().unwrap_or(Path::new(".")).join(&target);
            match (
                std::fs::canonicalize(&resolved),
                std::fs::canonicalize(expected),
            ) {
                (Err(_), _) => (
                    State::DanglingLink,
                    Some(format!(
                        "`{}` points at `{}`, which does not exist",
                        link.display(),
                        target.display()
                    )),
                ),
                (Ok(actual), Ok(wanted)) if actual == wanted => (State::Ok, None),
                (Ok(actual), _) => (
                    State::WrongTarget,
                    Some(format!(
                        "`{}` resolves to `{}`, the lock says `{}`",
                        link.display(),
                        actual.display(),
                        expected.display()
                    )),
                ),
            }
        }
        Err(error) => (State::NotALink, Some(error.to_string())),
    }
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
    pub fn describe(&self, module: &ModuleName) -> String {
        match self {
            VendorState::Ok => "ok".into(),
            VendorState::Missing => format!("`{VENDOR_DIR}/{module}` does not exist"),
            VendorState::ListMismatch => format!(
                "`{VENDOR_DIR}/{module}.sha256sums` does not match the content hash in the lock"
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
pub fn vendor_state(
    infra: &Infra,
    module: &ModuleName,
    content_hash: &ContentHash,
) -> anyhow::Result<VendorState> {
    let dir = infra.vendor_dir(module);
    if entry_at(&dir)? != Entry::Dir {
        return Ok(VendorState::Missing);
    }
    let sums =
        match crate::fs::read_to_string(&infra.sums_path(module), crate::fs::FileKind::FileList) {
            Ok(sums) => sums,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(VendorState::ListMismatch);
            }
            Err(error) => {
                return Err(error).with_context(|| {
                    format!("failed to read `{}`", infra.sums_path(module).display())
                });
            }
        };
    if ContentHash::of_summary(&sums) != *content_hash {
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
    compare_files(infra, module, &listed)
}

/// How the files under `vendor/<module>` compare with `listed` (relative path → sha256):
/// [`VendorState::Ok`] or [`VendorState::Drifted`], naming each file edited, missing or extra.
/// A file the infra's [`StatIndex`] vouches for is not read.
pub fn compare_files(
    infra: &Infra,
    module: &ModuleName,
    listed: &BTreeMap<String, String>,
) -> anyhow::Result<VendorState> {
    let dir = infra.vendor_dir(module);
    let files = Files {
        index: &infra.stat_index,
        root: &dir,
        module: module.as_str(),
    };
    let mut on_disk = BTreeMap::new();
    files.collect(&dir, &mut on_disk)?;
    infra.stat_index.examined(module.as_str());
    let (mut edited, mut missing, mut extra) = (Vec::new(), Vec::new(), Vec::new());
    for (name, hash) in listed {
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

/// The files of one vendored module, hashed through the infra's stat index.
struct Files<'a> {
    index: &'a StatIndex,
    root: &'a Path,
    module: &'a str,
}

impl Files<'_> {
    /// Every file under `dir` (a symlink counts as a file: it should not be there), with its
    /// hash.
    fn collect(&self, dir: &Path, out: &mut BTreeMap<String, String>) -> anyhow::Result<()> {
        for entry in fs_err::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            let relative = path
                .strip_prefix(self.root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            let file_type = entry.file_type()?;
            if file_type.is_dir() {
                self.collect(&path, out)?;
            } else if file_type.is_symlink() {
                out.insert(relative, "symlink".into());
            } else {
                let key = format!("{}/{relative}", self.module);
                let metadata = fs_err::symlink_metadata(&path)?;
                let hash = self.index.sha256(&key, &path, &metadata)?;
                out.insert(relative, hash);
            }
        }
        Ok(())
    }
}
