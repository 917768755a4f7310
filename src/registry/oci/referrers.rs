//! Signatures that come after their version: a pack's manifest is immutable, so a signature
//! published later is an OCI 1.1 *referrer* of it: an image manifest of `artifactType`
//! [`SIGNATURE_ARTIFACT_TYPE`] whose `subject` is the pack's manifest, with the empty config and
//! the minisign signature as its one layer ([`SIGNATURE_MEDIA_TYPE`], titled
//! `<module>_<version>.tar.minisig`), and the signer's key id in the annotation
//! `dev.provisioning.signer`.
//!
//! Registries without the referrers API (Distribution 2.x, Debian's `docker-registry`) are
//! served by the referrers tag schema of the distribution specification 1.1: the tag
//! `sha256-<hex of the pack manifest's digest>` names an image index listing the referrers.
//! Publishing pushes the referrer by digest and always updates that tag too (a registry with the
//! API ignores it; one without needs it). Reading asks `GET /v2/<name>/referrers/<digest>`
//! first and falls back to the tag when the API answers 404.
//!
//! A pack signed when it was published keeps its signature as a layer of its own manifest
//! (see [`super`]); that one wins, and readers look for a referrer only when it has none.
//!
//! The referrer found is cached beside the pack's manifest (the tag `<version>.minisig` of the
//! cache, never a registry tag), and its blob with the others, so `--offline` sees it.

use std::collections::BTreeMap;

use oci_client::manifest::{
    ImageIndexEntry, OciDescriptor, OciImageIndex, OciImageManifest, OciManifest,
};

use super::client::retry;
use super::http::{Failure, Session};
use super::publish::{EMPTY_CONFIG, EMPTY_CONFIG_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, descriptor};
use super::pull::{Layout, MAX_MANIFEST_BYTES, MAX_SIGNATURE_BYTES};
use super::{ANNOTATION_SIGNER, Connection, OciError, OciRegistry, SIGNATURE_MEDIA_TYPE};
use crate::artifact::ArtifactName;
use crate::digest::Sha256;
use crate::names::PackRef;
use crate::signing::KeyId;

/// The `artifactType` of a signature published after its pack.
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.dev.provisioning.signature.v1+minisign";
const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";

/// A signature found as a referrer: its manifest (what the cache records) and its layer.
#[derive(Debug, Clone)]
pub(super) struct Referrer {
    pub manifest: OciImageManifest,
    pub digest: Sha256,
    pub size: u64,
    /// The key its annotation names (the signature itself says which key made it, and
    /// verification checks that one).
    pub signer: Option<KeyId>,
}

impl Referrer {
    /// A signature referrer as its manifest describes it: the artifact type, and exactly one
    /// signature layer within its bound; why not, else.
    pub(super) fn read(manifest: OciImageManifest) -> Result<Self, String> {
        if manifest.artifact_type.as_deref() != Some(SIGNATURE_ARTIFACT_TYPE) {
            return Err("its artifact type is not a signature's".into());
        }
        let [layer] = manifest.layers.as_slice() else {
            return Err("it does not have exactly one layer".into());
        };
        if layer.media_type != SIGNATURE_MEDIA_TYPE {
            return Err(format!(
                "its layer is `{}`, not a signature",
                layer.media_type
            ));
        }
        let digest = Sha256::from_oci_digest(&layer.digest)
            .map_err(|_| format!("`{}` is not a sha256 digest", layer.digest))?;
        let size = u64::try_from(layer.size)
            .ok()
            .filter(|size| *size <= MAX_SIGNATURE_BYTES)
            .ok_or_else(|| format!("its layer is not a signature's size ({})", layer.size))?;
        let signer = manifest
            .annotations
            .as_ref()
            .and_then(|annotations| annotations.get(ANNOTATION_SIGNER))
            .and_then(|key_id| key_id.parse().ok());
        Ok(Self {
            manifest,
            digest,
            size,
            signer,
        })
    }
}

/// The one layer of a referrer to publish.
pub(super) struct ReferrerLayer<'a> {
    pub artifact_type: &'static str,
    pub media_type: &'static str,
    /// Its title (`org.opencontainers.image.title`).
    pub file_name: &'a str,
    pub bytes: &'a [u8],
    pub annotations: Option<BTreeMap<String, String>>,
}

/// The tag of the referrers tag schema for the manifest `digest`: `sha256-<hex>`.
pub fn fallback_tag(digest: &Sha256) -> String {
    format!("sha256-{digest}")
}

