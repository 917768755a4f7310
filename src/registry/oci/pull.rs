//! Pulling one pack: its manifest (at most [`MAX_MANIFEST_BYTES`]), checked as a pack's and
//! against the bounds before any blob is asked for; its blobs, streamed into the cache while
//! they are hashed, each refused past the size its manifest gives; then the pack as the cache
//! holds it. The same checks answer a pull from the cache.

use futures_util::StreamExt as _;
use oci_client::manifest::OciImageManifest;

use super::client::{CONCURRENCY, retry};
use super::http::{Failure, Session};
use super::referrers::Referrer;
use super::{
    ANNOTATION_CONTENT_HASH, ANNOTATION_CREATED, ANNOTATION_DEPENDENCIES, ANNOTATION_LIBRARY,
    ANNOTATION_SIGNER, ANNOTATION_TESTS, ANNOTATION_VERSION, ARTIFACT_TYPE, Connection,
    LAYER_MEDIA_TYPE, OciError, OciRegistry, SIGNATURE_MEDIA_TYPE,
};
use crate::artifact::ArtifactName;
use crate::artifact::verify::SignatureFile;
use crate::digest::{ContentHash, Sha256};
use crate::names::PackRef;
use crate::registry::{Fetched, VersionEntry};

/// The largest manifest read: what the OCI distribution specification asks registries to accept
/// at least. A pack's is about 1 KiB.
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;
/// The largest signature layer read: a minisign signature is a few hundred bytes.
pub const MAX_SIGNATURE_BYTES: u64 = 64 * 1024;
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// Where a manifest is, as a `subject` names it: its digest and size.
#[derive(Debug, Clone, Copy)]
pub(super) struct ManifestRef {
    pub digest: Sha256,
    pub size: u64,
}

/// What a pack's manifest says, checked: its layers (within their bounds) and the registry's
/// record of the pack; its signature, when one came later, from its referrer.
pub(super) struct Layout {
    artifact: Layer,
    signature: Option<Layer>,
    pub(super) entry: VersionEntry,
}

#[derive(Debug, Clone, Copy)]
struct Layer {
    /// How messages name it: `pack layer`, `signature layer`.
    name: &'static str,
    digest: Sha256,
    size: u64,
}

impl Layout {
    fn layers(&self) -> impl Iterator<Item = &Layer> {
        std::iter::once(&self.artifact).chain(&self.signature)
    }

    pub(super) fn is_signed(&self) -> bool {
        self.signature.is_some()
    }

    /// The pack signed by the signature `referrer` published after it.
    pub(super) fn with_referrer(mut self, referrer: &Referrer) -> Self {
        self.signature = Some(Layer {
            name: "signature",
            digest: referrer.digest,
            size: referrer.size,
        });
        self.entry.signature = Some(self.entry.package_file.signature());
        self.entry.signer = self.entry.signer.or(referrer.signer);
        self
    }
}

