//! The pin record of a directory registry: every infra, wherever it is on disk, that a command
//! pinned packs into while it held this registry's lock, and the packs it may pin. `pack clean`
//! scans only the workspace's `infra/*`; an infra addressed by path (`/elsewhere/inf1`,
//! `./workspace/nested/inf2`) is known to it only through this record.
//!
//! One file per infra, `<registry_path>/pins/<sha256 of the infra's canonical path>.json`,
//! written atomically by the command that holds the infra's exclusive lock (and the registry's,
//! shared, when the pins grow): two commands never write one file, and commands on different
//! infras never wait for each other. `pack clean` reads them under the registry's exclusive
//! lock. The record is a hint, never the truth: clean re-reads each recorded infra's lock file.
//! This module knows the record's format and place; what an infra pins is `crate::infra`'s.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::DirectoryRegistry;
use crate::digest::Sha256;
use crate::fs::FileKind;
use crate::names::{ModuleName, PackRef};

/// The directory of the records, inside the registry directory.
pub const PINS_DIR: &str = "pins";
const FORMAT_VERSION: u32 = 1;

/// One infra's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinRecord {
    pub format_version: u32,
    /// The infra's directory, canonical.
    pub infra: PathBuf,
    /// What it may pin: what its lock pinned, and during a change also what the change pins.
    pub packs: BTreeSet<RecordedPin>,
}

/// A pack an infra's lock pins.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordedPin {
    pub module: ModuleName,
    pub version: semver::Version,
    pub sha256: Sha256,
}

impl RecordedPin {
    pub fn pack(&self) -> PackRef {
        PackRef::new(self.module.clone(), self.version.clone())
    }
}

/// A record as `pack clean` finds it: its file, and its contents or why they cannot be read.
#[derive(Debug)]
pub struct Found {
    pub path: PathBuf,
    pub record: Result<PinRecord, String>,
}

impl DirectoryRegistry {
    /// `<registry_path>/pins`.
    pub fn pins_dir(&self) -> PathBuf {
        self.registry_path.join(PINS_DIR)
    }

    /// The record file of the infra at `infra` (canonical): named by the path's sha256, so any
    /// path gives one plain file name.
    pub fn pin_record_path(&self, infra: &Path) -> PathBuf {
        let digest = Sha256::of(infra.as_os_str().as_encoded_bytes());
        self.pins_dir().join(format!("{digest}.json"))
    }

    /// Records that `infra` (canonical) may pin `packs`, atomically; with no packs, removes its
    /// record. Nothing is written when the registry directory does not exist (a registry that
    /// does not exist holds nothing to clean) or the record already says exactly this.
    pub fn write_pin_record(&self, infra: &Path, packs: BTreeSet<RecordedPin>) -> io::Result<()> {
        if !self.registry_path.is_dir() {
            return Ok(());
        }
        let path = self.pin_record_path(infra);
        if packs.is_empty() {
            return crate::fs::remove_file_if_exists(&path).map(|_| ());
        }
        let record = PinRecord {
            format_version: FORMAT_VERSION,
            infra: infra.to_owned(),
            packs,
        };
        // Serializing paths, names and versions cannot fail (a path that is not UTF-8 is
        // refused by `serde_json`, and then the record is an error like any other write).
        let mut json = serde_json::to_vec_pretty(&record).map_err(io::Error::other)?;
        json.push(b'\n');
        match crate::fs::read(&path, FileKind::Metadata) {
            Ok(existing) if existing == json => return Ok(()),
            _ => {}
        }
        crate::fs::create_dir_all(&self.pins_dir())?;
        crate::fs::atomic_write(&path, &json)
    }

    /// Every record in the registry, sorted by file; a record that cannot be read or parsed is
    /// found with the reason.
    pub fn pin_records(&self) -> io::Result<Vec<Found>> {
        let dir = self.pins_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => {
                return Err(io::Error::new(
                    error.kind(),
                    format!("cannot list `{}`: {error}", dir.display()),
                ));
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| {
                path.extension()
                    .is_some_and(|extension| extension == "json")
            })
            .collect();
        paths.sort();
        Ok(paths
            .into_iter()
            .map(|path| {
                let record = read_record(&path);
                Found { path, record }
            })
            .collect())
    }
}

fn read_record(path: &Path) -> Result<PinRecord, String> {
    let bytes = crate::fs::read(path, FileKind::Metadata).map_err(|error| error.to_string())?;
    let text = String::from_utf8_lossy(&bytes);
    let record: PinRecord = super::metadata::parse_as(&text)
        .map_err(|error| format!("`{}` is not a valid pin record: {error}", path.display()))?;
    if record.format_version != FORMAT_VERSION {
        return Err(format!(
            "`{}` is a pin record of format {}; this release reads format {FORMAT_VERSION}",
            path.display(),
            record.format_version
        ));
    }
    Ok(record)
}
