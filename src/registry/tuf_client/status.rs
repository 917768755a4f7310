//! What a pin trusts, for `registry tuf pin` and `registry tuf status`: a root checked by its own
//! keys, and each role's version, expiry and key ids as the last refresh verified them.

use tuf::Database;
use tuf::metadata::{Metadata as _, MetadataPath, RawSignedMetadata};
use tuf::pouf::Pouf1;

use super::pin::{PinDir, Trusted};
use super::{TufError, refresh};

/// One role as trusted.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RoleStatus {
    pub role: &'static str,
    pub version: u32,
    pub expires: String,
    pub expired: bool,
    pub key_ids: Vec<String>,
}

/// One pinned registry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PinStatus {
    pub registry: String,
    /// When the last refresh verified the metadata; none before the first.
    pub verified_at: Option<String>,
    pub roles: Vec<RoleStatus>,
}

/// `bytes` are a TUF root signed by a threshold of its own root keys: its version.
pub fn check_root(bytes: &[u8]) -> Result<u32, String> {
    let raw = RawSignedMetadata::<Pouf1, tuf::metadata::RootMetadata>::new(bytes.to_vec());
    Database::<Pouf1>::from_trusted_root(&raw)
        .map(|db| db.trusted_root().version())
        .map_err(|error| error.to_string())
}

/// What `pin` trusts now.
pub fn status(pin: &PinDir) -> Result<PinStatus, TufError> {
    let registry = pin.registry();
    let stored = pin.trusted()?;
    let verified_at = stored
        .as_ref()
        .map(|trusted| crate::time::rfc3339(u64::try_from(trusted.verified_at).unwrap_or(0)));
    let trusted = match stored {
        Some(trusted) => trusted,
        None => Trusted {
            root: String::from_utf8_lossy(&pin.root()?).into_owned(),
            ..Trusted::default()
        },
    };
    let loader = refresh::Refresh {
        pin,
        registry: &registry,
    };
    let db = loader.load(&trusted)?;
    let now = chrono::Utc::now();
    let role = |role: &'static str, path: MetadataPath, version: u32, expires| RoleStatus {
        role,
        version,
        expires: super::rfc3339(expires),
        expired: *expires <= now,
        key_ids: refresh::key_id_list(&db, &path),
    };
    let root = db.trusted_root();
    let mut roles = vec![role(
        "root",
        MetadataPath::root(),
        root.version(),
        root.expires(),
    )];
    if let Some(timestamp) = db.trusted_timestamp() {
        let path = MetadataPath::timestamp();
        roles.push(role(
            "timestamp",
            path,
            timestamp.version(),
            timestamp.expires(),
        ));
    }
    if let Some(snapshot) = db.trusted_snapshot() {
        let path = MetadataPath::snapshot();
        roles.push(role(
            "snapshot",
            path,
            snapshot.version(),
            snapshot.expires(),
        ));
    }
    if let Some(targets) = db.trusted_targets() {
        let path = MetadataPath::targets();
        roles.push(role("targets", path, targets.version(), targets.expires()));
    }
    Ok(PinStatus {
        registry,
        verified_at,
        roles,
    })
}
