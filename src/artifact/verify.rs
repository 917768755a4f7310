//! Verifying an artifact: its size, sha256 and content hash against what the registry (or a
//! lock) records, its files as hostile input ([`super::unpack`]), and its signature against the
//! trusted keys, bound to its module, version and sha256. `pack verify` reports every check;
//! `install` and `sync` stop at the first that fails.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::ArtifactFile;
use super::unpack::{self, Limits};
use crate::digest::{ContentHash, Sha256};
use crate::names::{ModuleName, PackRef, ShortName};
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

/// What a command's `--allow-unsigned` accepts: nothing (the flag absent), every module (the
/// bare flag), or only the modules it names (`--allow-unsigned=upcloud,provisioning_core`), so
/// that accepting one unsigned dependency keeps the check of every other pack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AllowUnsigned {
    #[default]
    None,
    All,
    /// Named as commands name modules: a provider by its name or its module name (`upcloud`,
    /// `upcloud_prov`), every other module by its module name.
    Only(BTreeSet<ShortName>),
}

impl AllowUnsigned {
    /// From the flag as clap parses it: absent, bare (no names), or with names.
    pub fn from_arg(names: Option<Vec<ShortName>>) -> Self {
        match names {
            None => AllowUnsigned::None,
            Some(names) if names.is_empty() => AllowUnsigned::All,
            Some(names) => AllowUnsigned::Only(names.into_iter().collect()),
        }
    }

    /// Whether `module` may be unsigned or signed by a key not trusted.
    pub fn allows(&self, module: &ModuleName) -> bool {
        match self {
            AllowUnsigned::None => false,
            AllowUnsigned::All => true,
            AllowUnsigned::Only(names) => names
                .iter()
                .any(|name| *name == module.short_name() || module.as_str() == name.as_str()),
        }
    }
}

/// The flag that accepts `module` unsigned and nothing else: the hint of a refusal.
pub fn allow_unsigned_flag(module: &ModuleName) -> String {
    format!("`--allow-unsigned={}`", module.short_name())
}

/// A pack with no signature, or signed by a key not trusted: accepted or refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsigned {
    /// The command takes `--allow-unsigned`: accepted for the modules it allows; refused for
    /// the others with a hint that names the flag scoped to the module refused.
    Overridable(AllowUnsigned),
    /// Refused, and the command has no flag to accept it (`pack verify`, `sync` of a pack the
    /// lock records as signed).
    Refused,
}

impl Unsigned {
    /// Whether `module` is accepted unsigned.
    pub fn allows(&self, module: &ModuleName) -> bool {
        match self {
            Unsigned::Overridable(allow) => allow.allows(module),
            Unsigned::Refused => false,
        }
    }

    /// Whether a refusal's hint may name `--allow-unsigned`.
    pub fn overridable(&self) -> bool {
        matches!(self, Unsigned::Overridable(_))
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
    let allow_unsigned = trust.unsigned.allows(&pack.module);
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
        let (status, detail) = if allow_unsigned {
            (
                Status::Allowed,
                "unsigned, allowed by `--allow-unsigned`".to_owned(),
            )
        } else if trust.unsigned.overridable() {
            (
                Status::Failed,
                format!(
                    "the artifact is not signed\nhint: {sign}, or pass {} to accept it unsigned",
                    allow_unsigned_flag(&pack.module)
                ),
            )
        } else {
            (
                Status::Failed,
                format!("the artifact is not signed\nhint: {sign}"),
            )
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
        Err(SigningError::OutOfScope { key_id, scope, .. }) if allow_unsigned => (
            Check {
                check,
                status: Status::Allowed,
                detail: format!(
                    "signed by key {key_id}, trusted only for {scope}, allowed by `--allow-unsigned`"
                ),
            },
            None,
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
