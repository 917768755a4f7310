//! Where packs come from: the [`Registry`] trait (cargo's `Source` is the model), implemented by
//! a directory on disk ([`DirectoryRegistry`]: artifacts plus one metadata file per module), an
//! OCI registry ([`oci::OciRegistry`]), the same directory served by a static HTTP host
//! ([`http::HttpRegistry`]), one loose artifact ([`loose::LooseArtifact`]) and the artifacts of
//! every `--from` ([`loose::set::LooseSet`]), and a [`Chain`] that asks each in turn (the loose
//! artifacts first, the local directory, then the sources a lock records ([`recorded`]), then
//! the remote) for installs. What the two remote registries share on the
//! wire is [`transport`]; the registry's `index.json` and web pages are [`site`]. Their
//! addresses are [`crate::address`]'s.
//!
//! A command builds its registry once, with [`Registries::open`] (honouring `--registry` and
//! `distribution.registries`, parsed when the configuration loaded), and passes it down; domain functions receive a `&dyn Registry`,
//! never the whole context. [`Registry::fetch_verified`] is the one way a pack reaches an infra:
//! fetched, then checked against what the registry records and the trusted keys.

mod chain;
pub mod configured;
pub mod directory;
pub mod http;
pub mod loose;
pub mod metadata;
pub mod oci;
pub mod pin_record;
pub mod recorded;
pub mod retention;
pub mod shared;
pub mod site;
pub mod transport;
pub mod tuf_client;
mod verify_fetched;

use verify_fetched::{verify_or_refetch, verify_or_refetch_keeping};

use std::path::PathBuf;

pub use chain::Chain;
pub use configured::{Named, Warnings};
pub use directory::DirectoryRegistry;
pub use metadata::{DocTests, ModuleMetadata, VersionEntry};

