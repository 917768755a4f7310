//! [`Transaction`]: changes that land together or not at all.
#![allow(clippy::disallowed_methods)]

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use super::{
    DEBRIS_PREFIX, Entry, atomic_write, entry_at, parent_dir, remove_dir_all_if_exists,
    replace_symlink, with_path,
};

/// A group of changes that land together or not at all. Each change records how to undo
/// itself; dropping the transaction without [`Transaction::commit`] undoes them in reverse, and
/// so does a panic ([`undo_unfinished`], from the panic hook: the release build aborts on a
/// panic, which runs no `Drop`).
#[derive(Debug, Default)]
pub struct Transaction {
    undo: Journal,
    /// Directories set aside by [`Transaction::remove_dir`], deleted on commit.
    trash: Vec<PathBuf>,
    committed: bool,
}

/// A point in a transaction to undo back to ([`Transaction::savepoint`]).
#[derive(Debug, Clone, Copy)]
pub struct Savepoint {
    undo: usize,
    trash: usize,
}

/// The undo records of one transaction, shared with [`LIVE`] so that the panic hook can reach
/// them.
#[derive(Debug, Default)]
struct Journal {
    records: Arc<Mutex<Vec<Undo>>>,
    registered: bool,
}

/// The journals of the transactions not yet committed or dropped, for [`undo_unfinished`].
static LIVE: Mutex<Vec<Weak<Mutex<Vec<Undo>>>>> = Mutex::new(Vec::new());

impl Journal {
    fn records(&self) -> std::sync::MutexGuard<'_, Vec<Undo>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `undo`; the first record makes the journal reachable from the panic hook.
    fn push(&mut self, undo: Undo) {
        self.extend(std::iter::once(undo));
    }

    fn extend(&mut self, undo: impl IntoIterator<Item = Undo>) {
        self.records().extend(undo);
        if !self.registered {
            self.registered = true;
            let mut live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
            live.retain(|journal| journal.strong_count() > 0);
            live.push(Arc::downgrade(&self.records));
        }
    }

    fn len(&self) -> usize {
        self.records().len()
    }

    fn drain_from(&mut self, start: usize) -> Vec<Undo> {
        let mut records = self.records();
        let start = start.min(records.len());
        records.drain(start..).collect()
    }
}

/// Undoes the changes of every transaction not yet committed, in every thread: what unwinding
/// would have done with `Drop`. Called by the panic hook before the process ends (the release
/// build aborts on a panic); the dropped transactions then find nothing left to undo. Returns
/// how many changes it undid.
pub fn undo_unfinished() -> usize {
    // `try_lock`: the panicking thread may be the one holding it.
    let journals: Vec<_> = match LIVE.try_lock() {
        Ok(mut live) => std::mem::take(&mut *live),
        Err(std::sync::TryLockError::Poisoned(poisoned)) => {
            std::mem::take(&mut *poisoned.into_inner())
        }
        Err(std::sync::TryLockError::WouldBlock) => return 0,
    }
    .iter()
    .filter_map(Weak::upgrade)
    .collect();
    let mut undone = 0;
    for journal in journals {
        // A journal locked by a thread stopped in the middle of a change is left alone.
        let records = match journal.try_lock() {
            Ok(mut records) => std::mem::take(&mut *records),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => {
                std::mem::take(&mut *poisoned.into_inner())
            }
            Err(std::sync::TryLockError::WouldBlock) => continue,
        };
        undone += records.len();
        undo_all(records);
    }
    undone
}

#[derive(Debug)]
enum Undo {
    RestoreFile {
        path: PathBuf,
        previous: Option<Vec<u8>>,
    },
    RestoreLink {
        path: PathBuf,
        previous: Option<PathBuf>,
    },
    RemoveDir {
        path: PathBuf,
    },
    RemoveTree {
        path: PathBuf,
    },
    Rename {
        from: PathBuf,
        to: PathBuf,
    },
}

