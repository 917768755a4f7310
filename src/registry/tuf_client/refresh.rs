//! The TUF client workflow (specification 1.0, section 5) over rust-tuf's `Database`: from the
//! last trusted metadata (else the pinned root), the root's new versions (`tuf/<N>.root.json`
//! until one is not found, each signed by the previous root and by itself), then the timestamp,
//! the snapshot it describes and the targets the snapshot describes, each read at most as long
//! as its parent records and checked against its hashes; every role unexpired. Offline, the
//! last trusted metadata alone, still unexpired.

use chrono::{DateTime, Utc};
use tuf::Database;
use tuf::crypto::HashAlgorithm;
use tuf::metadata::{Metadata as _, MetadataDescription, MetadataPath, RawSignedMetadata};
use tuf::pouf::Pouf1;

use super::pin::{PinDir, Trusted};
use super::{Reader, Target, Targets, TufError};
use crate::digest::Sha256;

/// The largest root or timestamp read: a few keys and signatures.
const MAX_ROOT_BYTES: u64 = 512 * 1024;
const MAX_TIMESTAMP_BYTES: u64 = 64 * 1024;
/// The largest snapshot or targets read when its parent records no length.
const MAX_METADATA_BYTES: u64 = 64 * 1024 * 1024;
/// At most this many root versions are followed in one refresh (the specification's bound).
const MAX_ROOT_ROTATIONS: u32 = 1024;

type Db = Database<Pouf1>;

/// One refresh of one registry.
pub(super) struct Refresh<'a> {
    pub pin: &'a PinDir,
    pub registry: &'a str,
}

