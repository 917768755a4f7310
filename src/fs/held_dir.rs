//! Private directories in the system's temporary directory (`$TMPDIR`) that a command uses while
//! it runs (packing's import directory) and that no lock of ours owns. A killed run cannot
//! remove its own, so each holds an exclusive lock on itself for its whole life, and the next
//! command that makes one of the same prefix removes those whose lock nobody holds: their
//! process is gone. A running command's directory is never touched, whoever runs it.

use std::fs::{File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

/// A directory `$TMPDIR/<prefix><random>`, locked while it lives, removed on drop.
#[derive(Debug)]
pub struct HeldTempDir {
    // Field order: the directory goes before the lock is released.
    dir: tempfile::TempDir,
    _lock: File,
}

/// How many times a directory removed between its creation and its lock is made again.
const ATTEMPTS: usize = 8;

impl HeldTempDir {
    /// Makes and locks a new directory, then removes the abandoned ones of the same prefix (what
    /// killed runs left). Returns it with the paths it removed.
    pub fn new(prefix: &str) -> io::Result<(Self, Vec<PathBuf>)> {
        let held = Self::make(prefix)?;
        let removed = remove_abandoned(prefix, &held);
        Ok((held, removed))
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn make(prefix: &str) -> io::Result<Self> {
        let temp_dir = std::env::temp_dir();
        for _ in 0..ATTEMPTS {
            if let Some(held) = Self::try_make(prefix, &temp_dir)? {
                return Ok(held);
            }
        }
        Err(super::with_path(
            io::Error::other(
                "each directory made was removed by another command before it was locked",
            ),
            &temp_dir,
        ))
    }

    /// A new locked directory, or `None` when another command's sweep removed it before it was
    /// locked (it holds no lock until then). Taking the lock blocks only while such a sweep
    /// holds it.
    fn try_make(prefix: &str, temp_dir: &Path) -> io::Result<Option<Self>> {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .map_err(|error| super::with_path(error, temp_dir))?;
        let lock = match super::read::open_nonblocking(dir.path()) {
            Ok(file) => file.into_parts().0,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                // Gone already: nothing for the drop to delete.
                let _ = dir.keep();
                return Ok(None);
            }
            Err(error) => return Err(error),
        };
        lock.lock()?;
        if same_file(dir.path(), &lock)? {
            return Ok(Some(Self { dir, _lock: lock }));
        }
        let _ = dir.keep();
        Ok(None)
    }
}

/// Whether `path` still names the directory `file` is open on.
fn same_file(path: &Path, file: &File) -> io::Result<bool> {
    let on_disk = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(super::with_path(error, path)),
    };
    let held = file.metadata()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        Ok(on_disk.dev() == held.dev() && on_disk.ino() == held.ino())
    }
    #[cfg(not(unix))]
    Ok(on_disk.is_dir() && held.is_dir())
}

/// Removes every directory `$TMPDIR/<prefix>*` that belongs to the same user as `own` and
/// whose lock nobody holds, holding its lock while it removes it. Best effort: one that cannot
/// be inspected or removed stays (it is in the temporary directory, and harms no command).
fn remove_abandoned(prefix: &str, own: &HeldTempDir) -> Vec<PathBuf> {
    let Some(parent) = own.path().parent() else {
        return Vec::new();
    };
    let Ok(own_metadata) = std::fs::symlink_metadata(own.path()) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if !entry.file_name().to_string_lossy().starts_with(prefix) || path == own.path() {
            continue;
        }
        // Held until the directory is gone: a command that made it a moment ago and locks it
        // next then finds it gone, and makes another ([`HeldTempDir::make`]).
        let Some(_lock) = abandoned(&path, &own_metadata) else {
            continue;
        };
        if super::remove_dir_all_if_exists(&path).is_ok() {
            removed.push(path);
        }
    }
    removed
}

/// The lock of `path` when it is a directory (not a link to one) of the same owner as `own`
/// that nobody holds.
fn abandoned(path: &Path, own: &std::fs::Metadata) -> Option<File> {
    let metadata = std::fs::symlink_metadata(path).ok()?;
    if !metadata.is_dir() || !same_owner(&metadata, own) {
        return None;
    }
    let file = super::read::open_nonblocking(path).ok()?.into_parts().0;
    match file.try_lock() {
        Ok(()) => Some(file),
        Err(TryLockError::WouldBlock | TryLockError::Error(_)) => None,
    }
}

#[cfg(unix)]
fn same_owner(metadata: &std::fs::Metadata, own: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    metadata.uid() == own.uid()
}

#[cfg(not(unix))]
fn same_owner(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_directory_is_kept_and_an_abandoned_one_removed() {
        let prefix = format!("provisioning-test-held-{}-", std::process::id());
        let (first, removed) = HeldTempDir::new(&prefix).expect("first");
        assert!(removed.is_empty());
        let abandoned = std::env::temp_dir().join(format!("{prefix}abandoned"));
        std::fs::create_dir(&abandoned).expect("mkdir");
        std::fs::write(abandoned.join("x"), "x").expect("write");
        let (second, removed) = HeldTempDir::new(&prefix).expect("second");
        assert_eq!(removed, std::slice::from_ref(&abandoned));
        assert!(!abandoned.exists());
        assert!(first.path().is_dir(), "a held directory stays");
        let (first_path, second_path) = (first.path().to_owned(), second.path().to_owned());
        drop((first, second));
        assert!(!first_path.exists() && !second_path.exists());
    }
}
