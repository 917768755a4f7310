//! The root's changes: the first root (`registry tuf init`) and a role's key replaced (`registry
//! tuf rotate`), each a new root version signed as the specification asks.

use std::path::Path;

use tuf::crypto::{Ed25519PrivateKey, KeyId, PrivateKey as _, PublicKey};
use tuf::metadata::{Metadata as _, RootMetadata, RootMetadataBuilder, SignedMetadata};
use tuf::pouf::Pouf1;

use super::keys::NewKey;
use super::publish::{
    Published, Publisher, Versions, next, read_metadata, sign_chain, sign_timestamp, write_role,
};
use super::{Role, TufError, tuf_dir};
use crate::fs::Transaction;

/// The keys of a new root: the root key and one per online role.
pub struct RootKeys<'a> {
    pub root: &'a [&'a PublicKey],
    pub targets: &'a PublicKey,
    pub snapshot: &'a PublicKey,
    pub timestamp: &'a PublicKey,
}

fn build_root(
    publisher: &Publisher,
    version: u32,
    keys: &RootKeys<'_>,
) -> Result<RootMetadata, TufError> {
    keys.root
        .iter()
        .fold(RootMetadataBuilder::new(), |builder, key| {
            builder.root_key((*key).clone())
        })
        .version(version)
        .expires(publisher.expiry(publisher.expiries.root))
        .consistent_snapshot(false)
        .targets_key(keys.targets.clone())
        .snapshot_key(keys.snapshot.clone())
        .timestamp_key(keys.timestamp.clone())
        .build()
        .map_err(TufError::crypto("build the root"))
}

/// Signs `root` with every key of `signers` and writes it as `root.json` and `<N>.root.json`.
fn write_root(
    transaction: &mut Transaction,
    site_dir: &Path,
    root: &RootMetadata,
    signers: &[&Ed25519PrivateKey],
) -> Result<(), TufError> {
    let (first, rest) = signers.split_first().ok_or(TufError::Crypto {
        what: "sign the root",
        message: "no root key".into(),
    })?;
    let mut signed = SignedMetadata::<Pouf1, RootMetadata>::new(root, *first)
        .map_err(TufError::crypto("sign the root"))?;
    for key in rest {
        signed
            .add_signature(*key)
            .map_err(TufError::crypto("sign the root"))?;
    }
    write_role(
        transaction,
        site_dir,
        &signed,
        Role::Root,
        Some(root.version()),
    )?;
    Ok(())
}

/// What `init` made: the key ids of each role.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Initialized {
    pub root_key_file: std::path::PathBuf,
    pub root: String,
    pub targets: String,
    pub snapshot: String,
    pub timestamp: String,
    pub versions: Versions,
}

/// `registry tuf init`: four new keys (the online three into the keyring, the root key into
/// `root_key_out`), root version 1, then targets, snapshot and timestamp of what the registry
/// holds. Refused when the registry already has metadata.
pub fn init(
    transaction: &mut Transaction,
    site_dir: &Path,
    publisher: &Publisher,
    root_key_out: Option<&Path>,
) -> Result<Initialized, TufError> {
    if super::is_enabled(site_dir) {
        return Err(TufError::AlreadyInitialized {
            site: site_dir.to_owned(),
        });
    }
    // What the registry holds is described first: a file that cannot be a target refuses
    // before any key is written.
    let described = super::targets::describe(site_dir, &super::targets::read_recorded(site_dir)?)?;
    let [root, targets, snapshot, timestamp] = [(); 4].map(|()| NewKey::generate());
    let (root, targets, snapshot, timestamp) = (root?, targets?, snapshot?, timestamp?);
    // The root key first: a file already there refuses before anything is written.
    let root_key_path = root_key_out.map_or_else(
        || publisher.keys.default_root_key_path(root.id()),
        Path::to_owned,
    );
    super::keys::write_root_key(&root_key_path, &root, "--root-key-out")?;
    for key in [&targets, &snapshot, &timestamp] {
        publisher.keys.store(key)?;
    }
    let metadata = build_root(
        publisher,
        1,
        &RootKeys {
            root: &[root.key.public()],
            targets: targets.key.public(),
            snapshot: snapshot.key.public(),
            timestamp: timestamp.key.public(),
        },
    )?;
    transaction
        .create_dir_all(&tuf_dir(site_dir))
        .map_err(TufError::io(site_dir))?;
    write_root(transaction, site_dir, &metadata, &[&root.key])?;
    let versions = Versions {
        root: 1,
        targets: 1,
        snapshot: 1,
        timestamp: 1,
    };
    sign_chain(
        transaction,
        site_dir,
        publisher,
        &metadata,
        described,
        versions,
    )?;
    let id = |key: &NewKey| key.id().to_string();
    Ok(Initialized {
        root_key_file: root_key_path,
        root: id(&root),
        targets: id(&targets),
        snapshot: id(&snapshot),
        timestamp: id(&timestamp),
        versions,
    })
}

/// The root key in `path`, checked to be one the current root lists.
pub fn current_root_key(path: &Path, root: &RootMetadata) -> Result<Ed25519PrivateKey, TufError> {
    let key = super::keys::read_key_file(path)?;
    if !root.root().key_ids().contains(key.public().key_id()) {
        let mut expected: Vec<String> =
            root.root().key_ids().iter().map(KeyId::to_string).collect();
        expected.sort_unstable();
        return Err(TufError::WrongRootKey {
            path: path.to_owned(),
            given: key.public().key_id().to_string(),
            expected: expected.join(", "),
        });
    }
    Ok(key)
}

