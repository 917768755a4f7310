//! A TUF publisher for tests, built on rust-tuf's `RepoBuilder` (the same library the tool
//! verifies with, but none of the tool's code): it signs the metadata of a `distribution/`
//! directory as the contract says (`tuf/root.json`, `tuf/<N>.root.json`, `tuf/timestamp.json`,
//! `tuf/snapshot.json`, `tuf/targets.json`; every file of `index.json`, `registry/*.json` and
//! `packages/` a target), and can rotate keys, back-date the timestamp, and replay old files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use futures_executor::block_on;
use futures_util::io::Cursor;
use tuf::Database;
use tuf::crypto::Ed25519PrivateKey;
use tuf::metadata::{Metadata as _, TargetPath};
use tuf::pouf::Pouf1;
use tuf::repo_builder::RepoBuilder;
use tuf::repository::EphemeralRepository;

pub struct TufPublisher {
    distribution: PathBuf,
    pub root: Ed25519PrivateKey,
    pub targets: Ed25519PrivateKey,
    pub snapshot: Ed25519PrivateKey,
    pub timestamp: Ed25519PrivateKey,
    db: Option<Database<Pouf1>>,
}

fn key() -> Ed25519PrivateKey {
    Ed25519PrivateKey::from_pkcs8(&Ed25519PrivateKey::pkcs8().expect("key")).expect("key")
}

/// What a publish changes.
#[derive(Default)]
pub struct Publish<'a> {
    /// The old root key, which signs a new root when the root key is rotated.
    pub old_root: Option<&'a Ed25519PrivateKey>,
    /// The time the metadata is signed at (its expiries count from it); now when none.
    pub at: Option<chrono::DateTime<chrono::Utc>>,
}

impl TufPublisher {
    /// Keys for every role and the first metadata of `distribution`.
    pub fn init(distribution: &Path) -> Self {
        let mut publisher = Self {
            distribution: distribution.to_owned(),
            root: key(),
            targets: key(),
            snapshot: key(),
            timestamp: key(),
            db: None,
        };
        publisher.publish();
        publisher
    }

    pub fn tuf_dir(&self) -> PathBuf {
        self.distribution.join("tuf")
    }

    /// New metadata for what `distribution/` holds now.
    pub fn publish(&mut self) {
        self.publish_with(&Publish::default());
    }

    pub fn publish_with(&mut self, how: &Publish<'_>) {
        let files = self.files();
        let mut repo = EphemeralRepository::<Pouf1>::new();
        let builder = match &self.db {
            Some(db) => RepoBuilder::from_database(&mut repo, db),
            None => RepoBuilder::create(&mut repo),
        };
        let mut builder = builder
            .trusted_root_keys(&[&self.root])
            .trusted_targets_keys(&[&self.targets])
            .trusted_snapshot_keys(&[&self.snapshot])
            .trusted_timestamp_keys(&[&self.timestamp]);
        if let Some(old) = how.old_root {
            builder = builder.signing_root_keys(&[old]);
        }
        if let Some(at) = how.at {
            builder = builder.current_time(at);
        }
        let set = block_on(async {
            let mut builder = builder
                .stage_root_if_necessary()
                .expect("root")
                .inherit_from_trusted_targets(false);
            for (path, bytes) in &files {
                builder = builder
                    .add_target(
                        TargetPath::new(path.clone()).expect("path"),
                        Cursor::new(bytes),
                    )
                    .await
                    .expect("target");
            }
            builder.commit().await.expect("commit")
        });
        match &mut self.db {
            Some(db) => {
                db.update_metadata_with_start_time(&set, &how.at.unwrap_or_else(chrono::Utc::now))
                    .expect("trusted");
            }
            None => self.db = Some(Database::from_trusted_metadata(&set).expect("trusted")),
        }
        let tuf = self.tuf_dir();
        std::fs::create_dir_all(&tuf).expect("tuf dir");
        if let Some(root) = set.root() {
            let version = self.db.as_ref().expect("db").trusted_root().version();
            std::fs::write(tuf.join(format!("{version}.root.json")), root.as_bytes())
                .expect("root");
            std::fs::write(tuf.join("root.json"), root.as_bytes()).expect("root");
        }
        let roles = [
            ("targets.json", set.targets().map(|raw| raw.as_bytes())),
            ("snapshot.json", set.snapshot().map(|raw| raw.as_bytes())),
            ("timestamp.json", set.timestamp().map(|raw| raw.as_bytes())),
        ];
        for (name, bytes) in roles {
            if let Some(bytes) = bytes {
                std::fs::write(tuf.join(name), bytes).expect("metadata");
            }
        }
    }

    /// Rotates the key of `role` (`root`, `timestamp`, ...) and publishes: a new root version
    /// signed by the old root key and the new one.
    pub fn rotate(&mut self, role: &str) {
        let old_root = std::mem::replace(&mut self.root, key());
        if role != "root" {
            self.root = old_root;
            match role {
                "timestamp" => self.timestamp = key(),
                "snapshot" => self.snapshot = key(),
                "targets" => self.targets = key(),
                other => panic!("no role {other}"),
            }
            self.publish();
            return;
        }
        self.publish_with(&Publish {
            old_root: Some(&old_root),
            at: None,
        });
    }

    /// Every target: `index.json`, `registry/*.json`, every file in `packages/`.
    fn files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut files = BTreeMap::new();
        let index = self.distribution.join("index.json");
        if index.is_file() {
            files.insert(
                "index.json".to_owned(),
                std::fs::read(index).expect("index"),
            );
        }
        for dir in ["registry", "packages"] {
            for entry in std::fs::read_dir(self.distribution.join(dir))
                .expect("dir")
                .flatten()
            {
                let name = entry.file_name().to_string_lossy().into_owned();
                let is_record = dir != "registry" || name.ends_with(".json");
                if entry.path().is_file() && is_record {
                    files.insert(
                        format!("{dir}/{name}"),
                        std::fs::read(entry.path()).expect("file"),
                    );
                }
            }
        }
        files
    }

    /// The metadata files as they are now (to put back later: a replay).
    pub fn keep(&self) -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(self.tuf_dir())
            .expect("tuf dir")
            .flatten()
            .map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                (name, std::fs::read(entry.path()).expect("read"))
            })
            .collect()
    }

    /// Puts `kept` files back (the others stay).
    pub fn put_back(&self, kept: &BTreeMap<String, Vec<u8>>, names: &[&str]) {
        for name in names {
            std::fs::write(self.tuf_dir().join(name), &kept[*name]).expect("write");
        }
    }
}
