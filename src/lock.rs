//! Serialises commands that change one directory: an infra, or the local registry. A command
//! takes an exclusive advisory lock on `<dir>/.provisioning.lock` (std's `File::lock`, `flock`
//! on Unix) before it reads the files it will rewrite, and holds it until it is done, so two
//! installs into one infra, or two packs into one registry, at the same moment both land. The
//! lock file is left in place; it holds nothing.
//!
//! A command that only reads a registry but must not see it change under it (an install that
//! pins a version while `pack clean` could delete it) holds a shared lock: many readers at
//! once, none while a writer holds it. Locks are always taken registry first, then infra.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::printer::Printer;

pub const LOCK_FILE: &str = ".provisioning.lock";

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
        let path = dir.join(LOCK_FILE);
        // The lock file is created empty and never written: the one opening outside `fs`.
        #[allow(clippy::disallowed_methods)]
        let file = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?
            .into_parts()
            .0;
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
        Ok(Self { _file: file, path })
    }
}
