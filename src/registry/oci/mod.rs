//! An OCI registry (CNCF Distribution, Harbor, Zot, GHCR, ...) as the distribution engine for
//! packs, through the `oci-client` crate (rustls).
//!
//! Each module is a repository `<namespace>/<module>`, each version a tag, each pack an OCI 1.1
//! artifact: `artifactType` [`ARTIFACT_TYPE`], the empty config, the tar as a layer of media type
//! [`LAYER_MEDIA_TYPE`], the signature (when there is one) as a second layer of
//! [`SIGNATURE_MEDIA_TYPE`], and the registry metadata fields as annotations. Versions are
//! immutable: publishing a tag that exists with other bytes is refused.
//!
//! Pulled blobs land in `cache_path/oci/blobs/sha256/<hex>`, written only after their digest is
//! checked, and the manifest of each pulled tag in `cache_path/oci/refs/...`; a tag found there
//! with all its blobs intact is used with no request at all. `--offline` forbids the network.
//!
//! Plain HTTP is used for loopback hosts only (`localhost`, `127.0.0.0/8`, `[::1]`). Requests
//! time out; idempotent ones (reads) are retried with backoff.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt as _;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::manifest::{OciDescriptor, OciImageManifest, OciManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use super::VersionEntry;
use crate::pack::verify::SignatureFile;

pub const ARTIFACT_TYPE: &str = "application/vnd.provisioning.pack.v1";
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.provisioning.pack.layer.v1.tar";
pub const SIGNATURE_MEDIA_TYPE: &str = "application/vnd.provisioning.pack.signature.v1.minisig";
const EMPTY_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
const EMPTY_CONFIG: &[u8] = b"{}";
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

const ANNOTATION_MODULE: &str = "dev.provisioning.module";
const ANNOTATION_VERSION: &str = "org.opencontainers.image.version";
const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
const ANNOTATION_SHA256: &str = "dev.provisioning.sha256";
const ANNOTATION_CONTENT_HASH: &str = "dev.provisioning.content-hash";
const ANNOTATION_SIGNER: &str = "dev.provisioning.signer";
const ANNOTATION_LICENSE: &str = "org.opencontainers.image.licenses";
const ANNOTATION_SOURCE: &str = "org.opencontainers.image.source";
const ANNOTATION_URL: &str = "org.opencontainers.image.url";
const ANNOTATION_AUTHORS: &str = "org.opencontainers.image.authors";

/// How many packs move at once.
pub const CONCURRENCY: usize = 8;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(30);
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

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
    #[error("`{module}` {version} is not in the registry `{host}`")]
    NotFound {
        host: String,
        module: String,
        version: String,
    },
    #[error(
        "`{module}` {version} is already in the registry `{host}` with other contents (sha256 {existing}, local {local})\nhint: published versions are immutable: release a new version"
    )]
    Immutable {
        host: String,
        module: String,
        version: String,
        existing: String,
        local: String,
    },
    #[error("`{module}` {version} in the registry `{host}` is not a provisioning pack: {reason}")]
    NotAPack {
        host: String,
        module: String,
        version: String,
        reason: String,
    },
    #[error(
        "`{module}` {version} is not in the cache, and `--offline` forbids the network\nhint: run once without `--offline` to fill the cache"
    )]
    Offline { module: String, version: String },
    #[error("listing the registry `{host}` needs the network, and `--offline` forbids it")]
    OfflineListing { host: String },
    #[error("`{version}` cannot be an OCI tag (build metadata `+...` is not allowed in tags)")]
    BadTag { version: String },
    #[error("failed to access the cache at `{}`", path.display())]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to start the network runtime")]
    Runtime(#[source] std::io::Error),
}

/// `oci://host[:port]/namespace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryUrl {
    pub host: String,
    pub namespace: String,
}