use crate::address::{AddressError, OciUrl, Remote};
use crate::artifact::ArtifactFile;
use crate::artifact::verify::SignatureFile;
pub use crate::artifact::verify::Trust;
use crate::config::Config;
use crate::digest::{ContentHash, Sha256};
use crate::names::{ModuleName, PackRef};
use crate::signing::Signer;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("failed to read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not valid registry metadata: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("no packs of `{module}` in the registry `{registry}`\nhint: {}", unknown_module_hint(module, provider_pack.as_ref()))]
    UnknownModule {
        module: ModuleName,
        registry: String,
        /// When `module` is a provider's name (`aws`) and the registry has packs of the
        /// provider's module: the pack meant (`aws_prov@1.1.0`).
        provider_pack: Option<PackRef>,
    },
    #[error(
        "`{module}` has no version {version} in the registry\nhint: {}",
        available_versions(available)
    )]
    UnknownVersion {
        module: ModuleName,
        version: semver::Version,
        available: Vec<semver::Version>,
    },
    #[error(
        "the cache holds a copy of `{}` {} from `{registry}` that fails verification: {reason}\nhint: run without `--offline` to fetch it again from `{registry}`",
        pack.module, pack.version
    )]
    CachedCopyFailed {
        pack: PackRef,
        registry: String,
        reason: String,
    },
    #[error(
        "the configuration names several remote registries ({}): this command writes to one\nhint: say which with `--registry NAME`",
        names.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
    )]
    WhichRemote { names: Vec<String> },
    #[error(transparent)]
    Address(#[from] AddressError),
    #[error(transparent)]
    Oci(#[from] oci::OciError),
    #[error(transparent)]
    Http(#[from] http::HttpError),
    #[error(transparent)]
    Loose(#[from] loose::LooseError),
    #[error(transparent)]
    Tuf(#[from] tuf_client::TufError),
}

impl RegistryError {
    /// The registry does not have it (as opposed to: it could not be asked).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            RegistryError::UnknownModule { .. }
                | RegistryError::UnknownVersion { .. }
                | RegistryError::Oci(oci::OciError::NotFound { .. })
                | RegistryError::Http(http::HttpError::UnknownModule { .. })
        )
    }
}

fn unknown_module_hint(module: &ModuleName, provider_pack: Option<&PackRef>) -> String {
    match provider_pack {
        Some(pack) => provider_pack_hint(module, pack),
        None => format!("pack it first: {}", crate::catalog::pack_command(module)),
    }
}

/// `provider` was given where its module is meant: `aws@1.1.0` for `aws_prov@1.1.0`.
pub(crate) fn provider_pack_hint(provider: &ModuleName, pack: &PackRef) -> String {
    format!(
        "the provider `{provider}` is packed as `{}`: `{pack}`",
        pack.module
    )
}

/// The module a provider's name stands for (`aws` → `aws_prov`), when `module` is not already a
/// provider's module: what a user who typed a provider where a module is meant wants.
pub fn provider_module(module: &ModuleName) -> Option<ModuleName> {
    if module.provider().is_some() {
        return None;
    }
    format!("{module}{}", crate::names::MODULE_SUFFIX)
        .parse()
        .ok()
}

pub(crate) fn available_versions(available: &[semver::Version]) -> String {
    if available.is_empty() {
        "it has no versions".to_owned()
    } else {
        let versions: Vec<String> = available.iter().map(ToString::to_string).collect();
        format!("available: {}", versions.join(", "))
    }
}

/// A pack as a registry gave it, before verification.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// What the registry records about it: verification checks the bytes against this.
    pub entry: VersionEntry,
    pub bytes: Vec<u8>,
    pub signature: Option<SignatureFile>,
    /// The registry it came from, as messages and the lock name it.
    pub label: String,
    /// It is a loose artifact (`label` names the artifact itself): messages name it.
    pub loose: bool,
    /// It was read from the cache, not from the registry just now: when it fails
    /// verification, [`Registry::refetch`] drops it and asks the registry again.
    pub cached: bool,
}

/// A pack that passed every check: its files, read as hostile input and found safe.
#[derive(Debug, Clone)]
pub struct VerifiedPack {
    pub pack: PackRef,
    pub sha256: Sha256,
    pub content_hash: ContentHash,
    pub files: Vec<ArtifactFile>,
    /// `None` when unsigned (or untrusted) and allowed.
    pub signer: Option<Signer>,
    pub label: String,
    /// What it requires: its manifest's `[dependencies]`, which the registry's record agrees
    /// with.
    pub dependencies: std::collections::BTreeMap<ModuleName, semver::VersionReq>,
    /// The registry marks it yanked.
    pub yanked: bool,
    /// What its manifest says it is (a provider or the core when it does not say).
    pub kind: crate::module::ModuleKind,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(
        "the registry's `{}` {} has sha256 {found}, but the lock pins {pinned}: refusing to change a pinned pack",
        pack.module, pack.version
    )]
    PinMismatch {
        pack: PackRef,
        pinned: Sha256,
        found: Sha256,
    },
    /// The registry holds it without a signature, and unsigned packs are refused: `hint` says
    /// what would sign it, where it was found.
    #[error("{} failed verification: signature: the artifact is not signed
hint: {hint}", verified_what(pack, artifact.as_deref()))]
    Unsigned {
        pack: PackRef,
        /// The loose artifact it was read from, when it was one.
        artifact: Option<String>,
        hint: String,
    },
    #[error("{} failed verification: {check}: {detail}", verified_what(pack, artifact.as_deref()))]
    Verification {
        pack: PackRef,
        /// The loose artifact it was read from, when it was one.
        artifact: Option<String>,
        check: &'static str,
        detail: String,
    },
}

fn verified_what(pack: &PackRef, artifact: Option<&str>) -> String {
    match artifact {
        Some(artifact) => format!("`{artifact}` (`{}` {})", pack.module, pack.version),
        None => format!("`{}` {}", pack.module, pack.version),
    }
}

