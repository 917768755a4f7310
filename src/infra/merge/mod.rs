//! Three-way merges of the files the tool writes into an infra, for `lock merge`, the merge
//! driver `git setup` registers with git:
//!
//! - the lock, `providers.manifest.yaml` ([`lock`]): its entries are a set keyed by name; what
//!   each side added or removed relative to the common ancestor combines, and a module the two
//!   sides changed differently (another version, mode or source) is a conflict;
//! - the infra's `manifest.toml` ([`manifest`]): its `[dependencies]` merged the same way, key
//!   by key, and everything else by git's own text merge (`git merge-file`), comments kept;
//! - the generated `providers.ncl`, `taskservs.ncl` and `clusters.ncl` ([`generated`]): their
//!   record fields merged as a set, and the hash header written again. git merges the files of
//!   a commit one by one and writes none before the last, so the driver of a generated file
//!   cannot read the merged lock; but a generated file is one field per lock entry of its kind,
//!   so merging its fields as the lock's entries are merged gives the file the merged lock
//!   renders. `validate` checks that, and `providers sync` rewrites it if not.
//!
//! A conflict is written with the markers git users know (`<<<<<<<`, `=======`, `>>>>>>>`)
//! around the two sides' versions of the entry, after a comment naming both and the command
//! that finishes the merge. Nothing here writes to disk.

pub mod generated;
pub mod lock;
pub mod manifest;
mod text;

use std::collections::BTreeSet;
use std::path::Path;

use crate::infra::lockfile::LOCK_FILE_NAME;

/// The labels of the conflict markers, as git writes its own.
pub const OURS: &str = "ours";
pub const THEIRS: &str = "theirs";
pub const ANCESTOR: &str = "base";

/// The files `lock merge` merges, known by their name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergedFile {
    Lock,
    Manifest,
    Generated,
}

/// The names of the files [`MergedFile`] knows, for `.gitattributes`.
pub const FILE_NAMES: [&str; 5] = [
    LOCK_FILE_NAME,
    "manifest.toml",
    "providers.ncl",
    "taskservs.ncl",
    "clusters.ncl",
];

impl MergedFile {
    /// The kind of file at `path` (a path in the repository, `workspace/infra/wuji/manifest.toml`).
    pub fn of(path: &Path) -> Option<Self> {
        let name = path.file_name()?.to_str()?;
        if name == LOCK_FILE_NAME {
            Some(Self::Lock)
        } else if name == "manifest.toml" {
            Some(Self::Manifest)
        } else if crate::infra::generated::FILES
            .iter()
            .any(|(_, file)| *file == name)
        {
            Some(Self::Generated)
        } else {
            None
        }
    }
}

/// The three versions of a file: the common ancestor's, ours (the branch merged into) and
/// theirs.
#[derive(Debug, Clone, Copy)]
pub struct Sides<'a> {
    pub ancestor: &'a str,
    pub ours: &'a str,
    pub theirs: &'a str,
}

/// One entry the two sides changed, each its own way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// What the entry is about: a module.
    pub key: String,
    /// What each side made of it, in words (`1.0.1 (pack)`, `removed`).
    pub ours: String,
    pub theirs: String,
}

/// The merged text, with conflict markers where [`Merged::conflicts`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub text: String,
    pub conflicts: Vec<Conflict>,
    /// Set when git's text merge (not the entries) left conflicts: it names none.
    pub text_conflicts: usize,
}

/// What the infra at `path` (the merged file's path in the repository) is called in the hint:
/// its directory's name.
pub fn infra_name(path: &Path) -> String {
    path.parent().and_then(Path::file_name).map_or_else(
        || "<infra>".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    )
}

/// Merges the three versions of the file at `path` (named in errors and hints).
pub fn merge(file: MergedFile, sides: Sides<'_>, path: &Path) -> anyhow::Result<Merged> {
    match file {
        MergedFile::Lock => lock::merge(sides, path),
        MergedFile::Manifest => manifest::merge(sides, path),
        MergedFile::Generated => generated::merge(sides),
    }
}

/// The three-way choice for one value: the side that changed it, the value both agree on, or
/// `None` when the two changed it differently. An absent value (`None` inside) is a removal.
fn pick<'a, T: PartialEq>(
    ancestor: Option<&'a T>,
    ours: Option<&'a T>,
    theirs: Option<&'a T>,
) -> Option<Option<&'a T>> {
    if ours == theirs || theirs == ancestor {
        Some(ours)
    } else if ours == ancestor {
        Some(theirs)
    } else {
        None
    }
}

/// The three-way merge of a set: what both keep, and what either side added.
fn merge_sets<T: Ord + Clone>(
    ancestor: &BTreeSet<T>,
    ours: &BTreeSet<T>,
    theirs: &BTreeSet<T>,
) -> BTreeSet<T> {
    let both = ours.intersection(theirs);
    let added_by_ours = ours.difference(ancestor);
    let added_by_theirs = theirs.difference(ancestor);
    both.chain(added_by_ours)
        .chain(added_by_theirs)
        .cloned()
        .collect()
}

/// A conflict as a person resolves it: a comment naming both sides and what finishes the merge,
/// then each side's text between git's markers (`comment` is written as `# ` lines).
fn conflict_block(comment: &str, ours: &str, theirs: &str) -> String {
    let mut block = String::new();
    for line in comment.lines() {
        block.push_str("# ");
        block.push_str(line);
        block.push('\n');
    }
    block.push_str(&format!(
        "<<<<<<< {OURS}\n{ours}=======\n{theirs}>>>>>>> {THEIRS}\n"
    ));
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_changed_by_one_side_takes_that_change() {
        // (ancestor, ours, theirs, merged: `None` for a conflict)
        type Case = (Option<u8>, Option<u8>, Option<u8>, Option<Option<u8>>);
        let cases: &[Case] = &[
            (Some(1), Some(1), Some(2), Some(Some(2))),
            (Some(1), Some(2), Some(1), Some(Some(2))),
            (Some(1), Some(2), Some(2), Some(Some(2))),
            (None, Some(1), None, Some(Some(1))),
            (Some(1), None, Some(1), Some(None)),
            (Some(1), None, None, Some(None)),
            (Some(1), Some(2), Some(3), None),
            (None, Some(1), Some(2), None),
            (Some(1), None, Some(2), None),
        ];
        for (ancestor, ours, theirs, expected) in cases {
            let picked = pick(ancestor.as_ref(), ours.as_ref(), theirs.as_ref());
            assert_eq!(
                picked.map(|value| value.copied()),
                *expected,
                "{ancestor:?} {ours:?} {theirs:?}"
            );
        }
    }

    #[test]
    fn sets_combine_what_each_side_added_and_removed() {
        let set = |items: &[u8]| items.iter().copied().collect::<BTreeSet<u8>>();
        assert_eq!(
            merge_sets(&set(&[1, 2, 3]), &set(&[1, 2, 4]), &set(&[2, 3, 5])),
            set(&[2, 4, 5])
        );
    }

    #[test]
    fn files_are_known_by_name() {
        for (path, expected) in [
            (
                "workspace/infra/wuji/providers.manifest.yaml",
                Some(MergedFile::Lock),
            ),
            (
                "workspace/infra/wuji/manifest.toml",
                Some(MergedFile::Manifest),
            ),
            (
                "workspace/infra/wuji/clusters.ncl",
                Some(MergedFile::Generated),
            ),
            ("workspace/infra/wuji/main.ncl", None),
        ] {
            assert_eq!(MergedFile::of(Path::new(path)), expected, "{path}");
        }
    }
}
