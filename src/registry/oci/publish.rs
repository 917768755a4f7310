//! Publishing packs to an OCI registry: each as an OCI 1.1 artifact (the empty config, the tar
//! layer, the signature layer, the registry metadata as annotations), [`CONCURRENCY`] at a
//! time. A version is immutable: a tag that exists with other bytes is refused. Its signature
//! is not part of it: a signature made after the version was published is added as a referrer
//! ([`super::referrers`]), unless the registry's copy is signed already (by another key: kept,
//! and reported).

use std::collections::BTreeMap;

use futures_util::StreamExt as _;
use oci_client::manifest::{OciDescriptor, OciImageManifest, OciManifest};

use super::client::CONCURRENCY;
use super::http::Session;
use super::pull::ManifestRef;
use super::{
    ANNOTATION_CONTENT_HASH, ANNOTATION_CREATED, ANNOTATION_DEPENDENCIES, ANNOTATION_LIBRARY,
    ANNOTATION_MODULE, ANNOTATION_SHA256, ANNOTATION_SIGNER, ANNOTATION_TESTS, ANNOTATION_TITLE,
    ANNOTATION_VERSION, ARTIFACT_TYPE, Connection, LAYER_MEDIA_TYPE, OciError, OciRegistry,
    SIGNATURE_MEDIA_TYPE, tag_for,
};
use crate::digest::Sha256;
use crate::names::PackRef;
use crate::registry::VersionEntry;
use crate::signing::KeyId;

pub(super) const EMPTY_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
pub(super) const EMPTY_CONFIG: &[u8] = b"{}";
pub(super) const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

const ANNOTATION_LICENSE: &str = "org.opencontainers.image.licenses";
const ANNOTATION_SOURCE: &str = "org.opencontainers.image.source";
const ANNOTATION_URL: &str = "org.opencontainers.image.url";
const ANNOTATION_AUTHORS: &str = "org.opencontainers.image.authors";

/// A pack to publish: the artifact, its signature, its metadata.
#[derive(Debug, Clone)]
pub struct Publication {
    pub pack: PackRef,
    pub entry: VersionEntry,
    pub bytes: Vec<u8>,
    pub signature: Option<String>,
    pub annotations: BTreeMap<String, String>,
    /// Its provenance, published as a referrer of its manifest
    /// ([`super::provenance`]).
    pub provenance: Option<Vec<u8>>,
}

impl Publication {
    /// A pack with the registry metadata fields as its annotations.
    pub fn new(
        pack: PackRef,
        entry: VersionEntry,
        bytes: Vec<u8>,
        signature: Option<String>,
        metadata: &crate::config::Metadata,
    ) -> Self {
        let mut annotations = BTreeMap::from([
            (ANNOTATION_MODULE.to_owned(), pack.module.to_string()),
            (ANNOTATION_VERSION.to_owned(), entry.version.to_string()),
            (ANNOTATION_CREATED.to_owned(), entry.created.clone()),
            (ANNOTATION_SHA256.to_owned(), entry.sha256.to_string()),
            (
                ANNOTATION_CONTENT_HASH.to_owned(),
                entry.content_hash.to_string(),
            ),
        ]);
        if !entry.dependencies.is_empty() {
            // A map of names to requirements always serializes.
            let dependencies = serde_json::to_string(&entry.dependencies).unwrap_or_default();
            annotations.insert(ANNOTATION_DEPENDENCIES.to_owned(), dependencies);
        }
        if entry.library {
            annotations.insert(ANNOTATION_LIBRARY.to_owned(), "true".to_owned());
        }
        if let Some(tests) = &entry.tests {
            // An enum of counts always serializes.
            let tests = serde_json::to_string(tests).unwrap_or_default();
            annotations.insert(ANNOTATION_TESTS.to_owned(), tests);
        }
        for (key, value) in [
            (
                ANNOTATION_SIGNER,
                entry.signer.map(|s| s.to_string()).unwrap_or_default(),
            ),
            (ANNOTATION_LICENSE, metadata.license.clone()),
            (ANNOTATION_SOURCE, metadata.repository.clone()),
            (ANNOTATION_URL, metadata.homepage.clone()),
            (ANNOTATION_AUTHORS, metadata.maintainer.clone()),
        ] {
            if !value.is_empty() {
                annotations.insert(key.to_owned(), value);
            }
        }
        Self {
            pack,
            entry,
            bytes,
            signature,
            annotations,
            provenance: None,
        }
    }
}

