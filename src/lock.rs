//! Serialises commands that change one directory: an infra, or the local registry. A command
//! takes an exclusive advisory lock on `<dir>/.provisioning.lock` (std's `File::lock`, `flock`
//! on Unix) before it reads the files it will rewrite, and holds it until it is done, so two
//! installs into one infra, or two packs into one registry, at the same moment both land. The
//! lock file is left in place; it holds nothing.

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
    /// Blocks until `dir` is ours, saying so when another command holds it.
    pub fn acquire(dir: &Path, printer: &Printer) -> std::io::Result<Self> {
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
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                printer.status(
                    "Blocking",
                    format!("waiting for the lock on `{}`", path.display()),
                );
                file.lock()?;
            }
            Err(std::fs::TryLockError::Error(error)) => return Err(error),
        }
        Ok(Self { _file: file, path })
    }
}
