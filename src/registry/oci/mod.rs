//! An OCI registry (CNCF Distribution, Harbor, Zot, GHCR, ...) as a [`Registry`], through the
//! `oci-client` crate (rustls).
//!
//! Each module is a repository `<namespace>/<module>`, each version a tag, each pack an OCI 1.1
//! artifact: `artifactType` [`ARTIFACT_TYPE`], the empty config, the tar as a layer of media type
//! [`LAYER_MEDIA_TYPE`], the signature (when there is one) as a second layer of
//! [`SIGNATURE_MEDIA_TYPE`] (or, when it came later, a referrer: [`referrers`]), and the
//! registry metadata fields as annotations.
//!
//! - [`crate::address`]: `oci://host[:port]/namespace`, and which hosts are loopback;
//! - [`credentials`]: where the credentials for a host come from;
//! - [`client`]: the transport (timeouts, redirects, retries, error descriptions);
//! - [`token`]: the bearer-token negotiation, bounded, its realm held to the registry's rules;
//! - [`http`]: every read, bounded in size (`oci-client` reads answers whole);
//! - [`cache`]: the digest-keyed cache that answers repeated pulls with no request;
//! - [`pull`]: fetching a pack: its manifest checked and bounded, its blobs streamed to the cache;
//! - [`publish`]: pushing packs;
//! - [`referrers`]: signatures published after their pack, as OCI 1.1 referrers (with the
//!   referrers tag schema for registries without the API);
//! - this file: the registry itself: its bounds, each operation under the command's deadline,
//!   listing (every page), and fetching (cache first).
//!
//! Every operation on the network (a pack's fetch with its blobs and retries, a listing, a
//! publication) must finish within the command's one deadline, `distribution.network_timeout_secs`
//! from its start ([`crate::registry::transport::Deadline`]): per-read timeouts do not stop a
//! registry that drips one byte at a time. `--offline` forbids the network: only the
//! cache answers.

mod cache;
mod client;
mod credentials;
mod http;
mod index;
mod list;
mod provenance;
mod publish;
mod pull;
pub mod referrers;
mod token;
mod yank;

use std::collections::BTreeMap;

use futures_util::StreamExt as _;
use oci_client::Client;
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;

pub use crate::address::OciUrl;
pub use crate::registry::transport::Bounds;
pub use credentials::credentials;
pub use publish::{Publication, Published};

use self::cache::Cache;
use self::client::{CONCURRENCY, describe, retry};
use self::http::{Failure, Session};
use self::list::list_pages;
use super::{Fetched, Registry, RegistryError};
use crate::address::{Authority, TokenHosts};
use crate::config::Distribution;
use crate::digest::Sha256;
use crate::names::{ModuleName, PackRef};

pub const ARTIFACT_TYPE: &str = "application/vnd.provisioning.pack.v1";
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.provisioning.pack.layer.v1.tar";
pub const SIGNATURE_MEDIA_TYPE: &str = "application/vnd.provisioning.pack.signature.v1.minisig";