/// What `rotate` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rotated {
    pub new_key_file: std::path::PathBuf,
    pub role: &'static str,
    pub retired: Vec<String>,
    pub new: String,
    pub versions: Versions,
}

/// `registry tuf rotate ROLE`: a new key for `role`, a new root version listing it, signed by
/// the current root key (and by the new one when the root itself rotates, as the spec asks),
/// then the role re-signed with its new key (and the roles that describe it).
pub fn rotate(
    transaction: &mut Transaction,
    site_dir: &Path,
    publisher: &Publisher,
    role: Role,
    root_key: &Path,
    new_root_key_out: Option<&Path>,
) -> Result<Rotated, TufError> {
    let published = Published::read(site_dir)?;
    let old_root_key = current_root_key(root_key, &published.root)?;
    // The keys that sign again with the rotated one are at hand, and the files the targets
    // list can be, before the new key is written.
    for &other in resigned_with(role) {
        publisher.load(other, &published.root)?;
    }
    if matches!(role, Role::Targets | Role::Snapshot) {
        super::targets::target_paths(site_dir)?;
    }
    let new_key = NewKey::generate()?;
    let new_key_file = if role == Role::Root {
        let path = new_root_key_out.map_or_else(
            || publisher.keys.default_root_key_path(new_key.id()),
            Path::to_owned,
        );
        super::keys::write_root_key(&path, &new_key, "--new-root-key-out")?;
        path
    } else {
        publisher.keys.store(&new_key)?
    };
    let first =
        |keys: Vec<&PublicKey>| keys.into_iter().min_by_key(|k| k.key_id().clone()).cloned();
    let current = |keys: Vec<&PublicKey>| {
        first(keys).ok_or(TufError::Malformed {
            path: tuf_dir(site_dir).join("root.json"),
            role: "root",
            message: "a role lists no key".into(),
        })
    };
    let root = &published.root;
    let pick = |which: Role, keys: Vec<&PublicKey>| -> Result<PublicKey, TufError> {
        if which == role {
            Ok(new_key.key.public().clone())
        } else {
            current(keys)
        }
    };
    let root_public = pick(Role::Root, root.root_keys().collect())?;
    let targets = pick(Role::Targets, root.targets_keys().collect())?;
    let snapshot = pick(Role::Snapshot, root.snapshot_keys().collect())?;
    let timestamp = pick(Role::Timestamp, root.timestamp_keys().collect())?;
    let root_version = next(root.version())?;
    let metadata = build_root(
        publisher,
        root_version,
        &RootKeys {
            root: &[&root_public],
            targets: &targets,
            snapshot: &snapshot,
            timestamp: &timestamp,
        },
    )?;
    let mut signers = vec![&old_root_key];
    if role == Role::Root {
        signers.push(&new_key.key);
    }
    write_root(transaction, site_dir, &metadata, &signers)?;
    let retired = retired_ids(root, role);
    let versions = resign_after_rotation(
        transaction,
        site_dir,
        publisher,
        &published,
        &metadata,
        role,
    )?;
    Ok(Rotated {
        new_key_file,
        role: role.name(),
        retired,
        new: new_key.id().to_string(),
        versions,
    })
}

/// The online roles signed again, with their current keys, after `role`'s key is replaced (see
/// [`resign_after_rotation`]).
fn resigned_with(role: Role) -> &'static [Role] {
    match role {
        Role::Root | Role::Timestamp => &[],
        Role::Targets => &[Role::Snapshot, Role::Timestamp],
        Role::Snapshot => &[Role::Targets, Role::Timestamp],
    }
}

fn retired_ids(root: &RootMetadata, role: Role) -> Vec<String> {
    let ids = match role {
        Role::Root => root.root().key_ids(),
        Role::Targets => root.targets().key_ids(),
        Role::Snapshot => root.snapshot().key_ids(),
        Role::Timestamp => root.timestamp().key_ids(),
    };
    let mut ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    ids.sort();
    ids
}

/// After a rotation: the rotated role and those that describe it signed again, one version up
/// (a root rotation alone changes nothing else).
fn resign_after_rotation(
    transaction: &mut Transaction,
    site_dir: &Path,
    publisher: &Publisher,
    published: &Published,
    root: &RootMetadata,
    role: Role,
) -> Result<Versions, TufError> {
    let mut versions = Versions {
        root: root.version(),
        targets: published.targets.version(),
        snapshot: published.snapshot.version(),
        timestamp: published.timestamp.version(),
    };
    if role == Role::Root {
        return Ok(versions);
    }
    versions.timestamp = next(versions.timestamp)?;
    if role == Role::Timestamp {
        let snapshot_bytes = read_metadata(&tuf_dir(site_dir).join(Role::Snapshot.file_name()))?;
        let key = publisher.load(Role::Timestamp, root)?;
        let snapshot = (snapshot_bytes.as_slice(), versions.snapshot);
        sign_timestamp(
            transaction,
            site_dir,
            publisher,
            &key,
            snapshot,
            versions.timestamp,
        )?;
        return Ok(versions);
    }
    versions.targets = next(versions.targets)?;
    versions.snapshot = next(versions.snapshot)?;
    let targets = super::targets::describe(site_dir, &super::targets::read_recorded(site_dir)?)?;
    sign_chain(transaction, site_dir, publisher, root, targets, versions)?;
    Ok(versions)
}