impl OciRegistry {
    /// Pulls `pack` (tag `tag`) into the cache; returns what its manifest says.
    pub(super) async fn pull(
        &self,
        connection: &Connection,
        pack: &PackRef,
        tag: &str,
    ) -> Result<Layout, OciError> {
        let failed = |reason: String| OciError::Pull {
            host: self.url.host.clone(),
            pack: pack.clone(),
            reason,
        };
        let described = || format!("`{}` {}", pack.module, pack.version);
        let reference = self.url.reference(pack.module.as_str(), tag);
        let session = self
            .session(connection, &reference)
            .await
            .map_err(|failure| self.failure(failure, failed))?;
        let repository = reference.repository();
        let (manifest, found) = match self.manifest_with_digest(&session, repository, tag).await {
            Ok(found) => found,
            Err(failure) if failure.is_not_found() => {
                return Err(OciError::NotFound {
                    host: self.url.host.clone(),
                    pack: pack.clone(),
                    hint: None,
                });
            }
            Err(failure) => return Err(self.failure(failure, failed)),
        };
        let layout = self.layout(pack, &manifest)?;
        let layout = self
            .late_signature(&session, pack, tag, layout, Some(found.digest))
            .await
            .map_err(|failure| {
                self.failure(failure, |reason| {
                    failed(format!("its signature could not be looked up: {reason}"))
                })
            })?;
        // What the cache holds intact is not asked for again (an unsigned pack is pulled again
        // only for a signature that came later).
        let missing: Vec<&Layer> = layout
            .layers()
            .filter(|layer| self.cache.blob(&layer.digest, layer.size).is_none())
            .collect();
        let pulled: Vec<Result<(), Failure>> = futures_util::stream::iter(missing.iter().copied())
            .map(|layer| {
                let path = self.cache.blob_path(&layer.digest);
                let session = &session;
                async move {
                    retry(Failure::is_transient, || {
                        session.get_blob(repository, &layer.digest, layer.size, &path)
                    })
                    .await
                }
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        for (layer, result) in missing.into_iter().zip(pulled) {
            result.map_err(|failure| match failure {
                Failure::Blob(fault) => failed(format!("its {} {fault}", layer.name)),
                Failure::Cache { source, .. } => OciError::Cache {
                    what: described(),
                    source,
                },
                other => self.failure(other, |reason| {
                    failed(format!("its {} could not be read: {reason}", layer.name))
                }),
            })?;
        }
        self.cache
            .store_manifest(&self.url, &pack.module, tag, &manifest, described)?;
        Ok(layout)
    }

    /// The manifest of `repository` at `tag`, at most [`MAX_MANIFEST_BYTES`], with retries.
    pub(super) async fn manifest(
        &self,
        session: &Session<'_>,
        repository: &str,
        tag: &str,
    ) -> Result<OciImageManifest, Failure> {
        Ok(self.manifest_with_digest(session, repository, tag).await?.0)
    }

    /// The manifest of `repository` at `tag` (or a digest) and its digest, as
    /// [`Self::manifest`] reads it.
    pub(super) async fn manifest_with_digest(
        &self,
        session: &Session<'_>,
        repository: &str,
        tag: &str,
    ) -> Result<(OciImageManifest, ManifestRef), Failure> {
        let path = format!("{repository}/manifests/{tag}");
        let (headers, body) = retry(Failure::is_transient, || {
            session.get_bounded(&path, &[], Some(MANIFEST_MEDIA_TYPE), MAX_MANIFEST_BYTES)
        })
        .await
        .map_err(|failure| match failure {
            Failure::TooLarge { limit } => {
                Failure::Invalid(format!("its manifest is larger than {limit} bytes"))
            }
            other => other,
        })?;
        // The digest the registry gives for it, when it gives one, must be the body's.
        let announced = headers
            .get("docker-content-digest")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| Sha256::from_oci_digest(value).ok());
        let digest = Sha256::of(&body);
        if announced.is_some_and(|announced| announced != digest) {
            return Err(Failure::Invalid(
                "its manifest does not match the digest the registry gives for it".into(),
            ));
        }
        let manifest = serde_json::from_slice(&body).map_err(|error| {
            Failure::Invalid(format!(
                "its manifest is not an OCI image manifest: {error}"
            ))
        })?;
        let size = body.len() as u64;
        Ok((manifest, ManifestRef { digest, size }))
    }

    /// The pack a manifest describes: exactly one pack layer and at most one signature layer,
    /// each within its bound, and the registry's record in the annotations.
    pub(super) fn layout(
        &self,
        pack: &PackRef,
        manifest: &OciImageManifest,
    ) -> Result<Layout, OciError> {
        let not_a_pack = |reason: String| OciError::NotAPack {
            host: self.url.host.clone(),
            pack: pack.clone(),
            reason,
        };
        if manifest.artifact_type.as_deref() != Some(ARTIFACT_TYPE) {
            return Err(not_a_pack("its artifact type is not a pack's".into()));
        }
        let mut artifacts = Vec::new();
        let mut signatures = Vec::new();
        for layer in &manifest.layers {
            let (name, found) = match layer.media_type.as_str() {
                LAYER_MEDIA_TYPE => ("pack layer", &mut artifacts),
                SIGNATURE_MEDIA_TYPE => ("signature layer", &mut signatures),
                _ => continue,
            };
            // Digests name files in the cache: only `sha256:<64 hex>` is a digest.
            let digest = Sha256::from_oci_digest(&layer.digest)
                .map_err(|_| not_a_pack(format!("`{}` is not a sha256 digest", layer.digest)))?;
            let size = u64::try_from(layer.size)
                .map_err(|_| not_a_pack(format!("its {name} has a negative size")))?;
            found.push(Layer { name, digest, size });
        }
        let (artifact, signature) = match (artifacts.as_slice(), signatures.as_slice()) {
            ([artifact], [] | [_]) => (*artifact, signatures.first().copied()),
            ([], _) => return Err(not_a_pack("it has no pack layer".into())),
            _ => {
                return Err(not_a_pack(
                    "it has more than one pack or signature layer".into(),
                ));
            }
        };
        self.check_bounds(pack, &artifact, signature.as_ref())?;
        let entry = self
            .version_entry(pack, manifest, &artifact, signature.is_some())
            .map_err(not_a_pack)?;
        Ok(Layout {
            artifact,
            signature,
            entry,
        })
    }

    /// Refuses a layer larger than it may be, before any of it is read: the pack as
    /// `distribution.unpack_max_bytes` allows, the signature as [`MAX_SIGNATURE_BYTES`].
    fn check_bounds(
        &self,
        pack: &PackRef,
        artifact: &Layer,
        signature: Option<&Layer>,
    ) -> Result<(), OciError> {
        let too_large = |reason: String| OciError::Pull {
            host: self.url.host.clone(),
            pack: pack.clone(),
            reason,
        };
        let max = self.bounds.max_artifact_bytes;
        if artifact.size > max {
            return Err(too_large(format!(
                "its pack layer is {} bytes, more than `distribution.unpack_max_bytes` ({max})\nhint: if the pack is genuine, raise `distribution.unpack_max_bytes`",
                artifact.size
            )));
        }
        if let Some(signature) = signature.filter(|s| s.size > MAX_SIGNATURE_BYTES) {
            return Err(too_large(format!(
                "its signature layer is {} bytes, more than a signature's {MAX_SIGNATURE_BYTES}",
                signature.size
            )));
        }
        Ok(())
    }

    /// What the registry records about the pack: its annotations, checked.
    fn version_entry(
        &self,
        pack: &PackRef,
        manifest: &OciImageManifest,
        artifact: &Layer,
        signed: bool,
    ) -> Result<VersionEntry, String> {
        let annotations = manifest.annotations.clone().unwrap_or_default();
        let annotation = |key: &str| {
            annotations
                .get(key)
                .ok_or_else(|| format!("it lacks the annotation `{key}`"))
        };
        let version = crate::names::parse_version(annotation(ANNOTATION_VERSION)?)
            .map_err(|_| format!("`{ANNOTATION_VERSION}` is not a version"))?;
        if version != pack.version {
            return Err(format!("its annotations name version {version}"));
        }
        let content_hash: ContentHash = annotation(ANNOTATION_CONTENT_HASH)?
            .parse()
            .map_err(|error| format!("`{ANNOTATION_CONTENT_HASH}`: {error}"))?;
        let signer = match annotations.get(ANNOTATION_SIGNER) {
            Some(key_id) => Some(
                key_id
                    .parse()
                    .map_err(|error| format!("`{ANNOTATION_SIGNER}`: {error}"))?,
            ),
            None => None,
        };
        let dependencies = match annotations.get(ANNOTATION_DEPENDENCIES) {
            Some(json) => crate::registry::metadata::parse_dependencies(json)
                .map_err(|error| format!("`{ANNOTATION_DEPENDENCIES}`: {error}"))?,
            None => Default::default(),
        };
        let tests = match annotations.get(ANNOTATION_TESTS) {
            Some(json) => Some(
                serde_json::from_str(json)
                    .map_err(|error| format!("`{ANNOTATION_TESTS}`: {error}"))?,
            ),
            None => None,
        };
        let package_file = ArtifactName::new(pack.clone());
        Ok(VersionEntry {
            dependencies,
            yanked: false,
            yank_reason: None,
            provenance: None,
            library: annotations
                .get(ANNOTATION_LIBRARY)
                .is_some_and(|v| v == "true"),
            tests,
            signature: signed.then(|| package_file.signature()),
            package_file,
            version,
            sha256: artifact.digest,
            content_hash,
            size: artifact.size,
            created: annotations
                .get(ANNOTATION_CREATED)
                .cloned()
                .unwrap_or_default(),
            signer,
        })
    }

    /// Whether `pack` looks whole in the cache: its manifest recorded, its blobs there with
    /// their sizes. They are not read: enough to skip a prefetch, since the fetch that follows
    /// checks them (and pulls again what is damaged).
    pub(super) fn looks_cached(&self, pack: &PackRef) -> bool {
        let Ok(tag) = super::tag_for(&pack.version) else {
            return false;
        };
        self.cache
            .manifest(&self.url, &pack.module, &tag)
            .and_then(|manifest| self.cached_layout(pack, &manifest).ok())
            .is_some_and(|layout| {
                layout
                    .layers()
                    .all(|layer| self.cache.holds(&layer.digest, layer.size))
            })
    }

    /// The pack a layout describes, from the cache, if its blobs are there and intact.
    pub(super) fn load(&self, layout: &Layout) -> Option<Fetched> {
        let bytes = self
            .cache
            .blob(&layout.artifact.digest, layout.artifact.size)?;
        let signature = match &layout.signature {
            Some(layer) => Some(SignatureFile {
                path: self.cache.blob_path(&layer.digest),
                text: String::from_utf8_lossy(&self.cache.blob(&layer.digest, layer.size)?)
                    .into_owned(),
            }),
            None => None,
        };
        Some(Fetched {
            entry: layout.entry.clone(),
            bytes,
            signature,
            label: self.url.display(),
            loose: false,
            cached: true,
        })
    }
}
