//! Yanks on an OCI registry. A published version is an immutable manifest, so a module's
//! yanked versions are recorded beside them: the tag `_yanked` of the module's repository names
//! a small manifest whose annotation `dev.provisioning.yanked` lists them (a JSON array of
//! versions), with the same list as its one layer, and the annotation
//! `dev.provisioning.yank-reasons` the reasons given (`--reason`, a JSON object from version to
//! text; absent in records written before reasons were). The tag is mutable: `pack yank` and
//! `--undo` rewrite it. `_yanked` is not a version, so listings never read it as one.
//!
//! Reading it is one manifest request per module, made with the module's index; the manifest
//! is cached, so `--offline` sees the yanks known when the cache was last filled.

use std::collections::{BTreeMap, BTreeSet};

use oci_client::manifest::OciImageManifest;

use super::http::{Failure, Session};
use super::publish::descriptor;
use super::{Connection, OciError, OciRegistry, tag_for};
use crate::names::{ModuleName, PackRef};

/// The tag of a module's yank record.
pub const YANKED_TAG: &str = "_yanked";
const YANKED_ARTIFACT_TYPE: &str = "application/vnd.provisioning.yanked.v1";
const YANKED_MEDIA_TYPE: &str = "application/vnd.provisioning.yanked.v1+json";
const ANNOTATION_YANKED: &str = "dev.provisioning.yanked";
const ANNOTATION_REASONS: &str = "dev.provisioning.yank-reasons";

/// The yanked versions of a module, each with the reason given, if one was.
pub type Yanks = BTreeMap<semver::Version, Option<String>>;

/// The versions a yank record lists; a record that does not read as one is an error (a
/// registry that lies about yanks must not make a version silently available again).
pub(super) fn parse(manifest: &OciImageManifest) -> Result<Yanks, String> {
    let annotations = manifest.annotations.as_ref();
    let mut reasons: BTreeMap<String, String> =
        match annotations.and_then(|annotations| annotations.get(ANNOTATION_REASONS)) {
            Some(text) => serde_json::from_str(text).map_err(|error| {
                format!("its `{ANNOTATION_REASONS}` is not an object of texts: {error}")
            })?,
            None => BTreeMap::new(),
        };
    let versions = parse_versions(manifest)?;
    Ok(versions
        .into_iter()
        .map(|version| {
            let reason = reasons.remove(&version.to_string());
            (version, reason)
        })
        .collect())
}

fn parse_versions(manifest: &OciImageManifest) -> Result<BTreeSet<semver::Version>, String> {
    let Some(text) = manifest
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(ANNOTATION_YANKED))
    else {
        return Err(format!(
            "its `{YANKED_TAG}` record lacks `{ANNOTATION_YANKED}`"
        ));
    };
    let versions: Vec<String> = serde_json::from_str(text)
        .map_err(|error| format!("its `{YANKED_TAG}` record is not a list: {error}"))?;
    versions
        .iter()
        .map(|version| {
            crate::names::parse_version(version).map_err(|_| {
                format!("its `{YANKED_TAG}` record lists `{version}`, which is not a version")
            })
        })
        .collect()
}

impl OciRegistry {
    /// The yanked versions of `module`: from the registry (and cached), or with `--offline`
    /// from the cache; none when the module has no record.
    pub(super) fn oci_yanked(&self, module: &ModuleName) -> Result<Yanks, OciError> {
        let invalid = |reason: String| OciError::Listing {
            host: self.url.host.clone(),
            what: format!("the yanked versions of `{module}`"),
            reason,
        };
        if self.offline {
            return match self.cache.manifest(&self.url, module, YANKED_TAG) {
                Some(manifest) => parse(&manifest).map_err(invalid),
                None => Ok(Yanks::new()),
            };
        }
        let reference = self.url.reference(module.as_str(), YANKED_TAG);
        let record = self.run(|connection| {
            self.within_deadline(
                || format!("reading the yanked versions of `{module}`"),
                async {
                    let session = self
                        .session(connection, &reference)
                        .await
                        .map_err(|failure| self.failure(failure, invalid))?;
                    self.yank_record(&session, module)
                        .await
                        .map_err(|failure| self.failure(failure, invalid))
                },
            )
        })??;
        match record {
            Some(manifest) => parse(&manifest).map_err(invalid),
            None => Ok(Yanks::new()),
        }
    }

