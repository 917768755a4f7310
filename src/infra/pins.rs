//! What the infras of a workspace pin: every `(module, version)` a pack-mode install records,
//! with the infras that record it. Retention ([`crate::registry::retention`]) never deletes one.

use std::collections::BTreeMap;

use super::Infra;
use super::lockfile::ProvidersLock;
use crate::context::Context;
use crate::names::PackRef;

/// Each pinned pack, with the names of the infras pinning it.
pub type Pins = BTreeMap<PackRef, Vec<String>>;

/// Reads the lock of every infra; one that cannot be read makes the answer unknown, so it is an
/// error (nothing is safe to delete then).
pub fn pinned_packs(context: &Context) -> anyhow::Result<Pins> {
    let mut pins = Pins::new();
    for infra in Infra::all(context) {
        let lock = ProvidersLock::read(&infra.lock_path()).map_err(|error| {
            anyhow::anyhow!(
                "cannot tell what infra `{}` pins, so nothing is safe to delete: {error}\nhint: repair its lock, or pass `--force`",
                infra.name
            )
        })?;
        for entry in lock.providers.iter().filter(|entry| entry.pin().is_some()) {
            pins.entry(PackRef::new(entry.module.clone(), entry.version.clone()))
                .or_default()
                .push(infra.name.clone());
        }
    }
    Ok(pins)
}
