//! `providers audit`: every pin of an infra checked against what its registries and the trusted
//! keys say today. A pin fails when its version is yanked, or when it is not signed by a key
//! trusted now (unsigned, or by a key no longer trusted); what cannot be checked (a registry that
//! cannot be read, a pin no registry holds any more, `--offline` without a cached record) is a
//! warning. Linked modules follow their source and are not audited. Reads an [`InfraSession`]
//! (its lock, registries with the recorded sources, keys); writes nothing.

use serde::Serialize;

use super::lockfile::{LockEntry, Signer};
use super::session::InfraSession;
use crate::digest::Sha256;
use crate::names::ModuleName;
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
}

impl PinAudit {
    /// The worst of its checks.
    pub fn status(&self) -> Status {
        self.yanked.status.max(self.signer.status)
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
            Some(PinAudit {
                module: entry.module.clone(),
                version: entry.version.clone(),
                sha256: pin.sha256,
                source: pin.source.clone(),
                yanked: yank_check(registry, entry, index, offline),
                signer: signer_check(&pin.signer, keys),
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
        let error = error.to_string();
        let first_line = error.lines().next().unwrap_or_default();
        Check::warning(format!("{why}: {first_line}"))
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
        Check::failed("yanked")
    } else {
        Check::ok("no")
    }
}

/// Whether the key that signed the pin is trusted now.
fn signer_check(signer: &Signer, keys: &[TrustedKey]) -> Check {
    match signer {
        Signer::Unsigned => Check::failed("unsigned (installed with `--allow-unsigned`)"),
        Signer::Key(key_id) if keys.iter().any(|key| key.key_id == *key_id) => {
            Check::ok(format!("{key_id} (trusted)"))
        }
        Signer::Key(key_id) => Check::failed(format!("{key_id} (not trusted)")),
    }
}
