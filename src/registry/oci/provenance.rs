//! A pack's provenance on an OCI registry: an OCI 1.1 referrer of the pack's manifest, of
//! `artifactType` [`PROVENANCE_ARTIFACT_TYPE`] (`application/vnd.in-toto+json`), whose one layer
//! is the `.intoto.jsonl` file (titled so). Registries without the referrers API get the
//! `sha256-<digest>` tag of the referrers tag schema, as late signatures do
//! ([`super::referrers`]). `pack publish` pushes it with the pack, or adds it to a pack the
//! registry holds without one; `pack verify --provenance` reads it. It is not cached.

use oci_client::manifest::OciDescriptor;

use super::http::{Failure, Session};
use super::publish::MANIFEST_MEDIA_TYPE;
use super::pull::ManifestRef;
use super::referrers::ReferrerLayer;
use super::{ARTIFACT_TYPE, Connection, OciError, OciRegistry, tag_for};
use crate::artifact::ArtifactName;
use crate::digest::Sha256;
use crate::names::PackRef;

/// The `artifactType` of a provenance referrer, and its layer's media type.
pub const PROVENANCE_ARTIFACT_TYPE: &str = crate::provenance::PAYLOAD_TYPE;

impl OciRegistry {
    /// The provenance of `pack` when the registry's manifest of it holds the bytes `sha256`
    /// and has a provenance referrer; `None` otherwise.
    pub(super) fn oci_provenance(
        &self,
        pack: &PackRef,
        sha256: &Sha256,
    ) -> Result<Option<Vec<u8>>, OciError> {
        if self.offline {
            return Err(OciError::Offline { pack: pack.clone() });
        }
        let invalid = |reason: String| OciError::Request {
            host: self.url.host.clone(),
            message: format!(
                "reading the provenance of `{}` {}: {reason}",
                pack.module, pack.version
            ),
        };
        let tag = tag_for(&pack.version)?;
        let reference = self.url.reference(pack.module.as_str(), &tag);
        self.run(|connection| {
            self.within_deadline(
                || {
                    format!(
                        "reading the provenance of `{}` {}",
                        pack.module, pack.version
                    )
                },
                async {
                    let session = self
                        .session(connection, &reference)
                        .await
                        .map_err(|failure| self.failure(failure, invalid))?;
                    self.read_provenance(&session, pack, &tag, sha256)
                        .await
                        .map_err(|failure| self.failure(failure, invalid))
                },
            )
        })?
    }

    async fn read_provenance(
        &self,
        session: &Session<'_>,
        pack: &PackRef,
        tag: &str,
        sha256: &Sha256,
    ) -> Result<Option<Vec<u8>>, Failure> {
        let repository = format!("{}/{}", self.url.namespace, pack.module);
        let (manifest, found) = match self.manifest_with_digest(session, &repository, tag).await {
            Ok(found) => found,
            Err(failure) if failure.is_not_found() => return Ok(None),
            Err(failure) => return Err(failure),
        };
        let holds_these_bytes = manifest
            .layers
            .iter()
            .any(|layer| layer.digest == sha256.oci_digest());
        if !holds_these_bytes {
            return Ok(None);
        }
        self.provenance_referrer(session, &repository, &found.digest)
            .await
    }

    /// The layer of the first provenance referrer of `subject` that says it is one.
    async fn provenance_referrer(
        &self,
        session: &Session<'_>,
        repository: &str,
        subject: &Sha256,
    ) -> Result<Option<Vec<u8>>, Failure> {
        let limit = crate::fs::FileKind::Provenance.max_bytes();
        let Some(index) = self
            .referrers_index(session, repository, subject, PROVENANCE_ARTIFACT_TYPE)
            .await?
        else {
            return Ok(None);
        };
        let listed = index
            .manifests
            .iter()
            .filter(|entry| entry.artifact_type.as_deref() == Some(PROVENANCE_ARTIFACT_TYPE))
            .filter_map(|entry| Sha256::from_oci_digest(&entry.digest).ok());
        for digest in listed {
            let (manifest, found) = self
                .manifest_with_digest(session, repository, &digest.oci_digest())
                .await?;
            let about_subject = manifest
                .subject
                .as_ref()
                .is_some_and(|named| named.digest == subject.oci_digest());
            let layer = match manifest.layers.as_slice() {
                [layer] if layer.media_type == PROVENANCE_ARTIFACT_TYPE => layer,
                _ => continue,
            };
            if found.digest != digest || !about_subject {
                continue;
            }
            let Ok(layer_digest) = Sha256::from_oci_digest(&layer.digest) else {
                continue;
            };
            let path = format!("{repository}/blobs/{}", layer_digest.oci_digest());
            let (_, body) = session.get_bounded(&path, &[], None, limit).await?;
            if Sha256::of(&body) != layer_digest {
                return Err(Failure::Invalid(format!(
                    "the provenance blob `{}` does not match its digest",
                    layer.digest
                )));
            }
            return Ok(Some(body));
        }
        Ok(None)
    }

    /// Publishes `provenance` as a referrer of the pack manifest `found`, unless it has one.
    pub(super) async fn publish_provenance(
        &self,
        connection: &Connection,
        session: &Session<'_>,
        pack: &PackRef,
        found: &ManifestRef,
        provenance: &[u8],
    ) -> Result<(), OciError> {
        let repository = format!("{}/{}", self.url.namespace, pack.module);
        let existing = self
            .provenance_referrer(session, &repository, &found.digest)
            .await
            .map_err(|failure| {
                self.failure(failure, |reason| {
                    self.request_error(pack, format!("looking for its provenance: {reason}"))
                })
            })?;
        if existing.is_some() {
            return Ok(());
        }
        let subject = OciDescriptor {
            media_type: MANIFEST_MEDIA_TYPE.to_owned(),
            digest: found.digest.oci_digest(),
            size: i64::try_from(found.size).unwrap_or(i64::MAX),
            urls: None,
            annotations: None,
            artifact_type: Some(ARTIFACT_TYPE.to_owned()),
        };
        let file_name = crate::provenance::file_name(&ArtifactName::new(pack.clone()));
        let layer = ReferrerLayer {
            artifact_type: PROVENANCE_ARTIFACT_TYPE,
            media_type: PROVENANCE_ARTIFACT_TYPE,
            file_name: &file_name,
            bytes: provenance,
            annotations: None,
        };
        self.push_referrer_layer(connection, session, pack, subject, layer)
            .await
    }
}
