//! The unchanged path of `pack`: a fingerprint of what a pack was made from and what it wrote,
//! compared by `stat` (as git's index is), so that re-packing sources nobody touched opens no
//! source file, evaluates nothing and reads no artifact.
//!
//! A fingerprint is recorded after a pack succeeded, in `<cache_path>/pack/`, one per module
//! version and everything else the pack depends on (the [`key`](Packer::fingerprint_key): the
//! tool's version, the destination, the module's manifest as discovered, the versions and
//! directories of its dependencies, the signing key, `--skip-tests`). It lists, each with its
//! `stat` (device, inode, size, mode, modification and change times):
//!
//! - every file and directory of the module's source tree (a file added changes its directory);
//! - every file the evaluations read (a dependency's files, the core schemas);
//! - what the pack wrote: the artifact, its signature (or that there is none), its provenance,
//!   and in a registry the module's metadata and its documentation page.
//!
//! The next pack with the same key answers `Unchanged` from it when every entry still has the
//! same `stat`; anything else (an edited file, a file only touched, a deleted artifact, a yanked
//! version) is the whole pack as before, which writes only what changed and records a new
//! fingerprint. The fingerprint is derived and best effort: an unreadable one is a miss, one
//! not written costs the next run the whole pack.
//!
//! Racy entries: a file changed twice within one tick of the file system's clock, with the same
//! size, keeps its `stat`. As git does with entries as new as its index, a fingerprint is not
//! recorded while any source file changed less than [`SETTLED`] before the pack started; the
//! next pack, a little later, records it. So a change made after a pack started always shows in
//! a later `stat`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::{PackInput, Packed, Packer, Signing, Written};
use crate::artifact::ArtifactName;
use crate::dependencies::SourceModule;
use crate::names::ModuleName;

/// How long before a pack starts its source files must have last changed for its fingerprint to
/// be recorded: more than the coarsest clock of a common file system (FAT's, 2 s).
pub const SETTLED: Duration = Duration::from_secs(2);

/// [`SETTLED`] before `started`, as `stat` gives times (seconds and nanoseconds since the
/// epoch): an entry that last changed before it can be recorded.
pub(super) fn settled_point(started: SystemTime) -> Option<(i64, i64)> {
    let since = started
        .checked_sub(SETTLED)?
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?;
    Some((
        i64::try_from(since.as_secs()).ok()?,
        i64::from(since.subsec_nanos()),
    ))
}

/// Where fingerprints are kept.
#[derive(Debug, Clone)]
pub struct Fingerprints {
    dir: PathBuf,
}

impl Fingerprints {
    pub fn new(cache_path: &Path) -> Self {
        Self {
            dir: cache_path.join("pack"),
        }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!(
            "{}.json",
            crate::digest::Sha256::of(key.as_bytes())
        ))
    }
}

/// What `stat` says of a file or directory, as far as a change shows in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Stat {
    device: u64,
    inode: u64,
    size: u64,
    mode: u32,
    /// Seconds and nanoseconds.
    modified: (i64, i64),
    changed: (i64, i64),
}

impl Stat {
    #[cfg(unix)]
    fn of(metadata: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt as _;
        Self {
            device: metadata.dev(),
            inode: metadata.ino(),
            size: metadata.size(),
            mode: metadata.mode(),
            modified: (metadata.mtime(), metadata.mtime_nsec()),
            changed: (metadata.ctime(), metadata.ctime_nsec()),
        }
    }