/// The cache's name for the referrer recorded for a version's tag.
pub(super) fn cache_tag(tag: &str) -> String {
    format!("{tag}.minisig")
}

impl OciRegistry {
    /// `layout` of a pack's `manifest`, with the signature the cache recorded as its referrer
    /// when the manifest itself has none.
    pub(super) fn cached_layout(
        &self,
        pack: &PackRef,
        manifest: &OciImageManifest,
    ) -> Result<Layout, OciError> {
        let layout = self.layout(pack, manifest)?;
        if layout.is_signed() {
            return Ok(layout);
        }
        let tag = super::tag_for(&pack.version)?;
        let recorded = self
            .cache
            .manifest(&self.url, &pack.module, &cache_tag(&tag))
            .and_then(|manifest| Referrer::read(manifest).ok());
        Ok(match recorded {
            Some(referrer) => layout.with_referrer(&referrer),
            None => layout,
        })
    }

    /// `layout` with the signature published after the pack, when its manifest has none: the
    /// one the cache recorded, else the registry's referrer of the manifest `digest` (asked for
    /// the manifest at `tag` when not given), which the cache then records.
    pub(super) async fn late_signature(
        &self,
        session: &Session<'_>,
        pack: &PackRef,
        tag: &str,
        layout: Layout,
        digest: Option<Sha256>,
    ) -> Result<Layout, Failure> {
        if layout.is_signed() {
            return Ok(layout);
        }
        let cache_tag = cache_tag(tag);
        if let Some(referrer) = self
            .cache
            .manifest(&self.url, &pack.module, &cache_tag)
            .and_then(|manifest| Referrer::read(manifest).ok())
        {
            return Ok(layout.with_referrer(&referrer));
        }
        let repository = format!("{}/{}", self.url.namespace, pack.module);
        let digest = match digest {
            Some(digest) => digest,
            None => {
                self.manifest_with_digest(session, &repository, tag)
                    .await?
                    .1
                    .digest
            }
        };
        let Some(referrer) = self.find_referrer(session, &repository, &digest).await? else {
            return Ok(layout);
        };
        // A cache that cannot be written only costs `--offline` this signature.
        let _ = self.cache.store_manifest(
            &self.url,
            &pack.module,
            &cache_tag,
            &referrer.manifest,
            String::new,
        );
        Ok(layout.with_referrer(&referrer))
    }

    /// The signature referrer of the manifest `subject` of `repository`, if it has one: from
    /// the referrers API, else (404) the fallback tag; the first listed that reads as a
    /// signature.
    pub(super) async fn find_referrer(
        &self,
        session: &Session<'_>,
        repository: &str,
        subject: &Sha256,
    ) -> Result<Option<Referrer>, Failure> {
        let Some(index) = self
            .referrers_index(session, repository, subject, SIGNATURE_ARTIFACT_TYPE)
            .await?
        else {
            return Ok(None);
        };
        let candidates = index
            .manifests
            .iter()
            .filter(|entry| entry.artifact_type.as_deref() == Some(SIGNATURE_ARTIFACT_TYPE));
        for entry in candidates {
            let Ok(digest) = Sha256::from_oci_digest(&entry.digest) else {
                continue;
            };
            let manifest = self
                .manifest_with_digest(session, repository, &digest.oci_digest())
                .await?;
            if manifest.1.digest != digest {
                return Err(Failure::Invalid(format!(
                    "the referrer `{}` does not match its digest",
                    entry.digest
                )));
            }
            // Listed for this pack, it must say so itself.
            let about_subject = manifest
                .0
                .subject
                .as_ref()
                .is_some_and(|named| named.digest == subject.oci_digest());
            if about_subject && let Ok(referrer) = Referrer::read(manifest.0) {
                return Ok(Some(referrer));
            }
        }
        Ok(None)
    }

    /// The index listing the referrers of `subject` (of `artifact_type`, when the registry
    /// filters): the API's answer, else the fallback tag's index, else none.
    pub(super) async fn referrers_index(
        &self,
        session: &Session<'_>,
        repository: &str,
        subject: &Sha256,
        artifact_type: &str,
    ) -> Result<Option<OciImageIndex>, Failure> {
        let api = format!("{repository}/referrers/{}", subject.oci_digest());
        let query = [("artifactType", artifact_type)];
        match self.index_at(session, &api, &query).await {
            Err(failure) if failure.is_not_found() => {}
            answered => return answered.map(Some),
        }
        let tag = format!("{repository}/manifests/{}", fallback_tag(subject));
        match self.index_at(session, &tag, &[]).await {
            Err(failure) if failure.is_not_found() => Ok(None),
            answered => answered.map(Some),
        }
    }

