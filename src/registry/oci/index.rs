//! A module's index on an OCI registry: its versions (the tag listing) with each version's
//! record (the annotations of its manifest) and the yank record, for one module or many at
//! once.

use futures_util::StreamExt as _;

use super::client::CONCURRENCY;
use super::http::{Failure, Session};
use super::list::list_pages;
use super::pull::Layout;
use super::{Connection, OciError, OciRegistry, tag_for, yank};
use crate::digest::Sha256;
use crate::names::{ModuleName, PackRef};
use crate::registry::VersionEntry;

impl OciRegistry {
    /// Every version of `module` with its record (see [`Self::index_async`]); with `--offline`,
    /// the versions whose manifests the cache holds, and the cached yank record: no request.
    pub(super) fn oci_index(&self, module: &ModuleName) -> Result<Vec<VersionEntry>, OciError> {
        if !self.offline {
            self.listing_allowed()?;
            return self.run(|connection| self.index_async(connection, module))?;
        }
        let mut versions: Vec<semver::Version> = self
            .cache
            .tags(&self.url, module)
            .iter()
            .filter_map(|tag| semver::Version::parse(tag).ok())
            .collect();
        versions.sort();
        let yanked = self.oci_yanked(module)?;
        let mut entries = Vec::new();
        for version in versions {
            let pack = PackRef::new(module.clone(), version);
            let tag = tag_for(&pack.version)?;
            if let Some(manifest) = self.cache.manifest(&self.url, module, &tag) {
                let mut entry = self.cached_layout(&pack, &manifest)?.entry;
                entry.yanked = yanked.contains_key(&entry.version);
                entry.yank_reason = yanked.get(&entry.version).cloned().flatten();
                entries.push(entry);
            }
        }
        Ok(entries)
    }

    /// Every version of `module` with its record, in one operation under the deadline: the tag
    /// listing (one request for a registry that speaks the distribution API and holds fewer
    /// than a page of versions), the yank record, and the manifest of each version the cache
    /// does not hold yet ([`CONCURRENCY`] at a time, then cached: versions are immutable, so a
    /// cached manifest stays true). No pack is downloaded.
    async fn index_async(
        &self,
        connection: &Connection,
        module: &ModuleName,
    ) -> Result<Vec<VersionEntry>, OciError> {
        let what = format!("the versions of `{module}`");
        let reference = self.url.reference(module.as_str(), "latest");
        self.within_deadline(|| format!("reading {what}"), async {
            let failed = |reason: String| OciError::Listing {
                host: self.url.host.clone(),
                what: what.clone(),
                reason,
            };
            let session = self
                .session(connection, &reference)
                .await
                .map_err(|failure| self.failure(failure, failed))?;
            let repository = reference.repository();
            let tags = match list_pages(&session, &format!("{repository}/tags/list"), "tags").await
            {
                Ok(tags) => tags,
                // No such repository: no versions.
                Err(failure) if failure.is_not_found() => return Ok(Vec::new()),
                Err(failure) => return Err(self.failure(failure, failed)),
            };
            let mut versions: Vec<semver::Version> = tags
                .iter()
                .filter_map(|tag| semver::Version::parse(tag).ok())
                .collect();
            versions.sort();
            let yanked = self
                .yank_record(&session, module)
                .await
                .map_err(|failure| self.failure(failure, failed))?;
            let yanked = match yanked {
                Some(manifest) => yank::parse(&manifest).map_err(failed)?,
                None => yank::Yanks::new(),
            };
            let mut layouts = Vec::new();
            let mut missing = Vec::new();
            for version in versions {
                let pack = PackRef::new(module.clone(), version);
                let tag = tag_for(&pack.version)?;
                match self.cache.manifest(&self.url, module, &tag) {
                    Some(manifest) => {
                        layouts.push((self.cached_layout(&pack, &manifest)?, pack, tag, None));
                    }
                    None => missing.push((pack, tag)),
                }
            }
            let manifests: Vec<Result<_, Failure>> = futures_util::stream::iter(&missing)
                .map(|(_, tag)| self.manifest_with_digest(&session, repository, tag))
                .buffered(CONCURRENCY)
                .collect()
                .await;
            for ((pack, tag), manifest) in missing.into_iter().zip(manifests) {
                let (manifest, found) =
                    manifest.map_err(|failure| self.failure(failure, failed))?;
                let layout = self.layout(&pack, &manifest)?;
                layouts.push((layout, pack.clone(), tag.clone(), Some(found.digest)));
                self.cache
                    .store_manifest(&self.url, module, &tag, &manifest, || {
                        format!("the manifest of `{}` {}", pack.module, pack.version)
                    })?;
            }
            // A version published unsigned may have been signed since: its referrer says so.
            let mut entries = self
                .late_signatures(&session, layouts)
                .await
                .map_err(|failure| self.failure(failure, failed))?;
            for entry in &mut entries {
                entry.yanked = yanked.contains_key(&entry.version);
                entry.yank_reason = yanked.get(&entry.version).cloned().flatten();
            }
            entries.sort_by(|a, b| a.version.cmp(&b.version));
            Ok(entries)
        })
        .await
    }

    /// The records of `layouts` (with their pack, tag and manifest digest when known), each
    /// unsigned one with the signature published since, if any: asked only for versions that
    /// are unsigned and not yet known to be signed, [`CONCURRENCY`] at a time.
    async fn late_signatures(
        &self,
        session: &Session<'_>,
        layouts: Vec<(Layout, PackRef, String, Option<Sha256>)>,
    ) -> Result<Vec<VersionEntry>, Failure> {
        let signed: Vec<Result<Layout, Failure>> = futures_util::stream::iter(layouts)
            .map(|(layout, pack, tag, digest)| async move {
                self.late_signature(session, &pack, &tag, layout, digest)
                    .await
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        signed
            .into_iter()
            .map(|layout| layout.map(|layout| layout.entry))
            .collect()
    }

    /// The index of each of `modules`, read concurrently ([`CONCURRENCY`] modules at a time)
    /// in one runtime; offline, each from the cache.
    pub(super) fn oci_index_many(
        &self,
        modules: &[ModuleName],
    ) -> Vec<Result<Vec<VersionEntry>, OciError>> {
        if self.offline {
            return modules
                .iter()
                .map(|module| self.oci_index(module))
                .collect();
        }
        let run = self.run(|connection| async move {
            futures_util::stream::iter(modules)
                .map(|module| self.index_async(connection, module))
                .buffered(CONCURRENCY)
                .collect::<Vec<_>>()
                .await
        });
        match run {
            Ok(results) => results,
            Err(error) => {
                let message = error.to_string();
                modules
                    .iter()
                    .map(|_| {
                        Err(OciError::Request {
                            host: self.url.host.clone(),
                            message: message.clone(),
                        })
                    })
                    .collect()
            }
        }
    }
}
