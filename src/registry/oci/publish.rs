//! Publishing packs to an OCI registry: each as an OCI 1.1 artifact (the empty config, the tar
//! layer, the signature layer, the registry metadata as annotations), [`CONCURRENCY`] at a
//! time. A version is immutable: a tag that exists with other bytes is refused.

use std::collections::BTreeMap;

use futures_util::StreamExt as _;
use oci_client::manifest::{OciDescriptor, OciImageManifest, OciManifest};

use super::client::CONCURRENCY;
use super::{
    ANNOTATION_CONTENT_HASH, ANNOTATION_CREATED, ANNOTATION_DEPENDENCIES, ANNOTATION_LIBRARY,
    ANNOTATION_MODULE, ANNOTATION_SHA256, ANNOTATION_SIGNER, ANNOTATION_TESTS, ANNOTATION_TITLE,
    ANNOTATION_VERSION, ARTIFACT_TYPE, Connection, LAYER_MEDIA_TYPE, OciError, OciRegistry,
    SIGNATURE_MEDIA_TYPE, tag_for,
};
use crate::digest::Sha256;
use crate::names::PackRef;
use crate::registry::VersionEntry;

const EMPTY_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
const EMPTY_CONFIG: &[u8] = b"{}";
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

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
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Published {
    Pushed,
    /// The registry already held exactly these bytes.
    Unchanged,
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
            connection
                .client
                .store_auth_if_needed(&self.url.host, &self.auth)
                .await;
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
        let existing = async {
            let session = self.session(connection, &reference).await?;
            self.manifest(&session, reference.repository(), &tag).await
        };
        match existing.await {
            Ok(manifest) => {
                let existing = manifest
                    .layers
                    .iter()
                    .find(|layer| layer.media_type == LAYER_MEDIA_TYPE)
                    .map(|layer| layer.digest.clone());
                let local = publication.entry.sha256;
                return match existing {
                    Some(digest) if digest == local.oci_digest() => Ok(Published::Unchanged),
                    existing => Err(OciError::Immutable {
                        host: self.url.host.clone(),
                        pack: pack.clone(),
                        existing: existing.map_or_else(
                            || "(not a provisioning pack)".to_owned(),
                            |digest| digest.trim_start_matches("sha256:").to_owned(),
                        ),
                        local,
                    }),
                };
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
        Ok(Published::Pushed)
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
