//! A static HTTP registry as a [`Registry`]: read-only, over exactly the directory `pack`
//! writes (`distribution/`), served by any static host (nginx, an object store, GitHub Pages,
//! an artifact server). A static host cannot list a directory, so the modules come from
//! `index.json`, which every pack command keeps current; each module's versions and their
//! records from `registry/<module>.json`; the packs from `packages/<module>_<version>.tar` and
//! the `.minisig` beside it.
//!
//! - [`crate::address`]: the URL, and the rule that plain HTTP is for loopback hosts only;
//! - [`credentials`]: a bearer token, or `.netrc`;
//! - [`cache`]: artifacts by digest, signatures, and the last documents read with their `ETag`;
//! - [`fetch`]: every read, bounded in size, retried when transient, conditional when cached;
//! - this file: the registry itself: each operation under the command's deadline, `--offline`,
//!   and fetching cache first (a pack the cache holds whole costs no request at all: versions
//!   are immutable).

mod cache;
mod credentials;
mod fetch;
mod tuf;

use std::collections::BTreeMap;
use std::path::PathBuf;

use futures_util::StreamExt as _;

pub use crate::address::HttpUrl;

use self::cache::Cache;
use self::credentials::Auth;
use super::transport::{Bounds, CONCURRENCY};
use super::{Fetched, ModuleMetadata, Registry, RegistryError, VersionEntry, tuf_client};
use crate::artifact::verify::SignatureFile;
use crate::config::Distribution;
use crate::names::{ModuleName, PackRef};

/// The largest `index.json` read: 100 000 module names.
const MAX_INDEX_BYTES: u64 = 16 * 1024 * 1024;
/// The largest `<module>.json` read: thousands of versions.
const MAX_METADATA_BYTES: u64 = 4 * 1024 * 1024;
/// The largest signature read: a minisign signature is a few hundred bytes.
const MAX_SIGNATURE_BYTES: u64 = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("failed to read the credentials for the registry `{registry}`: {reason}")]
    Credentials { registry: String, reason: String },
    #[error(
        "the registry `{registry}` refused access to `{url}` with the credentials from {source_name}"
    )]
    Unauthorized {
        registry: String,
        url: String,
        source_name: String,
    },
    #[error("the registry `{registry}` failed to give `{url}`: {reason}")]
    Request {
        registry: String,
        url: String,
        reason: String,
    },
    #[error("the registry `{registry}` failed to give `{url}`: it is larger than {limit} bytes")]
    TooLarge {
        registry: String,
        url: String,
        limit: u64,
    },
    #[error(
        "the registry `{registry}` is too slow: {operation} did not finish within the command's network deadline of {seconds} s\nhint: for a registry that is only slow, raise `distribution.network_timeout_secs` (or `PROVISIONING_DISTRIBUTION_NETWORK_TIMEOUT_SECS`)"
    )]
    Deadline {
        registry: String,
        operation: String,
        seconds: u64,
    },
    #[error(
        "the registry `{registry}` has no `index.json`, so its modules cannot be listed\nhint: `provisioning pack index` writes it into `distribution/` (every pack command keeps it current): upload it with `registry/` and `packages/`"
    )]
    NoIndex { registry: String },
    #[error("`{url}` is not a valid {what}: {reason}")]
    Invalid {
        url: String,
        what: &'static str,
        reason: String,
    },
    #[error(
        "no packs of `{module}` in the registry `{registry}`\nhint: `provisioning --registry {registry} registry list` shows what it has"
    )]
    UnknownModule {
        registry: String,
        module: ModuleName,
    },
    #[error("the registry `{registry}` failed to give `{}` {}: {reason}", pack.module, pack.version)]
    Artifact {
        registry: String,
        pack: PackRef,
        reason: String,
    },
    #[error(
        "`{}` {} is not in the cache, and `--offline` forbids the network\nhint: run once without `--offline` to fill the cache",
        pack.module, pack.version
    )]
    Offline { pack: PackRef },
    #[error(
        "reading `{url}` needs the network, `--offline` forbids it, and the cache has no copy\nhint: run once without `--offline` to fill the cache"
    )]
    OfflineDocument { url: String },
    #[error("failed to access the cache at `{}`", path.display())]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to start the network client")]
    Runtime(#[source] std::io::Error),
}

