//! What `vendor/` held when it was last hashed, kept in the cache
//! (`<cache_path>/stat-index/<hash of the infra's path>`: it describes this machine's files, so it
//! is never part of the infra, nor committed with it): for each vendored file,
//! its size, modification and change times, inode and device, and its sha256. A file whose
//! `stat` still says exactly that is not read again, the way git's index spares `git status`
//! from hashing the work tree; any other file is hashed, and drift is reported exactly as
//! before. `providers sync --verify` hashes every file whatever the index says.
//!
//! Racy files are hashed: an entry is trusted only when the file was last modified before the
//! index was written (git's "racily clean" rule), since a file changed in the same tick of the
//! filesystem clock as the index keeps its recorded times. Editing a file in place changes its
//! modification and change times; restoring the modification time (`touch -d`) still changes
//! the change time, which only the kernel sets.
//!
//! The index is a cache: a missing, unreadable or malformed one is empty, and it is written
//! (atomically, unsynced) only by a command holding the infra's lock, when what it hashed
//! differs from what the index said.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::digest::Sha256;
use crate::fs::FileKind;

const HEADER: &str = "provisioning stat index 1";

/// What `stat` says of a file, as far as a change of its content must change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    size: u64,
    modified_ns: i128,
    changed_ns: i128,
    inode: u64,
    device: u64,
}

impl Stamp {
    #[cfg(unix)]
    fn of(metadata: &Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        let ns = |seconds: i64, nanos: i64| i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
        Self {
            size: metadata.size(),
            modified_ns: ns(metadata.mtime(), metadata.mtime_nsec()),
            changed_ns: ns(metadata.ctime(), metadata.ctime_nsec()),
            inode: metadata.ino(),
            device: metadata.dev(),
        }
    }

    #[cfg(not(unix))]
    fn of(metadata: &Metadata) -> Self {
        let modified_ns = metadata
            .modified()
            .ok()
            .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |since| since.as_nanos() as i128);
        Self {
            size: metadata.len(),
            modified_ns,
            changed_ns: modified_ns,
            inode: 0,
            device: 0,
        }
    }

    fn render(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.size, self.modified_ns, self.changed_ns, self.inode, self.device
        )
    }

    fn parse(fields: &[&str]) -> Option<Self> {
        let [size, modified, changed, inode, device] = fields else {
            return None;
        };
        Some(Self {
            size: size.parse().ok()?,
            modified_ns: modified.parse().ok()?,
            changed_ns: changed.parse().ok()?,
            inode: inode.parse().ok()?,
            device: device.parse().ok()?,
        })
    }
}

/// The index of one infra's `vendor/`, read on first use. Shared by the clones of an
/// [`super::super::Infra`].
#[derive(Debug)]
pub struct StatIndex {
    file: PathBuf,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    loaded: bool,
    /// Hash every file, trusting nothing recorded (`sync --verify`).
    verify: bool,
    /// As read: path under `vendor/` → stamp and hash.
    recorded: BTreeMap<String, (Stamp, String)>,
    /// When the index was written (its own modification time): entries modified since are racy.
    written_ns: i128,
    /// The modules hashed by this command, and what their files are now.
    examined: BTreeSet<String>,
    seen: BTreeMap<String, (Stamp, String)>,
    /// A file matched its entry but was modified too close to the index's writing to trust it.
    racy: bool,
}

impl StatIndex {
    /// Where the index of the infra in `infra_dir` is kept.
    pub fn file_for(cache_path: &Path, infra_dir: &Path) -> PathBuf {
        let key = Sha256::of(infra_dir.to_string_lossy().as_bytes()).to_string();
        cache_path.join("stat-index").join(&key[..32])
    }

    /// The index kept in `file`, read on first use.
    pub fn at(file: PathBuf) -> Self {
        Self {
            file,
            inner: Mutex::default(),
        }
    }

    /// Trust no recorded entry: every file is hashed, and the index rewritten from the result.
    pub fn verify_all(&self) {
        self.lock().verify = true;
    }