impl Transaction {
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `contents` to `path` unless it already holds exactly them.
    pub fn write(&mut self, path: &Path, contents: &[u8]) -> io::Result<bool> {
        let previous = match super::read(path, super::FileKind::Replaced) {
            Ok(bytes) => Some(bytes),
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => return Err(error),
        };
        if previous.as_deref() == Some(contents) {
            return Ok(false);
        }
        atomic_write(path, contents)?;
        self.undo.push(Undo::RestoreFile {
            path: path.to_owned(),
            previous,
        });
        Ok(true)
    }

    /// Puts `staged` in place of its file, its contents synced first unless
    /// [`super::sync_staged`] did it: [`Transaction::write`] for contents written earlier.
    pub fn put(&mut self, mut staged: super::StagedWrite) -> io::Result<()> {
        let path = staged.path.clone();
        let previous = match super::read(&path, super::FileKind::Replaced) {
            Ok(bytes) => Some(bytes),
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => return Err(error),
        };
        staged.sync()?;
        staged
            .temp
            .persist(&path)
            .map_err(|error| with_path(error.error, &path))?;
        self.undo.push(Undo::RestoreFile { path, previous });
        Ok(())
    }

    /// Removes the file at `path`, if any.
    pub fn remove_file(&mut self, path: &Path) -> io::Result<bool> {
        let previous = match super::read(path, super::FileKind::Replaced) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(error) => return Err(error),
        };
        fs_err::remove_file(path)?;
        self.undo.push(Undo::RestoreFile {
            path: path.to_owned(),
            previous: Some(previous),
        });
        Ok(true)
    }

    /// Creates `dir` (and its parents) when missing.
    pub fn create_dir_all(&mut self, dir: &Path) -> io::Result<()> {
        let mut missing = Vec::new();
        for ancestor in dir.ancestors() {
            if ancestor.as_os_str().is_empty() || ancestor.exists() {
                break;
            }
            missing.push(ancestor.to_owned());
        }
        fs_err::create_dir_all(dir)?;
        self.undo.extend(
            missing
                .into_iter()
                .rev()
                .map(|path| Undo::RemoveDir { path }),
        );
        Ok(())
    }

    /// Points the symlink `link` at `target` unless it already does.
    pub fn symlink(&mut self, target: &Path, link: &Path) -> io::Result<bool> {
        let previous = match entry_at(link)? {
            Entry::Symlink(current) if current == target => return Ok(false),
            Entry::Symlink(current) => Some(current),
            _ => None,
        };
        replace_symlink(target, link)?;
        self.undo.push(Undo::RestoreLink {
            path: link.to_owned(),
            previous,
        });
        Ok(true)
    }

    /// Removes the symlink `link` (never what it points to).
    pub fn remove_symlink(&mut self, link: &Path) -> io::Result<bool> {
        let Entry::Symlink(previous) = entry_at(link)? else {
            return Ok(false);
        };
        fs_err::remove_file(link)?;
        self.undo.push(Undo::RestoreLink {
            path: link.to_owned(),
            previous: Some(previous),
        });
        Ok(true)
    }

    /// Removes the directory or file at `path`: it is moved aside now (a rename, whatever its
    /// size) and deleted on commit, so an undo can put it back whole.
    pub fn remove_dir(&mut self, path: &Path) -> io::Result<()> {
        // Set aside inside a fresh directory of a random name, beside it (same filesystem).
        let holder = tempfile::Builder::new()
            .prefix(DEBRIS_PREFIX)
            .suffix(".removed")
            .tempdir_in(parent_dir(path))
            .map_err(|error| with_path(error, path))?
            .keep();
        let aside = holder.join("entry");
        if let Err(error) = fs_err::rename(path, &aside) {
            let _ = std::fs::remove_dir(&holder);
            return Err(error);
        }
        // Undone in reverse: the entry goes back, then the holder, empty again, goes.
        self.undo.push(Undo::RemoveDir {
            path: holder.clone(),
        });
        self.undo.push(Undo::Rename {
            from: aside,
            to: path.to_owned(),
        });
        self.trash.push(holder);
        Ok(())
    }

    /// Moves the directory `from`, which this command just filled, to `to` (which must not
    /// exist); an undo deletes it.
    pub fn move_new_dir_into_place(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        fs_err::rename(from, to)?;
        self.undo.push(Undo::RemoveTree {
            path: to.to_owned(),
        });
        Ok(())
    }

    /// Marks the changes made so far: [`Transaction::roll_back_to`] undoes the later ones
    /// alone (one module of a change that goes on without it).
    pub fn savepoint(&self) -> Savepoint {
        Savepoint {
            undo: self.undo.len(),
            trash: self.trash.len(),
        }
    }

    /// Undoes every change made since `savepoint`, in reverse; the earlier ones stay, to be
    /// committed or undone with the rest.
    pub fn roll_back_to(&mut self, savepoint: Savepoint) {
        let later = self.undo.drain_from(savepoint.undo);
        undo_all(later);
        self.trash.truncate(savepoint.trash);
    }

    /// Keeps every change, and deletes what was set aside. The changes stand whatever
    /// happens; a deletion that fails is returned, to be reported (the next command under the
    /// same lock removes the debris, with [`super::remove_debris`]).
    #[must_use = "a failed deletion must be reported"]
    pub fn commit(mut self) -> Vec<String> {
        panic_before_commit_in_tests();
        self.committed = true;
        self.undo.records().clear();
        std::mem::take(&mut self.trash)
            .into_iter()
            .filter_map(|path| {
                remove_dir_all_if_exists(&path).err().map(|error| {
                    format!(
                        "`{}` was set aside to be deleted but could not be: {error}\nhint: the next command on this directory removes it",
                        path.display()
                    )
                })
            })
            .collect()
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        undo_all(self.undo.drain_from(0));
    }
}