/// Where packs come from.
pub trait Registry {
    /// How messages and locks name it: `distribution/registry`, `oci://host/namespace`.
    fn label(&self) -> String;

    /// Every module it holds, sorted.
    fn modules(&self) -> Result<Vec<ModuleName>, RegistryError>;

    /// Every version of `module` with what the registry records about it (hashes, signer,
    /// dependencies), oldest first; none when it has no such module. Resolution reads this,
    /// never a pack.
    fn index(&self, module: &ModuleName) -> Result<Vec<VersionEntry>, RegistryError>;

    /// How messages name it as a place to look: "the registry `…`" (loose artifacts: "the
    /// artifacts given with `--from`").
    fn description(&self) -> String {
        format!("the registry `{}`", self.label())
    }

    /// It is, or begins with, artifacts given with `--from`.
    fn has_loose(&self) -> bool {
        false
    }

    /// The versions of `module`, oldest first; none when it has no such module.
    fn versions(&self, module: &ModuleName) -> Result<Vec<semver::Version>, RegistryError> {
        Ok(self
            .index(module)?
            .into_iter()
            .map(|entry| entry.version)
            .collect())
    }

    /// The index of each of `modules`, in order: a remote registry reads them concurrently.
    fn index_many(&self, modules: &[ModuleName]) -> Vec<Result<Vec<VersionEntry>, RegistryError>> {
        modules.iter().map(|module| self.index(module)).collect()
    }

    /// The versions of each of `modules`, oldest first, each with whether it is yanked: what
    /// `registry list` shows. A registry that keeps both in one record (a static HTTP one)
    /// reads it once per module, concurrently.
    fn listing(
        &self,
        modules: &[ModuleName],
    ) -> Vec<Result<Vec<(semver::Version, bool)>, RegistryError>> {
        modules
            .iter()
            .map(|module| {
                let yanked = self.yanked(module)?;
                Ok(self
                    .versions(module)?
                    .into_iter()
                    .map(|version| {
                        let yanked = yanked.contains(&version);
                        (version, yanked)
                    })
                    .collect())
            })
            .collect()
    }

    /// One pack and what the registry records about it, unverified.
    fn fetch(&self, pack: &PackRef) -> Result<Fetched, RegistryError>;

    /// `pack` again from the registry itself, after its cached copy failed verification
    /// (`failed` says how): the copy is dropped from the cache, and fetched anew. Offline, an
    /// error that says the cache holds a bad copy. A registry without a cache fetches it again.
    fn refetch(&self, pack: &PackRef, _failed: &str) -> Result<Fetched, RegistryError> {
        self.fetch(pack)
    }

    /// The versions of `module` withdrawn from resolution (`pack yank`), for listings. A
    /// registry that records none (OCI, for now) has none.
    fn yanked(
        &self,
        _module: &ModuleName,
    ) -> Result<std::collections::BTreeSet<semver::Version>, RegistryError> {
        Ok(std::collections::BTreeSet::new())
    }

    /// The provenance of `pack` (its `<module>_<version>.intoto.jsonl`, unverified), when the
    /// registry holds one beside the bytes `sha256`; `None` when it has none.
    fn provenance(
        &self,
        _pack: &PackRef,
        _sha256: &Sha256,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        Ok(None)
    }

    /// Makes the fetches of `packs` that follow cheap (a remote registry fetches them together
    /// into its cache). Best effort: a failure here comes back from [`Registry::fetch`].
    fn prefetch(&self, _packs: &[PackRef]) {}

    /// Fetches `pack` and verifies it: size, sha256 and content hash against the registry's
    /// record (and `pinned`, the sha256 a lock pins, when given), every archive entry as hostile
    /// input, and the signature against `trust`.
    fn fetch_verified(
        &self,
        pack: &PackRef,
        trust: &Trust<'_>,
        pinned: Option<&Sha256>,
    ) -> Result<VerifiedPack, FetchError> {
        let hint = |own_key| self.unsigned_hint(pack, own_key, None);
        verify_or_refetch(self, self.fetch(pack)?, pack, trust, pinned, &hint)
    }

