//! Everything that changes the disk. Files are written to a temporary file in the same
//! directory, synced and renamed over the target; symlinks are created beside their final name
//! and renamed into place. A [`Transaction`] groups several such changes and puts every one back
//! when the command fails before committing, so a failed command leaves the disk as it found it.
//! Errors always name the path (through `fs-err`).
//!
//! It is the only module that writes: `clippy.toml` disallows the writing functions of `std::fs`,
//! `fs_err` and `tempfile` everywhere else.
#![allow(clippy::disallowed_methods)]

use std::io::{self, Write as _};
use std::path::{Component, Path, PathBuf};

pub mod dir_lock;
mod held_dir;
mod read;
mod transaction;

pub use held_dir::HeldTempDir;
pub use read::{FileKind, read, read_to_string};
pub use transaction::{Savepoint, Transaction, undo_unfinished};

/// Writes `contents` to `path` atomically: readers see the old file or the new one, never a
/// part. The file keeps the mode it had, or gets 0644 on Unix when new.
pub fn atomic_write(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_atomically(path, contents, false, true)
}

/// [`atomic_write`] without waiting for the disk, for files derived from others that the next
/// run writes again (the registry's web pages): readers still see the old file or the new one,
/// but after a power loss the file may be empty until it is written again.
pub fn atomic_write_unsynced(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_atomically(path, contents, false, false)
}

/// [`atomic_write`] for a secret: mode 0600 from the start, never readable by others, even for a
/// moment (the temporary file is created 0600).
pub fn atomic_write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_atomically(path, contents, true, true)
}

/// Writes a new file of an unpacked tree, mode 0755 when `executable`, else 0644, creating its
/// parent directories. The tree is a fresh staging directory, renamed into place whole.
pub fn write_new_file(path: &Path, contents: &[u8], executable: bool) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        fs_err::create_dir_all(parent)?;
    }
    fs_err::write(path, contents)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = if executable { 0o755 } else { 0o644 };
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = executable;
    Ok(())
}

/// Writes the files of an unpacked tree into `dir`, a fresh staging directory that is renamed
/// into place whole: each `(path relative to dir, contents, executable)` created new, mode 0755
/// when executable, else 0644, its parent directories made once each (not once a file).
/// Returns what `stat` says of each file as written, in order: a stat index records it, so the
/// tree is never read back to be hashed. Not synced: a vendored tree is checked against its
/// file list, and restored by the next `sync` if a crash cut it short.
pub fn write_new_tree<'a>(
    dir: &Path,
    files: impl IntoIterator<Item = (&'a str, &'a [u8], bool)>,
) -> io::Result<Vec<std::fs::Metadata>> {
    let mut made = std::collections::BTreeSet::new();
    let mut written = Vec::new();
    for (relative, contents, executable) in files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent()
            && parent != dir
            && !made.contains(parent)
        {
            fs_err::create_dir_all(parent)?;
            made.insert(parent.to_owned());
        }
        let mode = if executable { 0o755 } else { 0o644 };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(mode);
        }
        let mut file = options
            .open(&path)
            .map_err(|error| with_path(error, &path))?;
        file.write_all(contents)
            .map_err(|error| with_path(error, &path))?;
        let mut metadata = file.metadata().map_err(|error| with_path(error, &path))?;
        // The umask may have taken bits away: the mode is set exactly (and the file's `stat`
        // taken again, since that changes its change time).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            if metadata.permissions().mode() & 0o7777 != mode {
                file.set_permissions(std::fs::Permissions::from_mode(mode))
                    .map_err(|error| with_path(error, &path))?;
                metadata = file.metadata().map_err(|error| with_path(error, &path))?;
            }
        }
        #[cfg(not(unix))]
        let _ = mode;
        written.push(metadata);
    }
    Ok(written)
}

fn write_atomically(path: &Path, contents: &[u8], private: bool, sync: bool) -> io::Result<()> {
    let temp = write_temp(path, parent_dir(path), contents, private)?;
    // fdatasync: the contents and the size reach the disk before the rename makes them visible,
    // which is what a reader after a crash needs; timestamps need not.
    if sync {
        temp.as_file()
            .sync_data()
            .map_err(|error| with_path(error, path))?;
    }
    temp.persist(path)
        .map_err(|error| with_path(error.error, path))?;
    Ok(())
}