    /// The image index at `path` (below `/v2/`), at most [`MAX_MANIFEST_BYTES`].
    async fn index_at(
        &self,
        session: &Session<'_>,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<OciImageIndex, Failure> {
        let (_, body) = retry(Failure::is_transient, || {
            session.get_bounded(path, query, Some(INDEX_MEDIA_TYPE), MAX_MANIFEST_BYTES)
        })
        .await?;
        serde_json::from_slice(&body)
            .map_err(|error| Failure::Invalid(format!("its referrers are not an index: {error}")))
    }

    /// Publishes `signature` (by `signer`) as a referrer of the pack manifest `subject` at
    /// `reference`'s repository: the blobs, the referrer by digest, then the fallback tag's
    /// index with the referrer added to what it listed.
    pub(super) async fn push_referrer(
        &self,
        connection: &Connection,
        session: &Session<'_>,
        pack: &PackRef,
        subject: OciDescriptor,
        signature: &str,
        signer: Option<KeyId>,
    ) -> Result<(), OciError> {
        let file_name = ArtifactName::new(pack.clone()).signature();
        let annotations = signer
            .map(|key_id| BTreeMap::from([(ANNOTATION_SIGNER.to_owned(), key_id.to_string())]));
        let layer = ReferrerLayer {
            artifact_type: SIGNATURE_ARTIFACT_TYPE,
            media_type: SIGNATURE_MEDIA_TYPE,
            file_name: &file_name,
            bytes: signature.as_bytes(),
            annotations,
        };
        self.push_referrer_layer(connection, session, pack, subject, layer)
            .await
    }

    /// Publishes `layer` as a referrer of the pack manifest `subject`: the blobs, the referrer
    /// by digest, then the fallback tag's index with the referrer added to what it listed.
    pub(super) async fn push_referrer_layer(
        &self,
        connection: &Connection,
        session: &Session<'_>,
        pack: &PackRef,
        subject: OciDescriptor,
        layer: ReferrerLayer<'_>,
    ) -> Result<(), OciError> {
        let reference = self.url.reference(pack.module.as_str(), "latest");
        self.authorize_push(connection, &reference).await?;
        let repository = reference.repository().to_owned();
        let ReferrerLayer {
            artifact_type,
            media_type,
            file_name,
            bytes,
            annotations,
        } = layer;
        let layer = descriptor(media_type, bytes, Some(file_name));
        let config = descriptor(EMPTY_CONFIG_MEDIA_TYPE, EMPTY_CONFIG, None);
        for (digest, data) in [(&layer.digest, bytes), (&config.digest, EMPTY_CONFIG)] {
            connection
                .client
                .push_blob(&reference, data.to_vec(), digest)
                .await
                .map_err(|error| self.error(error))?;
        }
        let subject_digest = Sha256::from_oci_digest(&subject.digest).map_err(|_| {
            self.request_error(pack, format!("`{}` is not a digest", subject.digest))
        })?;
        let manifest = OciImageManifest {
            schema_version: 2,
            media_type: Some(MANIFEST_MEDIA_TYPE.to_owned()),
            config,
            layers: vec![layer],
            subject: Some(subject),
            artifact_type: Some(artifact_type.to_owned()),
            annotations: annotations.clone(),
        };
        let body = serde_json::to_vec(&OciManifest::Image(manifest))
            .map_err(|error| self.request_error(pack, error.to_string()))?;
        let digest = Sha256::of(&body);
        let by_digest = oci_client::Reference::with_digest(
            self.url.host.clone(),
            repository.clone(),
            digest.oci_digest(),
        );
        self.push_raw(connection, &by_digest, body.clone(), MANIFEST_MEDIA_TYPE)
            .await?;
        let entry = ImageIndexEntry {
            media_type: MANIFEST_MEDIA_TYPE.to_owned(),
            digest: digest.oci_digest(),
            size: i64::try_from(body.len()).unwrap_or(i64::MAX),
            platform: None,
            annotations,
            artifact_type: Some(artifact_type.to_owned()),
        };
        self.add_to_fallback_tag(
            connection,
            session,
            pack,
            &repository,
            &subject_digest,
            entry,
        )
        .await
    }

