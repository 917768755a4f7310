//! The signer the lock records for each pin, held to account when a pin moves: an update (or an
//! install or load over the pin) to a version signed by another key than the one that signed the
//! pinned version is refused, unless accepted with `--accept-signer` (then the lock records the
//! new key, and the command says so).
//!
//! A pin recorded `unsigned` may move to a signed version, and a version accepted unsigned with
//! `--allow-unsigned` is recorded `unsigned`: neither is a change of key.

use std::collections::BTreeMap;

use super::Failure;
use crate::infra::lockfile::{ProvidersLock, Signer};
use crate::names::ModuleName;
use crate::registry::VerifiedPack;
use crate::registry::metadata::VersionEntry;
use crate::signing::KeyId;

/// A version signed by another key than its pin's, refused.
#[derive(Debug, thiserror::Error)]
#[error(
    "`{module}` {version} is signed by key {now}, but the pinned {pinned} was signed by key {before}: refusing a change of signer\nhint: if key {now} may sign `{module}` from now on, pass `--accept-signer`"
)]
pub struct SignerChanged {
    module: ModuleName,
    version: semver::Version,
    now: KeyId,
    pinned: semver::Version,
    before: KeyId,
}

/// Each version in `fetched` signed by another key than the one the lock records for its
/// module's pin.
fn changed(
    lock: &ProvidersLock,
    fetched: &BTreeMap<ModuleName, VerifiedPack>,
) -> Vec<SignerChanged> {
    let signed = fetched.iter().map(|(module, verified)| {
        let signer = verified.signer.as_ref().map(|signer| signer.key_id);
        (module, &verified.pack.version, signer)
    });
    changed_from(lock, signed)
}

/// Each `(module, version, signer)` whose signer is another key than the one the lock records
/// for the module's pin.
fn changed_from<'a>(
    lock: &ProvidersLock,
    signed: impl Iterator<Item = (&'a ModuleName, &'a semver::Version, Option<KeyId>)>,
) -> Vec<SignerChanged> {
    signed
        .filter_map(|(module, version, now)| {
            let entry = lock.module(module)?;
            let Some(Signer::Key(before)) = entry.pin().map(|pin| &pin.signer) else {
                return None;
            };
            let now = now?;
            (now != *before).then(|| SignerChanged {
                module: module.clone(),
                version: version.clone(),
                now,
                pinned: entry.version.clone(),
                before: *before,
            })
        })
        .collect()
}

/// What a dry run can tell of the changes of signer from the registry's records (it fetches no
/// signature): what the update would refuse, or with `accept`, record.
pub(super) fn foreseen(
    lock: &ProvidersLock,
    records: &BTreeMap<ModuleName, VersionEntry>,
    accept: bool,
) -> Vec<String> {
    let signed = records
        .iter()
        .map(|(module, record)| (module, &record.version, record.signer));
    changed_from(lock, signed)
        .into_iter()
        .map(|changed| {
            let then = if accept {
                format!("the lock would record key {}", changed.now)
            } else {
                "the update needs `--accept-signer`".to_owned()
            };
            format!(
                "`{}` {} is recorded as signed by key {}, not by key {} which signed the pinned {}: {then}",
                changed.module, changed.version, changed.now, changed.before, changed.pinned
            )
        })
        .collect()
}

impl SignerChanged {
    /// What to say when `--accept-signer` accepts it.
    pub(super) fn accepted(&self) -> String {
        format!(
            "`{}` {} is signed by key {}, not by key {} which signed the pinned {}: the lock records key {} from now on (`--accept-signer`)",
            self.module, self.version, self.now, self.before, self.pinned, self.now
        )
    }
}

/// [`changed`], judged: without `accept` each is a failure of its module; with it, a warning.
pub(super) fn judge(
    lock: &ProvidersLock,
    fetched: &BTreeMap<ModuleName, VerifiedPack>,
    accept: bool,
    warnings: &mut Vec<String>,
    failures: &mut Vec<Failure>,
) {
    for changed in changed(lock, fetched) {
        if accept {
            warnings.push(changed.accepted());
        } else {
            failures.push(Failure {
                module: changed.module.clone(),
                error: changed.into(),
            });
        }
    }
}

/// What `sync` says when the pack it restores for `entry` carries the signature of another key
/// than the one the lock records: the bytes are the pinned ones (their sha256 is checked), and
/// the new key is trusted for the module (verification checked that), so the pack is restored
/// and the lock left as it is; the change is said, not hidden.
pub(super) fn restored_signed_by_another(
    entry: &crate::infra::lockfile::LockEntry,
    verified: &VerifiedPack,
) -> Option<String> {
    let Some(Signer::Key(before)) = entry.pin().map(|pin| &pin.signer) else {
        return None;
    };
    let now = verified.signer.as_ref()?.key_id;
    (now != *before).then(|| {
        format!(
            "`{}` {}: the lock records key {before} as its signer, but the signature `{}` serves now is by key {now}: restored, since the bytes are those pinned and key {now} is trusted for it; the lock still records key {before}",
            entry.module, entry.version, verified.label
        )
    })
}