/// The new contents of `path` in a temporary file in `dir` (on `path`'s file system), with the
/// mode `path` has (0644 when new; 0600 when `private`), not synced.
fn write_temp(
    path: &Path,
    dir: &Path,
    contents: &[u8],
    private: bool,
) -> io::Result<tempfile::NamedTempFile> {
    let mut temp = tempfile::Builder::new()
        .prefix(DEBRIS_PREFIX)
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|error| with_path(without_temp_path(error), dir))?;
    // Errors name the file being written, not the temporary file it goes through.
    temp.write_all(contents)
        .map_err(|error| with_path(error, path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if !private {
            let mode = fs_err::metadata(path).map_or(0o644, |m| m.permissions().mode() & 0o7777);
            temp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
    }
    #[cfg(not(unix))]
    let _ = private;
    Ok(temp)
}

/// A file's new contents, written under a temporary name in a directory on its file system
/// and put in place later by [`Transaction::put`]: what writes many files at once makes, so
/// that they reach the disk together ([`sync_staged`]) instead of one `fdatasync` each after
/// the other.
#[derive(Debug)]
pub struct StagedWrite {
    temp: tempfile::NamedTempFile,
    path: PathBuf,
    synced: bool,
}

impl StagedWrite {
    /// `contents` for `path`, in a temporary file in `dir` (named [`DEBRIS_PREFIX`]`...`, so
    /// that what a killed run left is removed by the next command), with the mode
    /// [`atomic_write`] would give it. Deleted if dropped before it is put in place.
    pub fn new(path: &Path, dir: &Path, contents: &[u8]) -> io::Result<Self> {
        Ok(Self {
            temp: write_temp(path, dir, contents, false)?,
            path: path.to_owned(),
            synced: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its contents on the disk, unless [`sync_staged`] did it already.
    fn sync(&mut self) -> io::Result<()> {
        if !self.synced {
            self.temp
                .as_file()
                .sync_data()
                .map_err(|error| with_path(error, &self.path))?;
            self.synced = true;
        }
        Ok(())
    }
}

/// Puts the contents of every staged file on the disk, their `fdatasync`s issued together from
/// a few threads: the file system then commits them together, where one after the other each
/// waits for a commit of its own. A file that fails to sync is left as it was, unsynced:
/// [`Transaction::put`] syncs it again, and reports the error for that file.
pub fn sync_staged(mut staged: Vec<&mut StagedWrite>) {
    const THREADS: usize = 16;
    if staged.is_empty() {
        return;
    }
    let per_thread = staged.len().div_ceil(THREADS);
    std::thread::scope(|scope| {
        for chunk in staged.chunks_mut(per_thread) {
            let spawned = std::thread::Builder::new().spawn_scoped(scope, move || {
                for file in chunk {
                    let _ = file.sync();
                }
            });
            // No thread to be had: `Transaction::put` syncs what is left.
            if spawned.is_err() {
                break;
            }
        }
    });
}

/// A file written piece by piece (a download), under a temporary name beside its final path,
/// and put in place by [`StreamedFile::persist`] only once whole and checked: readers never see
/// a part of it. Dropped without `persist` (an error, a deadline), it is deleted.
#[derive(Debug)]
pub struct StreamedFile {
    temp: tempfile::NamedTempFile,
    path: PathBuf,
}

impl StreamedFile {
    /// Starts the file that becomes `path`, creating its directory.
    pub fn create(path: &Path) -> io::Result<Self> {
        let dir = parent_dir(path);
        fs_err::create_dir_all(dir)?;
        let temp = tempfile::Builder::new()
            .prefix(DEBRIS_PREFIX)
            .suffix(".part")
            .tempfile_in(dir)
            .map_err(|error| with_path(without_temp_path(error), dir))?;
        Ok(Self {
            temp,
            path: path.to_owned(),
        })
    }

    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.temp
            .write_all(bytes)
            .map_err(|error| with_path(error, &self.path))
    }

    /// Syncs the contents and renames the file to its path, mode 0644 on Unix.
    pub fn persist(self) -> io::Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            self.temp
                .as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
                .map_err(|error| with_path(error, &self.path))?;
        }
        self.temp
            .as_file()
            .sync_data()
            .map_err(|error| with_path(error, &self.path))?;
        self.temp
            .persist(&self.path)
            .map_err(|error| with_path(error.error, &self.path))?;
        Ok(())
    }
}

/// How every temporary name this tool makes begins (`.provisioning.lock` is not one): what a
/// killed run leaves behind is recognised by it and removed by [`remove_debris`].
pub const DEBRIS_PREFIX: &str = ".provisioning-";

/// Removes what killed runs left in `dir` (temporary files, links, staging and set-aside
/// directories, all named [`DEBRIS_PREFIX`]`...`). Only call it holding the lock that every
/// writer of `dir` takes: then nothing named so is in use. Returns what it removed.
pub fn remove_debris(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(with_path(error, dir)),
    };
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| with_path(error, dir))?;
        if !entry
            .file_name()
            .to_string_lossy()
            .starts_with(DEBRIS_PREFIX)
        {
            continue;
        }
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            fs_err::remove_dir_all(&path)?;
        } else {
            fs_err::remove_file(&path)?;
        }
        removed.push(path);
    }
    Ok(removed)
}