impl RegistryUrl {
    pub fn parse(url: &str) -> Result<Self, OciError> {
        let bad = |reason: &str| OciError::BadUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = url
            .strip_prefix("oci://")
            .ok_or_else(|| bad("it must start with `oci://`"))?;
        let (host, namespace) = rest
            .split_once('/')
            .ok_or_else(|| bad("it has no namespace"))?;
        let namespace = namespace.trim_end_matches('/');
        if host.is_empty() || namespace.is_empty() {
            return Err(bad("the host and the namespace must not be empty"));
        }
        let valid = |part: &str| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        };
        if !namespace.split('/').all(valid) {
            return Err(bad(
                "the namespace must be lower-case path components (`a-z`, `0-9`, `.`, `_`, `-`)",
            ));
        }
        Ok(Self {
            host: host.to_owned(),
            namespace: namespace.to_owned(),
        })
    }

    /// Whether the host is on this machine: only then is plain HTTP used.
    pub fn is_loopback(&self) -> bool {
        let name = match self.host.strip_prefix('[') {
            Some(rest) => rest.split(']').next().unwrap_or_default().to_owned(),
            None => self
                .host
                .rsplit_once(':')
                .map_or(self.host.clone(), |(name, _)| name.to_owned()),
        };
        name == "localhost"
            || name == "::1"
            || name
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    fn reference(&self, module: &str, tag: &str) -> Reference {
        Reference::with_tag(
            self.host.clone(),
            format!("{}/{module}", self.namespace),
            tag.to_owned(),
        )
    }

    fn display(&self) -> String {
        format!("oci://{}/{}", self.host, self.namespace)
    }
}

/// Credentials for a host, and where they came from (named in errors; the secret never is).
pub fn credentials(env: &BTreeMap<String, String>, host: &str) -> (RegistryAuth, String) {
    if let Some(token) = env
        .get("PROVISIONING_REGISTRY_TOKEN")
        .filter(|t| !t.is_empty())
    {
        return (
            RegistryAuth::Bearer(token.clone()),
            "`PROVISIONING_REGISTRY_TOKEN`".into(),
        );
    }
    if let (Some(user), Some(password)) = (
        env.get("PROVISIONING_REGISTRY_USERNAME"),
        env.get("PROVISIONING_REGISTRY_PASSWORD"),
    ) {
        return (
            RegistryAuth::Basic(user.clone(), password.clone()),
            "`PROVISIONING_REGISTRY_USERNAME`/`PROVISIONING_REGISTRY_PASSWORD`".into(),
        );
    }
    let config = env
        .get("DOCKER_CONFIG")
        .map(|dir| Path::new(dir).join("config.json"))
        .or_else(|| {
            env.get("HOME")
                .map(|home| Path::new(home).join(".docker/config.json"))
        });
    if let Some(path) = config
        && let Some((user, password)) = docker_credentials(&path, host)
    {
        return (
            RegistryAuth::Basic(user, password),
            format!("`{}`", path.display()),
        );
    }
    (RegistryAuth::Anonymous, "no credentials (anonymous)".into())
}

/// `auths.<host>.auth` (base64 `user:password`) in a docker `config.json`.
fn docker_credentials(path: &Path, host: &str) -> Option<(String, String)> {
    let text = std::fs::read_to_string(path).ok()?;
    let config: serde_json::Value = serde_json::from_str(&text).ok()?;
    let auth = config.get("auths")?.get(host)?.get("auth")?.as_str()?;
    let decoded = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, auth).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// A pack to publish: the artifact, its signature, its metadata.
#[derive(Debug, Clone)]
pub struct Publication {
    pub module: String,
    pub entry: VersionEntry,
    pub bytes: Vec<u8>,
    pub signature: Option<String>,
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Published {
    Pushed,
    /// The registry already held exactly these bytes.
    Unchanged,
}

/// A pack fetched from the registry (or the cache), not yet verified.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub entry: VersionEntry,
    pub bytes: Vec<u8>,
    pub signature: Option<SignatureFile>,
}

/// One registry, one namespace.
pub struct OciRegistry {
    pub url: RegistryUrl,
    client: Client,
    auth: RegistryAuth,
    auth_source: String,
    runtime: tokio::runtime::Runtime,
    cache_dir: PathBuf,
    offline: bool,
}

