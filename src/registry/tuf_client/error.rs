//! How a refused TUF refresh or file is said: the attack it stops, the role, and a hint. rust-tuf's
//! errors are mapped here, once ([`TufError::from_tuf`]); their Debug text is never printed.

use tuf::metadata::MetadataPath;

#[derive(Debug, Clone, thiserror::Error)]
pub enum TufError {
    #[error(
        "rollback attack refused: `{registry}` serves {role} metadata version {found}, older than version {trusted} trusted before\nhint: the registry (or a mirror, a proxy) serves old metadata; `provisioning registry tuf status {registry}` shows what is trusted"
    )]
    Rollback {
        registry: String,
        role: String,
        trusted: u32,
        found: u32,
    },
    #[error(
        "freeze attack refused: the {role} metadata of `{registry}` expired at {expires}\nhint: `provisioning registry tuf status {registry}` shows each role's expiry; its publisher re-signs with `provisioning registry tuf refresh`"
    )]
    Freeze {
        registry: String,
        role: String,
        expires: String,
    },
    #[error(
        "mix-and-match or tampering refused: `{file}` from `{registry}` {detail}, not what its {role} metadata records\nhint: the registry serves a file its signed metadata does not describe; the files were not published together, or were changed after signing"
    )]
    Mismatch {
        registry: String,
        file: String,
        role: String,
        detail: String,
    },
    #[error(
        "signature threshold not met: the {role} metadata of `{registry}` has {valid} valid signature(s) of the {threshold} needed, from the keys {keys}\nhint: metadata signed by a retired or unknown key is refused; `provisioning registry tuf status {registry}` shows the trusted keys"
    )]
    Signature {
        registry: String,
        role: String,
        valid: u32,
        threshold: u32,
        keys: String,
    },
    #[error(
        "`{file}` is not among the targets of `{registry}`'s TUF metadata: refusing to use it\nhint: every file the publisher's commands write is a target; a file added by other means is not trusted"
    )]
    NotATarget { registry: String, file: String },
    #[error(
        "`{registry}` has a pinned TUF root but serves no `{file}`\nhint: its publisher writes the metadata with `provisioning registry tuf init`; upload `tuf/` with `registry/` and `packages/`"
    )]
    Missing { registry: String, file: String },
    #[error("`{file}` of `{registry}` is not valid TUF metadata: {reason}")]
    Invalid {
        registry: String,
        file: String,
        reason: String,
    },
    #[error(
        "no trusted TUF metadata of `{registry}` yet, and `--offline` forbids fetching it\nhint: run once without `--offline`"
    )]
    OfflineNothing { registry: String },
    /// Reading a metadata file failed (the registry's own error, as it printed).
    #[error("{message}")]
    Read { message: String },
    #[error("failed to {action} `{path}`: {reason}")]
    Disk {
        action: &'static str,
        path: String,
        reason: String,
    },
}

impl TufError {
    /// rust-tuf's `error` while verifying `file` of `registry`, as the attack it is.
    /// `keys` names the key ids a role's signature was checked against.
    pub fn from_tuf(
        error: tuf::Error,
        registry: &str,
        file: &str,
        keys: &dyn Fn(&MetadataPath) -> String,
    ) -> Self {
        let registry = registry.to_owned();
        match error {
            tuf::Error::AttemptedMetadataRollBack {
                role,
                trusted_version,
                new_version,
            } => Self::Rollback {
                registry,
                role: role.to_string(),
                trusted: trusted_version,
                found: new_version,
            },
            tuf::Error::ExpiredMetadata {
                path, expiration, ..
            } => Self::Freeze {
                registry,
                role: path.to_string(),
                expires: super::rfc3339(&expiration),
            },
            tuf::Error::MetadataMissingSignatures {
                role,
                number_of_valid_signatures,
                threshold,
            } => Self::Signature {
                registry,
                keys: keys(&role),
                role: role.to_string(),
                valid: number_of_valid_signatures,
                threshold,
            },
            tuf::Error::BadSignature(role) => Self::Signature {
                registry,
                keys: keys(&role),
                role: role.to_string(),
                valid: 0,
                threshold: 1,
            },
            tuf::Error::WrongMetadataVersion {
                parent_role,
                child_role,
                expected_version,
                new_version,
            } => Self::Mismatch {
                registry,
                file: format!("tuf/{child_role}.json"),
                role: parent_role.to_string(),
                detail: format!("is version {new_version} where version {expected_version} is due"),
            },
            other => Self::Invalid {
                registry,
                file: file.to_owned(),
                reason: other.to_string(),
            },
        }
    }
}