/// Creates `dir` and its missing parents.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    fs_err::create_dir_all(dir)
}

/// Removes the file at `path`; says whether there was one.
pub fn remove_file_if_exists(path: &Path) -> io::Result<bool> {
    match fs_err::remove_file(path) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

/// Removes the directory tree at `path`, if any; says whether there was one.
/// Removes `path` if it is an empty directory; says whether it did.
pub fn remove_dir_if_empty(path: &Path) -> io::Result<bool> {
    match fs_err::remove_dir(path) {
        Ok(()) => Ok(true),
        Err(error)
            if matches!(
                error.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::DirectoryNotEmpty
            ) =>
        {
            Ok(false)
        }
        Err(error) => Err(error),
    }
}

pub fn remove_dir_all_if_exists(path: &Path) -> io::Result<bool> {
    match fs_err::remove_dir_all(path) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

/// A new, empty directory inside `dir` for a tree to be built in and then renamed into place
/// (so it is on the same filesystem). The caller removes it, or moves it.
pub fn new_staging_dir(dir: &Path) -> io::Result<PathBuf> {
    Ok(tempfile::Builder::new()
        .prefix(DEBRIS_PREFIX)
        .suffix(".unpack")
        .tempdir_in(dir)
        .map_err(|error| with_path(without_temp_path(error), dir))?
        .keep())
}

/// [`new_staging_dir`] that others may read once it is in place (`0755`, not the `0700` a
/// temporary directory is made with): for what a web server serves.
pub fn new_public_staging_dir(dir: &Path) -> io::Result<PathBuf> {
    let path = new_staging_dir(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(path)
}

/// Points the symlink `link` at `target`, replacing an existing symlink atomically. It refuses
/// (with `AlreadyExists`) to replace anything that is not a symlink.
pub fn replace_symlink(target: &Path, link: &Path) -> io::Result<()> {
    let dir = parent_dir(link);
    // A fresh random name (PIDs repeat, in containers above all), with the debris prefix.
    let temp = tempfile::Builder::new()
        .prefix(DEBRIS_PREFIX)
        .suffix(".link")
        .make_in(dir, |path| symlink(target, path))
        .map_err(|error| with_path(without_temp_path(error), dir))?
        .into_temp_path()
        .keep()
        .map_err(|error| with_path(error.error, dir))?;
    if let Ok(metadata) = std::fs::symlink_metadata(link)
        && !metadata.file_type().is_symlink()
    {
        let _ = std::fs::remove_file(&temp);
        return Err(with_path(
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                "not a symlink, refusing to replace it",
            ),
            link,
        ));
    }
    fs_err::rename(&temp, link).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(windows)]
fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::windows::fs::symlink_dir(target, link)
}

/// The relative path that leads from the directory `from` to `to`. Both must be absolute and
/// free of symlinks (canonical) for the result to resolve on disk.
pub fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<Component<'_>> = from.components().collect();
    let to: Vec<Component<'_>> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut relative = PathBuf::new();
    for _ in common..from.len() {
        relative.push("..");
    }
    for component in &to[common..] {
        relative.push(component);
    }
    if relative.as_os_str().is_empty() {
        relative.push(".");
    }
    relative
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// `tempfile`'s error without the random name of the temporary file it failed to create
/// (`… at path "dir/.provisioning-WHRsyQ.tmp"`): the directory is what the user chose.
fn without_temp_path(error: io::Error) -> io::Error {
    // `tempfile` keeps the cause private and formats it as `{cause} at path {path:?}`.
    let text = error.to_string();
    match text.rsplit_once(" at path \"") {
        Some((cause, _)) => io::Error::new(error.kind(), cause.to_owned()),
        None => error,
    }
}

fn with_path(error: io::Error, path: &Path) -> io::Error {
    io::Error::new(error.kind(), format!("{error} at `{}`", path.display()))
}

/// What stands at a path, without following a final symlink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Missing,
    Symlink(PathBuf),
    Dir,
    File,
}