/// One static registry. Built once per command; the network client and its runtime are made on
/// first use, so a command the cache answers never pays for them.
pub struct HttpRegistry {
    pub url: HttpUrl,
    connection: std::cell::OnceCell<Connection>,
    auth: Auth,
    auth_source: String,
    /// Why the credentials could not be read: the first network request fails with it.
    credentials_error: Option<String>,
    cache: Cache,
    bounds: Bounds,
    offline: bool,
    /// Its pinned TUF root's gate, when the user pinned one.
    tuf: Option<crate::registry::tuf_client::Gate>,
}

struct Connection {
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl HttpRegistry {
    pub fn new(
        url: HttpUrl,
        env: &BTreeMap<String, String>,
        distribution: &Distribution,
        offline: bool,
    ) -> Self {
        let ((auth, auth_source), credentials_error) =
            match credentials::credentials(env, url.host()) {
                Ok(found) => (found, None),
                Err(error) => ((Auth::Anonymous, String::new()), Some(error.to_string())),
            };
        Self {
            cache: Cache::new(&distribution.cache_path, &url),
            url,
            connection: std::cell::OnceCell::new(),
            auth,
            auth_source,
            credentials_error,
            bounds: Bounds::from_config(distribution),
            offline,
            tuf: None,
        }
    }

    /// Every read from it checked against its TUF metadata through `gate` (see [`tuf`]).
    pub fn with_tuf(self, gate: Option<crate::registry::tuf_client::Gate>) -> Self {
        Self { tuf: gate, ..self }
    }

    fn connection(&self) -> Result<&Connection, HttpError> {
        if let Some(connection) = self.connection.get() {
            return Ok(connection);
        }
        if let Some(reason) = &self.credentials_error {
            return Err(HttpError::Credentials {
                registry: self.url.display(),
                reason: reason.clone(),
            });
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(HttpError::Runtime)?;
        let http = super::transport::http_client()
            .map_err(|error| HttpError::Runtime(std::io::Error::other(error)))?;
        Ok(self.connection.get_or_init(|| Connection { http, runtime }))
    }

    /// Runs `work`, one network operation, on the runtime, failing when it does not finish
    /// within the deadline; `operation` names it for the error ("fetching `aws_prov` 1.0.0").
    fn run<'a, T, F, Fut>(&'a self, operation: &str, work: F) -> Result<T, RegistryError>
    where
        F: FnOnce(&'a reqwest::Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, RegistryError>>,
    {
        let connection = self.connection()?;
        connection
            .runtime
            .block_on(self.within_deadline(operation, work(&connection.http)))
    }

    async fn within_deadline<T>(
        &self,
        operation: &str,
        work: impl std::future::Future<Output = Result<T, RegistryError>>,
    ) -> Result<T, RegistryError> {
        self.bounds.deadline.run(work).await.unwrap_or_else(|| {
            Err(HttpError::Deadline {
                registry: self.url.display(),
                operation: operation.to_owned(),
                seconds: self.bounds.deadline.seconds(),
            }
            .into())
        })
    }

    fn metadata_path(module: &ModuleName) -> String {
        format!("registry/{module}.json")
    }

    /// The metadata of `module` as the cache last recorded it (no request).
    fn cached_metadata(&self, module: &ModuleName) -> Option<ModuleMetadata> {
        let cached = self.cache.document(&Self::metadata_path(module))?;
        self.parse_metadata(module, &cached.body).ok()
    }

    fn parse_metadata(
        &self,
        module: &ModuleName,
        body: &[u8],
    ) -> Result<ModuleMetadata, HttpError> {
        let invalid = |reason: String| HttpError::Invalid {
            url: self.url.join(&Self::metadata_path(module)).to_string(),
            what: "registry metadata file",
            reason,
        };
        let metadata = ModuleMetadata::from_json(body).map_err(invalid)?;
        if metadata.name != *module {
            return Err(invalid(format!(
                "it describes `{}`, not `{module}`",
                metadata.name
            )));
        }
        Ok(metadata)
    }

    /// The metadata of `module`, revalidated (a conditional request when cached); `None` when
    /// the registry has none. Offline, the cached copy.
    async fn metadata(
        &self,
        http: &reqwest::Client,
        module: &ModuleName,
    ) -> Result<Option<ModuleMetadata>, RegistryError> {
        let path = Self::metadata_path(module);
        let body = self.read_document(http, &path, MAX_METADATA_BYTES).await?;
        Ok(body
            .map(|body| self.parse_metadata(module, &body))
            .transpose()?)
    }

    fn index_of(&self, module: &ModuleName) -> Result<Vec<VersionEntry>, RegistryError> {
        self.tuf_targets()?;
        if self.offline {
            return Ok(self
                .offline_document(&Self::metadata_path(module))?
                .and_then(|body| self.parse_metadata(module, &body).ok())
                .map(|metadata| metadata.versions)
                .unwrap_or_default());
        }
        let operation = format!("reading the versions of `{module}`");
        let metadata = self.run(&operation, |http| self.metadata(http, module))?;
        Ok(metadata.map(|m| m.versions).unwrap_or_default())
    }

    /// The pack from the cache, when the cached metadata records it and its artifact (and
    /// signature, when it has one) are there intact: no request. An unsigned one is a miss when
    /// the network may be asked: its signature may have been added since (the metadata is
    /// revalidated, and the artifact is not downloaded again).
    fn cached(&self, pack: &PackRef) -> Option<Fetched> {
        let entry = self
            .cached_metadata(&pack.module)?
            .get(&pack.version)?
            .clone();
        self.load(entry)
            .filter(|fetched| fetched.signature.is_some() || self.offline)
    }

    /// The pack `entry` records, from the cache.
    fn load(&self, entry: VersionEntry) -> Option<Fetched> {
        let bytes = self.cache.blobs.get(&entry.sha256, entry.size)?;
        let signature = match &entry.signature {
            Some(_) => Some(SignatureFile {
                path: self.cache.signature_path(&entry.sha256),
                text: self.cache.signature(&entry.sha256)?,
            }),
            None => None,
        };
        Some(Fetched {
            entry,
            bytes,
            signature,
            label: self.url.display(),
            loose: false,
            cached: true,
        })
    }

    /// `pack`: from the cache when it is there whole, else its record revalidated and its
    /// files downloaded into the cache (`--offline` forbids it).
    async fn fetch_async(
        &self,
        http: &reqwest::Client,
        pack: &PackRef,
    ) -> Result<Fetched, RegistryError> {
        if let Some(fetched) = self.cached(pack) {
            self.check_fetched(&fetched)?;
            return Ok(fetched);
        }
        if self.offline {
            return Err(HttpError::Offline { pack: pack.clone() }.into());
        }
        let metadata =
            self.metadata(http, &pack.module)
                .await?
                .ok_or_else(|| HttpError::UnknownModule {
                    registry: self.url.display(),
                    module: pack.module.clone(),
                })?;
        let entry = metadata.require(&pack.version)?;
        self.check_entry(&entry)?;
        self.download(http, pack, &entry).await?;
        let fetched = self.load(entry).map(|fetched| Fetched {
            cached: false,
            ..fetched
        });
        let fetched = fetched.ok_or_else(|| HttpError::Artifact {
            registry: self.url.display(),
            pack: pack.clone(),
            reason: "it could not be read back from the cache".into(),
        })?;
        self.check_fetched(&fetched)?;
        Ok(fetched)
    }
}

impl HttpRegistry {
    /// The file at `path` below the registry's address (a loose artifact, its signature), at
    /// most `limit` bytes, under the deadline; `None` when the host answers 404. Not cached.
    pub fn read_file(&self, path: &str, limit: u64) -> Result<Option<Vec<u8>>, RegistryError> {
        if self.offline {
            return Err(HttpError::OfflineDocument {
                url: self.url.join(path).to_string(),
            }
            .into());
        }
        self.run(&format!("reading `{}`", self.url.join(path)), |http| {
            self.document_uncached(http, path, limit)
        })
    }
}

impl Registry for HttpRegistry {
    fn label(&self) -> String {
        self.url.display()
    }

    /// `packages/<module>_<version>.intoto.jsonl`, when the metadata records one for these
    /// bytes (bounded, not cached).
    fn provenance(
        &self,
        pack: &PackRef,
        sha256: &crate::digest::Sha256,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        let recorded = self.index(&pack.module)?.into_iter().find(|entry| {
            entry.version == pack.version && entry.sha256 == *sha256 && entry.provenance.is_some()
        });
        let Some(entry) = recorded else {
            return Ok(None);
        };
        let name = crate::provenance::file_name(&entry.package_file);
        let path = format!("packages/{name}");
        let read = self.read_file(&path, crate::fs::FileKind::Provenance.max_bytes())?;
        if let Some(bytes) = &read {
            self.check_file(&path, bytes)?;
        }
        Ok(read)
    }

    /// A static host serves what its publisher uploads: a signature added to their
    /// `distribution/` reaches it with the next upload.
    fn unsigned_hint(&self, _pack: &PackRef, _own_key: bool, signed_in: Option<&str>) -> String {
        match signed_in {
            Some(signed_in) => format!(
                "`{signed_in}` holds the same bytes signed: upload that `distribution/` directory again to add the signature to `{}`",
                self.label()
            ),
            None => format!(
                "`{}` holds it unsigned: its publisher can add the signature later (`provisioning keys generate`, pack it again, then upload the `distribution/` directory again)",
                self.label()
            ),
        }
    }

    /// With a pinned root, the modules its targets list (`index.json` is not needed).
    fn modules(&self) -> Result<Vec<ModuleName>, RegistryError> {
        if let Some(targets) = self.tuf_targets()? {
            return Ok(targets.modules());
        }
        let path = super::metadata::RegistryIndex::FILE_NAME;
        let body = if self.offline {
            let cached = self
                .cache
                .document(path)
                .ok_or_else(|| HttpError::OfflineDocument {
                    url: self.url.join(path).to_string(),
                })?;
            Some(cached.body)
        } else {
            self.run("reading `index.json`", |http| {
                self.document(http, path, MAX_INDEX_BYTES)
            })?
        };
        let body = body.ok_or_else(|| HttpError::NoIndex {
            registry: self.url.display(),
        })?;
        let index = super::metadata::RegistryIndex::from_json(&body).map_err(|reason| {
            HttpError::Invalid {
                url: self.url.join(path).to_string(),
                what: "registry index",
                reason,
            }
        })?;
        let mut modules = index.modules;
        modules.sort();
        modules.dedup();
        Ok(modules)
    }

    fn index(&self, module: &ModuleName) -> Result<Vec<VersionEntry>, RegistryError> {
        self.index_of(module)
    }

    /// Every module's metadata, [`CONCURRENCY`] at a time, in one operation.
    fn index_many(&self, modules: &[ModuleName]) -> Vec<Result<Vec<VersionEntry>, RegistryError>> {
        if self.offline || modules.len() < 2 {
            return modules.iter().map(|module| self.index_of(module)).collect();
        }
        if let Err(error) = self.tuf_targets() {
            let message = error.to_string();
            return modules
                .iter()
                .map(|_| {
                    Err(tuf_client::TufError::Read {
                        message: message.clone(),
                    }
                    .into())
                })
                .collect();
        }
        let read = self.run("reading the versions of many modules", |http| async move {
            let results: Vec<Result<Option<ModuleMetadata>, RegistryError>> =
                futures_util::stream::iter(modules)
                    .map(|module| self.metadata(http, module))
                    .buffered(CONCURRENCY)
                    .collect()
                    .await;
            Ok(results)
        });
        match read {
            Ok(results) => results
                .into_iter()
                .map(|result| Ok(result?.map(|m| m.versions).unwrap_or_default()))
                .collect(),
            Err(error) => {
                let message = error.to_string();
                modules
                    .iter()
                    .map(|_| {
                        Err(HttpError::Request {
                            registry: self.url.display(),
                            url: self.url.display(),
                            reason: message.clone(),
                        }
                        .into())
                    })
                    .collect()
            }
        }
    }

    /// Each module's record read once (not once for its versions and again for its yanks).
    fn listing(
        &self,
        modules: &[ModuleName],
    ) -> Vec<Result<Vec<(semver::Version, bool)>, RegistryError>> {
        self.index_many(modules)
            .into_iter()
            .map(|index| {
                Ok(index?
                    .into_iter()
                    .map(|entry| (entry.version, entry.yanked))
                    .collect())
            })
            .collect()
    }

    fn yanked(
        &self,
        module: &ModuleName,
    ) -> Result<std::collections::BTreeSet<semver::Version>, RegistryError> {
        Ok(self
            .index_of(module)?
            .into_iter()
            .filter(|entry| entry.yanked)
            .map(|entry| entry.version)
            .collect())
    }

    fn fetch(&self, pack: &PackRef) -> Result<Fetched, RegistryError> {
        if let Some(fetched) = self.cached(pack).filter(|f| self.trusted_copy(f)) {
            return Ok(fetched);
        }
        if self.offline {
            return Err(HttpError::Offline { pack: pack.clone() }.into());
        }
        self.tuf_targets()?;
        let operation = format!("fetching `{}` {}", pack.module, pack.version);
        self.run(&operation, |http| self.fetch_async(http, pack))
    }

    /// The cached signature and record of `pack` dropped (the artifact is kept: its digest is
    /// checked whenever it is read), and fetched again.
    fn refetch(&self, pack: &PackRef, failed: &str) -> Result<Fetched, RegistryError> {
        if self.offline {
            return Err(RegistryError::CachedCopyFailed {
                pack: pack.clone(),
                registry: self.label(),
                reason: failed.to_owned(),
            });
        }
        if let Some(entry) = self
            .cached_metadata(&pack.module)
            .and_then(|metadata| metadata.get(&pack.version).cloned())
        {
            self.cache.drop_signature(&entry.sha256)?;
        }
        self.cache
            .drop_document(&Self::metadata_path(&pack.module))?;
        self.tuf_targets()?;
        let operation = format!("fetching `{}` {}", pack.module, pack.version);
        self.run(&operation, |http| self.fetch_async(http, pack))
    }

    /// Fetches several packs into the cache, [`CONCURRENCY`] at a time, so that the fetches
    /// that follow are answered by the cache. Best effort: what fails here fails again, with its
    /// error, when the pack itself is fetched.
    fn prefetch(&self, packs: &[PackRef]) {
        if self.offline || packs.len() < 2 {
            return;
        }
        let missing: Vec<&PackRef> = packs
            .iter()
            .filter(|p| !self.cached(p).is_some_and(|f| self.trusted_copy(&f)))
            .collect();
        if missing.is_empty() || self.tuf_targets().is_err() {
            return;
        }
        let _: Result<Vec<Result<Fetched, RegistryError>>, RegistryError> =
            self.run("fetching packs", |http| async move {
                Ok(futures_util::stream::iter(missing)
                    .map(|pack| self.fetch_async(http, pack))
                    .buffer_unordered(CONCURRENCY)
                    .collect()
                    .await)
            });
    }
}
