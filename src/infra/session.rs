//! [`InfraSession`]: one infra opened for a change, in the spirit of cargo's `Workspace`. Opening
//! it takes the locks in the one order every command keeps (the local registry's, shared, when
//! packs may be read; then the infra's, exclusive), clears what killed runs left, and reads the
//! lock file and the manifest once. Registries and trusted keys are opened the first time an
//! operation asks for them.
//!
//! Holding a session is holding the locks: an operation in [`crate::ops`] takes a session, so it
//! cannot run without them. This module owns the locking order; it does not change the infra
//! itself, but every new lock file goes through it ([`InfraSession::stage_lock`], then
//! [`InfraSession::committed`]), so that the local registry's pin record
//! ([`crate::registry::pin_record`]) always names at least what the infra's lock pins: before
//! the lock is written, the record grows by what the new lock pins; after the change, it is
//! exactly what the lock pins. A kill in between leaves a record that says too much, never too
//! little; `pack clean` re-reads the lock anyway.

use std::cell::OnceCell;
use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::Context as _;

use super::Infra;
use super::lockfile::ProvidersLock;
use super::manifest::InfraManifestMut;
use crate::context::Context;
use crate::fs::Transaction;
use crate::fs::dir_lock::DirLock;
use crate::module::Layout;
use crate::printer::Printer;
use crate::registry::directory::DirectoryRegistry;
use crate::registry::pin_record::RecordedPin;
use crate::registry::shared::RunCache;
use crate::registry::{Chain, Registries, Registry};
use crate::signing::TrustedKey;

/// What a session will read besides the infra.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Link mode only: the catalog's sources.
    Links,
    /// Packs too: the local registry is held shared, so the versions pinned under the session
    /// cannot be cleaned away (`pack clean` takes it exclusively) before the lock records them.
    Packs,
}

/// The locks of a session, in the order they are taken. Released when the session drops.
#[derive(Debug)]
struct Held {
    _registry: Option<DirLock>,
    _infra: DirLock,
}

/// An infra opened for a change: its locks held, its lock file and manifest read.
pub struct InfraSession<'a> {
    pub context: &'a Context,
    pub infra: Infra,
    lock: ProvidersLock,
    manifest: InfraManifestMut,
    access: Access,
    /// The infra's directory, canonical: how the pin record names it.
    canonical_dir: PathBuf,
    /// The local registry, which keeps the pin record.
    local: DirectoryRegistry,
    registry: OnceCell<Chain>,
    keys: OnceCell<Vec<TrustedKey>>,
    /// What the other infras of the run share (`--workspace`).
    shared: Option<&'a RunCache>,
    _held: Held,
}

impl<'a> InfraSession<'a> {
    /// Takes the locks (registry first, then infra), clears debris, reads the lock and the
    /// manifest.
    pub fn open(
        context: &'a Context,
        infra: Infra,
        access: Access,
        printer: &Printer,
    ) -> anyhow::Result<Self> {
        let local = DirectoryRegistry::from_config(&context.config);
        let registry = match access {
            Access::Packs => local.lock_shared(printer)?,
            Access::Links => None,
        };
        let infra_lock = DirLock::acquire(&infra.dir, printer)?;
        let canonical_dir = std::fs::canonicalize(&infra.dir).with_context(|| {
            format!(
                "cannot resolve the infra directory `{}`",
                infra.dir.display()
            )
        })?;
        crate::ops::clear_debris(context, &infra)?;
        let lock = ProvidersLock::read(&infra.lock_path())?;
        let manifest = InfraManifestMut::open(&infra.manifest_path(Layout::Nickel), &infra.name)?;
        Ok(Self {
            context,
            infra,
            lock,
            manifest,
            access,
            canonical_dir,
            local,
            registry: OnceCell::new(),
            keys: OnceCell::new(),
            shared: None,
            _held: Held {
                _registry: registry,
                _infra: infra_lock,
            },
        })
    }

    /// The session shares the remote registry, and the packs verified, with the other infras of
    /// the run (`--workspace`).
    pub fn sharing(mut self, cache: Option<&'a RunCache>) -> Self {
        self.shared = cache;
        self
    }