impl OciRegistry {
    pub fn new(
        url: RegistryUrl,
        env: &BTreeMap<String, String>,
        cache_path: &Path,
        offline: bool,
    ) -> Result<Self, OciError> {
        let protocol = if url.is_loopback() {
            ClientProtocol::HttpsExcept(vec![url.host.clone()])
        } else {
            ClientProtocol::Https
        };
        let client = Client::new(ClientConfig {
            protocol,
            connect_timeout: Some(CONNECT_TIMEOUT),
            read_timeout: Some(READ_TIMEOUT),
            max_concurrent_upload: CONCURRENCY,
            max_concurrent_download: CONCURRENCY,
            user_agent: concat!("provisioning/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        });
        let (auth, auth_source) = credentials(env, &url.host);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(OciError::Runtime)?;
        Ok(Self {
            url,
            client,
            auth,
            auth_source,
            runtime,
            cache_dir: cache_path.join("oci"),
            offline,
        })
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

    fn online(&self, module: &str, version: &str) -> Result<(), OciError> {
        if self.offline {
            Err(OciError::Offline {
                module: module.to_owned(),
                version: version.to_owned(),
            })
        } else {
            Ok(())
        }
    }

    /// The versions of `module` in the registry, in semver order (tags that are not versions are
    /// left out).
    pub fn versions(&self, module: &str) -> Result<Vec<semver::Version>, OciError> {
        if self.offline {
            return Err(OciError::OfflineListing {
                host: self.url.host.clone(),
            });
        }
        let reference = self.url.reference(module, "latest");
        let result = self.runtime.block_on(retry(|| {
            self.client.list_tags(&reference, &self.auth, None, None)
        }));
        let tags = match result {
            Ok(response) => response.tags,
            Err(error) if is_not_found(&error) => Vec::new(),
            Err(error) => return Err(self.error(error)),
        };
        let mut versions: Vec<semver::Version> =
            tags.iter().filter_map(|tag| tag_version(tag)).collect();
        versions.sort();
        Ok(versions)
    }

    /// The modules in the registry's namespace (from its catalog).
    pub fn modules(&self) -> Result<Vec<String>, OciError> {
        if self.offline {
            return Err(OciError::OfflineListing {
                host: self.url.host.clone(),
            });
        }
        let reference = self.url.reference("catalog", "latest");
        let response = self
            .runtime
            .block_on(retry(|| {
                self.client.catalog(&reference, &self.auth, None, None)
            }))
            .map_err(|error| self.error(error))?;
        let prefix = format!("{}/", self.url.namespace);
        let mut modules: Vec<String> = response
            .repositories
            .iter()
            .filter_map(|repository| repository.strip_prefix(&prefix))
            .filter(|name| !name.contains('/'))
            .map(str::to_owned)
            .collect();
        modules.sort();
        Ok(modules)
    }

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
                        module: p.module.clone(),
                        version: p.entry.version.clone(),
                    })
                })
                .collect();
        }
        self.runtime.block_on(async {
            self.client
                .store_auth_if_needed(&self.url.host, &self.auth)
                .await;
            let results: Vec<(usize, Result<Published, OciError>)> =
                futures_util::stream::iter(publications.iter().enumerate())
                    .map(|(index, publication)| async move {
                        let result = self.publish_one(publication).await;
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
        })
    }

    async fn publish_one(&self, publication: &Publication) -> Result<Published, OciError> {
        let module = &publication.module;
        let version = &publication.entry.version;
        let tag = tag_for(version)?;
        let reference = self.url.reference(module, &tag);
        let local_digest = format!("sha256:{}", publication.entry.sha256);
        match retry(|| self.client.pull_image_manifest(&reference, &self.auth)).await {
            Ok((manifest, _)) => {
                let existing = manifest
                    .layers
                    .iter()
                    .find(|layer| layer.media_type == LAYER_MEDIA_TYPE);
                return match existing {
                    Some(layer) if layer.digest == local_digest => Ok(Published::Unchanged),
                    Some(layer) => Err(OciError::Immutable {
                        host: self.url.host.clone(),
                        module: module.clone(),
                        version: version.clone(),
                        existing: layer.digest.trim_start_matches("sha256:").to_owned(),
                        local: publication.entry.sha256.clone(),
                    }),
                    None => Err(OciError::Immutable {
                        host: self.url.host.clone(),
                        module: module.clone(),
                        version: version.clone(),
                        existing: "(not a provisioning pack)".into(),
                        local: publication.entry.sha256.clone(),
                    }),
                };
            }
            Err(error) if is_not_found(&error) => {}
            Err(error) => return Err(self.error(error)),
        }
        let mut layers = vec![descriptor(
            LAYER_MEDIA_TYPE,
            &publication.bytes,
            Some(title(&publication.entry.package_file)),
        )];
        let mut blobs: Vec<&[u8]> = vec![&publication.bytes];
        if let Some(signature) = &publication.signature {
            layers.push(descriptor(
                SIGNATURE_MEDIA_TYPE,
                signature.as_bytes(),
                Some(title(&format!(
                    "{}.minisig",
                    publication.entry.package_file
                ))),
            ));
            blobs.push(signature.as_bytes());
        }
        for (layer, data) in layers.iter().zip(&blobs) {
            self.client
                .push_blob(&reference, data.to_vec(), &layer.digest)
                .await
                .map_err(|error| self.error(error))?;
        }
        let config = descriptor(EMPTY_CONFIG_MEDIA_TYPE, EMPTY_CONFIG, None);
        self.client
            .push_blob(&reference, EMPTY_CONFIG.to_vec(), &config.digest)
            .await
            .map_err(|error| self.error(error))?;
        let manifest = OciImageManifest {
            schema_version: 2,
            media_type: Some(MANIFEST_MEDIA_TYPE.to_owned()),
            config,
            layers,
            subject: None,
            artifact_type: Some(ARTIFACT_TYPE.to_owned()),
            annotations: Some(publication.annotations.clone()),
        };
        self.client
            .push_manifest(&reference, &OciManifest::Image(manifest))
            .await
            .map_err(|error| self.error(error))?;
        Ok(Published::Pushed)
    }

    /// `module` at `version`: from the cache when its manifest and blobs are there and intact
    /// (no request), else from the registry (verified digests, then cached).
    pub fn fetch(&self, module: &str, version: &semver::Version) -> Result<Fetched, OciError> {
        self.runtime.block_on(self.fetch_async(module, version))
    }

    /// Fetches several packs into the cache, [`CONCURRENCY`] at a time, so that the fetches that
    /// follow are answered by the cache. One result per pack, in order.
    pub fn prefetch(&self, packs: &[(String, semver::Version)]) -> Vec<Result<(), OciError>> {
        self.runtime.block_on(
            futures_util::stream::iter(packs)
                .map(|(module, version)| async move {
                    self.fetch_async(module, version).await.map(|_| ())
                })
                .buffered(CONCURRENCY)
                .collect(),
        )
    }

    async fn fetch_async(
        &self,
        module: &str,
        version: &semver::Version,
    ) -> Result<Fetched, OciError> {
        let version_text = version.to_string();
        if crate::names::validate(module).is_err() {
            return Err(OciError::NotFound {
                host: self.url.host.clone(),
                module: module.to_owned(),
                version: version_text,
            });
        }
        let tag = tag_for(&version_text)?;
        if let Some(fetched) = self.cached(module, &tag)? {
            return Ok(fetched);
        }
        self.online(module, &version_text)?;
        let reference = self.url.reference(module, &tag);
        let (manifest, _) =
            match retry(|| self.client.pull_image_manifest(&reference, &self.auth)).await {
                Ok(found) => found,
                Err(error) if is_not_found(&error) => {
                    return Err(OciError::NotFound {
                        host: self.url.host.clone(),
                        module: module.to_owned(),
                        version: version_text,
                    });
                }
                Err(error) => return Err(self.error(error)),
            };
        let not_a_pack = |reason: &str| OciError::NotAPack {
            host: self.url.host.clone(),
            module: module.to_owned(),
            version: version_text.clone(),
            reason: reason.to_owned(),
        };
        if manifest.artifact_type.as_deref() != Some(ARTIFACT_TYPE) {
            return Err(not_a_pack("its artifact type is not a pack's"));
        }
        // Digests name files in the cache: only `sha256:<64 hex>` is a digest.
        if let Some(layer) = manifest
            .layers
            .iter()
            .find(|layer| !is_sha256_digest(&layer.digest))
        {
            return Err(not_a_pack(&format!(
                "`{}` is not a sha256 digest",
                layer.digest
            )));
        }
        let wanted: Vec<&OciDescriptor> = manifest
            .layers
            .iter()
            .filter(|layer| {
                layer.media_type == LAYER_MEDIA_TYPE || layer.media_type == SIGNATURE_MEDIA_TYPE
            })
            .collect();
        let reference = &reference;
        let blobs: Vec<Result<Vec<u8>, OciDistributionError>> =
            futures_util::stream::iter(wanted.iter())
                .map(|layer| async move {
                    retry(|| async {
                        let mut out = Vec::new();
                        self.client.pull_blob(reference, *layer, &mut out).await?;
                        Ok(out)
                    })
                    .await
                })
                .buffered(CONCURRENCY)
                .collect()
                .await;
        let mut pulled = Vec::with_capacity(wanted.len());
        for (layer, blob) in wanted.iter().zip(blobs) {
            let blob = blob.map_err(|error| self.error(error))?;
            // oci-client checked the digest while reading; check it again where it lands.
            if format!("sha256:{}", crate::pack::sha256_hex(&blob)) != layer.digest {
                return Err(not_a_pack(&format!(
                    "the blob {} does not match its digest",
                    layer.digest
                )));
            }
            self.store_blob(&layer.digest, &blob)?;
            pulled.push((*layer, blob));
        }
        let manifest_json =
            serde_json::to_vec_pretty(&manifest).map_err(|error| not_a_pack(&error.to_string()))?;
        let refs = self.ref_path(module, &tag);
        let cache_error = |path: &Path| {
            let path = path.to_owned();
            move |source| OciError::Cache { path, source }
        };
        if let Some(parent) = refs.parent() {
            fs_err::create_dir_all(parent).map_err(cache_error(parent))?;
        }
        crate::fs::atomic_write(&refs, &manifest_json).map_err(cache_error(&refs))?;
        self.assemble(&manifest, pulled)
            .ok_or_else(|| not_a_pack("it has no pack layer"))
    }

    fn ref_path(&self, module: &str, tag: &str) -> PathBuf {
        let host = self.url.host.replace([':', '[', ']'], "_");
        self.cache_dir
            .join("refs")
            .join(host)
            .join(&self.url.namespace)
            .join(module)
            .join(format!("{tag}.json"))
    }

    fn blob_path(&self, digest: &str) -> PathBuf {
        self.cache_dir
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    }

    fn store_blob(&self, digest: &str, bytes: &[u8]) -> Result<(), OciError> {
        let path = self.blob_path(digest);
        let error = |path: &Path| {
            let path = path.to_owned();
            move |source| OciError::Cache { path, source }
        };
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).map_err(error(parent))?;
        }
        crate::fs::atomic_write(&path, bytes).map_err(error(&path))
    }

    /// The cached pack, if its manifest and every blob it names are in the cache and match
    /// their digests.
    fn cached(&self, module: &str, tag: &str) -> Result<Option<Fetched>, OciError> {
        let Ok(text) = std::fs::read(self.ref_path(module, tag)) else {
            return Ok(None);
        };
        let Ok(manifest) = serde_json::from_slice::<OciImageManifest>(&text) else {
            return Ok(None);
        };
        if !manifest
            .layers
            .iter()
            .all(|layer| is_sha256_digest(&layer.digest))
        {
            return Ok(None);
        }
        let mut blobs = Vec::new();
        for layer in &manifest.layers {
            let Ok(bytes) = std::fs::read(self.blob_path(&layer.digest)) else {
                return Ok(None);
            };
            if format!("sha256:{}", crate::pack::sha256_hex(&bytes)) != layer.digest {
                // A damaged cache entry is a miss: fetch it again.
                return Ok(None);
            }
            blobs.push((layer, bytes));
        }
        Ok(self.assemble(&manifest, blobs))
    }

    /// The pack a manifest describes, from its checked blobs: the artifact, its signature, and
    /// what the annotations record about them.
    fn assemble(
        &self,
        manifest: &OciImageManifest,
        blobs: Vec<(&OciDescriptor, Vec<u8>)>,
    ) -> Option<Fetched> {
        let mut artifact = None;
        let mut signature = None;
        for (layer, bytes) in blobs {
            match layer.media_type.as_str() {
                LAYER_MEDIA_TYPE => artifact = Some((layer, bytes)),
                SIGNATURE_MEDIA_TYPE => {
                    signature = Some(SignatureFile {
                        path: self.blob_path(&layer.digest),
                        text: String::from_utf8_lossy(&bytes).into_owned(),
                    });
                }
                _ => {}
            }
        }
        let (layer, bytes) = artifact?;
        let annotations = manifest.annotations.clone().unwrap_or_default();
        let get = |key: &str| annotations.get(key).cloned().unwrap_or_default();
        let entry = VersionEntry {
            version: get(ANNOTATION_VERSION),
            package_file: layer
                .annotations
                .as_ref()
                .and_then(|a| a.get("org.opencontainers.image.title").cloned())
                .unwrap_or_default(),
            sha256: layer.digest.trim_start_matches("sha256:").to_owned(),
            content_hash: get(ANNOTATION_CONTENT_HASH),
            size: u64::try_from(layer.size).unwrap_or(0),
            created: get(ANNOTATION_CREATED),
            signature: signature.as_ref().map(|s| s.path.display().to_string()),
            signer: annotations.get(ANNOTATION_SIGNER).cloned(),
        };
        Some(Fetched {
            entry,
            bytes,
            signature,
        })
    }

    pub fn label(&self) -> String {
        self.url.display()
    }
}