    /// The yank record, if the repository has one.
    async fn read_record(
        &self,
        session: &Session<'_>,
        repository: &str,
    ) -> Result<Option<OciImageManifest>, Failure> {
        match self.manifest(session, repository, YANKED_TAG).await {
            Ok(manifest) => Ok(Some(manifest)),
            Err(failure) if failure.is_not_found() => Ok(None),
            Err(failure) => Err(failure),
        }
    }

    /// The yank record of `module` through `session` (of its repository), cached when there.
    pub(super) async fn yank_record(
        &self,
        session: &Session<'_>,
        module: &ModuleName,
    ) -> Result<Option<OciImageManifest>, Failure> {
        let repository = format!("{}/{module}", self.url.namespace);
        let record = self.read_record(session, &repository).await?;
        if let Some(manifest) = &record {
            // A cache that cannot be written only costs `--offline` this record.
            let _ = self
                .cache
                .store_manifest(&self.url, module, YANKED_TAG, manifest, String::new);
        }
        Ok(record)
    }

    /// Yanks `pack` (or restores it), rewriting the module's record; says whether anything
    /// changed. The version must exist.
    pub fn set_yanked(
        &self,
        pack: &PackRef,
        yanked: bool,
        reason: Option<&str>,
    ) -> Result<bool, OciError> {
        if self.offline {
            return Err(OciError::Offline { pack: pack.clone() });
        }
        self.run(|connection| {
            self.within_deadline(
                || format!("yanking `{}` {}", pack.module, pack.version),
                self.set_yanked_async(connection, pack, yanked, reason),
            )
        })?
        .map_err(|error| self.explain_not_found(error))
    }

    async fn set_yanked_async(
        &self,
        connection: &Connection,
        pack: &PackRef,
        yanked: bool,
        reason: Option<&str>,
    ) -> Result<bool, OciError> {
        let failed = |reason: String| OciError::Request {
            host: self.url.host.clone(),
            message: format!("yanking `{}` {}: {reason}", pack.module, pack.version),
        };
        let reference = self.url.reference(pack.module.as_str(), YANKED_TAG);
        let session = self
            .session(connection, &reference)
            .await
            .map_err(|failure| self.failure(failure, failed))?;
        let repository = reference.repository();
        match self
            .manifest(&session, repository, &tag_for(&pack.version)?)
            .await
        {
            Ok(_) => {}
            Err(failure) if failure.is_not_found() => {
                return Err(OciError::NotFound {
                    host: self.url.host.clone(),
                    pack: pack.clone(),
                    hint: None,
                });
            }
            Err(failure) => return Err(self.failure(failure, failed)),
        }
        let mut versions = match self
            .read_record(&session, repository)
            .await
            .map_err(|failure| self.failure(failure, failed))?
        {
            Some(manifest) => parse(&manifest).map_err(failed)?,
            None => Yanks::new(),
        };
        let before = versions.clone();
        if yanked {
            // Yanking again without a reason keeps the recorded one.
            let recorded = versions.remove(&pack.version).flatten();
            let reason = reason.map(str::to_owned).or(recorded);
            versions.insert(pack.version.clone(), reason);
        } else {
            versions.remove(&pack.version);
        }
        if versions == before {
            return Ok(false);
        }
        let listed: Vec<String> = versions.keys().map(ToString::to_string).collect();
        let reasons: BTreeMap<String, &String> = versions
            .iter()
            .filter_map(|(version, reason)| Some((version.to_string(), reason.as_ref()?)))
            .collect();
        // A list of strings and a map of strings always serialize.
        let json = serde_json::to_string(&listed).unwrap_or_default();
        let mut annotations = BTreeMap::from([(ANNOTATION_YANKED.to_owned(), json.clone())]);
        if !reasons.is_empty() {
            annotations.insert(
                ANNOTATION_REASONS.to_owned(),
                serde_json::to_string(&reasons).unwrap_or_default(),
            );
        }
        let manifest = self
            .push_artifact(
                connection,
                &reference,
                vec![(
                    descriptor(YANKED_MEDIA_TYPE, json.as_bytes(), None),
                    json.as_bytes(),
                )],
                YANKED_ARTIFACT_TYPE,
                annotations,
            )
            .await?;
        self.cache
            .store_manifest(&self.url, &pack.module, YANKED_TAG, &manifest, || {
                format!("the yank record of `{}`", pack.module)
            })?;
        Ok(true)
    }
}
