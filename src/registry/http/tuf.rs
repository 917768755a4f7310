//! A static registry whose root the user pinned: the TUF refresh once per command, through
//! [`HttpRegistry::read_file`] (bounded, not cached), before the first read; then every
//! document and pack checked against the verified targets. A document the cache holds as the
//! targets record it costs no request at all; one the targets do not list is absent (a module
//! the signed metadata does not have); an artifact is checked against its target before it is
//! downloaded, so at most its recorded length is read.
//!
//! A pack the cache holds whole is used without a refresh when the last trusted targets record
//! those bytes: versions are immutable, and their sha256 is checked whenever they are read; it
//! is what keeps a warm `sync` free of requests. Which versions exist (a module's record) is
//! always read through a refresh.

use super::{HttpError, HttpRegistry};
use crate::registry::tuf_client::{Targets, TufError};
use crate::registry::{Fetched, RegistryError, VersionEntry};

impl HttpRegistry {
    /// The verified targets, refreshed on the first call; none without a pinned root. Never
    /// from async code: the refresh runs its own reads on the runtime.
    pub(super) fn tuf_targets(&self) -> Result<Option<&Targets>, RegistryError> {
        self.tuf
            .as_ref()
            .map(|gate| gate.targets(&|path, limit| self.read_file(path, limit)))
            .transpose()
    }

    /// The cached copy of the document at `path`, offline: checked against the targets when
    /// the root is pinned (a copy that differs is refused, one they do not list is absent).
    pub(super) fn offline_document(&self, path: &str) -> Result<Option<Vec<u8>>, RegistryError> {
        let Some(gate) = &self.tuf else {
            return Ok(self.cache.document(path).map(|cached| cached.body));
        };
        let targets = gate.refreshed()?;
        if targets.get(path).is_err() {
            return Ok(None);
        }
        let Some(cached) = self.cache.document(path) else {
            return Ok(None);
        };
        targets.check(path, &cached.body)?;
        Ok(Some(cached.body))
    }

    /// The document at `path` (at most `limit` bytes), as [`HttpRegistry::document`] reads it;
    /// with a pinned root, checked against its target (after [`HttpRegistry::tuf_targets`]).
    pub(super) async fn read_document(
        &self,
        http: &reqwest::Client,
        path: &str,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        if self.offline {
            return self.offline_document(path);
        }
        let Some(gate) = &self.tuf else {
            return self.document(http, path, limit).await;
        };
        let targets = gate.refreshed()?;
        let Ok(target) = targets.get(path) else {
            return Ok(None);
        };
        if let Some(cached) = self.cache.document(path)
            && targets.check(path, &cached.body).is_ok()
        {
            return Ok(Some(cached.body));
        }
        let body = match self.document(http, path, target.length.min(limit)).await {
            Err(RegistryError::Http(HttpError::TooLarge { .. })) => {
                return Err(targets.endless(path).into());
            }
            read => read?,
        };
        let Some(body) = body else {
            return Err(TufError::Missing {
                registry: self.url.display(),
                file: path.to_owned(),
            }
            .into());
        };
        targets.check(path, &body)?;
        Ok(Some(body))
    }

    /// A pack the cache holds whole is one the last trusted targets record (no request); true
    /// without a pinned root.
    pub(super) fn trusted_copy(&self, fetched: &Fetched) -> bool {
        let Some(gate) = &self.tuf else {
            return true;
        };
        gate.last_trusted()
            .is_some_and(|targets| check_pack(targets, fetched).is_ok())
    }

    /// `fetched`, and its signature, are what the verified targets record.
    pub(super) fn check_fetched(&self, fetched: &Fetched) -> Result<(), RegistryError> {
        match &self.tuf {
            Some(gate) => Ok(check_pack(gate.refreshed()?, fetched)?),
            None => Ok(()),
        }
    }

    /// The artifact `entry` records is the target of that name, of that length and sha256:
    /// checked before it is downloaded.
    pub(super) fn check_entry(&self, entry: &VersionEntry) -> Result<(), RegistryError> {
        let Some(gate) = &self.tuf else {
            return Ok(());
        };
        let file = format!("packages/{}", entry.package_file);
        Ok(gate
            .refreshed()?
            .check_described(&file, entry.size, &entry.sha256)?)
    }

    /// A file read whole below `packages/` (a signature, a provenance), checked against its
    /// target.
    pub(super) fn check_file(&self, path: &str, bytes: &[u8]) -> Result<(), RegistryError> {
        match &self.tuf {
            Some(gate) => Ok(gate.refreshed()?.check(path, bytes)?),
            None => Ok(()),
        }
    }
}

fn check_pack(targets: &Targets, fetched: &Fetched) -> Result<(), TufError> {
    let entry = &fetched.entry;
    targets.check(&format!("packages/{}", entry.package_file), &fetched.bytes)?;
    if let (Some(name), Some(signature)) = (&entry.signature, &fetched.signature) {
        targets.check(&format!("packages/{name}"), signature.text.as_bytes())?;
    }
    Ok(())
}