pub fn entry_at(path: &Path) -> io::Result<Entry> {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => {
            Ok(Entry::Symlink(fs_err::read_link(path)?))
        }
        Ok(metadata) if metadata.is_dir() => Ok(Entry::Dir),
        Ok(_) => Ok(Entry::File),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(Entry::Missing),
        Err(error) => Err(with_path(error, path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        let cases = [
            (
                "/b/workspace/infra/wuji/.nickel-modules",
                "/b/extensions/providers/upcloud/nickel",
                "../../../../extensions/providers/upcloud/nickel",
            ),
            ("/a/b", "/a/b/c", "c"),
            ("/a/b", "/a/b", "."),
            ("/a/b", "/x", "../../x"),
        ];
        for (from, to, expected) in cases {
            assert_eq!(
                relative_path(Path::new(from), Path::new(to)),
                Path::new(expected)
            );
        }
    }

    #[test]
    fn an_uncommitted_transaction_puts_everything_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("manifest.toml");
        std::fs::write(&file, "old").expect("write");
        let link = dir.path().join("mods/link");
        let doomed = dir.path().join("doomed");
        std::fs::create_dir(&doomed).expect("mkdir");
        std::fs::write(doomed.join("x"), "x").expect("write");
        {
            let mut transaction = Transaction::new();
            transaction.write(&file, b"new").expect("write");
            transaction
                .write(&dir.path().join("fresh"), b"fresh")
                .expect("write");
            transaction
                .create_dir_all(&dir.path().join("mods"))
                .expect("mkdir");
            transaction
                .symlink(Path::new("../target"), &link)
                .expect("link");
            transaction.remove_dir(&doomed).expect("remove");
            assert!(!doomed.exists());
        }
        assert_eq!(std::fs::read_to_string(&file).expect("read"), "old");
        assert!(!dir.path().join("fresh").exists());
        assert!(!dir.path().join("mods").exists());
        assert_eq!(
            std::fs::read_to_string(doomed.join("x")).expect("restored"),
            "x"
        );
    }

    #[test]
    fn rolling_back_to_a_savepoint_undoes_only_the_later_changes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let kept = dir.path().join("kept");
        let file = dir.path().join("file");
        std::fs::write(&file, "old").expect("write");
        let doomed = dir.path().join("doomed");
        std::fs::create_dir(&doomed).expect("mkdir");
        let mut transaction = Transaction::new();
        transaction.write(&kept, b"kept").expect("write");
        let savepoint = transaction.savepoint();
        transaction.write(&file, b"new").expect("write");
        transaction.remove_dir(&doomed).expect("remove");
        transaction.roll_back_to(savepoint);
        assert_eq!(std::fs::read_to_string(&file).expect("read"), "old");
        assert!(doomed.is_dir(), "set aside, then put back");
        assert!(transaction.commit().is_empty());
        assert_eq!(std::fs::read_to_string(&kept).expect("read"), "kept");
        assert!(
            doomed.is_dir(),
            "a rolled-back removal is not deleted on commit"
        );
        let entries = std::fs::read_dir(dir.path()).expect("list").count();
        assert_eq!(entries, 3, "no holder of a set-aside directory is left");
    }

    #[test]
    fn a_committed_transaction_keeps_its_changes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("f");
        let doomed = dir.path().join("doomed");
        std::fs::create_dir(&doomed).expect("mkdir");
        let mut transaction = Transaction::new();
        transaction.write(&file, b"new").expect("write");
        transaction.remove_dir(&doomed).expect("remove");
        assert!(transaction.commit().is_empty());
        assert_eq!(std::fs::read_to_string(&file).expect("read"), "new");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).expect("list").collect();
        assert_eq!(leftovers.len(), 1, "the removed directory is gone for good");
    }

    #[test]
    fn a_streamed_file_appears_whole_on_persist_and_not_at_all_when_dropped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("blobs/sha256/abc");
        let mut file = StreamedFile::create(&path).expect("create");
        file.write(b"hello ").expect("write");
        file.write(b"world").expect("write");
        assert!(!path.exists(), "nothing at the path before persist");
        file.persist().expect("persist");
        assert_eq!(std::fs::read(&path).expect("read"), b"hello world");
        let abandoned = dir.path().join("blobs/sha256/def");
        let mut file = StreamedFile::create(&abandoned).expect("create");
        file.write(b"part").expect("write");
        drop(file);
        let names: Vec<_> = std::fs::read_dir(dir.path().join("blobs/sha256"))
            .expect("list")
            .map(|entry| entry.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["abc"], "the abandoned file left nothing");
    }

    #[test]
    fn replace_symlink_refuses_real_directories() {
        let dir = tempfile::tempdir().expect("temp dir");
        let real = dir.path().join("real");
        std::fs::create_dir(&real).expect("mkdir");
        let error = replace_symlink(Path::new("elsewhere"), &real).expect_err("refused");
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        assert!(real.is_dir());
    }
}
