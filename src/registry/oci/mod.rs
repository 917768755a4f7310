//! An OCI registry (CNCF Distribution, Harbor, Zot, GHCR, ...) as a [`Registry`], through the
//! `oci-client` crate (rustls).
//!
//! Each module is a repository `<namespace>/<module>`, each version a tag, each pack an OCI 1.1
//! artifact: `artifactType` [`ARTIFACT_TYPE`], the empty config, the tar as a layer of media type
//! [`LAYER_MEDIA_TYPE`], the signature (when there is one) as a second layer of
//! [`SIGNATURE_MEDIA_TYPE`], and the registry metadata fields as annotations.
//!
//! - [`address`]: `oci://host[:port]/namespace`, and which hosts are loopback;
//! - [`credentials`]: where the credentials for a host come from;
//! - [`client`]: the transport (timeouts, retries, error descriptions);
//! - [`cache`]: the digest-keyed cache that answers repeated pulls with no request;
//! - [`publish`]: pushing packs;
//! - this file: the registry itself: listing, fetching (cache first), and turning a manifest
//!   into what the registry records about a version.
//!
//! `--offline` forbids the network: only the cache answers.

mod address;
mod cache;
mod client;
mod credentials;
mod publish;

use std::collections::BTreeMap;
use std::path::PathBuf;

use futures_util::StreamExt as _;
use oci_client::Client;
use oci_client::errors::OciDistributionError;
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;

pub use address::RegistryUrl;
pub use credentials::credentials;
pub use publish::{Publication, Published};

use self::cache::Cache;
use self::client::{CONCURRENCY, describe, is_not_found, retry};
use super::{Fetched, Registry, RegistryError, VersionEntry};
use crate::digest::{ContentHash, Sha256};
use crate::names::{ModuleName, PackRef};
use crate::pack::ArtifactName;
use crate::pack::verify::SignatureFile;

pub const ARTIFACT_TYPE: &str = "application/vnd.provisioning.pack.v1";
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.provisioning.pack.layer.v1.tar";
pub const SIGNATURE_MEDIA_TYPE: &str = "application/vnd.provisioning.pack.signature.v1.minisig";

const ANNOTATION_MODULE: &str = "dev.provisioning.module";
const ANNOTATION_VERSION: &str = "org.opencontainers.image.version";
const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
const ANNOTATION_SHA256: &str = "dev.provisioning.sha256";
const ANNOTATION_CONTENT_HASH: &str = "dev.provisioning.content-hash";
const ANNOTATION_SIGNER: &str = "dev.provisioning.signer";
const ANNOTATION_TITLE: &str = "org.opencontainers.image.title";

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error(
        "`{url}` is not a registry URL: {reason}\nhint: `oci://host[:port]/namespace`, e.g. `oci://127.0.0.1:5000/provisioning`"
    )]
    BadUrl { url: String, reason: String },
    #[error(
        "no registry URL is configured\nhint: set `[distribution] registry_url = \"oci://host[:port]/namespace\"`, or pass `--registry`"
    )]
    NoUrl,
    #[error("the registry `{host}` refused access with the credentials from {source_name}")]
    Unauthorized { host: String, source_name: String },
    #[error("the registry `{host}` failed: {message}")]
    Request { host: String, message: String },
    #[error("`{}` {} is not in the registry `{host}`", pack.module, pack.version)]
    NotFound { host: String, pack: PackRef },
    #[error(
        "`{}` {} is already in the registry `{host}` with other contents (sha256 {existing}, local {local})\nhint: published versions are immutable: release a new version",
        pack.module, pack.version
    )]
    Immutable {
        host: String,
        pack: PackRef,
        existing: String,
        local: Sha256,
    },
    #[error(
        "`{}` {} in the registry `{host}` is not a provisioning pack: {reason}",
        pack.module, pack.version
    )]
    NotAPack {
        host: String,
        pack: PackRef,
        reason: String,
    },
    #[error(
        "`{}` {} is not in the cache, and `--offline` forbids the network\nhint: run once without `--offline` to fill the cache",
        pack.module, pack.version
    )]
    Offline { pack: PackRef },
    #[error("listing the registry `{host}` needs the network, and `--offline` forbids it")]
    OfflineListing { host: String },
    #[error("`{version}` cannot be an OCI tag (build metadata `+...` is not allowed in tags)")]
    BadTag { version: semver::Version },
    #[error("failed to access the cache at `{}`", path.display())]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to start the network runtime")]
    Runtime(#[source] std::io::Error),
}

/// One registry, one namespace. Built once per command: it owns the network runtime and the
/// client, which every request of the command shares. Both are made on first use, so a command
/// that the cache or the local directory answers never pays for them.
pub struct OciRegistry {
    pub url: RegistryUrl,
    connection: std::cell::OnceCell<Connection>,
    auth: RegistryAuth,
    auth_source: String,
    cache: Cache,
    offline: bool,
}