    /// The file's `stat` (following links when `follow`); `None` when it does not exist.
    #[cfg(unix)]
    pub(super) fn read(path: &Path, follow: bool) -> std::io::Result<Option<Self>> {
        let metadata = if follow {
            std::fs::metadata(path)
        } else {
            std::fs::symlink_metadata(path)
        };
        match metadata {
            Ok(metadata) => Ok(Some(Self::of(&metadata))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Elsewhere, no fingerprint: every pack is a whole one.
    #[cfg(not(unix))]
    pub(super) fn read(_path: &Path, _follow: bool) -> std::io::Result<Option<Self>> {
        Err(std::io::Error::other("no fingerprints on this platform"))
    }

    /// Whether it is a regular file (not a link, not a directory).
    fn is_regular_file(&self) -> bool {
        self.mode & 0o170_000 == 0o100_000
    }

    /// Whether the entry last changed before `settled` (seconds and nanoseconds since the epoch).
    pub(super) fn settled_before(&self, settled: (i64, i64)) -> bool {
        self.modified.max(self.changed) < settled
    }
}

/// A recorded fingerprint, and the pack it stands for.
#[derive(Debug, Serialize, Deserialize)]
struct Recorded {
    key: String,
    /// Each entry with its `stat` then (`None`: it did not exist), links followed or not.
    entries: Vec<(PathBuf, bool, Option<Stat>)>,
    path: PathBuf,
    sha256: String,
    content_hash: String,
    size: u64,
    signer: Option<String>,
}

impl Packer<'_> {
    /// Everything a pack depends on besides the files the fingerprint lists, `closure` being
    /// the module's dependencies as they resolve now: what is the same for every pack of this
    /// packer (the tool's version, the destination, the catalog, the signing key, the metadata
    /// settings) by its digest, made once, then the module's own.
    pub(super) fn fingerprint_key(
        &self,
        input: &PackInput,
        closure: &[(ModuleName, SourceModule)],
    ) -> String {
        let shared = self.shared_key.get_or_init(|| {
            let signing = self
                .signing
                .map(|(_, public)| crate::signing::key_id(public.keynum()).to_string());
            crate::digest::Sha256::of(
                format!(
                    "provisioning {}\0{} {}\0{:?}\0{signing:?}\0skip-tests {}\0{:?}",
                    env!("CARGO_PKG_VERSION"),
                    self.destination.dir.display(),
                    self.destination.index,
                    self.imports.key,
                    self.skip_tests,
                    self.metadata,
                )
                .as_bytes(),
            )
        });
        let dependencies: Vec<String> = closure
            .iter()
            .map(|(name, source)| {
                format!(
                    "{name}={}@{}",
                    source.dir.display(),
                    source.manifest.version
                )
            })
            .collect();
        format!(
            "{shared}\0{} {}\0{}\0{}\0{:?} {:?}\0{:?}\0{:?}",
            input.pack.module,
            input.pack.version,
            input.package_dir.display(),
            input.entry.display(),
            input.kind,
            input.category,
            input.dependencies,
            dependencies,
        )
    }

    /// The pack `key` stands for, when its fingerprint is recorded and nothing it lists has
    /// changed: unchanged, as a whole pack would find it.
    pub(super) fn unchanged(&self, key: &str) -> Option<Packed> {
        let fingerprints = self.fingerprints?;
        if self.force {
            return None;
        }
        let text = crate::fs::read(&fingerprints.path(key), crate::fs::FileKind::Cache).ok()?;
        let recorded: Recorded = serde_json::from_slice(&text).ok()?;
        if recorded.key != key {
            return None;
        }
        let same = recorded
            .entries
            .iter()
            .all(|(path, follow, stat)| Stat::read(path, *follow).is_ok_and(|now| now == *stat));
        if !same {
            return None;
        }
        let signer = match recorded.signer {
            Some(key_id) => Some(key_id.parse().ok()?),
            None => None,
        };
        let pack = key_pack(key)?;
        Some(Packed {
            module: pack.0,
            version: pack.1,
            path: recorded.path,
            sha256: recorded.sha256.parse().ok()?,
            content_hash: recorded.content_hash.parse().ok()?,
            size: recorded.size,
            written: Written::Unchanged,
            cached_evaluation: true,
            signing: if signer.is_some() {
                Signing::Kept
            } else {
                Signing::Unsigned
            },
            signer,
            leftovers: Vec::new(),
        })
    }

    /// Records the fingerprint of `packed`, made from `input` by a pack that started at
    /// `started` and read `read`. Nothing is recorded for a pack that kept another key's
    /// signature (its warning is said again each time), or whose sources changed too recently
    /// to be told apart by `stat` ([`SETTLED`]).
    pub(super) fn record_fingerprint(
        &self,
        key: String,
        started: SystemTime,
        input: &PackInput,
        read: &[PathBuf],
        packed: &Packed,
    ) {
        let Some(fingerprints) = self.fingerprints else {
            return;
        };
        if matches!(packed.signing, Signing::KeptAnother { .. }) {
            return;
        }
        let Some(settled) = settled_point(started) else {
            return;
        };
        let mut sources = Vec::new();
        if tree(&input.package_dir, &mut sources).is_err() {
            return;
        }
        sources.extend(read.iter().map(|path| (path.clone(), true)));
        let mut entries: Vec<(PathBuf, bool, Option<Stat>)> = Vec::with_capacity(sources.len() + 4);
        // A file the evaluations read that the tree lists as a regular file (not a link) has
        // the same `stat` either way: listed once.
        let mut regular = std::collections::HashSet::new();
        for (path, follow) in sources {
            if follow && regular.contains(&path) {
                continue;
            }
            match Stat::read(&path, follow) {
                Ok(Some(stat)) if stat.settled_before(settled) => {
                    if !follow && stat.is_regular_file() {
                        regular.insert(path.clone());
                    }
                    entries.push((path, follow, Some(stat)));
                }
                _ => return,
            }
        }
        for output in self.outputs(packed) {
            let Ok(stat) = Stat::read(&output, false) else {
                return;
            };
            entries.push((output, false, stat));
        }
        let recorded = Recorded {
            entries,
            path: packed.path.clone(),
            sha256: packed.sha256.to_string(),
            content_hash: packed.content_hash.to_string(),
            size: packed.size,
            signer: packed.signer.map(|key_id| key_id.to_string()),
            key,
        };
        if let Ok(json) = serde_json::to_vec(&recorded) {
            let _ = crate::fs::create_dir_all(&fingerprints.dir);
            // Derived: a fingerprint lost to a crash is only a whole pack next time.
            let _ = crate::fs::atomic_write_unsynced(&fingerprints.path(&recorded.key), &json);
        }
    }

    /// The files a pack wrote, or would have: the artifact, its signature and its provenance,
    /// and in a registry the module's metadata and the version's documentation page.
    fn outputs(&self, packed: &Packed) -> Vec<PathBuf> {
        let pack = crate::names::PackRef::new(packed.module.clone(), packed.version.clone());
        let artifact = ArtifactName::new(pack.clone());
        let signature = self.destination.dir.join(artifact.signature());
        let provenance = self
            .destination
            .dir
            .join(crate::provenance::file_name(&artifact));
        let mut outputs = vec![packed.path.clone(), signature, provenance];
        if self.destination.index {
            outputs.push(self.registry.metadata_path(&packed.module));
            outputs.push(crate::registry::site::docs_path(self.registry, &pack));
        }
        outputs
    }
}

/// The module and the version a key is of.
fn key_pack(key: &str) -> Option<(ModuleName, semver::Version)> {
    let (module, version) = key.split('\0').nth(1)?.split_once(' ')?;
    Some((module.parse().ok()?, version.parse().ok()?))
}

/// `dir` and everything under it, links not followed (a link inside the module to a file
/// inside it is packed as that file, which is listed too).
fn tree(dir: &Path, entries: &mut Vec<(PathBuf, bool)>) -> std::io::Result<()> {
    entries.push((dir.to_owned(), false));
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            tree(&path, entries)?;
        } else {
            entries.push((path, false));
        }
    }
    Ok(())
}
