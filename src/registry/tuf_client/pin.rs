//! The pinned roots and the last trusted metadata, per user: `<keyring config dir>/tuf/<registry
//! id>/` (the registry id is the address made a directory name, [`crate::address`]'s keys):
//!
//! - `root.json`: the root as pinned (`registry tuf pin`), byte for byte;
//! - `registry`: the registry's address, as messages name it (for `registry tuf status`);
//! - `trusted.json`: the metadata the last refresh verified (root, timestamp, snapshot,
//!   targets, as served) and when; one file, written atomically only after a whole refresh
//!   verified, so a refresh that fails leaves the state before it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::TufError;
use crate::address::{HttpUrl, directory_key};

/// One registry as its pin directory names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryId(String);

impl RegistryId {
    pub fn of_http(url: &HttpUrl) -> Self {
        Self(format!("http_{}", url.cache_key()))
    }

    /// A `distribution/`-shaped directory.
    pub fn of_directory(dir: &Path) -> Self {
        Self(directory_key(dir))
    }
}

/// Every pin of one user.
#[derive(Debug, Clone)]
pub struct Pins {
    dir: PathBuf,
}

impl Pins {
    /// The user's pins (`PROVISIONING_KEYRING`, else `<config dir>/provisioning`); none when the
    /// user has no configuration directory.
    pub fn of_user(env: &BTreeMap<String, String>) -> Option<Self> {
        let keyring = crate::signing::Keyring::of_user(env).ok()?;
        Some(Self {
            dir: keyring.config_dir.join("tuf"),
        })
    }

    pub fn of(&self, id: &RegistryId) -> PinDir {
        PinDir {
            dir: self.dir.join(&id.0),
        }
    }

    /// Every pinned registry, sorted by directory name.
    pub fn all(&self) -> Vec<PinDir> {
        let mut found: Vec<PinDir> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| PinDir { dir: entry.path() })
            .filter(PinDir::is_pinned)
            .collect();
        found.sort_by(|a, b| a.dir.cmp(&b.dir));
        found
    }
}

/// The pin of one registry.
#[derive(Debug, Clone)]
pub struct PinDir {
    pub dir: PathBuf,
}

/// What the last refresh verified: each role's metadata as served.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Trusted {
    /// Seconds since the Unix epoch.
    pub verified_at: i64,
    pub root: String,
    pub timestamp: Option<String>,
    pub snapshot: Option<String>,
    pub targets: Option<String>,
}

impl PinDir {
    fn root_path(&self) -> PathBuf {
        self.dir.join("root.json")
    }

    fn trusted_path(&self) -> PathBuf {
        self.dir.join("trusted.json")
    }

    pub fn is_pinned(&self) -> bool {
        self.root_path().is_file()
    }

    /// The root as pinned.
    pub fn root(&self) -> Result<Vec<u8>, TufError> {
        read(&self.root_path())
    }

    /// The registry's address, as it was pinned.
    pub fn registry(&self) -> String {
        read(&self.dir.join("registry"))
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .unwrap_or_else(|| self.dir.display().to_string())
    }

    /// Pins `root` for `registry`, forgetting what an earlier pin trusted.
    pub fn pin(&self, registry: &str, root: &[u8]) -> Result<(), TufError> {
        write_error("create", &self.dir, crate::fs::create_dir_all(&self.dir))?;
        let trusted = self.trusted_path();
        write_error(
            "remove",
            &trusted,
            crate::fs::remove_file_if_exists(&trusted).map(drop),
        )?;
        let address = self.dir.join("registry");
        write_error(
            "write",
            &address,
            crate::fs::atomic_write(&address, registry.as_bytes()),
        )?;
        let path = self.root_path();
        write_error("write", &path, crate::fs::atomic_write(&path, root))
    }

    /// The last trusted metadata, when a refresh verified some.
    pub fn trusted(&self) -> Result<Option<Trusted>, TufError> {
        let path = self.trusted_path();
        if !path.is_file() {
            return Ok(None);
        }
        serde_json::from_slice(&read(&path)?)
            .map(Some)
            .map_err(|error| TufError::Disk {
                action: "read",
                path: path.display().to_string(),
                reason: error.to_string(),
            })
    }

    pub fn store(&self, trusted: &Trusted) -> Result<(), TufError> {
        let path = self.trusted_path();
        // Serializing strings and numbers cannot fail.
        let json = serde_json::to_vec(trusted).unwrap_or_default();
        write_error("write", &path, crate::fs::atomic_write(&path, &json))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TufError> {
    crate::fs::read(path, crate::fs::FileKind::Metadata).map_err(|error| TufError::Disk {
        action: "read",
        path: path.display().to_string(),
        reason: error.to_string(),
    })
}

fn write_error(
    action: &'static str,
    path: &Path,
    result: std::io::Result<()>,
) -> Result<(), TufError> {
    result.map_err(|error| TufError::Disk {
        action,
        path: path.display().to_string(),
        reason: error.to_string(),
    })
}