/// The annotations of a published pack: the registry metadata fields.
pub fn annotations(
    module: &str,
    entry: &VersionEntry,
    metadata: &crate::config::Metadata,
) -> BTreeMap<String, String> {
    let mut annotations = BTreeMap::from([
        (ANNOTATION_MODULE.to_owned(), module.to_owned()),
        (ANNOTATION_VERSION.to_owned(), entry.version.clone()),
        (ANNOTATION_CREATED.to_owned(), entry.created.clone()),
        (ANNOTATION_SHA256.to_owned(), entry.sha256.clone()),
        (
            ANNOTATION_CONTENT_HASH.to_owned(),
            entry.content_hash.clone(),
        ),
    ]);
    for (key, value) in [
        (ANNOTATION_SIGNER, entry.signer.clone().unwrap_or_default()),
        (ANNOTATION_LICENSE, metadata.license.clone()),
        (ANNOTATION_SOURCE, metadata.repository.clone()),
        (ANNOTATION_URL, metadata.homepage.clone()),
        (ANNOTATION_AUTHORS, metadata.maintainer.clone()),
    ] {
        if !value.is_empty() {
            annotations.insert(key.to_owned(), value);
        }
    }
    annotations
}

fn title(name: &str) -> (String, String) {
    ("org.opencontainers.image.title".to_owned(), name.to_owned())
}

