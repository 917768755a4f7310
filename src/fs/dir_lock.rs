//! Serialises commands that change one directory: an infra, or the local registry. A command
//! takes an exclusive advisory lock on the directory itself (std's `File::lock` on the
//! directory opened read-only: `flock` on Unix) before it reads the files it will rewrite, and
//! holds it until it is done, so two installs into one infra, or two packs into one registry, at
//! the same moment both land. Locking the directory leaves nothing behind for `git add -A` to
//! pick up (an earlier version locked a `.provisioning.lock` file in it; such a file is now
//! debris, removed by the next command that changes the directory).
//!
//! A command that only reads a registry but must not see it change under it (an install that
//! pins a version while `pack clean` could delete it) holds a shared lock: many readers at
//! once, none while a writer holds it. Locks are always taken registry first, then infra.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::printer::Printer;

/// The lock file earlier versions left in each directory they locked.
pub const OLD_LOCK_FILE: &str = ".provisioning.lock";

/// Held while a command changes a directory; released on drop.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    pub path: PathBuf,
}

impl DirLock {
    /// Blocks until `dir` is ours alone, saying so when another command holds it.
    pub fn acquire(dir: &Path, printer: &Printer) -> std::io::Result<Self> {
        Self::take(dir, printer, false)
    }

    /// Blocks until no command changes `dir`; others may read it at the same time.
    pub fn acquire_shared(dir: &Path, printer: &Printer) -> std::io::Result<Self> {
        Self::take(dir, printer, true)
    }

    fn take(dir: &Path, printer: &Printer, shared: bool) -> std::io::Result<Self> {
        let path = dir.to_owned();
        // Opened read-only, to hold the lock: nothing is written through it. Not blocking: a
        // FIFO where the directory should be is not waited on.
        let file = super::read::open_nonblocking(&path)?.into_parts().0;
        let attempt = if shared {
            file.try_lock_shared()
        } else {
            file.try_lock()
        };
        match attempt {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                printer.status(
                    "Blocking",
                    format!("waiting for the lock on `{}`", path.display()),
                );
                if shared {
                    file.lock_shared()?;
                } else {
                    file.lock()?;
                }
            }
            Err(std::fs::TryLockError::Error(error)) => return Err(error),
        }
        // What an earlier version left is not needed by anyone now that this lock is held
        // (a command of that version would hold the file's lock, not the directory's).
        if !shared {
            let _ = crate::fs::remove_file_if_exists(&dir.join(OLD_LOCK_FILE));
        }
        Ok(Self { _file: file, path })
    }
}