    /// The sha256 (lowercase hex) of `path`, which is `vendor/<key>` and has `metadata`: the
    /// recorded one when its stamp still holds, else read and hashed.
    pub fn sha256(&self, key: &str, path: &Path, metadata: &Metadata) -> std::io::Result<String> {
        let stamp = Stamp::of(metadata);
        {
            let mut inner = self.lock();
            inner.load(&self.file);
            // Hashed earlier in this command (sync checks, then reports what still differs).
            if let Some((seen, hash)) = inner.seen.get(key)
                && *seen == stamp
            {
                return Ok(hash.clone());
            }
            if !inner.verify
                && let Some((recorded, hash)) = inner.recorded.get(key)
                && *recorded == stamp
                && stamp.modified_ns < inner.written_ns
                && stamp.changed_ns < inner.written_ns
            {
                let hash = hash.clone();
                inner.seen.insert(key.to_owned(), (stamp, hash.clone()));
                return Ok(hash);
            }
            // Unchanged but racy: hashed now, and the index rewritten so that it is not next time.
            if inner
                .recorded
                .get(key)
                .is_some_and(|(recorded, _)| *recorded == stamp)
            {
                inner.racy = true;
            }
        }
        let hash = Sha256::of(&crate::fs::read(path, FileKind::ModuleFile)?).to_string();
        self.lock()
            .seen
            .insert(key.to_owned(), (stamp, hash.clone()));
        Ok(hash)
    }

    /// Records that `vendor/<key>`, which has `metadata`, holds bytes of sha256 `hash` (lowercase
    /// hex): this command just wrote them, so checking the file later in the command, or in the
    /// next one, does not read it back.
    pub fn record(&self, key: &str, metadata: &Metadata, hash: &str) {
        let mut inner = self.lock();
        inner.load(&self.file);
        inner
            .seen
            .insert(key.to_owned(), (Stamp::of(metadata), hash.to_owned()));
    }

    /// Notes that this command hashed every file of `vendor/<module>`: what it saw replaces what
    /// the index recorded for that module.
    pub fn examined(&self, module: &str) {
        self.lock().examined.insert(module.to_owned());
    }

    /// Writes the index when what this command hashed differs from it. Best effort: the index
    /// is a cache, and a failure to write it costs only a rehash next time. The caller holds
    /// the infra's lock.
    pub fn save(&self, vendor_dir: &Path) {
        let mut inner = self.lock();
        if !inner.loaded || inner.examined.is_empty() {
            return;
        }
        let in_module = |key: &str, module: &str| {
            key.strip_prefix(module)
                .is_some_and(|rest| rest.starts_with('/'))
        };
        let mut next: BTreeMap<String, (Stamp, String)> = inner
            .recorded
            .iter()
            .filter(|(key, _)| {
                let module = key.split('/').next().unwrap_or_default();
                !inner.examined.contains(module) && vendor_dir.join(module).is_dir()
            })
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        for (key, value) in &inner.seen {
            if inner.examined.iter().any(|module| in_module(key, module)) {
                next.insert(key.clone(), value.clone());
            }
        }
        // Racy entries are kept: the times compared next time are those of this write.
        if next == inner.recorded && !inner.verify && !inner.racy {
            return;
        }
        let mut text = format!("{HEADER}\n");
        for (key, (stamp, hash)) in next.iter().filter(|(key, _)| !key.contains('\n')) {
            text.push_str(&format!("{} {hash} {key}\n", stamp.render()));
        }
        let written = self
            .file
            .parent()
            .map_or(Ok(()), crate::fs::create_dir_all)
            .and_then(|()| crate::fs::atomic_write_unsynced(&self.file, text.as_bytes()));
        if written.is_ok() {
            inner.recorded = next;
            inner.seen.clear();
            inner.examined.clear();
            inner.racy = false;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Inner {
    fn load(&mut self, path: &Path) {
        if self.loaded {
            return;
        }
        self.loaded = true;
        let Ok(metadata) = std::fs::symlink_metadata(path) else {
            return;
        };
        let Ok(text) = crate::fs::read_to_string(path, FileKind::FileList) else {
            return;
        };
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return;
        }
        let mut recorded = BTreeMap::new();
        for line in lines {
            let fields: Vec<&str> = line.splitn(7, ' ').collect();
            let Some((stamp, hash, key)) = parse_line(&fields) else {
                return;
            };
            recorded.insert(key.to_owned(), (stamp, hash.to_owned()));
        }
        self.written_ns = Stamp::of(&metadata).modified_ns;
        self.recorded = recorded;
    }
}

/// One line of the index: `<size> <modified> <changed> <inode> <device> <sha256> <path>`.
fn parse_line<'a>(fields: &[&'a str]) -> Option<(Stamp, &'a str, &'a str)> {
    let [stamp @ .., hash, key] = fields else {
        return None;
    };
    let valid_hash = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
    if !valid_hash || key.is_empty() {
        return None;
    }
    Some((Stamp::parse(stamp)?, hash, key))
}
