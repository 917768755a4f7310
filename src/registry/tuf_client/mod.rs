//! The consumer side of TUF (The Update Framework) for directory and static HTTP registries:
//! a root pinned per user ([`pin`]), the refresh that follows root rotations and verifies the
//! timestamp, snapshot and targets with rust-tuf ([`refresh`]), the last trusted metadata kept
//! beside the pin, and the [`Gate`] a registry asks before it uses a file it read
//! (`index.json`, `registry/<module>.json`, `packages/<file>`): the file must be a target, of
//! the length and sha256 the targets record.
//!
//! It neither writes a registry's metadata (the publisher's `registry tuf init | refresh |
//! rotate` do) nor talks to a registry: each registry hands the refresh a [`Reader`] of its
//! own files.

mod error;
pub mod pin;
mod refresh;
pub mod status;

use std::collections::BTreeMap;
use std::sync::OnceLock;

pub use error::TufError;
pub use pin::{PinDir, Pins, RegistryId};

use crate::digest::Sha256;
use crate::names::ModuleName;
use crate::registry::{RegistryError, Warnings};

/// What the registry gives at `path` below its `distribution/` (`tuf/timestamp.json`), at most
/// `limit` bytes; `None` when it has no such file.
pub type Reader<'a> = dyn Fn(&str, u64) -> Result<Option<Vec<u8>>, RegistryError> + 'a;

/// One file the targets record.
#[derive(Debug, Clone)]
pub struct Target {
    pub length: u64,
    /// `None` when the targets record no sha256 for it: such a file is refused.
    pub sha256: Option<Sha256>,
}

/// The files a registry may serve, as its verified targets record them.
#[derive(Debug, Clone)]
pub struct Targets {
    registry: String,
    files: BTreeMap<String, Target>,
}

impl Targets {
    /// What the targets record of `file`; a file they do not list is refused.
    pub fn get(&self, file: &str) -> Result<&Target, TufError> {
        self.files.get(file).ok_or_else(|| TufError::NotATarget {
            registry: self.registry.clone(),
            file: file.to_owned(),
        })
    }

    /// `bytes`, read as `file`, are what the targets record: the same length and sha256.
    pub fn check(&self, file: &str, bytes: &[u8]) -> Result<(), TufError> {
        let target = self.get(file)?;
        let mismatch = |detail: String| TufError::Mismatch {
            registry: self.registry.clone(),
            file: file.to_owned(),
            role: "targets".to_owned(),
            detail,
        };
        if bytes.len() as u64 > target.length {
            return Err(self.endless(file));
        }
        if bytes.len() as u64 != target.length {
            return Err(mismatch(format!(
                "is {} bytes where {} are recorded",
                bytes.len(),
                target.length
            )));
        }
        let found = Sha256::of(bytes);
        match &target.sha256 {
            Some(recorded) if *recorded == found => Ok(()),
            Some(_) => Err(mismatch(format!("has sha256 {}", found.short()))),
            None => Err(mismatch("has no sha256 to be checked against".to_owned())),
        }
    }

    /// The error for `file` served longer than its target records.
    pub fn endless(&self, file: &str) -> TufError {
        let length = self.files.get(file).map_or(0, |target| target.length);
        TufError::Mismatch {
            registry: self.registry.clone(),
            file: file.to_owned(),
            role: "targets".to_owned(),
            detail: format!("is longer than the {length} bytes recorded (endless data?)"),
        }
    }

    /// A file `size` bytes with sha256 `entry_sha256` (what a module's record says of an
    /// artifact) is the target `file`: checked before it is downloaded.
    pub fn check_described(&self, file: &str, size: u64, sha256: &Sha256) -> Result<(), TufError> {
        let target = self.get(file)?;
        if target.length == size && target.sha256.as_ref() == Some(sha256) {
            return Ok(());
        }
        Err(TufError::Mismatch {
            registry: self.registry.clone(),
            file: file.to_owned(),
            role: "targets".to_owned(),
            detail: format!(
                "is recorded by its module's metadata as {size} bytes with sha256 {}",
                sha256.short()
            ),
        })
    }