    /// What the infras of the run share, when it runs over several.
    pub fn shared(&self) -> Option<&'a RunCache> {
        self.shared
    }

    /// The lock file as read when the session opened, or as the last change committed it.
    pub fn lock(&self) -> &ProvidersLock {
        &self.lock
    }

    /// The Nickel layout's `manifest.toml`, as read or last committed.
    pub fn manifest(&self) -> &InfraManifestMut {
        &self.manifest
    }

    /// Writes `next` as the infra's lock file in `transaction`, after recording in the local
    /// registry that the infra may pin both what its lock pins now and what `next` pins. A
    /// record that cannot be written refuses the change: `pack clean` could delete what the new
    /// lock pins. A session for links only pins nothing new, and holds no lock on the registry:
    /// it leaves the record to [`InfraSession::committed`].
    pub(crate) fn stage_lock(
        &self,
        next: &ProvidersLock,
        transaction: &mut Transaction,
    ) -> anyhow::Result<()> {
        if self.access == Access::Packs {
            let mut packs = recorded_pins(&self.lock);
            packs.extend(recorded_pins(next));
            self.record_pins(packs)?;
        }
        transaction.write(&self.infra.lock_path(), next.render().as_bytes())?;
        Ok(())
    }

    /// Records what a committed change left: the next operation of the session starts there,
    /// and the pin record names exactly what the lock pins. A record that cannot be rewritten
    /// is a warning (it still names at least what the lock pins).
    #[must_use = "a warning to report"]
    pub(crate) fn committed(
        &mut self,
        lock: ProvidersLock,
        manifest: InfraManifestMut,
    ) -> Option<String> {
        let packs = recorded_pins(&lock);
        self.lock = lock;
        self.manifest = manifest;
        self.record_pins(packs)
            .err()
            .map(|error| format!("{error:#}"))
    }

    fn record_pins(&self, packs: BTreeSet<RecordedPin>) -> anyhow::Result<()> {
        self.local
            .write_pin_record(&self.canonical_dir, packs)
            .with_context(|| {
                format!(
                    "cannot record in `{}` which packs `{}` pins",
                    self.context.display_path(&self.local.pins_dir()).display(),
                    self.infra.name
                )
            })
    }

    /// The registries packs come from: `first` (loose artifacts) when given, then the local
    /// directory, then the sources the lock records, then the remote one. Opened on first use; `first` counts only then.
    pub fn registry(&self, first: Vec<Box<dyn Registry>>) -> anyhow::Result<&Chain> {
        if self.access != Access::Packs {
            anyhow::bail!(
                "the session of `{}` was opened for links only",
                self.infra.name
            );
        }
        if let Some(chain) = self.registry.get() {
            return Ok(chain);
        }
        // The sources the lock records (an OCI or HTTP registry, a loose artifact) are opened
        // only when a pack is asked of them.
        let options = self.context.registry_options();
        let registries = match self.shared {
            Some(cache) => Registries::open_shared(&options, cache)?,
            None => Registries::open(&options)?,
        };
        let chain = registries.chain_recorded(first, self.lock().pack_sources(), &options);
        Ok(self.registry.get_or_init(|| chain))
    }

    /// Rehash every vendored file, trusting no stat index entry (`sync --verify`).
    pub fn verify_vendor(&self) {
        self.infra.stat_index.verify_all();
    }

    /// The trusted keys, read on first use.
    pub fn keys(&self) -> anyhow::Result<&[TrustedKey]> {
        if let Some(keys) = self.keys.get() {
            return Ok(keys);
        }
        let keys = self.context.trusted_keys()?;
        Ok(self.keys.get_or_init(|| keys))
    }
}

impl Drop for InfraSession<'_> {
    /// What the session hashed of `vendor/` is recorded for the next command, while the infra's
    /// lock is still held (the fields, the lock among them, drop after this).
    fn drop(&mut self) {
        self.infra
            .stat_index
            .save(&self.infra.dir.join(super::VENDOR_DIR));
    }
}

/// What a lock pins, as the pin record has it.
fn recorded_pins(lock: &ProvidersLock) -> BTreeSet<RecordedPin> {
    lock.providers
        .iter()
        .filter_map(|entry| {
            entry.pin().map(|pin| RecordedPin {
                module: entry.module.clone(),
                version: entry.version.clone(),
                sha256: pin.sha256,
            })
        })
        .collect()
}