fn descriptor(media_type: &str, data: &[u8], title: Option<(String, String)>) -> OciDescriptor {
    OciDescriptor {
        media_type: media_type.to_owned(),
        digest: format!("sha256:{}", crate::pack::sha256_hex(data)),
        size: i64::try_from(data.len()).unwrap_or(i64::MAX),
        urls: None,
        annotations: title.map(|(key, value)| BTreeMap::from([(key, value)])),
        artifact_type: None,
    }
}

/// A version as a tag: semver without build metadata is already a valid tag.
fn tag_for(version: &str) -> Result<String, OciError> {
    if version.contains('+') {
        return Err(OciError::BadTag {
            version: version.to_owned(),
        });
    }
    Ok(version.to_owned())
}

fn tag_version(tag: &str) -> Option<semver::Version> {
    semver::Version::parse(tag).ok()
}

fn is_sha256_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn is_not_found(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(
                e.code,
                oci_client::errors::OciErrorCode::ManifestUnknown
                    | oci_client::errors::OciErrorCode::NameUnknown
                    | oci_client::errors::OciErrorCode::NotFound
            )
        }),
        OciDistributionError::ServerError { code, .. } => *code == 404,
        _ => false,
    }
}

/// Worth another try: the network or the server failed, not the request.
fn is_transient(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::RequestError(error) => {
            error.is_timeout() || error.is_connect() || error.is_request()
        }
        OciDistributionError::ServerError { code, .. } => *code >= 500 || *code == 429,
        _ => false,
    }
}