const ANNOTATION_MODULE: &str = "dev.provisioning.module";
const ANNOTATION_VERSION: &str = "org.opencontainers.image.version";
const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
const ANNOTATION_SHA256: &str = "dev.provisioning.sha256";
const ANNOTATION_CONTENT_HASH: &str = "dev.provisioning.content-hash";
const ANNOTATION_SIGNER: &str = "dev.provisioning.signer";
/// A version's dependencies, as a JSON object of module names to requirements.
const ANNOTATION_DEPENDENCIES: &str = "dev.provisioning.dependencies";
const ANNOTATION_TITLE: &str = "org.opencontainers.image.title";
/// `true` for a library's pack (no `export.json`).
const ANNOTATION_LIBRARY: &str = "dev.provisioning.library";
/// The doc tests `pack` ran, as the registry metadata records them (JSON).
const ANNOTATION_TESTS: &str = "dev.provisioning.tests";

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("failed to read the credentials for the registry `{host}`: {reason}")]
    Credentials { host: String, reason: String },
    #[error("the registry `{host}` refused access with the credentials from {source_name}")]
    Unauthorized { host: String, source_name: String },
    #[error("the registry `{host}` failed: {message}")]
    Request { host: String, message: String },
    #[error("the registry `{host}` failed to give `{}` {}: {reason}", pack.module, pack.version)]
    Pull {
        host: String,
        pack: PackRef,
        reason: String,
    },
    #[error("the registry `{host}` failed to list {what}: {reason}")]
    Listing {
        host: String,
        what: String,
        reason: String,
    },
    #[error(
        "the registry `{host}` is too slow: {operation} did not finish within the command's network deadline of {seconds} s\nhint: for a registry that is only slow, raise `distribution.network_timeout_secs` (or `PROVISIONING_DISTRIBUTION_NETWORK_TIMEOUT_SECS`)"
    )]
    Deadline {
        host: String,
        operation: String,
        seconds: u64,
    },
    #[error(
        "`{}` {} is not in the registry `{host}`{}",
        pack.module, pack.version, hint.as_ref().map(|hint| format!("\nhint: {hint}")).unwrap_or_default()
    )]
    NotFound {
        host: String,
        pack: PackRef,
        /// What the registry has instead, when it could be listed: see
        /// [`OciRegistry::explain_not_found`].
        hint: Option<String>,
    },
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
    /// `what`: the pack (`` `upcloud_prov` 0.0.1 ``) or record; the cause names the path.
    #[error("failed to store {what} in the cache")]
    Cache {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to start the network client")]
    Runtime(#[source] std::io::Error),
}

/// Entries asked for in one page of a listing. Servers may answer with fewer (Distribution caps
/// `n` at its own maximum), so a short page does not mean the last one: see [`list::list_pages`].
const PAGE_SIZE: usize = 100;
/// The most one listing (all its pages) may read: a catalog of 100 000 repositories.
const MAX_LISTING_BYTES: u64 = 16 * 1024 * 1024;

/// One registry, one namespace. Built once per command: it owns the network runtime and the
/// clients, which every request of the command shares. They are made on first use, so a command
/// that the cache or the local directory answers never pays for them.
pub struct OciRegistry {
    pub url: OciUrl,
    connection: std::cell::OnceCell<Connection>,
    auth: RegistryAuth,
    auth_source: String,
    /// Why the credentials could not be read: the first network request fails with it.
    credentials_error: Option<String>,
    /// The hosts besides the registry's own trusted with the credentials for a token.
    token_hosts: TokenHosts,
    cache: Cache,
    bounds: Bounds,
    offline: bool,
}

/// The network side of a registry.
struct Connection {
    /// Pushes, with the credentials [`token`] negotiated for each repository.
    client: Client,
    /// Reads, bounded (see [`http`]), their bodies held to the speed floor.
    http: crate::registry::transport::Http,
    runtime: tokio::runtime::Runtime,
}

impl OciRegistry {
    pub fn new(
        url: OciUrl,
        env: &BTreeMap<String, String>,
        distribution: &Distribution,
        offline: bool,
    ) -> Self {
        let ((auth, auth_source), credentials_error) = match credentials(env, &url.host) {
            Ok(found) => (found, None),
            Err(error) => (
                (RegistryAuth::Anonymous, String::new()),
                Some(error.to_string()),
            ),
        };
        Self {
            url,
            connection: std::cell::OnceCell::new(),
            auth,
            auth_source,
            credentials_error,
            token_hosts: distribution.token_hosts.clone(),
            cache: Cache::new(&distribution.cache_path),
            bounds: Bounds::from_config(distribution),
            offline,
        }
    }

    fn connection(&self) -> Result<&Connection, OciError> {
        if let Some(connection) = self.connection.get() {
            return Ok(connection);
        }
        if let Some(reason) = &self.credentials_error {
            return Err(OciError::Credentials {
                host: self.url.host.clone(),
                reason: reason.clone(),
            });
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(OciError::Runtime)?;
        let client = crate::registry::transport::http_client()
            .map_err(|error| OciError::Runtime(std::io::Error::other(error)))?;
        let http = crate::registry::transport::Http {
            client,
            floor: self.bounds.floor,
        };
        let connection = Connection {
            client: client::new(&self.url),
            http,
            runtime,
        };
        Ok(self.connection.get_or_init(|| connection))
    }

    /// Runs `work` with the connection on the runtime.
    fn run<'a, T, F, Fut>(&'a self, work: F) -> Result<T, OciError>
    where
        F: FnOnce(&'a Connection) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        let connection = self.connection()?;
        Ok(connection.runtime.block_on(work(connection)))
    }

    /// `work`, one network operation, failing when it does not finish within the deadline;
    /// `operation` names it for the error ("fetching `aws_prov` 1.0.0").
    async fn within_deadline<T>(
        &self,
        operation: impl FnOnce() -> String,
        work: impl std::future::Future<Output = Result<T, OciError>>,
    ) -> Result<T, OciError> {
        self.bounds.deadline.run(work).await.unwrap_or_else(|| {
            Err(OciError::Deadline {
                host: self.url.host.clone(),
                operation: operation(),
                seconds: self.bounds.deadline.seconds(),
            })
        })
    }

    /// The reads of one operation on `reference`'s repository, its credentials negotiated.
    async fn session<'a>(
        &self,
        connection: &'a Connection,
        reference: &oci_client::Reference,
    ) -> Result<Session<'a>, Failure> {
        let registry = Authority::of_oci(&self.url);
        retry(Failure::is_transient, || {
            Session::open(
                &connection.http,
                self.url.scheme(),
                &registry,
                reference,
                &self.auth,
                &self.token_hosts,
            )
        })
        .await
    }

    /// An `oci-client` error (of a push) as ours.
    fn error(&self, error: OciDistributionError) -> OciError {
        match error {
            OciDistributionError::UnauthorizedError { .. }
            | OciDistributionError::AuthenticationFailure(_) => self.unauthorized(),
            other => OciError::Request {
                host: self.url.host.clone(),
                message: describe(&other),
            },
        }
    }

    /// A failed read as ours: refused credentials have their own error; the rest is described
    /// to `make`. (A pull names what it failed to cache itself: [`pull`].)
    fn failure(&self, failure: Failure, make: impl FnOnce(String) -> OciError) -> OciError {
        match failure {
            failure if failure.is_unauthorized() => self.unauthorized(),
            other => make(other.describe()),
        }
    }

    fn unauthorized(&self) -> OciError {
        OciError::Unauthorized {
            host: self.url.host.clone(),
            source_name: self.auth_source.clone(),
        }
    }

    /// A pack the registry does not have, with what it has instead: the module's versions, or
    /// when it has none and the module is a provider's name (`aws`), the provider's module
    /// (`aws_prov`) if it has that. Listing is one more request, on this failure only.
    fn explain_not_found(&self, error: OciError) -> OciError {
        let OciError::NotFound { host, pack, .. } = error else {
            return error;
        };
        let versions = |module: &ModuleName| self.oci_versions(module).ok();
        let hint = match versions(&pack.module) {
            Some(available) if !available.is_empty() => Some(super::available_versions(&available)),
            Some(_) => super::provider_module(&pack.module)
                .filter(|module| versions(module).is_some_and(|found| !found.is_empty()))
                .map(|module| {
                    let meant = PackRef::new(module, pack.version.clone());
                    super::provider_pack_hint(&pack.module, &meant)
                })
                .or_else(|| Some(format!("it has no versions of `{}`", pack.module))),
            None => None,
        };
        OciError::NotFound { host, pack, hint }
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

    /// Every entry of a listing (`path` below `/v2/`, the entries under `key` of each page), in
    /// one operation under the deadline, with the credentials of the repository `<namespace>/
    /// <name>`; `None` when the registry has no such listing (404). `what` names it in errors.
    fn list(
        &self,
        name: &str,
        path: &str,
        key: &str,
        what: &str,
    ) -> Result<Option<Vec<String>>, OciError> {
        self.listing_allowed()?;
        let reference = self.url.reference(name, "latest");
        let failed = |reason: String| OciError::Listing {
            host: self.url.host.clone(),
            what: what.to_owned(),
            reason,
        };
        self.run(|connection| {
            self.within_deadline(|| format!("listing {what}"), async {
                let listed = async {
                    let session = self.session(connection, &reference).await?;
                    list_pages(&session, path, key).await
                };
                match listed.await {
                    Ok(entries) => Ok(Some(entries)),
                    Err(failure) if failure.is_not_found() => Ok(None),
                    Err(failure) => Err(self.failure(failure, failed)),
                }
            })
        })?
    }

    fn oci_versions(&self, module: &ModuleName) -> Result<Vec<semver::Version>, OciError> {
        let repository = format!("{}/{module}", self.url.namespace);
        let tags = self
            .list(
                module.as_str(),
                &format!("{repository}/tags/list"),
                "tags",
                &format!("the versions of `{module}`"),
            )?
            // No such repository: no versions.
            .unwrap_or_default();
        let mut versions: Vec<semver::Version> = tags
            .iter()
            .filter_map(|tag| semver::Version::parse(tag).ok())
            .collect();
        versions.sort();
        Ok(versions)
    }

    fn oci_modules(&self) -> Result<Vec<ModuleName>, OciError> {
        let what = "its modules";
        let repositories = self
            .list("catalog", "_catalog", "repositories", what)?
            .ok_or_else(|| OciError::Listing {
                host: self.url.host.clone(),
                what: what.to_owned(),
                reason: "it has no catalog (`/v2/_catalog` is not found)".into(),
            })?;
        let prefix = format!("{}/", self.url.namespace);
        let mut modules: Vec<ModuleName> = repositories
            .iter()
            .filter_map(|repository| repository.strip_prefix(&prefix))
            .filter_map(|name| name.parse().ok())
            .collect();
        modules.sort();
        Ok(modules)
    }

    /// `pack`: from the cache when its manifest and blobs are there and intact (no request),
    /// else pulled into the cache and read from there.
    async fn fetch_async(
        &self,
        connection: &Connection,
        pack: &PackRef,
    ) -> Result<Fetched, OciError> {
        if let Some(fetched) = self.cached(pack) {
            return Ok(fetched);
        }
        let layout = self.pull_within_deadline(connection, pack).await?;
        let fetched = self.load(&layout).map(|fetched| Fetched {
            cached: false,
            ..fetched
        });
        fetched.ok_or_else(|| OciError::Pull {
            host: self.url.host.clone(),
            pack: pack.clone(),
            reason: "its blobs could not be read back from the cache".into(),
        })
    }

    /// Pulls `pack` into the cache, within the deadline (`--offline` forbids it).
    async fn pull_within_deadline(
        &self,
        connection: &Connection,
        pack: &PackRef,
    ) -> Result<pull::Layout, OciError> {
        let tag = tag_for(&pack.version)?;
        if self.offline {
            return Err(OciError::Offline { pack: pack.clone() });
        }
        self.within_deadline(
            || format!("fetching `{}` {}", pack.module, pack.version),
            self.pull(connection, pack, &tag),
        )
        .await
    }

    /// The pack from the cache, if it is there whole. A cached manifest that no longer reads as
    /// a pack (or breaks a bound lowered since) is a miss, fetched again; so is an unsigned pack
    /// when the network may be asked, since its signature may have been published since
    /// ([`referrers`]).
    fn cached(&self, pack: &PackRef) -> Option<Fetched> {
        let tag = tag_for(&pack.version).ok()?;
        let manifest = self.cache.manifest(&self.url, &pack.module, &tag)?;
        let layout = self.cached_layout(pack, &manifest).ok()?;
        self.load(&layout)
            .filter(|fetched| fetched.signature.is_some() || self.offline)
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

    fn index(&self, module: &ModuleName) -> Result<Vec<super::VersionEntry>, RegistryError> {
        Ok(self.oci_index(module)?)
    }

    fn index_many(
        &self,
        modules: &[ModuleName],
    ) -> Vec<Result<Vec<super::VersionEntry>, RegistryError>> {
        self.oci_index_many(modules)
            .into_iter()
            .map(|result| result.map_err(RegistryError::from))
            .collect()
    }

    fn yanked(
        &self,
        module: &ModuleName,
    ) -> Result<std::collections::BTreeSet<semver::Version>, RegistryError> {
        Ok(self.oci_yanked(module)?.into_keys().collect())
    }

    fn provenance(
        &self,
        pack: &PackRef,
        sha256: &crate::digest::Sha256,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        Ok(self.oci_provenance(pack, sha256)?)
    }

    fn fetch(&self, pack: &PackRef) -> Result<Fetched, RegistryError> {
        if let Some(fetched) = self.cached(pack) {
            return Ok(fetched);
        }
        Ok(self
            .run(|connection| self.fetch_async(connection, pack))?
            .map_err(|error| self.explain_not_found(error))?)
    }

    /// The cached manifest of `pack` dropped (its blobs are kept: their digests are checked
    /// whenever they are read), and `pack` pulled again.
    fn refetch(&self, pack: &PackRef, failed: &str) -> Result<Fetched, RegistryError> {
        if self.offline {
            return Err(RegistryError::CachedCopyFailed {
                pack: pack.clone(),
                registry: self.label(),
                reason: failed.to_owned(),
            });
        }
        let tag = tag_for(&pack.version)?;
        self.cache
            .drop_manifest(&self.url, &pack.module, &tag, || {
                format!("`{}` {}", pack.module, pack.version)
            })?;
        Ok(self
            .run(|connection| self.fetch_async(connection, pack))?
            .map_err(|error| self.explain_not_found(error))?)
    }

    /// Fetches several packs into the cache, [`CONCURRENCY`] at a time, so that the fetches that
    /// follow are answered by the cache. Best effort: what fails here fails again, with its
    /// error, when the pack itself is fetched.
    fn prefetch(&self, packs: &[PackRef]) {
        if self.offline || packs.len() < 2 {
            return;
        }
        // Only into the cache: the packs' bytes are read when each is fetched, one at a time.
        let missing: Vec<&PackRef> = packs.iter().filter(|p| !self.looks_cached(p)).collect();
        let _: Result<Vec<Result<pull::Layout, OciError>>, OciError> = self.run(|connection| {
            futures_util::stream::iter(missing)
                .map(|pack| self.pull_within_deadline(connection, pack))
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