    /// Adds `entry` to the index the fallback tag of `subject` names (creating it).
    async fn add_to_fallback_tag(
        &self,
        connection: &Connection,
        session: &Session<'_>,
        pack: &PackRef,
        repository: &str,
        subject: &Sha256,
        entry: ImageIndexEntry,
    ) -> Result<(), OciError> {
        let tag = fallback_tag(subject);
        let path = format!("{repository}/manifests/{tag}");
        let mut index = match self.index_at(session, &path, &[]).await {
            Ok(index) => index,
            Err(failure) if failure.is_not_found() => OciImageIndex {
                schema_version: 2,
                media_type: Some(INDEX_MEDIA_TYPE.to_owned()),
                manifests: Vec::new(),
                artifact_type: None,
                annotations: None,
            },
            Err(failure) => {
                return Err(self.failure(failure, |reason| {
                    self.request_error(pack, format!("reading the tag `{tag}`: {reason}"))
                }));
            }
        };
        if index
            .manifests
            .iter()
            .any(|known| known.digest == entry.digest)
        {
            return Ok(());
        }
        index.manifests.push(entry);
        let body = serde_json::to_vec(&OciManifest::ImageIndex(index))
            .map_err(|error| self.request_error(pack, error.to_string()))?;
        let reference =
            oci_client::Reference::with_tag(self.url.host.clone(), repository.to_owned(), tag);
        self.push_raw(connection, &reference, body, INDEX_MEDIA_TYPE)
            .await
    }

    async fn push_raw(
        &self,
        connection: &Connection,
        reference: &oci_client::Reference,
        body: Vec<u8>,
        media_type: &'static str,
    ) -> Result<(), OciError> {
        connection
            .client
            .push_manifest_raw(
                reference,
                body,
                reqwest::header::HeaderValue::from_static(media_type),
            )
            .await
            .map_err(|error| self.error(error))?;
        Ok(())
    }

    pub(super) fn request_error(&self, pack: &PackRef, reason: String) -> OciError {
        OciError::Request {
            host: self.url.host.clone(),
            message: format!(
                "publishing the signature of `{}` {}: {reason}",
                pack.module, pack.version
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signature_manifest(artifact_type: &str, layers: Vec<OciDescriptor>) -> OciImageManifest {
        OciImageManifest {
            schema_version: 2,
            media_type: Some(MANIFEST_MEDIA_TYPE.to_owned()),
            config: descriptor(EMPTY_CONFIG_MEDIA_TYPE, EMPTY_CONFIG, None),
            layers,
            subject: None,
            artifact_type: Some(artifact_type.to_owned()),
            annotations: Some(BTreeMap::from([(
                ANNOTATION_SIGNER.to_owned(),
                "0123456789ABCDEF".to_owned(),
            )])),
        }
    }

    #[test]
    fn a_referrer_is_read_only_as_one_bounded_signature() {
        let layer = descriptor(SIGNATURE_MEDIA_TYPE, b"sig", None);
        let read = Referrer::read(signature_manifest(
            SIGNATURE_ARTIFACT_TYPE,
            vec![layer.clone()],
        ))
        .expect("a signature referrer");
        assert_eq!(read.size, 3);
        assert_eq!(
            read.signer.map(|k| k.to_string()).as_deref(),
            Some("0123456789ABCDEF")
        );
        let refused = [
            signature_manifest("application/vnd.other", vec![layer.clone()]),
            signature_manifest(SIGNATURE_ARTIFACT_TYPE, vec![]),
            signature_manifest(SIGNATURE_ARTIFACT_TYPE, vec![layer.clone(), layer.clone()]),
            signature_manifest(
                SIGNATURE_ARTIFACT_TYPE,
                vec![OciDescriptor {
                    size: i64::try_from(MAX_SIGNATURE_BYTES + 1).expect("fits"),
                    ..layer.clone()
                }],
            ),
            signature_manifest(
                SIGNATURE_ARTIFACT_TYPE,
                vec![descriptor("application/octet-stream", b"sig", None)],
            ),
        ];
        for manifest in refused {
            assert!(Referrer::read(manifest).is_err());
        }
        let digest = Sha256::of(b"x");
        assert_eq!(fallback_tag(&digest), format!("sha256-{digest}"));
    }
}
