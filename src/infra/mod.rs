//! An infrastructure (`workspace/infra/<infra>/`) and what it has installed. Its modules form
//! a one-way graph (an arrow is "uses"; nothing lower calls back up):
//!
//! ```text
//! versions ──→ session ──────────────────────────────────┐
//! validate ──→ capabilities ──→ state ──→ closure ──→ lockfile, manifest (pure data)
//!    └──→ generated ──→ closure                            │
//! link, vendor (──→ state), pins ─────────────────────────┘
//! ```
//!
//! `crate::ops` (load, remove, init, sync, update) drives them: it opens a [`session`], plans
//! with [`closure`] and [`capabilities`], applies with [`link`] and [`vendor`] in one
//! transaction it opens and commits, then refreshes [`generated`]. Nothing here calls back into
//! `ops` or `commands`.
//!
//! - [`lockfile`] and [`manifest`]: the lock `providers.manifest.yaml` and `manifest.toml`, as
//!   data (read, edit, render); no disk writes.
//! - [`closure`]: what an install brings along, planned from the lock, the catalog or a
//!   registry's index through `crate::resolve`.
//! - [`state`]: reads what is on disk and compares it with the lock; it never writes.
//! - [`capabilities`]: the capability check of a loaded set, and of the set a change leaves.
//! - [`generated`]: the infra's `providers.ncl`, `taskservs.ncl` and `clusters.ncl`.
//! - [`link`] and [`vendor`]: the steps of link mode (a symlink) and pack mode (a verified pack
//!   unpacked into `vendor/`), each added to a transaction it is given.
//! - [`session`]: an infra opened for a change: its locks held (as a value), its lock file and
//!   manifest read once, registries and keys opened on first use.
//! - [`versions`]: `outdated`, and the plan of `update`, read from a session.
//! - [`pins`]: what every infra of the workspace pins, for retention.
//! - [`validate`]: the checks of `providers validate`, evaluation included.
//! - [`merge`]: three-way merges of the lock, the manifest and the generated files, for the
//!   merge driver `lock merge` (pure: text in, text out).
//!
//! This module owns the infra's files; it never writes to a module's source.

pub mod audit;
pub mod capabilities;
pub mod closure;
pub mod generated;
pub mod link;
pub mod lockfile;
pub mod manifest;
pub mod merge;
pub mod packages;
pub mod pins;
pub mod session;
pub mod state;
pub mod validate;
pub mod vendor;
pub mod versions;

use std::path::{Path, PathBuf};

use crate::config::absolutize;
use crate::context::Context;
use crate::module::Layout;
use crate::names::{self, ModuleName};

/// Where pinned packs are unpacked, inside the infra.
pub const VENDOR_DIR: &str = "vendor";
const SUMS_SUFFIX: &str = ".sha256sums";

/// What an install, removal or sync changed.
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

/// A resolved infrastructure directory.
#[derive(Debug, Clone)]
pub struct Infra {
    pub name: String,
    /// Absolute.
    pub dir: PathBuf,
    /// What `vendor/` held when last hashed ([`state::StatIndex`]), read on first use.
    pub stat_index: std::sync::Arc<state::StatIndex>,
}

#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    /// A usage error: the name cannot name an infra (exit code 2).
    #[error(
        "invalid infra name: {0}\nhint: a name under the workspace's `infra/`, or a path containing `/`"
    )]
    InvalidName(names::NameError),
    #[error(
        "unknown infra `{name}`\nhint: {}; to create it: `provisioning module-loader init {name}`",
        known_infras(known, root)
    )]
    Unknown {
        name: String,
        known: Vec<String>,
        root: PathBuf,
    },
    #[error(
        "`{}` is not an infra directory\nhint: {}",
        path.display(),
        known_infras(known, root)
    )]
    NotADirectory {
        path: PathBuf,
        known: Vec<String>,
        root: PathBuf,
    },
}

/// The names of the infra directories under `root`, sorted.
fn infra_names(root: &Path) -> Vec<String> {
    let mut known: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    known.sort();
    known
}

fn known_infras(known: &[String], root: &Path) -> String {
    if known.is_empty() {
        format!("no infras found in `{}`", root.display())
    } else {
        let names: Vec<String> = known.iter().map(|name| format!("`{name}`")).collect();
        format!("found infras: {}", names.join(", "))
    }
}