    /// The whole metadata record of `module` (its maintainer, license, kind...), for a
    /// registry that keeps one; `None` from one that keeps only each version's.
    fn record(&self, _module: &ModuleName) -> Result<Option<ModuleMetadata>, RegistryError> {
        Ok(None)
    }

    /// What would sign a pack it holds unsigned, for the error's hint (`own_key`: the user has
    /// a signing key; `signed_in`: another registry that holds the same bytes signed). A remote
    /// registry's publisher adds the signature later: a signature is not part of a version's
    /// bytes.
    fn unsigned_hint(&self, pack: &PackRef, _own_key: bool, signed_in: Option<&str>) -> String {
        match signed_in {
            Some(signed_in) => format!(
                "`{signed_in}` holds the same bytes signed: add the signature to `{}` with `provisioning pack publish {pack}`",
                self.label()
            ),
            None => format!(
                "`{}` holds it unsigned: its publisher can add the signature later (`provisioning keys generate`, pack it again, then `provisioning pack publish {pack}`)",
                self.label()
            ),
        }
    }
}

/// [`Registry::fetch_verified`], giving back what passed as it was fetched (its bytes and
/// signature) too: what a mirror copies.
pub fn fetch_verified_keeping(
    registry: &dyn Registry,
    pack: &PackRef,
    trust: &Trust<'_>,
    pinned: Option<&Sha256>,
) -> Result<(VerifiedPack, Fetched), FetchError> {
    let hint = |own_key| registry.unsigned_hint(pack, own_key, None);
    verify_or_refetch_keeping(registry, registry.fetch(pack)?, pack, trust, pinned, &hint)
}

/// The registries of one command: the configured directory, and the registries after it (the
/// one `--registry` names, else the configured ones, in order; see [`configured`]).
pub struct Registries {
    pub local: DirectoryRegistry,
    pub configured: Vec<Named>,
    warnings: Warnings,
}

/// What [`Registries::open`] needs to know.
#[derive(Debug, Clone, Copy)]
pub struct RegistryOptions<'a> {
    pub config: &'a Config,
    pub env: &'a std::collections::BTreeMap<String, String>,
    pub cwd: &'a std::path::Path,
    /// `--registry NAME|URL|DIR`.
    pub flag: Option<&'a str>,
    pub offline: bool,
    /// Where a chain's warnings go (a registry passed over).
    pub warnings: &'a Warnings,
}

impl Registries {
    pub fn open(options: &RegistryOptions<'_>) -> Result<Self, RegistryError> {
        Ok(Self {
            local: DirectoryRegistry::from_config(options.config),
            configured: configured::open(options)?,
            warnings: options.warnings.clone(),
        })
    }

    /// The remote registry of this run, without opening it: `--registry NAME|URL`, else the
    /// configuration's only remote one; none for a directory or a local configuration.
    pub fn remote_address(options: &RegistryOptions<'_>) -> Result<Option<Remote>, RegistryError> {
        configured::remote_address(options)
    }

    /// The directory `--registry` names (by name, or as a path), when it names one.
    pub fn flag_directory(options: &RegistryOptions<'_>) -> Option<PathBuf> {
        configured::flag_directory(options)
    }

    /// The remote registry as an OCI one, for what only OCI does (publishing).
    pub fn remote_oci(
        options: &RegistryOptions<'_>,
    ) -> Result<Option<oci::OciRegistry>, RegistryError> {
        Ok(match Self::remote_address(options)? {
            Some(Remote::Oci(url)) => Some(oci_registry(url, options)),
            _ => None,
        })
    }