struct Connection {
    client: Client,
    runtime: tokio::runtime::Runtime,
}

impl OciRegistry {
    pub fn new(
        url: RegistryUrl,
        env: &BTreeMap<String, String>,
        cache_path: &std::path::Path,
        offline: bool,
    ) -> Result<Self, OciError> {
        let (auth, auth_source) = credentials(env, &url.host);
        Ok(Self {
            url,
            connection: std::cell::OnceCell::new(),
            auth,
            auth_source,
            cache: Cache::new(cache_path),
            offline,
        })
    }

    fn connection(&self) -> Result<&Connection, OciError> {
        if let Some(connection) = self.connection.get() {
            return Ok(connection);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(OciError::Runtime)?;
        let connection = Connection {
            client: client::new(&self.url),
            runtime,
        };
        Ok(self.connection.get_or_init(|| connection))
    }

    /// Runs `work` with the client on the runtime.
    fn run<'a, T, F, Fut>(&'a self, work: F) -> Result<T, OciError>
    where
        F: FnOnce(&'a Client) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        let connection = self.connection()?;
        Ok(connection.runtime.block_on(work(&connection.client)))
    }

    fn error(&self, error: OciDistributionError) -> OciError {
        match error {
            OciDistributionError::UnauthorizedError { .. }
            | OciDistributionError::AuthenticationFailure(_) => OciError::Unauthorized {
                host: self.url.host.clone(),
                source_name: self.auth_source.clone(),
            },
            other => OciError::Request {
                host: self.url.host.clone(),
                message: describe(&other),
            },
        }
    }

    fn listing_allowed(&self) -> Result<(), OciError> {
        if self.offline {
            Err(OciError::OfflineListing {
                host: self.url.host.clone(),
            })
        } else {
            Ok(())
        }
    }

    fn oci_versions(&self, module: &ModuleName) -> Result<Vec<semver::Version>, OciError> {
        self.listing_allowed()?;
        let reference = self.url.reference(module.as_str(), "latest");
        let reference = &reference;
        let result =
            self.run(|client| retry(move || client.list_tags(reference, &self.auth, None, None)))?;
        let tags = match result {
            Ok(response) => response.tags,
            Err(error) if is_not_found(&error) => Vec::new(),
            Err(error) => return Err(self.error(error)),
        };
        let mut versions: Vec<semver::Version> = tags
            .iter()
            .filter_map(|tag| semver::Version::parse(tag).ok())
            .collect();
        versions.sort();
        Ok(versions)
    }

    fn oci_modules(&self) -> Result<Vec<ModuleName>, OciError> {
        self.listing_allowed()?;
        let reference = self.url.reference("catalog", "latest");
        let response = self
            .run(|client| {
                let reference = &reference;
                retry(move || client.catalog(reference, &self.auth, None, None))
            })?
            .map_err(|error| self.error(error))?;
        let prefix = format!("{}/", self.url.namespace);
        let mut modules: Vec<ModuleName> = response
            .repositories
            .iter()
            .filter_map(|repository| repository.strip_prefix(&prefix))
            .filter_map(|name| name.parse().ok())
            .collect();
        modules.sort();
        Ok(modules)
    }

    /// `pack`: from the cache when its manifest and blobs are there and intact (no request),
    /// else from the registry (verified digests, then cached).
    async fn fetch_async(&self, client: &Client, pack: &PackRef) -> Result<Fetched, OciError> {
        let tag = tag_for(&pack.version)?;
        let not_a_pack = |reason: String| OciError::NotAPack {
            host: self.url.host.clone(),
            pack: pack.clone(),
            reason,
        };
        if let Some(fetched) = self.cached(pack) {
            return Ok(fetched);
        }
        if self.offline {
            return Err(OciError::Offline { pack: pack.clone() });
        }
        let reference = self.url.reference(pack.module.as_str(), &tag);
        let (manifest, _) = match retry(|| client.pull_image_manifest(&reference, &self.auth)).await
        {
            Ok(found) => found,
            Err(error) if is_not_found(&error) => {
                return Err(OciError::NotFound {
                    host: self.url.host.clone(),
                    pack: pack.clone(),
                });
            }
            Err(error) => return Err(self.error(error)),
        };
        if manifest.artifact_type.as_deref() != Some(ARTIFACT_TYPE) {
            return Err(not_a_pack("its artifact type is not a pack's".into()));
        }
        let mut wanted = Vec::new();
        for layer in &manifest.layers {
            // Digests name files in the cache: only `sha256:<64 hex>` is a digest.
            let digest = Sha256::from_oci_digest(&layer.digest)
                .map_err(|_| not_a_pack(format!("`{}` is not a sha256 digest", layer.digest)))?;
            if layer.media_type == LAYER_MEDIA_TYPE || layer.media_type == SIGNATURE_MEDIA_TYPE {
                wanted.push((layer, digest));
            }
        }
        let reference = &reference;
        let blobs: Vec<Result<Vec<u8>, OciDistributionError>> =
            futures_util::stream::iter(wanted.iter())
                .map(|(layer, _)| async move {
                    retry(|| async {
                        let mut out = Vec::new();
                        client.pull_blob(reference, *layer, &mut out).await?;
                        Ok(out)
                    })
                    .await
                })
                .buffered(CONCURRENCY)
                .collect()
                .await;
        let mut pulled = Vec::with_capacity(wanted.len());
        for ((layer, digest), blob) in wanted.iter().zip(blobs) {
            let blob = blob.map_err(|error| self.error(error))?;
            // oci-client checked the digest while reading; check it again where it lands.
            if Sha256::of(&blob) != *digest {
                return Err(not_a_pack(format!(
                    "the blob {} does not match its digest",
                    layer.digest
                )));
            }
            self.cache.store_blob(digest, &blob)?;
            pulled.push(((*layer).clone(), blob));
        }
        self.cache
            .store_manifest(&self.url, &pack.module, &tag, &manifest)?;
        self.assemble(pack, &manifest, pulled).map_err(not_a_pack)
    }

