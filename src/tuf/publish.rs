//! The publisher's side: the first metadata (`registry tuf init`), new targets, snapshot and
//! timestamp after every change of the registry (in the transaction of `index.json`), the
//! timestamp re-signed (`refresh`), and a role's key replaced (`rotate`). Every file is written
//! through a [`Transaction`]: the metadata lands whole or not at all.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use tuf::crypto::{Ed25519PrivateKey, HashAlgorithm, KeyId, PrivateKey};
use tuf::metadata::{
    Metadata, MetadataDescription, MetadataPath, RawSignedMetadata, RootMetadata, SignedMetadata,
    SnapshotMetadata, SnapshotMetadataBuilder, TargetDescription, TargetPath, TargetsMetadata,
    TargetsMetadataBuilder, TimestampMetadata, TimestampMetadataBuilder,
};
use tuf::pouf::Pouf1;

use super::keys::TufKeys;
use super::targets::{Recorded, read_recorded};
use super::{Role, TufError, tuf_dir};
use crate::fs::Transaction;

/// How long each role's metadata stays valid (config `[tuf]`).
#[derive(Debug, Clone, Copy)]
pub struct Expiries {
    pub root: Duration,
    pub targets: Duration,
    pub snapshot: Duration,
    pub timestamp: Duration,
}

impl Expiries {
    pub fn from_config(config: &crate::config::Tuf) -> Self {
        let days = |days: u64| Duration::days(i64::try_from(days).unwrap_or(i64::MAX / 86_400_000));
        Self {
            root: days(config.root_expiry_days),
            targets: days(config.targets_expiry_days),
            snapshot: days(config.snapshot_expiry_days),
            timestamp: Duration::seconds(
                i64::try_from(config.timestamp_expiry_secs).unwrap_or(i64::MAX / 1000),
            ),
        }
    }
}

/// What signs: the keyring's keys, the expiries, and the time the expiries count from (whole
/// seconds: the spec's dates have no fraction).
#[derive(Debug, Clone)]
pub struct Publisher {
    pub keys: TufKeys,
    pub expiries: Expiries,
    now: DateTime<Utc>,
}

impl Publisher {
    pub fn new(keys: TufKeys, expiries: Expiries) -> Self {
        let now = Utc::now();
        let now = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        Self {
            keys,
            expiries,
            now,
        }
    }