impl Infra {
    /// The infra `name` in `dir` (absolute). Its stat index is kept in the cache
    /// (`<cache_path>/stat-index/`), not in the infra: it is this machine's, never committed.
    pub fn new(context: &Context, name: String, dir: PathBuf) -> Self {
        let index = state::StatIndex::file_for(&context.config.distribution.cache_path, &dir);
        Self {
            name,
            dir,
            stat_index: std::sync::Arc::new(state::StatIndex::at(index)),
        }
    }

    /// Resolves the command line's `<infra>`: a name under the workspace's `infra/`, or a path
    /// when it contains a `/` or is `.`.
    pub fn resolve(context: &Context, argument: &str) -> Result<Self, InfraError> {
        if argument == "." || argument.contains('/') {
            let dir = absolutize(&context.cwd, Path::new(argument));
            if !dir.is_dir() {
                let root = context.infra_root();
                return Err(InfraError::NotADirectory {
                    path: dir,
                    known: infra_names(&root),
                    root,
                });
            }
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            return Ok(Self::new(context, name, dir));
        }
        names::validate(argument).map_err(InfraError::InvalidName)?;
        let root = context.infra_root();
        let dir = root.join(argument);
        if dir.is_dir() {
            return Ok(Self::new(context, argument.to_owned(), dir));
        }
        Err(InfraError::Unknown {
            name: argument.to_owned(),
            known: infra_names(&root),
            root,
        })
    }

    /// Every infra directory under the workspace, sorted by name.
    pub fn all(context: &Context) -> Vec<Self> {
        let mut infras: Vec<Self> = std::fs::read_dir(context.infra_root())
            .into_iter()
            .flatten()
            .flatten()
            .filter(|entry| entry.path().is_dir())
            .map(|entry| {
                Self::new(
                    context,
                    entry.file_name().to_string_lossy().into_owned(),
                    entry.path(),
                )
            })
            .filter(|infra| !infra.name.starts_with('.'))
            .collect();
        infras.sort_by(|a, b| a.name.cmp(&b.name));
        infras
    }

    /// The directory holding the links of one layout: `.nickel-modules` or `.kcl-modules`.
    pub fn modules_dir(&self, context: &Context, layout: Layout) -> PathBuf {
        self.dir.join(modules_dir_name(context, layout))
    }

    /// Where the infra's Nickel finds its modules by name, in order: the links, then the
    /// vendored packs (`nickel export -I .nickel-modules -I vendor`).
    pub fn import_paths(&self, context: &Context) -> Vec<PathBuf> {
        vec![
            self.modules_dir(context, Layout::Nickel),
            self.dir.join(VENDOR_DIR),
        ]
    }

    /// The infra's own manifest for a layout: `manifest.toml` or `kcl.mod`.
    pub fn manifest_path(&self, layout: Layout) -> PathBuf {
        self.dir.join(layout.manifest_file())
    }

    pub fn lock_path(&self) -> PathBuf {
        self.dir.join(lockfile::LOCK_FILE_NAME)
    }

    /// `vendor/<module>`, where a pinned pack is unpacked.
    pub fn vendor_dir(&self, module: &ModuleName) -> PathBuf {
        self.dir.join(VENDOR_DIR).join(module)
    }

    /// `vendor/<module>.sha256sums`, the file list of a vendored pack.
    pub fn sums_path(&self, module: &ModuleName) -> PathBuf {
        self.dir
            .join(VENDOR_DIR)
            .join(format!("{module}{SUMS_SUFFIX}"))
    }
}

/// The dependency path written for a pack: `./vendor/<module>`.
pub fn vendor_dependency_path(module: &ModuleName) -> String {
    format!("./{VENDOR_DIR}/{module}")
}

pub fn modules_dir_name(context: &Context, layout: Layout) -> &str {
    match layout {
        Layout::Nickel => &context.config.nickel.modules_dir,
        Layout::Kcl => &context.config.kcl.modules_dir,
    }
}

/// The path dependency written for a linked module: `./.nickel-modules/upcloud_prov`.
pub fn link_dependency_path(context: &Context, layout: Layout, module: &ModuleName) -> String {
    format!("./{}/{module}", modules_dir_name(context, layout))
}