    /// The pack from the cache, if it is there whole. A cached manifest that no longer reads as
    /// a pack is a miss, fetched again.
    fn cached(&self, pack: &PackRef) -> Option<Fetched> {
        let tag = tag_for(&pack.version).ok()?;
        let (manifest, blobs) = self.cache.get(&self.url, &pack.module, &tag)?;
        self.assemble(pack, &manifest, blobs).ok()
    }

    /// The pack a manifest describes, from its checked blobs: the artifact, its signature, and
    /// what the annotations record about them.
    fn assemble(
        &self,
        pack: &PackRef,
        manifest: &OciImageManifest,
        blobs: Vec<(OciDescriptor, Vec<u8>)>,
    ) -> Result<Fetched, String> {
        let mut artifact = None;
        let mut signature = None;
        for (layer, bytes) in blobs {
            let digest = Sha256::from_oci_digest(&layer.digest).map_err(|e| e.to_string())?;
            match layer.media_type.as_str() {
                LAYER_MEDIA_TYPE => artifact = Some((layer, digest, bytes)),
                SIGNATURE_MEDIA_TYPE => {
                    signature = Some(SignatureFile {
                        path: self.cache.blob_path(&digest),
                        text: String::from_utf8_lossy(&bytes).into_owned(),
                    });
                }
                _ => {}
            }
        }
        let (layer, sha256, bytes) = artifact.ok_or("it has no pack layer")?;
        let annotations = manifest.annotations.clone().unwrap_or_default();
        let annotation = |key: &str| {
            annotations
                .get(key)
                .ok_or_else(|| format!("it lacks the annotation `{key}`"))
        };
        let version = semver::Version::parse(annotation(ANNOTATION_VERSION)?)
            .map_err(|error| format!("`{ANNOTATION_VERSION}`: {error}"))?;
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
        let package_file = ArtifactName::new(pack.clone());
        let entry = VersionEntry {
            signature: signature.as_ref().map(|_| package_file.signature()),
            package_file,
            version,
            sha256,
            content_hash,
            size: u64::try_from(layer.size).unwrap_or(0),
            created: annotations
                .get(ANNOTATION_CREATED)
                .cloned()
                .unwrap_or_default(),
            signer,
        };
        Ok(Fetched {
            entry,
            bytes,
            signature,
            label: self.label(),
        })
    }
}

impl Registry for OciRegistry {
    fn label(&self) -> String {
        self.url.display()
    }

    fn modules(&self) -> Result<Vec<ModuleName>, RegistryError> {
        Ok(self.oci_modules()?)
    }

    fn versions(&self, module: &ModuleName) -> Result<Vec<semver::Version>, RegistryError> {
        Ok(self.oci_versions(module)?)
    }

    fn fetch(&self, pack: &PackRef) -> Result<Fetched, RegistryError> {
        if let Some(fetched) = self.cached(pack) {
            return Ok(fetched);
        }
        Ok(self.run(|client| self.fetch_async(client, pack))??)
    }

    /// Fetches several packs into the cache, [`CONCURRENCY`] at a time, so that the fetches that
    /// follow are answered by the cache. Best effort: what fails here fails again, with its
    /// error, when the pack itself is fetched.
    fn prefetch(&self, packs: &[PackRef]) {
        if self.offline || packs.len() < 2 {
            return;
        }
        let _: Result<Vec<Result<Fetched, OciError>>, OciError> = self.run(|client| {
            futures_util::stream::iter(packs)
                .map(|pack| self.fetch_async(client, pack))
                .buffered(CONCURRENCY)
                .collect()
        });
    }
}

/// A version as a tag: semver without build metadata is already a valid tag.
fn tag_for(version: &semver::Version) -> Result<String, OciError> {
    if !version.build.is_empty() {
        return Err(OciError::BadTag {
            version: version.clone(),
        });
    }
    Ok(version.to_string())
}