    /// The modules the targets list (`registry/<module>.json`), sorted.
    pub fn modules(&self) -> Vec<ModuleName> {
        self.files
            .keys()
            .filter_map(|file| file.strip_prefix("registry/")?.strip_suffix(".json"))
            .filter(|name| !name.contains('/'))
            .filter_map(|name| name.parse().ok())
            .collect()
    }
}

/// What a registry with a pinned root asks before it uses a file: refreshed once per registry
/// and command, on the first read (a command that reads nothing from it makes no request).
#[derive(Debug)]
pub struct Gate {
    pin: PinDir,
    registry: String,
    offline: bool,
    warnings: Warnings,
    targets: OnceLock<Result<Targets, TufError>>,
    last_trusted: OnceLock<Option<Targets>>,
}

impl Gate {
    /// The gate of the registry `id` (named `registry` in messages), when the user pinned its
    /// root: a look at the disk, no request.
    pub fn open(
        env: &BTreeMap<String, String>,
        id: &RegistryId,
        registry: String,
        offline: bool,
        warnings: &Warnings,
    ) -> Option<Self> {
        let pin = Pins::of_user(env)?.of(id);
        pin.is_pinned().then(|| Self {
            pin,
            registry,
            offline,
            warnings: warnings.clone(),
            targets: OnceLock::new(),
            last_trusted: OnceLock::new(),
        })
    }

    /// The verified targets: the first call refreshes through `read` (offline: the last
    /// trusted metadata), the others give what it gave.
    pub fn targets(&self, read: &Reader<'_>) -> Result<&Targets, RegistryError> {
        self.targets
            .get_or_init(|| self.refresh(read))
            .as_ref()
            .map_err(|error| error.clone().into())
    }

    /// The targets [`Gate::targets`] verified, for code that runs after it (no request; before
    /// it, an error: nothing is used unchecked).
    pub fn refreshed(&self) -> Result<&Targets, RegistryError> {
        match self.targets.get() {
            Some(verified) => verified.as_ref().map_err(|error| error.clone().into()),
            None => Err(TufError::Read {
                message: format!(
                    "the TUF metadata of `{}` was not verified before a read from it",
                    self.registry
                ),
            }
            .into()),
        }
    }

    /// The last trusted targets, expired or not, without a request: what identifies bytes a
    /// cache already holds (their sha256, checked whenever they are read), not which versions
    /// exist now. None before a refresh.
    pub fn last_trusted(&self) -> Option<&Targets> {
        self.last_trusted
            .get_or_init(|| self.refresh_of().last_trusted())
            .as_ref()
    }

    fn refresh_of(&self) -> refresh::Refresh<'_> {
        refresh::Refresh {
            pin: &self.pin,
            registry: &self.registry,
        }
    }

    fn refresh(&self, read: &Reader<'_>) -> Result<Targets, TufError> {
        let now = chrono::Utc::now();
        if !self.offline {
            return self.refresh_of().online(read, now);
        }
        let (targets, age) = self.refresh_of().offline(now)?;
        let age = std::time::Duration::from_secs(u64::try_from(age / 60 * 60).unwrap_or(0));
        let age = if age.as_secs() == 0 {
            "less than a minute".to_owned()
        } else {
            humantime::format_duration(age).to_string()
        };
        self.warnings.push(format!(
            "`--offline`: using the TUF metadata of `{}` verified {age} ago",
            self.registry
        ));
        Ok(targets)
    }
}

/// RFC 3339 to the second, as the tool prints times.
pub(crate) fn rfc3339(time: &chrono::DateTime<chrono::Utc>) -> String {
    crate::time::rfc3339(u64::try_from(time.timestamp()).unwrap_or(0))
}