impl Refresh<'_> {
    /// The workflow online: the verified targets, and the trusted state written when it all
    /// verified.
    pub fn online(&self, read: &Reader<'_>, now: DateTime<Utc>) -> Result<Targets, TufError> {
        let mut trusted = self.pin.trusted()?.unwrap_or_default();
        if trusted.root.is_empty() {
            trusted.root = String::from_utf8_lossy(&self.pin.root()?).into_owned();
        }
        let mut db = self.load(&trusted)?;
        self.follow_root(&mut db, &mut trusted, read)?;
        self.unexpired(db.trusted_root().expires(), "root", now)?;

        let timestamp = self.required(read, "tuf/timestamp.json", MAX_TIMESTAMP_BYTES)?;
        let raw = RawSignedMetadata::new(timestamp.clone());
        match db.update_timestamp(&now, &raw) {
            Ok(Some(_)) => trusted.timestamp = Some(text(timestamp)),
            Ok(None) => {}
            Err(error) => return Err(self.tuf(error, &db, "tuf/timestamp.json")),
        }
        let stamped = db
            .trusted_timestamp()
            .map(|t| (*t.expires(), t.snapshot().clone()));
        let Some((expires, described)) = stamped else {
            return Err(self.invalid("tuf/timestamp.json", "it was not trusted"));
        };
        self.unexpired(&expires, "timestamp", now)?;

        if db.trusted_snapshot().map(|s| s.version()) != Some(described.version()) {
            let bytes = self.described(read, "tuf/snapshot.json", "timestamp", &described)?;
            db.update_snapshot(&now, &RawSignedMetadata::new(bytes.clone()))
                .map_err(|e| self.tuf(e, &db, "tuf/snapshot.json"))?;
            trusted.snapshot = Some(text(bytes));
        }
        let snapshot = db.trusted_snapshot().map(|s| {
            let targets = s.meta().get(&MetadataPath::targets()).cloned();
            (*s.expires(), targets)
        });
        let Some((expires, Some(described))) = snapshot else {
            return Err(self.invalid("tuf/snapshot.json", "it does not describe `targets.json`"));
        };
        self.unexpired(&expires, "snapshot", now)?;

        if db.trusted_targets().map(|t| t.version()) != Some(described.version()) {
            let bytes = self.described(read, "tuf/targets.json", "snapshot", &described)?;
            db.update_targets(&now, &RawSignedMetadata::new(bytes.clone()))
                .map_err(|e| self.tuf(e, &db, "tuf/targets.json"))?;
            trusted.targets = Some(text(bytes));
        }
        let targets = self.targets(&db, now)?;
        trusted.verified_at = now.timestamp();
        self.pin.store(&trusted)?;
        Ok(targets)
    }

    /// The last trusted metadata, without a request: still unexpired, and how long ago it was
    /// verified (seconds).
    pub fn offline(&self, now: DateTime<Utc>) -> Result<(Targets, i64), TufError> {
        let Some(trusted) = self.pin.trusted()?.filter(|t| t.targets.is_some()) else {
            return Err(TufError::OfflineNothing {
                registry: self.registry.to_owned(),
            });
        };
        let db = self.load(&trusted)?;
        self.unexpired(db.trusted_root().expires(), "root", now)?;
        if let Some(timestamp) = db.trusted_timestamp() {
            self.unexpired(timestamp.expires(), "timestamp", now)?;
        }
        if let Some(snapshot) = db.trusted_snapshot() {
            self.unexpired(snapshot.expires(), "snapshot", now)?;
        }
        let targets = self.targets(&db, now)?;
        Ok((targets, now.timestamp() - trusted.verified_at))
    }

    /// The last trusted targets, expired or not, without a request; none before a refresh.
    pub fn last_trusted(&self) -> Option<Targets> {
        let trusted = self.pin.trusted().ok()??;
        let db = self.load(&trusted).ok()?;
        let targets = db.trusted_targets()?;
        Some(self.collect(targets.targets()))
    }

    /// A database holding `trusted`: its root, then what was verified after it (checked for
    /// signatures and order only: its freshness is checked where it is used).
    pub fn load(&self, trusted: &Trusted) -> Result<Db, TufError> {
        let file = "the pinned root";
        let raw = RawSignedMetadata::new(trusted.root.clone().into_bytes());
        let mut db = Db::from_trusted_root(&raw).map_err(|error| TufError::Invalid {
            registry: self.registry.to_owned(),
            file: file.to_owned(),
            reason: error.to_string(),
        })?;
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        let stored = |error: tuf::Error| TufError::Disk {
            action: "use the trusted metadata in",
            path: self.pin.dir.display().to_string(),
            reason: error.to_string(),
        };
        if let Some(timestamp) = &trusted.timestamp {
            db.update_timestamp(
                &epoch,
                &RawSignedMetadata::new(timestamp.clone().into_bytes()),
            )
            .map_err(stored)?;
        }
        if let Some(snapshot) = &trusted.snapshot {
            db.update_snapshot(
                &epoch,
                &RawSignedMetadata::new(snapshot.clone().into_bytes()),
            )
            .map_err(stored)?;
        }
        if let Some(targets) = &trusted.targets {
            db.update_targets(
                &epoch,
                &RawSignedMetadata::new(targets.clone().into_bytes()),
            )
            .map_err(stored)?;
        }
        Ok(db)
    }

    /// The root's versions after the trusted one, each verified by the one before and by
    /// itself, until one is not found.
    fn follow_root(
        &self,
        db: &mut Db,
        trusted: &mut Trusted,
        read: &Reader<'_>,
    ) -> Result<(), TufError> {
        for _ in 0..MAX_ROOT_ROTATIONS {
            let next = db.trusted_root().version().saturating_add(1);
            let file = format!("tuf/{next}.root.json");
            let Some(bytes) = self.read(read, &file, MAX_ROOT_BYTES)? else {
                return Ok(());
            };
            db.update_root(&RawSignedMetadata::new(bytes.clone()))
                .map_err(|e| self.tuf(e, db, &file))?;
            *trusted = Trusted {
                root: text(bytes),
                ..Trusted::default()
            };
        }
        Ok(())
    }

    /// The metadata file `file`, which `parent` describes: read at most its recorded length,
    /// and checked against its recorded length and hashes.
    fn described<M: tuf::metadata::Metadata>(
        &self,
        read: &Reader<'_>,
        file: &str,
        parent: &str,
        description: &MetadataDescription<M>,
    ) -> Result<Vec<u8>, TufError> {
        let length = description.length().map(|length| length as u64);
        let bytes = self.required(read, file, length.unwrap_or(MAX_METADATA_BYTES))?;
        let mismatch = |detail: String| TufError::Mismatch {
            registry: self.registry.to_owned(),
            file: file.to_owned(),
            role: parent.to_owned(),
            detail,
        };
        if let Some(length) = length.filter(|length| *length != bytes.len() as u64) {
            return Err(mismatch(format!(
                "is {} bytes where {length} are recorded",
                bytes.len()
            )));
        }
        if let Some(recorded) = description.hashes().get(&HashAlgorithm::Sha256) {
            let found = Sha256::of(&bytes);
            if found.to_string() != hex(recorded.value()) {
                return Err(mismatch(format!("has sha256 {}", found.short())));
            }
        }
        Ok(bytes)
    }

    /// The trusted targets as the registry's files: each with its length and sha256.
    fn targets(&self, db: &Db, now: DateTime<Utc>) -> Result<Targets, TufError> {
        let Some(targets) = db.trusted_targets() else {
            return Err(self.invalid("tuf/targets.json", "it was not trusted"));
        };
        self.unexpired(targets.expires(), "targets", now)?;
        Ok(self.collect(targets.targets()))
    }

    fn collect(
        &self,
        targets: &std::collections::HashMap<
            tuf::metadata::TargetPath,
            tuf::metadata::TargetDescription,
        >,
    ) -> Targets {
        let files = targets
            .iter()
            .map(|(path, description)| {
                let sha256 = description
                    .hashes()
                    .get(&HashAlgorithm::Sha256)
                    .and_then(|value| hex(value.value()).parse().ok());
                let target = Target {
                    length: description.length(),
                    sha256,
                };
                (path.as_str().to_owned(), target)
            })
            .collect();
        Targets {
            registry: self.registry.to_owned(),
            files,
        }
    }

    fn unexpired(
        &self,
        expires: &DateTime<Utc>,
        role: &str,
        now: DateTime<Utc>,
    ) -> Result<(), TufError> {
        if *expires <= now {
            return Err(TufError::Freeze {
                registry: self.registry.to_owned(),
                role: role.to_owned(),
                expires: super::rfc3339(expires),
            });
        }
        Ok(())
    }

    fn read(&self, read: &Reader<'_>, file: &str, limit: u64) -> Result<Option<Vec<u8>>, TufError> {
        read(file, limit).map_err(|error| TufError::Read {
            message: error.to_string(),
        })
    }

    fn required(&self, read: &Reader<'_>, file: &str, limit: u64) -> Result<Vec<u8>, TufError> {
        self.read(read, file, limit)?
            .ok_or_else(|| TufError::Missing {
                registry: self.registry.to_owned(),
                file: file.to_owned(),
            })
    }

    fn invalid(&self, file: &str, reason: &str) -> TufError {
        TufError::Invalid {
            registry: self.registry.to_owned(),
            file: file.to_owned(),
            reason: reason.to_owned(),
        }
    }

    /// rust-tuf's `error` verifying `file`, with the key ids the trusted root gives its role.
    fn tuf(&self, error: tuf::Error, db: &Db, file: &str) -> TufError {
        let keys = |role: &MetadataPath| key_ids(db, role);
        TufError::from_tuf(error, self.registry, file, &keys)
    }
}

/// The key ids the trusted root lets sign `role`, in backticks, sorted.
fn key_ids(db: &Db, role: &MetadataPath) -> String {
    let ids: Vec<String> = key_id_list(db, role)
        .iter()
        .map(|id| format!("`{id}`"))
        .collect();
    ids.join(", ")
}

/// The key ids the trusted root lets sign `role`, sorted.
pub(super) fn key_id_list(db: &Db, role: &MetadataPath) -> Vec<String> {
    let root = db.trusted_root();
    let ids = if *role == MetadataPath::root() {
        root.root().key_ids()
    } else if *role == MetadataPath::timestamp() {
        root.timestamp().key_ids()
    } else if *role == MetadataPath::snapshot() {
        root.snapshot().key_ids()
    } else {
        root.targets().key_ids()
    };
    let mut ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    ids.sort();
    ids
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
