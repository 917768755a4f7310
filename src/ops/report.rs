//! What an operation did, as data: the command prints it. Nothing here writes or prints.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::DependencyChange;
use crate::infra::Change;
use crate::infra::lockfile::LockEntry;
use crate::names::ModuleName;

/// The outcome of one operation on an infra.
#[derive(Debug, Default)]
pub struct Report {
    /// The infra's name.
    pub infra: String,
    /// What changed (or was found unchanged), in the order it is worth saying.
    pub events: Vec<Event>,
    /// What to say although it worked.
    pub warnings: Vec<String>,
    /// Why each module named could not be changed. When there is any, the change was refused
    /// as a whole and nothing was written.
    pub failures: Vec<Failure>,
    /// How many modules the command named.
    pub named: usize,
}

impl Report {
    pub(super) fn refused(infra: &str, failures: Vec<Failure>, named: usize) -> Self {
        Self {
            infra: infra.to_owned(),
            failures,
            named,
            ..Self::default()
        }
    }
}

/// A module that could not be changed, and why.
#[derive(Debug)]
pub struct Failure {
    pub module: ModuleName,
    pub error: anyhow::Error,
}

/// One thing an operation did.
#[derive(Debug)]
pub enum Event {
    /// `init` made a new infra in this directory (as the user names it).
    Created { infra: String, dir: PathBuf },
    /// A module the command named is in the infra as `entry` (changed, or as it was).
    Placed { entry: LockEntry, change: Change },
    /// A module named in link mode is pinned as a pack: the pin stays. `switch` is the
    /// command that makes it a link.
    PinKept { entry: LockEntry, switch: String },
    /// A module other than those named was linked, vendored or dropped.
    Dependency(DependencyChange),
    /// A module named for removal stays: loaded modules require it.
    Kept {
        module: ModuleName,
        required_by: BTreeSet<ModuleName>,
    },
    /// A module named for removal went (`entry` is `None` when only leftovers of it were
    /// found, with `--force`).
    Removed {
        module: ModuleName,
        entry: Option<LockEntry>,
    },
    /// `--force` removal of a module that is not there at all.
    Absent { module: ModuleName },
}