/// The tests' way to make a bug happen at the worst moment: every change made, none committed
/// (`PROVISIONING_TEST_PANIC_BEFORE_COMMIT=1`, debug builds only; tests/it/panics.rs).
fn panic_before_commit_in_tests() {
    #[cfg(debug_assertions)]
    if std::env::var_os("PROVISIONING_TEST_PANIC_BEFORE_COMMIT").is_some() {
        panic!("PROVISIONING_TEST_PANIC_BEFORE_COMMIT is set");
    }
}

/// Undoes `changes` in reverse. Best effort: the command is failing already, and its error is
/// what the user needs.
fn undo_all(changes: Vec<Undo>) {
    for undo in changes.into_iter().rev() {
        let _ = match undo {
            Undo::RestoreFile {
                path,
                previous: Some(bytes),
            } => atomic_write(&path, &bytes),
            Undo::RestoreFile {
                path,
                previous: None,
            } => std::fs::remove_file(path),
            Undo::RestoreLink {
                path,
                previous: Some(target),
            } => replace_symlink(&target, &path),
            Undo::RestoreLink {
                path,
                previous: None,
            } => std::fs::remove_file(path),
            Undo::RemoveDir { path } => std::fs::remove_dir(path),
            Undo::RemoveTree { path } => std::fs::remove_dir_all(path),
            Undo::Rename { from, to } => std::fs::rename(from, to),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the panic hook does: every unfinished transaction is undone, a committed one is
    /// not, and the transactions dropped afterwards find nothing left to undo.
    #[test]
    fn undo_unfinished_undoes_the_live_transactions_and_leaves_the_committed_ones() {
        let dir = tempfile::tempdir().expect("temp dir");
        let kept = dir.path().join("kept");
        let begun = dir.path().join("begun");
        std::fs::write(&begun, "before").expect("write");

        let mut committed = Transaction::new();
        committed.write(&kept, b"kept").expect("write");
        assert!(committed.commit().is_empty());

        let mut unfinished = Transaction::new();
        unfinished.write(&begun, b"after").expect("write");
        unfinished
            .create_dir_all(&dir.path().join("a/b"))
            .expect("mkdir");
        assert_eq!(undo_unfinished(), 3);

        assert_eq!(std::fs::read_to_string(&begun).expect("read"), "before");
        assert!(!dir.path().join("a").exists());
        assert_eq!(std::fs::read_to_string(&kept).expect("read"), "kept");
        // Written again after the hook ran: dropping the transaction must not undo it.
        std::fs::write(&begun, "again").expect("write");
        drop(unfinished);
        assert_eq!(std::fs::read_to_string(&begun).expect("read"), "again");
        assert_eq!(undo_unfinished(), 0);
    }
}