/// Runs an idempotent request up to [`ATTEMPTS`] times, backing off between tries.
async fn retry<T, F, Fut>(mut operation: F) -> Result<T, OciDistributionError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, OciDistributionError>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match operation().await {
            Err(error) if attempt < ATTEMPTS && is_transient(&error) => {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// One line about what went wrong, with the causes reqwest keeps behind its error.
fn describe(error: &OciDistributionError) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_urls() {
        let url = RegistryUrl::parse("oci://127.0.0.1:5000/provisioning").expect("valid");
        assert_eq!(
            url,
            RegistryUrl {
                host: "127.0.0.1:5000".into(),
                namespace: "provisioning".into()
            }
        );
        assert!(url.is_loopback());
        let cases = [
            ("oci://localhost/team/packs", true, true),
            ("oci://[::1]:5000/p", true, true),
            ("oci://127.8.9.10/p", true, true),
            ("oci://ghcr.io/org/packs", true, false),
            ("oci://10.0.0.1:5000/p", true, false),
            ("https://ghcr.io/org", false, false),
            ("oci://ghcr.io", false, false),
            ("oci://ghcr.io/Org", false, false),
        ];
        for (text, valid, loopback) in cases {
            let parsed = RegistryUrl::parse(text);
            assert_eq!(parsed.is_ok(), valid, "{text}");
            if let Ok(url) = parsed {
                assert_eq!(url.is_loopback(), loopback, "{text}");
            }
        }
    }

    #[test]
    fn credentials_come_from_env_then_docker_config_and_name_their_source() {
        let dir = tempfile::tempdir().expect("temp dir");
        let auth = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "ci:s3cret");
        std::fs::write(
            dir.path().join("config.json"),
            format!("{{\"auths\": {{\"registry.example:5000\": {{\"auth\": \"{auth}\"}}}}}}"),
        )
        .expect("write");
        let mut env: BTreeMap<String, String> =
            [("DOCKER_CONFIG".to_owned(), dir.path().display().to_string())].into();
        let (found, source) = credentials(&env, "registry.example:5000");
        assert!(matches!(found, RegistryAuth::Basic(ref u, ref p) if u == "ci" && p == "s3cret"));
        assert!(source.contains("config.json") && !source.contains("s3cret"));
        let (anonymous, _) = credentials(&env, "other.example");
        assert!(matches!(anonymous, RegistryAuth::Anonymous));
        env.insert("PROVISIONING_REGISTRY_TOKEN".into(), "t0ken".into());
        let (token, source) = credentials(&env, "registry.example:5000");
        assert!(matches!(token, RegistryAuth::Bearer(ref t) if t == "t0ken"));
        assert_eq!(source, "`PROVISIONING_REGISTRY_TOKEN`");
    }
}
