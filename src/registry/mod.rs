//! Where packs come from: the [`Registry`] trait (cargo's `Source` is the model), implemented by
//! a directory on disk ([`DirectoryRegistry`]: artifacts plus one metadata file per module), an
//! OCI registry ([`oci::OciRegistry`]), the same directory served by a static HTTP host
//! ([`http::HttpRegistry`]) and one loose artifact ([`loose::LooseArtifact`]), and a [`Chain`]
//! that asks each in turn (the local directory first, then the remote) for installs. What the
//! two remote registries share on the wire is [`transport`]; the registry's `index.json` and
//! web pages are [`site`].
//!
//! A command builds its registry once, with [`Registries::open`] (honouring `--registry` and
//! `distribution.registry_type`), and passes it down; domain functions receive a `&dyn Registry`,
//! never the whole context. [`Registry::fetch_verified`] is the one way a pack reaches an infra:
//! fetched, then checked against what the registry records and the trusted keys.

pub mod directory;
pub mod http;
pub mod loose;
pub mod metadata;
pub mod oci;
pub mod retention;
pub mod site;
pub mod transport;

use std::path::PathBuf;

pub use directory::DirectoryRegistry;
pub use metadata::{DocTests, ModuleMetadata, VersionEntry};

use crate::config::{Config, RegistryKind};
use crate::digest::{ContentHash, Sha256};
use crate::names::{ModuleName, PackRef};
use crate::pack::ArtifactFile;
pub use crate::pack::verify::Trust;
use crate::pack::verify::{self, Expected, SignatureFile};
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
    #[error(transparent)]
    Oci(#[from] oci::OciError),
    #[error(transparent)]
    Http(#[from] http::HttpError),
    #[error(transparent)]
    Loose(#[from] loose::LooseError),
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
    pub kind: crate::catalog::EntryKind,
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
    #[error("`{}` {} failed verification: {check}: {detail}", pack.module, pack.version)]
    Verification {
        pack: PackRef,
        check: &'static str,
        detail: String,
    },
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

    /// One pack and what the registry records about it, unverified.
    fn fetch(&self, pack: &PackRef) -> Result<Fetched, RegistryError>;

    /// The versions of `module` withdrawn from resolution (`pack yank`), for listings. A
    /// registry that records none (OCI, for now) has none.
    fn yanked(
        &self,
        _module: &ModuleName,
    ) -> Result<std::collections::BTreeSet<semver::Version>, RegistryError> {
        Ok(std::collections::BTreeSet::new())
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
        let fetched = self.fetch(pack)?;
        let recorded = &fetched.entry;
        if let Some(pinned) = pinned
            && *pinned != recorded.sha256
        {
            return Err(FetchError::PinMismatch {
                pack: pack.clone(),
                pinned: *pinned,
                found: recorded.sha256,
            });
        }
        let report = verify::verify(
            &fetched.bytes,
            pack,
            &Expected {
                size: Some(recorded.size),
                sha256: Some(recorded.sha256),
                content_hash: Some(recorded.content_hash),
            },
            fetched.signature.as_ref(),
            trust,
        );
        if let Some(failure) = report.first_failure() {
            return Err(FetchError::Verification {
                pack: pack.clone(),
                check: failure.check,
                detail: failure.detail.clone(),
            });
        }
        // The report carries what verification read: a pack that passed has both.
        let (Some(files), Some(content_hash)) = (report.files, report.content_hash) else {
            return Err(FetchError::Verification {
                pack: pack.clone(),
                check: "archive",
                detail: "it could not be read".into(),
            });
        };
        // Resolution trusted the registry's record of the dependencies: the pack must say the
        // same.
        let manifest = packed_manifest(&files).map_err(|detail| FetchError::Verification {
            pack: pack.clone(),
            check: "dependencies",
            detail,
        })?;
        let kind = manifest
            .kind
            .unwrap_or_else(|| crate::catalog::EntryKind::of(&pack.module));
        let dependencies = manifest.dependencies;
        if dependencies != recorded.dependencies {
            return Err(FetchError::Verification {
                pack: pack.clone(),
                check: "dependencies",
                detail: format!(
                    "its manifest requires {}, but the registry records {}",
                    describe_dependencies(&dependencies),
                    describe_dependencies(&recorded.dependencies)
                ),
            });
        }
        Ok(VerifiedPack {
            pack: pack.clone(),
            sha256: report.sha256,
            content_hash,
            files,
            signer: report.signer,
            label: fetched.label,
            dependencies,
            yanked: recorded.yanked,
            kind,
        })
    }
}

/// A pack's `manifest.toml`.
fn packed_manifest(files: &[ArtifactFile]) -> Result<crate::catalog::PackageManifest, String> {
    let manifest = files
        .iter()
        .find(|file| file.path == "manifest.toml")
        .ok_or("it has no `manifest.toml`")?;
    let text = std::str::from_utf8(&manifest.contents)
        .map_err(|_| "its `manifest.toml` is not UTF-8".to_owned())?;
    crate::catalog::parse_package_manifest(text, std::path::Path::new("manifest.toml"))
}

fn describe_dependencies(
    dependencies: &std::collections::BTreeMap<ModuleName, semver::VersionReq>,
) -> String {
    if dependencies.is_empty() {
        return "nothing".into();
    }
    let each: Vec<String> = dependencies
        .iter()
        .map(|(module, requirement)| format!("{module} {requirement}"))
        .collect();
    each.join(", ")
}

/// Registries asked in order: a pack one does not have is asked of the next. The error of the
/// last one is the answer when none has it.
pub struct Chain {
    registries: Vec<Box<dyn Registry>>,
}

impl Registry for Chain {
    fn label(&self) -> String {
        let labels: Vec<String> = self.registries.iter().map(|r| r.label()).collect();
        labels.join(", then ")
    }

    fn modules(&self) -> Result<Vec<ModuleName>, RegistryError> {
        let mut modules = Vec::new();
        for registry in &self.registries {
            modules.extend(registry.modules()?);
        }
        modules.sort();
        modules.dedup();
        Ok(modules)
    }

    fn versions(&self, module: &ModuleName) -> Result<Vec<semver::Version>, RegistryError> {
        let mut versions = Vec::new();
        for registry in &self.registries {
            versions.extend(registry.versions(module)?);
        }
        versions.sort();
        versions.dedup();
        Ok(versions)
    }

    fn index_many(&self, modules: &[ModuleName]) -> Vec<Result<Vec<VersionEntry>, RegistryError>> {
        let mut merged: Vec<Result<Vec<VersionEntry>, RegistryError>> =
            modules.iter().map(|_| Ok(Vec::new())).collect();
        for registry in &self.registries {
            for (slot, result) in merged.iter_mut().zip(registry.index_many(modules)) {
                if let Ok(entries) = slot {
                    match result {
                        Ok(more) => {
                            for entry in more {
                                if !entries.iter().any(|known| known.version == entry.version) {
                                    entries.push(entry);
                                }
                            }
                        }
                        Err(error) => *slot = Err(error),
                    }
                }
            }
        }
        for entries in merged.iter_mut().flatten() {
            entries.sort_by(|a, b| a.version.cmp(&b.version));
        }
        merged
    }

    /// Every registry's versions; where two hold the same version, the first one's record (the
    /// one a fetch gets).
    fn index(&self, module: &ModuleName) -> Result<Vec<VersionEntry>, RegistryError> {
        let mut entries: Vec<VersionEntry> = Vec::new();
        for registry in &self.registries {
            for entry in registry.index(module)? {
                if !entries.iter().any(|known| known.version == entry.version) {
                    entries.push(entry);
                }
            }
        }
        entries.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(entries)
    }

    fn yanked(
        &self,
        module: &ModuleName,
    ) -> Result<std::collections::BTreeSet<semver::Version>, RegistryError> {
        let mut yanked = std::collections::BTreeSet::new();
        for registry in &self.registries {
            yanked.extend(registry.yanked(module)?);
        }
        Ok(yanked)
    }

    fn fetch(&self, pack: &PackRef) -> Result<Fetched, RegistryError> {
        let mut last = None;
        for registry in &self.registries {
            match registry.fetch(pack) {
                Err(error) if error.is_not_found() => last = Some(error),
                result => return result,
            }
        }
        Err(last.unwrap_or_else(|| RegistryError::UnknownModule {
            module: pack.module.clone(),
            registry: self.label(),
            provider_pack: None,
        }))
    }

    fn prefetch(&self, packs: &[PackRef]) {
        // What the first registry has needs no prefetch; the rest go to the next ones.
        let Some((first, rest)) = self.registries.split_first() else {
            return;
        };
        let missing: Vec<PackRef> = packs
            .iter()
            .filter(|pack| first.fetch(pack).is_err())
            .cloned()
            .collect();
        for registry in rest {
            registry.prefetch(&missing);
        }
    }
}

/// The registries of one command: the configured directory, and the remote one (`--registry`,
/// else `distribution.registry_type`/`registry_url`), if any.
pub struct Registries {
    pub local: DirectoryRegistry,
    pub remote: Option<Box<dyn Registry>>,
}

/// What [`Registries::open`] needs to know.
#[derive(Debug, Clone, Copy)]
pub struct RegistryOptions<'a> {
    pub config: &'a Config,
    pub env: &'a std::collections::BTreeMap<String, String>,
    pub cwd: &'a std::path::Path,
    /// `--registry URL|DIR`.
    pub flag: Option<&'a str>,
    pub offline: bool,
}

impl Registries {
    pub fn open(options: &RegistryOptions<'_>) -> Result<Self, RegistryError> {
        let local = DirectoryRegistry::from_config(options.config);
        let remote = match options.flag {
            Some(flag) => Some(open_flag(flag, options)?),
            None => open_configured(options)?,
        };
        Ok(Self { local, remote })
    }

    /// The remote registry as an OCI one, for what only OCI does (publishing).
    pub fn remote_oci(
        options: &RegistryOptions<'_>,
    ) -> Result<Option<oci::OciRegistry>, RegistryError> {
        let url = match options.flag {
            Some(flag) if flag.starts_with("oci://") => flag.to_owned(),
            Some(_) => return Ok(None),
            None if options.config.distribution.registry_type == RegistryKind::Oci => {
                configured_url(options.config)?.to_owned()
            }
            None => return Ok(None),
        };
        Ok(Some(oci_registry(&url, options)?))
    }

    /// The local directory first, then the remote: where installs look.
    pub fn chain(self) -> Chain {
        self.chain_after(Vec::new())
    }

    /// `first` (loose artifacts), then the local directory, then the remote.
    pub fn chain_after(self, first: Vec<Box<dyn Registry>>) -> Chain {
        let mut registries = first;
        registries.push(Box::new(self.local));
        registries.extend(self.remote);
        Chain { registries }
    }

    /// The remote registry when there is one, else the local directory: what `registry list`
    /// shows.
    pub fn primary(self) -> Box<dyn Registry> {
        self.remote.unwrap_or_else(|| Box::new(self.local))
    }
}

fn configured_url(config: &Config) -> Result<&str, RegistryError> {
    let url = &config.distribution.registry_url;
    if url.is_empty() {
        return Err(oci::OciError::NoUrl.into());
    }
    Ok(url)
}

fn open_configured(
    options: &RegistryOptions<'_>,
) -> Result<Option<Box<dyn Registry>>, RegistryError> {
    match options.config.distribution.registry_type {
        RegistryKind::Local => Ok(None),
        RegistryKind::Oci => Ok(Some(Box::new(oci_registry(
            configured_url(options.config)?,
            options,
        )?))),
        RegistryKind::Http => {
            let url = &options.config.distribution.registry_url;
            if url.is_empty() {
                return Err(http::HttpError::BadUrl {
                    url: String::new(),
                    reason: "`distribution.registry_url` is empty, and `registry_type = \"http\"` needs it".into(),
                }
                .into());
            }
            Ok(Some(Box::new(http_registry(url, options)?)))
        }
    }
}

/// Whether `--registry` (or `registry_url`) names a static HTTP registry.
pub fn is_http_url(text: &str) -> bool {
    text.starts_with("http://") || text.starts_with("https://")
}

/// `--registry oci://host/namespace`, `--registry https://host/path` (a static HTTP registry),
/// or `--registry DIR` (a `distribution/` directory with `packages/` and `registry/`).
fn open_flag(
    flag: &str,
    options: &RegistryOptions<'_>,
) -> Result<Box<dyn Registry>, RegistryError> {
    if is_http_url(flag) {
        return Ok(Box::new(http_registry(flag, options)?));
    }
    if flag.contains("://") {
        return Ok(Box::new(oci_registry(flag, options)?));
    }
    let dir = crate::config::absolutize(options.cwd, std::path::Path::new(flag));
    Ok(Box::new(DirectoryRegistry::in_distribution_dir(
        &dir,
        &options.config.paths.base,
    )))
}

fn oci_registry(
    url: &str,
    options: &RegistryOptions<'_>,
) -> Result<oci::OciRegistry, RegistryError> {
    let url = oci::RegistryUrl::parse(url)?;
    Ok(oci::OciRegistry::new(
        url,
        options.env,
        &options.config.distribution,
        options.offline,
    )?)
}

fn http_registry(
    url: &str,
    options: &RegistryOptions<'_>,
) -> Result<http::HttpRegistry, RegistryError> {
    Ok(http::HttpRegistry::new(
        http::HttpUrl::parse(url)?,
        options.env,
        &options.config.distribution,
        options.offline,
    ))
}
