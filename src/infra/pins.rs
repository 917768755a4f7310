//! What the infras pin: every `(module, version)` a pack-mode install records, with the infras
//! that record it. Retention ([`crate::registry::retention`]) never deletes one.
//!
//! Two sources name the infras: the workspace's `infra/*`, and the registry's pin record
//! ([`crate::registry::pin_record`]), which names every infra a command pinned packs into,
//! wherever it is. The record only says where to look: what an infra pins is read from its
//! lock file, the truth. A recorded infra that is gone, or whose lock pins nothing any more, no
//! longer protects anything, and its record is stale.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::Infra;
use super::lockfile::{LOCK_FILE_NAME, ProvidersLock};
use crate::context::Context;
use crate::names::PackRef;
use crate::registry::DirectoryRegistry;

/// Each pinned pack, with the infras pinning it (a workspace infra by name, another by path).
pub type Pins = BTreeMap<PackRef, Vec<String>>;

/// What retention knows of the pins.
#[derive(Debug, Default)]
pub struct Known {
    pub pins: Pins,
    /// Recorded infras whose lock cannot be read: they may pin what their record lists.
    pub unreadable: Vec<Unreadable>,
    /// Records that protect nothing any more (their infra is gone or pins nothing).
    pub stale: Vec<PathBuf>,
}

/// A recorded infra whose lock cannot be read.
#[derive(Debug)]
pub struct Unreadable {
    pub infra: String,
    pub reason: String,
    /// What its record says it may pin.
    pub packs: BTreeSet<PackRef>,
}

/// Reads the lock of every infra of the workspace and of every infra `registry`'s pin record
/// names. A workspace infra whose lock cannot be read, or a record that cannot be read, makes
/// the answer unknown, so it is an error (nothing is safe to delete then); a recorded infra
/// whose lock cannot be read is [`Known::unreadable`], for the caller to weigh against what it
/// would delete.
pub fn pinned_packs(context: &Context, registry: &DirectoryRegistry) -> anyhow::Result<Known> {
    let mut known = Known::default();
    let mut scanned = BTreeSet::new();
    for infra in Infra::all(context) {
        let lock = ProvidersLock::read(&infra.lock_path()).map_err(|error| {
            anyhow::anyhow!(
                "cannot tell what infra `{}` pins, so nothing is safe to delete: {error}\nhint: repair its lock, or pass `--force`",
                infra.name
            )
        })?;
        add_pins(&mut known.pins, &lock, &infra.name);
        scanned.extend(std::fs::canonicalize(&infra.dir));
    }
    for found in registry.pin_records()? {
        let record = found.record.map_err(|reason| {
            anyhow::anyhow!(
                "cannot tell which infra the pin record `{}` is about, so nothing is safe to delete: {reason}\nhint: delete the record if it is damaged (the next `provisioning providers sync` of its infra writes it again), or pass `--force`",
                context.display_path(&found.path).display()
            )
        })?;
        if scanned.contains(&record.infra) {
            continue;
        }
        let label = context.display_path(&record.infra).display().to_string();
        let lock = match std::fs::metadata(&record.infra) {
            Ok(metadata) if metadata.is_dir() => {
                ProvidersLock::read(&record.infra.join(LOCK_FILE_NAME))
                    .map_err(|error| error.to_string())
            }
            Ok(_) => Ok(ProvidersLock::default()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Ok(ProvidersLock::default())
            }
            Err(error) => Err(format!("cannot read `{}`: {error}", record.infra.display())),
        };
        match lock {
            Ok(lock) if lock.providers.iter().all(|entry| entry.pin().is_none()) => {
                known.stale.push(found.path);
            }
            Ok(lock) => add_pins(&mut known.pins, &lock, &label),
            Err(reason) => known.unreadable.push(Unreadable {
                infra: label,
                reason,
                packs: record.packs.iter().map(|pin| pin.pack()).collect(),
            }),
        }
    }
    Ok(known)
}

fn add_pins(pins: &mut Pins, lock: &ProvidersLock, infra: &str) {
    for entry in lock.providers.iter().filter(|entry| entry.pin().is_some()) {
        pins.entry(PackRef::new(entry.module.clone(), entry.version.clone()))
            .or_default()
            .push(infra.to_owned());
    }
}
