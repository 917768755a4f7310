//! `providers audit`: every pin of an infra checked against what its registries and the trusted
//! keys say today. A pin fails when its version is yanked, when it is not signed by a key
//! trusted now (unsigned, or by a key no longer trusted), or when its provenance does not verify
//! (its signature, its key, or its subject is not the pinned artifact); a pin without provenance
//! (packed or published without it, by a release before provenance existed) and what
//! cannot be checked (a registry that cannot be read, a pin no registry holds any more,
//! `--offline` without a cached record) are warnings. Linked modules follow their source and are not audited. Reads an [`InfraSession`]
//! (its lock, registries with the recorded sources, keys); writes nothing.

use std::path::PathBuf;

use serde::Serialize;

use super::lockfile::{LockEntry, Signer};
use super::session::InfraSession;
use crate::artifact::ArtifactName;
use crate::digest::Sha256;
use crate::names::{ModuleName, PackRef};
use crate::provenance;
use crate::registry::{Registry, RegistryError, VersionEntry};
use crate::signing::TrustedKey;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// Could not be checked, or worth a look: the exit code stays 0.
    Warning,
    /// The pin fails the audit: exit code 1.
    Failed,
}

/// One check of one pin.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub status: Status,
    pub detail: String,
}

impl Check {
    fn ok(detail: impl Into<String>) -> Self {
        Self {
            status: Status::Ok,
            detail: detail.into(),
        }
    }

    fn warning(detail: impl Into<String>) -> Self {
        Self {
            status: Status::Warning,
            detail: detail.into(),
        }
    }

    fn failed(detail: impl Into<String>) -> Self {
        Self {
            status: Status::Failed,
            detail: detail.into(),
        }
    }
}

/// One pinned pack, audited.
#[derive(Debug, Clone, Serialize)]
pub struct PinAudit {
    pub module: ModuleName,
    pub version: semver::Version,
    pub sha256: Sha256,
    /// The registry the lock records it came from.
    pub source: String,
    /// Whether its version is yanked, and why when the registry records it.
    pub yanked: Check,
    /// Whether its signer is a key trusted now.
    pub signer: Check,
    /// Whether its provenance verifies against the trusted keys and the pinned artifact.
    pub provenance: Check,
}

impl PinAudit {
    /// The worst of its checks.
    pub fn status(&self) -> Status {
        self.yanked
            .status
            .max(self.signer.status)
            .max(self.provenance.status)
    }
}

/// Every pinned pack of the session's lock, sorted by module. `offline` only words what could
/// not be checked (the registries already read nothing but their caches).
pub fn audit(session: &InfraSession<'_>, offline: bool) -> anyhow::Result<Vec<PinAudit>> {
    let pinned: Vec<&LockEntry> = session
        .lock()
        .providers
        .iter()
        .filter(|entry| entry.pin().is_some())
        .collect();
    if pinned.is_empty() {
        return Ok(Vec::new());
    }
    let (registry, keys) = (session.registry(Vec::new())?, session.keys()?);
    let modules: Vec<ModuleName> = pinned.iter().map(|entry| entry.module.clone()).collect();
    let indexes = registry.index_many(&modules);
    let mut audits: Vec<PinAudit> = pinned
        .into_iter()
        .zip(indexes)
        .filter_map(|(entry, index)| {
            let pin = entry.pin()?;
            let pack = PackRef::new(entry.module.clone(), entry.version.clone());
            Some(PinAudit {
                provenance: provenance_check(registry, &pack, &pin.sha256, keys, offline),
                module: entry.module.clone(),
                version: entry.version.clone(),
                sha256: pin.sha256,
                source: pin.source.clone(),
                yanked: yank_check(registry, entry, index, offline),
                signer: signer_check(&entry.module, &pin.signer, keys),
            })
        })
        .collect();
    audits.sort_by(|a, b| a.module.cmp(&b.module));
    Ok(audits)
}

/// Whether the pinned version is yanked in any registry that holds it.
fn yank_check(
    registry: &dyn Registry,
    entry: &LockEntry,
    index: Result<Vec<VersionEntry>, RegistryError>,
    offline: bool,
) -> Check {
    let unchecked = |error: &dyn std::fmt::Display| {
        let why = if offline {
            "not checked offline (no cached record)"
        } else {
            "not checked"
        };
        Check::warning(format!("{why}: {}", first_line(error)))
    };
    let index = match index {
        Ok(index) => index,
        Err(error) => return unchecked(&error),
    };
    if !index.iter().any(|known| known.version == entry.version) {
        return Check::warning(format!(
            "not checked: no registry holds {} any more",
            entry.version
        ));
    }
    let yanked = match registry.yanked(&entry.module) {
        Ok(yanked) => {
            yanked.contains(&entry.version)
                || index
                    .iter()
                    .any(|known| known.version == entry.version && known.yanked)
        }
        Err(error) => return unchecked(&error),
    };
    if yanked {
        let reason = index
            .iter()
            .find(|known| known.version == entry.version)
            .and_then(|known| known.yank_reason.as_deref());
        Check::failed(match reason {
            Some(reason) => format!("yanked: {reason}"),
            None => "yanked".to_owned(),
        })
    } else {
        Check::ok("no")
    }
}

/// Whether the provenance of the pinned bytes verifies: signed by a trusted key, about the
/// pinned artifact and sha256.
fn provenance_check(
    registry: &dyn Registry,
    pack: &PackRef,
    sha256: &Sha256,
    keys: &[TrustedKey],
    offline: bool,
) -> Check {
    let artifact = ArtifactName::new(pack.clone());
    let file = PathBuf::from(provenance::file_name(&artifact));
    let bytes = match registry.provenance(pack, sha256) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Check::warning("missing"),
        Err(error) => {
            let why = if offline {
                "not checked offline"
            } else {
                "not checked"
            };
            return Check::warning(format!("{why}: {}", first_line(&error)));
        }
    };
    match provenance::parse(&file, &bytes)
        .and_then(|envelope| provenance::verify(&file, &envelope, keys, &artifact, sha256))
    {
        Ok(verified) => Check::ok(format!("{} (verified)", verified.key_id)),
        Err(error) => Check::failed(first_line(&error)),
    }
}

fn first_line(error: &dyn std::fmt::Display) -> String {
    error
        .to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Whether the key that signed the pin of `module` is trusted now, for it.
fn signer_check(module: &ModuleName, signer: &Signer, keys: &[TrustedKey]) -> Check {
    let Signer::Key(key_id) = signer else {
        return Check::failed("unsigned (installed with `--allow-unsigned`)");
    };
    match keys.iter().find(|key| key.key_id == *key_id) {
        None => Check::failed(format!("{key_id} (not trusted)")),
        Some(key) if !key.scope.allows(module) => {
            Check::failed(format!("{key_id} (trusted only for {})", key.scope))
        }
        Some(_) => Check::ok(format!("{key_id} (trusted)")),
    }
}
