//! Every read of a whole file the tool owns or trusts to be a file (config, manifests, the lock,
//! registry metadata, keys, credentials, artifacts, caches) goes through [`read`]: only a
//! regular file is read, and never more than the bound of its [`FileKind`]. A FIFO would block
//! the command forever and a link to `/dev/zero` would be read until memory runs out; git stores
//! symlinks, so a hostile commit is enough to plant either.
//!
//! `clippy.toml` disallows the whole-file readers of `std::fs` and `fs_err` everywhere else.
//! The files Nickel reads itself while evaluating are out of reach here: an evaluation runs in a
//! worker under a deadline and a memory ceiling instead.

use std::io::{self, Read as _};
use std::path::Path;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// What a file is, and so the most bytes it may hold. The bounds are fixed: far above what a
/// real file of the kind holds, far below what would exhaust memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A config file (`--config`, `PROVISIONING_CONFIG`, a base's `config.defaults.toml`): 1 MiB.
    Config,
    /// An infra's `manifest.toml` (or legacy `kcl.mod`): 4 MiB.
    InfraManifest,
    /// An infra's lock file (`providers.manifest.yaml`): 4 MiB.
    Lock,
    /// A module's `manifest.toml`: 1 MiB.
    ModuleManifest,
    /// A Nickel file the tool reads itself (a generated file, `main.ncl`, a source whose imports
    /// it checks): 64 MiB.
    Nickel,
    /// A vendored pack's file list (`vendor/.<module>.sums`): 16 MiB.
    FileList,
    /// A file of a module, read to pack it or to hash it: 256 MiB (the default
    /// `distribution.unpack_max_bytes`, which bounds a whole pack).
    ModuleFile,
    /// A registry's metadata (`registry/<module>.json`), a version's documentation record, or
    /// the `SHA256SUMS` listing of a directory given to `--from`:
    /// 64 MiB.
    Metadata,
    /// A minisign key (secret or public): 16 KiB.
    Key,
    /// A minisign signature (`.minisig`): 64 KiB, as one fetched from a registry.
    Signature,
    /// A pack's provenance (`.intoto.jsonl`): 4 MiB.
    Provenance,
    /// Credentials: `.netrc`, docker's `config.json`: 1 MiB.
    Credentials,
    /// An artifact (`<module>_<version>.tar`): 1 GiB.
    Artifact,
    /// A file of the download or evaluation cache: 1 GiB.
    Cache,
    /// A file about to be replaced or removed, held to put it back if the command fails: 1 GiB.
    Replaced,
}

impl FileKind {
    /// The most bytes a file of this kind may hold.
    pub const fn max_bytes(self) -> u64 {
        match self {
            Self::Key => 16 * KIB,
            Self::Signature => 64 * KIB,
            Self::Provenance => 4 * MIB,
            Self::Config | Self::ModuleManifest | Self::Credentials => MIB,
            Self::InfraManifest | Self::Lock => 4 * MIB,
            Self::FileList => 16 * MIB,
            Self::Nickel | Self::Metadata => 64 * MIB,
            Self::ModuleFile => 256 * MIB,
            Self::Artifact | Self::Cache | Self::Replaced => GIB,
        }
    }

    /// How messages name a file of this kind.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Config => "a config file",
            Self::InfraManifest => "an infra manifest",
            Self::Lock => "a lock file",
            Self::ModuleManifest => "a module manifest",
            Self::Nickel => "a Nickel file",
            Self::FileList => "a vendored pack's file list",
            Self::ModuleFile => "a module's file",
            Self::Metadata => "registry metadata",
            Self::Key => "a key",
            Self::Signature => "a signature",
            Self::Provenance => "a provenance file",
            Self::Credentials => "a credentials file",
            Self::Artifact => "an artifact",
            Self::Cache => "a cached file",
            Self::Replaced => "a file being replaced",
        }
    }
}

/// Reads the regular file at `path` whole, refusing anything else (a FIFO, a device, a
/// directory) before a byte is read, and a file larger than its kind's bound. A missing file is
/// `NotFound`, as from `std::fs::read`; every error names the path.
pub fn read(path: &Path, kind: FileKind) -> io::Result<Vec<u8>> {
    let not_regular = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "`{}` is not a regular file, and {} is read only from one",
                path.display(),
                kind.describe()
            ),
        )
    };
    // Checked before opening (opening a FIFO blocks) and again on what was opened: the path may
    // have changed in between, and then the non-blocking open cannot hang either.
    if !fs_err::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let file = open_nonblocking(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(not_regular());
    }
    let max = kind.max_bytes();
    let too_large = || {
        io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!(
                "`{}` is larger than {}, the bound of {}",
                path.display(),
                human_size(max),
                kind.describe()
            ),
        )
    };
    if metadata.len() > max {
        return Err(too_large());
    }
    // One byte past the bound tells a file that grew since it was measured.
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_large());
    }
    Ok(bytes)
}

/// [`read`] of a UTF-8 file.
pub fn read_to_string(path: &Path, kind: FileKind) -> io::Result<String> {
    String::from_utf8(read(path, kind)?).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("`{}` is not UTF-8", path.display()),
        )
    })
}

/// Opens `path` to read without blocking on a FIFO (the open of one waits for a writer).
#[cfg(unix)]
pub(super) fn open_nonblocking(path: &Path) -> io::Result<fs_err::File> {
    use fs_err::os::unix::fs::OpenOptionsExt as _;
    fs_err::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
pub(super) fn open_nonblocking(path: &Path) -> io::Result<fs_err::File> {
    fs_err::File::open(path)
}

/// `1 MiB`, `16 KiB`: the bounds are whole powers of two.
fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= GIB && b % GIB == 0 => format!("{} GiB", b / GIB),
        b if b >= MIB && b % MIB == 0 => format!("{} MiB", b / MIB),
        b if b >= KIB && b % KIB == 0 => format!("{} KiB", b / KIB),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_regular_file_up_to_its_bound() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("key");
        let bound = usize::try_from(FileKind::Key.max_bytes()).expect("small");
        std::fs::write(&path, vec![b'k'; bound]).expect("write");
        assert_eq!(read(&path, FileKind::Key).expect("read").len(), bound);
        std::fs::write(&path, vec![b'k'; bound + 1]).expect("write");
        let error = read(&path, FileKind::Key).expect_err("too large");
        assert_eq!(error.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(
            error.to_string(),
            format!(
                "`{}` is larger than 16 KiB, the bound of a key",
                path.display()
            )
        );
    }

    #[test]
    fn a_missing_file_is_not_found() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error = read(&dir.path().join("absent"), FileKind::Lock).expect_err("missing");
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_directories_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).expect("link");
        for path in [zero.as_path(), dir.path()] {
            let error = read(path, FileKind::Config).expect_err("refused");
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
            assert!(error.to_string().contains(&path.display().to_string()));
        }
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(16 * KIB), "16 KiB");
        assert_eq!(human_size(4 * MIB), "4 MiB");
        assert_eq!(human_size(GIB), "1 GiB");
        assert_eq!(human_size(1000), "1000 bytes");
    }
}