    /// The local directory first, then the others in order.
    pub fn chain(self) -> Chain {
        let mut links: Vec<(Option<String>, Box<dyn Registry>)> =
            vec![(None, Box::new(self.local))];
        links.extend(
            self.configured
                .into_iter()
                .map(|named| (named.name, named.registry)),
        );
        Chain::new(links, self.warnings)
    }

    /// `first` (loose artifacts), the local directory, the sources a lock records that are
    /// none of the others (`recorded`: each pack's source and module; see [`recorded`]), then
    /// the configured registries in order: where the commands that change an infra look.
    pub fn chain_recorded<'a>(
        self,
        first: Vec<Box<dyn Registry>>,
        recorded: impl IntoIterator<Item = (&'a str, &'a ModuleName)>,
        options: &RegistryOptions<'_>,
    ) -> Chain {
        let mut opened = vec![self.local.label()];
        opened.extend(self.configured.iter().map(|named| named.registry.label()));
        opened.extend(first.iter().map(|registry| registry.label()));
        let mut links: Vec<(Option<String>, Box<dyn Registry>)> =
            first.into_iter().map(|registry| (None, registry)).collect();
        links.push((None, Box::new(self.local)));
        // A recorded source that cannot be read is passed over like a configured registry when
        // one follows (an upstream gone from an air-gapped site whose mirror is configured):
        // what a pack is, is its hash, checked whichever registry serves it. A loose artifact
        // gone is said as such.
        for source in recorded::Recorded::from_lock(recorded, &opened, options) {
            let name = source.is_registry().then(|| source.label());
            links.push((name, Box::new(source)));
        }
        links.extend(
            self.configured
                .into_iter()
                .map(|named| (named.name, named.registry)),
        );
        Chain::new(links, self.warnings)
    }

    /// What `registry list <module>` reads: the registry after the local directory (the
    /// configured ones as a chain, when several), else the local directory.
    pub fn primary(mut self) -> Box<dyn Registry> {
        match self.configured.len() {
            0 => Box::new(self.local),
            1 => self.configured.remove(0).registry,
            _ => Box::new(Chain::new(
                self.configured
                    .into_iter()
                    .map(|named| (named.name, named.registry))
                    .collect(),
                self.warnings,
            )),
        }
    }
}

/// `--registry oci://host/namespace`, `--registry https://host/path` (a static HTTP registry),
/// or `--registry DIR` (a `distribution/` directory with `packages/` and `registry/`); the same
/// forms as `pack mirror --from`.
pub fn open_flag(
    flag: &str,
    options: &RegistryOptions<'_>,
) -> Result<Box<dyn Registry>, RegistryError> {
    if flag.contains("://") {
        return Ok(open_remote(&Remote::parse(flag)?, options));
    }
    let dir = crate::config::absolutize(options.cwd, std::path::Path::new(flag));
    Ok(Box::new(
        DirectoryRegistry::in_distribution_dir(&dir, &options.config.paths.base).with_tuf(options),
    ))
}

/// The registry at `remote`; nothing is read from it until it is asked for something.
pub(crate) fn open_remote(remote: &Remote, options: &RegistryOptions<'_>) -> Box<dyn Registry> {
    match remote {
        Remote::Oci(url) => Box::new(oci_registry(url.clone(), options)),
        Remote::Http(url) => {
            let gate = tuf_client::Gate::open(
                options.env,
                &tuf_client::RegistryId::of_http(url),
                url.display(),
                options.offline,
                options.warnings,
            );
            Box::new(
                http::HttpRegistry::new(
                    url.clone(),
                    options.env,
                    &options.config.distribution,
                    options.offline,
                )
                .with_tuf(gate),
            )
        }
    }
}

fn oci_registry(url: OciUrl, options: &RegistryOptions<'_>) -> oci::OciRegistry {
    oci::OciRegistry::new(
        url,
        options.env,
        &options.config.distribution,
        options.offline,
    )
}
