//! Verifying an artifact: its size, sha256 and content hash against what the registry (or a
//! lock) records, its files as hostile input ([`super::unpack`]), and its signature against the
//! trusted keys, bound to its module, version and sha256. `pack verify` reports every check;
//! `install` and `sync` stop at the first that fails.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::ArtifactFile;
use super::unpack::{self, Limits};
use crate::digest::{ContentHash, Sha256};
use crate::names::PackRef;
use crate::signing::{self, Signer, SigningError, TrustedKey};

/// What the artifact must be.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    pub size: Option<u64>,
    pub sha256: Option<Sha256>,
    pub content_hash: Option<ContentHash>,
}

/// What a pack must satisfy beyond its recorded hashes.
#[derive(Debug, Clone)]
pub struct Trust<'a> {
    pub keys: &'a [TrustedKey],
    pub limits: Limits,
    /// What to do with a pack with no signature, or signed by a key not trusted.
    pub unsigned: Unsigned,
}

/// A pack with no signature, or signed by a key not trusted: accepted or refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsigned {
    /// Accepted: `--allow-unsigned`.
    Allowed,
    /// Refused. `overridable`: the command takes `--allow-unsigned`, so the hint names it
    /// (`pack verify` does not).
    Refused { overridable: bool },
}

impl Unsigned {
    /// What a command's `--allow-unsigned` says.
    pub fn from_flag(allow_unsigned: bool) -> Self {
        if allow_unsigned {
            Unsigned::Allowed
        } else {
            Unsigned::Refused { overridable: true }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Failed,
    /// Unsigned or signed by an untrusted key, accepted because `--allow-unsigned` said so.
    Allowed,
    /// Nothing recorded to check against.
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub status: Status,
    pub detail: String,
}

/// The outcome of every check.
#[derive(Debug)]
pub struct Report {
    pub checks: Vec<Check>,
    pub sha256: Sha256,
    pub content_hash: Option<ContentHash>,
    /// The files, when the archive could be read safely.
    pub files: Option<Vec<ArtifactFile>>,
    pub signer: Option<Signer>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.checks
            .iter()
            .all(|check| check.status != Status::Failed)
    }

    pub fn first_failure(&self) -> Option<&Check> {
        self.checks
            .iter()
            .find(|check| check.status == Status::Failed)
    }
}

/// The signature of an artifact, read from beside it.
#[derive(Debug, Clone)]
pub struct SignatureFile {
    pub path: PathBuf,
    pub text: String,
}

impl SignatureFile {
    /// `<artifact>.minisig`, if it exists.
    pub fn beside(artifact: &Path) -> std::io::Result<Option<Self>> {
        let mut name = artifact.as_os_str().to_owned();
        name.push(".minisig");
        let path = PathBuf::from(name);
        match crate::fs::read(&path, crate::fs::FileKind::Signature) {
            Ok(bytes) => {
                let text = String::from_utf8(bytes).map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("`{}` is not UTF-8", path.display()),
                    )
                })?;
                Ok(Some(Self { path, text }))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// Runs every check on `bytes`, the artifact of `pack`.
pub fn verify(
    bytes: &[u8],
    pack: &PackRef,
    expected: &Expected,
    signature: Option<&SignatureFile>,
    trust: &Trust<'_>,
) -> Report {
    let mut checks = Vec::new();
    checks.push(compare("size", expected.size, bytes.len() as u64));
    let sha256 = Sha256::of(bytes);
    checks.push(compare("sha256", expected.sha256, sha256));
    let (files, content_hash) = match unpack::read_artifact(bytes, &pack.module, &trust.limits) {
        Ok(files) => {
            let hash = unpack::content_hash(&pack.module, &files);
            checks.push(compare("content hash", expected.content_hash, hash));
            (Some(files), Some(hash))
        }
        Err(error) => {
            checks.push(Check {
                check: "archive",
                status: Status::Failed,
                detail: error.to_string(),
            });
            (None, None)
        }
    };
    let (check, signer) = check_signature(bytes, pack, &sha256, signature, trust);
    checks.push(check);
    Report {
        checks,
        sha256,
        content_hash,
        files,
        signer,
    }
}

fn compare<T: PartialEq + std::fmt::Display>(
    check: &'static str,
    expected: Option<T>,
    found: T,
) -> Check {
    match expected {
        None => Check {
            check,
            status: Status::Skipped,
            detail: format!("{found} (nothing recorded to compare)"),
        },
        Some(expected) if expected == found => Check {
            check,
            status: Status::Ok,
            detail: found.to_string(),
        },
        Some(expected) => Check {
            check,
            status: Status::Failed,
            detail: format!("expected {expected}, found {found}"),
        },
    }
}

fn check_signature(
    bytes: &[u8],
    pack: &PackRef,
    sha256: &Sha256,
    signature: Option<&SignatureFile>,
    trust: &Trust<'_>,
) -> (Check, Option<Signer>) {
    let allow_unsigned = trust.unsigned == Unsigned::Allowed;
    let check = "signature";
    let Some(signature) = signature else {
        // A user with a key signs by packing again; without one, generating it comes first.
        let sign = if trust
            .keys
            .iter()
            .any(|key| key.source == signing::KeySource::Own)
        {
            "pack it again to sign it with your key (a signature can come after its version)"
        } else {
            "sign packs with a key (`provisioning keys generate`, then pack again)"
        };
        let (status, detail) = match trust.unsigned {
            Unsigned::Allowed => (
                Status::Allowed,
                "unsigned, allowed by `--allow-unsigned`".to_owned(),
            ),
            Unsigned::Refused { overridable: true } => (
                Status::Failed,
                format!("the artifact is not signed\nhint: {sign}, or pass `--allow-unsigned`"),
            ),
            Unsigned::Refused { overridable: false } => (
                Status::Failed,
                format!("the artifact is not signed\nhint: {sign}"),
            ),
        };
        return (
            Check {
                check,
                status,
                detail,
            },
            None,
        );
    };
    match signing::verify(
        trust.keys,
        &signature.path,
        &signature.text,
        bytes,
        pack,
        sha256,
    ) {
        Ok(signer) => (
            Check {
                check,
                status: Status::Ok,
                detail: format!("signed by key {} ({})", signer.key_id, signer.source),
            },
            Some(signer),
        ),
        Err(SigningError::UntrustedKey { key_id, .. }) if allow_unsigned => (
            Check {
                check,
                status: Status::Allowed,
                detail: format!("signed by untrusted key {key_id}, allowed by `--allow-unsigned`"),
            },
            None,
        ),
        Err(error) => (
            Check {
                check,
                status: Status::Failed,
                detail: error.to_string(),
            },
            None,
        ),
    }
}
