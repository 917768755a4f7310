//! The publisher's TUF keys: Ed25519 in PKCS#8. The online roles' keys (targets, snapshot,
//! timestamp) live in the user's keyring, `<config dir>/tuf-keys/<key id>.pk8`, found by the key
//! ids the registry's `root.json` lists; the root key lives in a file of its own, named by the
//! user, meant to be kept offline and brought back only to change the root.

use std::path::{Path, PathBuf};

use tuf::crypto::{Ed25519PrivateKey, KeyId, PrivateKey as _};

use super::TufError;
use crate::signing::Keyring;

/// The keyring's directory of TUF keys.
#[derive(Debug, Clone)]
pub struct TufKeys {
    dir: PathBuf,
    /// Where a new root key goes when the user names no file.
    root_dir: PathBuf,
}

/// A fresh key and its PKCS#8 bytes (what is written).
pub struct NewKey {
    pub key: Ed25519PrivateKey,
    pub pkcs8: Vec<u8>,
}

impl NewKey {
    pub fn generate() -> Result<Self, TufError> {
        let pkcs8 = Ed25519PrivateKey::pkcs8().map_err(TufError::crypto("generate a key"))?;
        let key = Ed25519PrivateKey::from_pkcs8(&pkcs8)
            .map_err(TufError::crypto("read a generated key"))?;
        Ok(Self { key, pkcs8 })
    }

    pub fn id(&self) -> &KeyId {
        self.key.public().key_id()
    }
}

impl TufKeys {
    pub fn of(keyring: &Keyring) -> Self {
        Self {
            dir: keyring.config_dir.join("tuf-keys"),
            root_dir: keyring.config_dir.join("tuf-root"),
        }
    }

    /// Where a new root key goes when the user names no file: `<keyring>/tuf-root/<id>.pk8`.
    pub fn default_root_key_path(&self, id: &KeyId) -> PathBuf {
        self.root_dir.join(format!("{id}.pk8"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, id: &KeyId) -> PathBuf {
        self.dir.join(format!("{}.pk8", id))
    }

    /// Writes `key` into the keyring, readable by the user alone.
    pub fn store(&self, key: &NewKey) -> Result<PathBuf, TufError> {
        let path = self.path(key.id());
        crate::fs::create_dir_all(&self.dir).map_err(TufError::io(&self.dir))?;
        crate::fs::atomic_write_private(&path, &key.pkcs8).map_err(TufError::io(&path))?;
        Ok(path)
    }

    /// The private key of `id`, which signs `role`.
    pub fn load(&self, role: &'static str, id: &KeyId) -> Result<Ed25519PrivateKey, TufError> {
        let path = self.path(id);
        if !path.exists() {
            return Err(TufError::MissingKey {
                role,
                key_id: id.to_string(),
                path,
            });
        }
        read_key_file(&path)
    }
}

/// Reads a PKCS#8 Ed25519 key file (the root key's, or one of the keyring's).
pub fn read_key_file(path: &Path) -> Result<Ed25519PrivateKey, TufError> {
    let bytes = crate::fs::read(path, crate::fs::FileKind::Key).map_err(TufError::io(path))?;
    Ed25519PrivateKey::from_pkcs8(&bytes).map_err(|_| TufError::NotAKey {
        path: path.to_owned(),
    })
}

/// Writes a root key into a new file of its own, readable by the user alone; an existing file
/// is never replaced (it may be the only copy of a root key). `flag` is the option that names
/// the file, for the hint.
pub fn write_root_key(path: &Path, key: &NewKey, flag: &'static str) -> Result<(), TufError> {
    if path.symlink_metadata().is_ok() {
        return Err(TufError::RootKeyExists {
            path: path.to_owned(),
            flag,
        });
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::fs::create_dir_all(parent).map_err(TufError::io(parent))?;
    }
    crate::fs::atomic_write_private(path, &key.pkcs8).map_err(TufError::io(path))
}