    pub(super) fn expiry(&self, valid_for: Duration) -> DateTime<Utc> {
        self.now
            .checked_add_signed(valid_for)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Before a command changes a registry carrying TUF metadata: the keys that will sign it
    /// are at hand, and every file already there can be a target (so that nothing changes when
    /// the signing would fail). Nothing to check without metadata.
    pub fn check_keys(&self, site_dir: &Path) -> Result<(), TufError> {
        if !super::is_enabled(site_dir) {
            return Ok(());
        }
        let published = Published::read(site_dir)?;
        for role in [Role::Targets, Role::Snapshot, Role::Timestamp] {
            self.load(role, &published.root)?;
        }
        super::targets::target_paths(site_dir)?;
        Ok(())
    }

    pub(super) fn load(
        &self,
        role: Role,
        root: &RootMetadata,
    ) -> Result<Ed25519PrivateKey, TufError> {
        let definition = match role {
            Role::Targets => root.targets().key_ids(),
            Role::Snapshot => root.snapshot().key_ids(),
            Role::Timestamp => root.timestamp().key_ids(),
            Role::Root => root.root().key_ids(),
        };
        let mut ids: Vec<&KeyId> = definition.iter().collect();
        ids.sort();
        let mut missing = None;
        for id in ids {
            match self.keys.load(role.name(), id) {
                Ok(key) => return Ok(key),
                Err(error @ TufError::MissingKey { .. }) => missing = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(missing.unwrap_or_else(|| TufError::Malformed {
            path: Path::new("root.json").to_owned(),
            role: "root",
            message: format!("no key is listed for the {role} role"),
        }))
    }
}

/// The metadata the registry publishes now, parsed (the publisher trusts its own files; the
/// root is checked against its own keys all the same).
pub struct Published {
    pub root: RootMetadata,
    pub targets: TargetsMetadata,
    pub snapshot: SnapshotMetadata,
    pub timestamp: TimestampMetadata,
}

impl Published {
    pub fn read(site_dir: &Path) -> Result<Self, TufError> {
        if !super::is_enabled(site_dir) {
            return Err(TufError::NotInitialized {
                site: site_dir.to_owned(),
            });
        }
        let dir = tuf_dir(site_dir);
        let root_path = dir.join(Role::Root.file_name());
        let root_bytes = read_metadata(&root_path)?;
        let raw_root = RawSignedMetadata::<Pouf1, RootMetadata>::new(root_bytes);
        tuf::database::Database::<Pouf1>::from_trusted_root(&raw_root)
            .map_err(malformed(&root_path, Role::Root))?;
        Ok(Self {
            root: parse(&root_path, Role::Root, raw_root)?,
            targets: read_role(&dir, Role::Targets)?,
            snapshot: read_role(&dir, Role::Snapshot)?,
            timestamp: read_role(&dir, Role::Timestamp)?,
        })
    }
}

pub(super) fn read_metadata(path: &Path) -> Result<Vec<u8>, TufError> {
    crate::fs::read(path, crate::fs::FileKind::Metadata).map_err(TufError::io(path))
}

fn read_role<M: Metadata>(dir: &Path, role: Role) -> Result<M, TufError> {
    let path = dir.join(role.file_name());
    let raw = RawSignedMetadata::<Pouf1, M>::new(read_metadata(&path)?);
    parse(&path, role, raw)
}

fn parse<M: Metadata>(
    path: &Path,
    role: Role,
    raw: RawSignedMetadata<Pouf1, M>,
) -> Result<M, TufError> {
    raw.parse_untrusted()
        .and_then(|signed| signed.assume_valid())
        .map_err(malformed(path, role))
}

fn malformed(path: &Path, role: Role) -> impl FnOnce(tuf::Error) -> TufError + '_ {
    move |error| TufError::Malformed {
        path: path.to_owned(),
        role: role.name(),
        message: error.to_string(),
    }
}

/// The versions the last signing wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Versions {
    pub root: u32,
    pub targets: u32,
    pub snapshot: u32,
    pub timestamp: u32,
}

pub(super) fn next(version: u32) -> Result<u32, TufError> {
    version
        .checked_add(1)
        .ok_or(TufError::VersionOverflow { max: u32::MAX })
}

/// Writes one role's signed bytes into `tuf/`; `version_too` also as `<N>.<role>.json` (every
/// root version is kept, for clients that follow rotations).
pub(super) fn write_role<M: Metadata>(
    transaction: &mut Transaction,
    site_dir: &Path,
    signed: &SignedMetadata<Pouf1, M>,
    role: Role,
    version_too: Option<u32>,
) -> Result<Vec<u8>, TufError> {
    let bytes = signed
        .to_raw()
        .map_err(TufError::crypto("serialize metadata"))?
        .as_bytes()
        .to_vec();
    let dir = tuf_dir(site_dir);
    let mut names = vec![role.file_name()];
    names.extend(version_too.map(|version| format!("{version}.{}", role.file_name())));
    for name in names {
        let path = dir.join(name);
        transaction
            .write(&path, &bytes)
            .map_err(TufError::io(&path))?;
    }
    Ok(bytes)
}

fn description<M: Metadata>(
    bytes: &[u8],
    version: u32,
) -> Result<MetadataDescription<M>, TufError> {
    MetadataDescription::from_slice(bytes, version, &[HashAlgorithm::Sha256])
        .map_err(TufError::crypto("describe metadata"))
}

/// Signs the timestamp of `snapshot_bytes` at `version`.
pub(super) fn sign_timestamp(
    transaction: &mut Transaction,
    site_dir: &Path,
    publisher: &Publisher,
    key: &dyn PrivateKey,
    (snapshot_bytes, snapshot_version): (&[u8], u32),
    version: u32,
) -> Result<(), TufError> {
    let signed = TimestampMetadataBuilder::from_metadata_description(description(
        snapshot_bytes,
        snapshot_version,
    )?)
    .version(version)
    .expires(publisher.expiry(publisher.expiries.timestamp))
    .signed::<Pouf1>(key)
    .map_err(TufError::crypto("sign the timestamp"))?;
    write_role(transaction, site_dir, &signed, Role::Timestamp, None)?;
    Ok(())
}

/// Signs targets (the files now in the registry), snapshot and timestamp at the versions given.
pub(super) fn sign_chain(
    transaction: &mut Transaction,
    site_dir: &Path,
    publisher: &Publisher,
    root: &RootMetadata,
    targets: Vec<(TargetPath, TargetDescription)>,
    versions: Versions,
) -> Result<(), TufError> {
    let targets_key = publisher.load(Role::Targets, root)?;
    let snapshot_key = publisher.load(Role::Snapshot, root)?;
    let timestamp_key = publisher.load(Role::Timestamp, root)?;
    let signed_targets = targets
        .into_iter()
        .fold(TargetsMetadataBuilder::new(), |builder, (path, target)| {
            builder.insert_target_description(path, target)
        })
        .version(versions.targets)
        .expires(publisher.expiry(publisher.expiries.targets))
        .signed::<Pouf1>(&targets_key)
        .map_err(TufError::crypto("sign the targets"))?;
    let targets_bytes = write_role(transaction, site_dir, &signed_targets, Role::Targets, None)?;
    let signed_snapshot = SnapshotMetadataBuilder::new()
        .insert_metadata_description(
            MetadataPath::targets(),
            description(&targets_bytes, versions.targets)?,
        )
        .version(versions.snapshot)
        .expires(publisher.expiry(publisher.expiries.snapshot))
        .signed::<Pouf1>(&snapshot_key)
        .map_err(TufError::crypto("sign the snapshot"))?;
    let snapshot_bytes = write_role(
        transaction,
        site_dir,
        &signed_snapshot,
        Role::Snapshot,
        None,
    )?;
    sign_timestamp(
        transaction,
        site_dir,
        publisher,
        &timestamp_key,
        (&snapshot_bytes, versions.snapshot),
        versions.timestamp,
    )
}

/// After the registry's files changed: when the targets differ from what `targets.json` records,
/// new targets, snapshot and timestamp, one version up each. `None` when nothing changed.
pub fn sign_changes(
    transaction: &mut Transaction,
    site_dir: &Path,
    publisher: &Publisher,
    recorded: &Recorded,
) -> Result<Option<Versions>, TufError> {
    let published = Published::read(site_dir)?;
    let targets = super::targets::describe(site_dir, recorded)?;
    let now: HashMap<&TargetPath, &TargetDescription> = targets
        .iter()
        .map(|(path, target)| (path, target))
        .collect();
    let before: HashMap<&TargetPath, &TargetDescription> =
        published.targets.targets().iter().collect();
    if now == before {
        return Ok(None);
    }
    sign_next(transaction, site_dir, publisher, &published, targets).map(Some)
}

/// Targets, snapshot and timestamp of `targets`, one version above `published`'s each.
fn sign_next(
    transaction: &mut Transaction,
    site_dir: &Path,
    publisher: &Publisher,
    published: &Published,
    targets: Vec<(TargetPath, TargetDescription)>,
) -> Result<Versions, TufError> {
    let versions = Versions {
        root: published.root.version(),
        targets: next(published.targets.version())?,
        snapshot: next(published.snapshot.version())?,
        timestamp: next(published.timestamp.version())?,
    };
    let root = &published.root;
    sign_chain(transaction, site_dir, publisher, root, targets, versions)?;
    Ok(versions)
}

/// `registry tuf refresh`: a new timestamp; also new targets and snapshot when either would
/// expire before the new timestamp does (so that a cron job of `refresh` alone keeps the
/// registry valid).
pub fn refresh(
    transaction: &mut Transaction,
    site_dir: &Path,
    publisher: &Publisher,
) -> Result<Versions, TufError> {
    let published = Published::read(site_dir)?;
    let timestamp_expires = publisher.expiry(publisher.expiries.timestamp);
    let stale = |expires: &DateTime<Utc>| *expires <= timestamp_expires;
    if stale(published.targets.expires())
        || stale(published.snapshot.expires())
        || !snapshot_describes_targets(site_dir, &published)?
    {
        let targets = super::targets::describe(site_dir, &read_recorded(site_dir)?)?;
        return sign_next(transaction, site_dir, publisher, &published, targets);
    }
    let snapshot_path = tuf_dir(site_dir).join(Role::Snapshot.file_name());
    let snapshot_bytes = read_metadata(&snapshot_path)?;
    let key = publisher.load(Role::Timestamp, &published.root)?;
    let versions = Versions {
        root: published.root.version(),
        targets: published.targets.version(),
        snapshot: published.snapshot.version(),
        timestamp: next(published.timestamp.version())?,
    };
    sign_timestamp(
        transaction,
        site_dir,
        publisher,
        &key,
        (&snapshot_bytes, published.snapshot.version()),
        versions.timestamp,
    )?;
    Ok(versions)
}

/// Whether `snapshot.json` describes the `targets.json` on disk: not after a signing killed
/// between the two writes, which only a new targets and snapshot repair (a TUF client refuses
/// the pair).
fn snapshot_describes_targets(site_dir: &Path, published: &Published) -> Result<bool, TufError> {
    let targets_path = tuf_dir(site_dir).join(Role::Targets.file_name());
    let on_disk = description::<TargetsMetadata>(
        &read_metadata(&targets_path)?,
        published.targets.version(),
    )?;
    Ok(published.snapshot.meta().get(&MetadataPath::targets()) == Some(&on_disk))
}
