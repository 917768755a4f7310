//! [`InfraSession`]: one infra opened for a change, in the spirit of cargo's `Workspace`. Opening
//! it takes the locks in the one order every command keeps (the local registry's, shared, when
//! packs may be read; then the infra's, exclusive), clears what killed runs left, and reads the
//! lock file and the manifest once. Registries and trusted keys are opened the first time an
//! operation asks for them.
//!
//! Holding a session is holding the locks: an operation in [`crate::ops`] takes a session, so it
//! cannot run without them. This module owns the locking order; it does not change the infra.

use std::cell::OnceCell;

use super::Infra;
use super::lockfile::ProvidersLock;
use super::manifest::InfraManifestMut;
use crate::context::Context;
use crate::fs::dir_lock::DirLock;
use crate::module::Layout;
use crate::printer::Printer;
use crate::registry::directory::DirectoryRegistry;
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
    registry: OnceCell<Chain>,
    keys: OnceCell<Vec<TrustedKey>>,
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
        let registry = match access {
            Access::Packs => {
                DirectoryRegistry::from_config(&context.config).lock_shared(printer)?
            }
            Access::Links => None,
        };
        let infra_lock = DirLock::acquire(&infra.dir, printer)?;
        crate::ops::clear_debris(context, &infra)?;
        let lock = ProvidersLock::read(&infra.lock_path())?;
        let manifest = InfraManifestMut::open(&infra.manifest_path(Layout::Nickel), &infra.name)?;
        Ok(Self {
            context,
            infra,
            lock,
            manifest,
            access,
            registry: OnceCell::new(),
            keys: OnceCell::new(),
            _held: Held {
                _registry: registry,
                _infra: infra_lock,
            },
        })
    }

    /// The lock file as read when the session opened, or as the last change committed it.
    pub fn lock(&self) -> &ProvidersLock {
        &self.lock
    }

    /// The Nickel layout's `manifest.toml`, as read or last committed.
    pub fn manifest(&self) -> &InfraManifestMut {
        &self.manifest
    }

    /// Records what a committed change left: the next operation of the session starts there.
    pub(crate) fn committed(&mut self, lock: ProvidersLock, manifest: InfraManifestMut) {
        self.lock = lock;
        self.manifest = manifest;
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
        let chain =
            Registries::open(&options)?.chain_recorded(first, self.lock().pack_sources(), &options);
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