/// What publishing one pack did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    Pushed,
    /// The registry already held exactly these bytes, signed by the same key (or the local
    /// pack is unsigned).
    Unchanged,
    /// The registry held these bytes unsigned: the local signature was added, as a referrer
    /// (see [`super::referrers`]).
    SignatureAdded,
    /// The registry holds these bytes signed by another key (the one named, when its record
    /// names one): kept, never replaced.
    SignedByAnother(Option<KeyId>),
}

impl Published {
    /// How reports name it.
    pub fn name(self) -> &'static str {
        match self {
            Published::Pushed => "pushed",
            Published::Unchanged => "unchanged",
            Published::SignatureAdded => "signature_added",
            Published::SignedByAnother(_) => "signed_by_another_key",
        }
    }
}

impl OciRegistry {
    /// Publishes packs, [`CONCURRENCY`] at a time; one result per pack, in order. `done` is
    /// called as each one finishes (for progress).
    pub fn publish(
        &self,
        publications: &[Publication],
        done: &(dyn Fn() + Sync),
    ) -> Vec<Result<Published, OciError>> {
        if self.offline {
            return publications
                .iter()
                .map(|p| {
                    Err(OciError::Offline {
                        pack: p.pack.clone(),
                    })
                })
                .collect();
        }
        let run = self.run(|connection| async move {
            let results: Vec<(usize, Result<Published, OciError>)> =
                futures_util::stream::iter(publications.iter().enumerate())
                    .map(|(index, publication)| async move {
                        let pack = &publication.pack;
                        let result = self
                            .within_deadline(
                                || format!("publishing `{}` {}", pack.module, pack.version),
                                self.publish_one(connection, publication),
                            )
                            .await;
                        done();
                        (index, result)
                    })
                    .buffer_unordered(CONCURRENCY)
                    .collect()
                    .await;
            let mut ordered: Vec<Option<Result<Published, OciError>>> =
                (0..publications.len()).map(|_| None).collect();
            for (index, result) in results {
                ordered[index] = Some(result);
            }
            ordered.into_iter().flatten().collect()
        });
        match run {
            Ok(results) => results,
            Err(error) => {
                let message = error.to_string();
                publications
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

    async fn publish_one(
        &self,
        connection: &Connection,
        publication: &Publication,
    ) -> Result<Published, OciError> {
        let pack = &publication.pack;
        let tag = tag_for(&pack.version)?;
        let reference = self.url.reference(pack.module.as_str(), &tag);
        let failed = |reason: String| OciError::Request {
            host: self.url.host.clone(),
            message: format!(
                "looking for `{}` {} in it: {reason}",
                pack.module, pack.version
            ),
        };
        let session = self
            .session(connection, &reference)
            .await
            .map_err(|failure| self.failure(failure, failed))?;
        match self
            .manifest_with_digest(&session, reference.repository(), &tag)
            .await
        {
            Ok((manifest, found)) => {
                return self
                    .publish_existing(connection, &session, publication, &manifest, found)
                    .await;
            }
            Err(failure) if failure.is_not_found() => {}
            Err(failure) => return Err(self.failure(failure, failed)),
        }
        let package_file = publication.entry.package_file.to_string();
        let mut layers = vec![(
            descriptor(LAYER_MEDIA_TYPE, &publication.bytes, Some(&package_file)),
            publication.bytes.as_slice(),
        )];
        if let Some(signature) = &publication.signature {
            layers.push((
                descriptor(
                    SIGNATURE_MEDIA_TYPE,
                    signature.as_bytes(),
                    Some(&publication.entry.package_file.signature()),
                ),
                signature.as_bytes(),
            ));
        }
        self.push_artifact(
            connection,
            &reference,
            layers,
            ARTIFACT_TYPE,
            publication.annotations.clone(),
        )
        .await?;
        if let Some(provenance) = &publication.provenance {
            // The manifest as the registry holds it: the provenance refers to its digest.
            let (_, found) = self
                .manifest_with_digest(&session, reference.repository(), &tag)
                .await
                .map_err(|failure| self.failure(failure, failed))?;
            self.publish_provenance(connection, &session, pack, &found, provenance)
                .await?;
        }
        Ok(Published::Pushed)
    }

    /// A version the registry holds already: other bytes are refused (versions are
    /// immutable); the same bytes get the local signature when the registry's copy has none (a
    /// signature is not part of a version's bytes), and keep another key's.
    async fn publish_existing(
        &self,
        connection: &Connection,
        session: &Session<'_>,
        publication: &Publication,
        manifest: &OciImageManifest,
        found: ManifestRef,
    ) -> Result<Published, OciError> {
        let pack = &publication.pack;
        let existing = manifest
            .layers
            .iter()
            .find(|layer| layer.media_type == LAYER_MEDIA_TYPE)
            .map(|layer| layer.digest.clone());
        let local = publication.entry.sha256;
        if existing.as_deref() != Some(local.oci_digest().as_str()) {
            return Err(OciError::Immutable {
                host: self.url.host.clone(),
                pack: pack.clone(),
                existing: existing.map_or_else(
                    || "(not a provisioning pack)".to_owned(),
                    |digest| digest.trim_start_matches("sha256:").to_owned(),
                ),
                local,
            });
        }
        // A pack published before its provenance was: added now (kept when there is one).
        if let Some(provenance) = &publication.provenance {
            self.publish_provenance(connection, session, pack, &found, provenance)
                .await?;
        }
        let Some(signature) = &publication.signature else {
            return Ok(Published::Unchanged);
        };
        let ours = publication
            .entry
            .signer
            .or_else(|| crate::signing::signature_key_id(signature));
        let tag = tag_for(&pack.version)?;
        let layout = self
            .late_signature(
                session,
                pack,
                &tag,
                self.layout(pack, manifest)?,
                Some(found.digest),
            )
            .await
            .map_err(|failure| {
                self.failure(failure, |reason| {
                    self.request_error(pack, format!("looking for its signature: {reason}"))
                })
            })?;
        if layout.is_signed() {
            let theirs = layout.entry.signer;
            return Ok(if theirs.is_some() && theirs == ours {
                Published::Unchanged
            } else {
                Published::SignedByAnother(theirs)
            });
        }
        let subject = OciDescriptor {
            media_type: MANIFEST_MEDIA_TYPE.to_owned(),
            digest: found.digest.oci_digest(),
            size: i64::try_from(found.size).unwrap_or(i64::MAX),
            urls: None,
            annotations: None,
            artifact_type: Some(ARTIFACT_TYPE.to_owned()),
        };
        self.push_referrer(connection, session, pack, subject, signature, ours)
            .await?;
        Ok(Published::SignatureAdded)
    }

    /// Pushes an OCI 1.1 artifact to `reference`: each layer's blob, the empty config, then the
    /// manifest, which the tag of `reference` then names. Returns the manifest pushed.
    pub(super) async fn push_artifact(
        &self,
        connection: &Connection,
        reference: &oci_client::Reference,
        layers: Vec<(OciDescriptor, &[u8])>,
        artifact_type: &str,
        annotations: BTreeMap<String, String>,
    ) -> Result<OciImageManifest, OciError> {
        self.authorize_push(connection, reference).await?;
        let client = &connection.client;
        let config = descriptor(EMPTY_CONFIG_MEDIA_TYPE, EMPTY_CONFIG, None);
        let blobs = layers
            .iter()
            .map(|(layer, data)| (&layer.digest, *data))
            .chain(std::iter::once((&config.digest, EMPTY_CONFIG)));
        for (digest, data) in blobs {
            client
                .push_blob(reference, data.to_vec(), digest)
                .await
                .map_err(|error| self.error(error))?;
        }
        let manifest = OciImageManifest {
            schema_version: 2,
            media_type: Some(MANIFEST_MEDIA_TYPE.to_owned()),
            config,
            layers: layers.into_iter().map(|(layer, _)| layer).collect(),
            subject: None,
            artifact_type: Some(artifact_type.to_owned()),
            annotations: Some(annotations),
        };
        client
            .push_manifest(reference, &OciManifest::Image(manifest.clone()))
            .await
            .map_err(|error| self.error(error))?;
        Ok(manifest)
    }
}

pub(super) fn descriptor(media_type: &str, data: &[u8], title: Option<&str>) -> OciDescriptor {
    OciDescriptor {
        media_type: media_type.to_owned(),
        digest: Sha256::of(data).oci_digest(),
        size: i64::try_from(data.len()).unwrap_or(i64::MAX),
        urls: None,
        annotations: title
            .map(|title| BTreeMap::from([(ANNOTATION_TITLE.to_owned(), title.to_owned())])),
        artifact_type: None,
    }
}
