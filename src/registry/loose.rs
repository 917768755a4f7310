//! One loose artifact as a [`Registry`]: a `<module>_<version>.tar` on disk or at an `https://`
//! URL (a GitHub release asset, a file on a web server), with its `.minisig` beside it (same
//! name plus `.minisig`) when it is signed. `install --from` installs it (several of them, a
//! directory or a release are a [`set::LooseSet`]), and `sync` restores it from the source the
//! lock records.
//!
//! There is no registry record to check it against, so the record is made from the artifact
//! itself, once it has passed what can be checked without one: its module and version come from
//! its file name and must be what its own `manifest.toml` says; its dependencies are its
//! manifest's. [`Registry::fetch_verified`] then checks it as any pack: archive rules, hashes,
//! signature (bound to module, version and sha256), dependencies. A lock pins its sha256, so a
//! source whose bytes change is refused by `sync`. An artifact a release's listing names
//! (`SHA256SUMS`, [`listing`]) must also have the sha256 listed.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

pub mod listing;
pub mod set;

use super::http::{HttpRegistry, HttpUrl};
use super::{Fetched, Registry, RegistryError, RegistryOptions, VersionEntry};
use crate::artifact::ArtifactName;
use crate::artifact::unpack::{self, Limits};
use crate::artifact::verify::SignatureFile;
use crate::digest::Sha256;
use crate::names::{ModuleName, PackRef};

/// The largest signature read: a minisign signature is a few hundred bytes.
const MAX_SIGNATURE_BYTES: u64 = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum LooseError {
    #[error(
        "`{source_name}` is not named `<module>_<version>.tar`, so its module and version are unknown\nhint: keep the name `pack` gave it (`aws_prov_1.0.0.tar`)"
    )]
    BadName { source_name: String },
    #[error("failed to read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{source_name}` is not found")]
    NotFound { source_name: String },
    #[error(
        "the artifact `{source_name}` is not found, and the lock records it as the source of {modules}\nhint: copy the artifact there again (a lock records where a pack came from, not its bytes), or install {modules} again from a registry (`--version`)"
    )]
    RecordedMissing {
        source_name: String,
        /// The modules recorded from it, backticked: `` `a`, `b` ``.
        modules: String,
    },
    #[error(transparent)]
    Listing(#[from] listing::ListingError),
    #[error(
        "`{source_name}` holds no artifacts (`<module>_<version>.tar`)\nhint: `--from` takes an artifact, a directory of artifacts, or a release URL ending in `/`"
    )]
    NoArtifacts { source_name: String },
    #[error(
        "`{url}` is neither an artifact (`….tar`) nor a release: it has no `{}`\nhint: a release URL is a directory on a static host with a listing beside its artifacts (`sha256sum *.tar > {}`)",
        listing::FILE_NAME,
        listing::FILE_NAME
    )]
    NoListing { url: String },
    #[error("`{listing}` lists `{file}`, which is not there")]
    ListedMissing { listing: String, file: String },
    #[error(
        "`{first}` and `{second}` are both `{}` {} but their bytes differ (sha256 {} and {})\nhint: give one of them",
        pack.module, pack.version, first_sha256.short(), second_sha256.short()
    )]
    Conflict {
        pack: PackRef,
        first: String,
        first_sha256: Sha256,
        second: String,
        second_sha256: Sha256,
    },
    #[error(
        "`{source_name}` has sha256 {found}, but `{listing}` lists {listed}\nhint: download it again; a listing and its artifact must agree"
    )]
    ListedHash {
        source_name: String,
        listing: String,
        listed: Sha256,
        found: Sha256,
    },
    #[error("`{source_name}` is {size} bytes, more than `distribution.unpack_max_bytes` ({max})")]
    TooLarge {
        source_name: String,
        size: u64,
        max: u64,
    },
    #[error("`{source_name}` cannot be read as a pack: {reason}")]
    NotAPack { source_name: String, reason: String },
    #[error(
        "`{source_name}` is named for `{}` {}, but its `manifest.toml` says `{name}` {version}\nhint: a pack's file name and its manifest must agree: rename it back, or pack it again",
        named.module, named.version
    )]
    Mismatch {
        source_name: String,
        named: PackRef,
        name: String,
        version: semver::Version,
    },
}

/// Where a loose artifact is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LooseSource {
    Path(PathBuf),
    /// The registry address of its directory, and its file name there.
    Url {
        dir: String,
        file: String,
    },
}

impl LooseSource {
    /// `text` as `--from` gives it: an `http(s)://` URL, else a path (relative to `cwd`).
    pub fn parse(text: &str, cwd: &Path) -> Result<Self, RegistryError> {
        if crate::address::is_http_url(text) {
            let (dir, file) = text.rsplit_once('/').unwrap_or((text, ""));
            // The directory must be a registry address (the loopback rule, no credentials).
            HttpUrl::parse(dir)?;
            return Ok(Self::Url {
                dir: dir.to_owned(),
                file: file.to_owned(),
            });
        }
        Ok(Self::Path(crate::config::absolutize(cwd, Path::new(text))))
    }

    fn file_name(&self) -> String {
        match self {
            LooseSource::Path(path) => path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default(),
            LooseSource::Url { file, .. } => file.clone(),
        }
    }

    /// How the lock and messages name it: a URL as given, a path relative to `base` when
    /// inside it.
    pub fn label(&self, base: &Path) -> String {
        match self {
            LooseSource::Path(path) => match path.strip_prefix(base) {
                Ok(relative) if !relative.as_os_str().is_empty() => {
                    relative.to_string_lossy().into_owned()
                }
                _ => path.to_string_lossy().into_owned(),
            },
            LooseSource::Url { dir, file } => format!("{dir}/{file}"),
        }
    }
}

/// One loose artifact, read on first use.
pub struct LooseArtifact {
    source: LooseSource,
    label: String,
    pack: PackRef,
    /// The listing that names it (its label), and the sha256 it lists.
    listed: Option<(String, Sha256)>,
    /// For a URL: the host as a static registry (its deadline, bounds, retries, credentials).
    http: Option<HttpRegistry>,
    limits: Limits,
    loaded: OnceCell<Fetched>,
}

impl LooseArtifact {
    pub fn new(source: LooseSource, options: &RegistryOptions<'_>) -> Result<Self, RegistryError> {
        let name = source.file_name();
        let pack = name
            .parse::<ArtifactName>()
            .map_err(|_| LooseError::BadName {
                source_name: source.label(&options.config.paths.base),
            })?
            .pack()
            .clone();
        let http = match &source {
            LooseSource::Url { dir, .. } => Some(HttpRegistry::new(
                HttpUrl::parse(dir)?,
                options.env,
                &options.config.distribution,
                options.offline,
            )),
            LooseSource::Path(_) => None,
        };
        Ok(Self {
            label: source.label(&options.config.paths.base),
            source,
            pack,
            listed: None,
            http,
            limits: Limits::from_config(&options.config.distribution),
            loaded: OnceCell::new(),
        })
    }

    /// The artifact as a listing names it: its bytes must have `sha256`.
    pub fn listed(mut self, listing: String, sha256: Sha256) -> Self {
        self.listed = Some((listing, sha256));
        self
    }

    /// The module and version its file name gives.
    pub fn pack(&self) -> &PackRef {
        &self.pack
    }

    /// How messages and the lock name it.
    pub fn source_name(&self) -> &str {
        &self.label
    }

    /// Its sha256: the one its listing gives, else its bytes' (read now).
    pub fn sha256(&self) -> Result<Sha256, RegistryError> {
        match &self.listed {
            Some((_, sha256)) => Ok(*sha256),
            None => Ok(self.loaded()?.entry.sha256),
        }
    }

    fn loaded(&self) -> Result<&Fetched, RegistryError> {
        if let Some(fetched) = self.loaded.get() {
            return Ok(fetched);
        }
        let fetched = self.load()?;
        Ok(self.loaded.get_or_init(|| fetched))
    }

    /// Reads the artifact and its signature, and makes its record from it.
    fn load(&self) -> Result<Fetched, RegistryError> {
        let file = self.source.file_name();
        let signature_file = format!("{file}.minisig");
        let (bytes, signature) = match (&self.source, &self.http) {
            (LooseSource::Url { .. }, Some(http)) => {
                let bytes = http
                    .read_file(&file, self.limits.max_bytes)?
                    .ok_or_else(|| LooseError::NotFound {
                        source_name: self.label.clone(),
                    })?;
                let signature = http
                    .read_file(&signature_file, MAX_SIGNATURE_BYTES)?
                    .map(|text| SignatureFile {
                        path: PathBuf::from(format!("{}.minisig", self.label)),
                        text: String::from_utf8_lossy(&text).into_owned(),
                    });
                (bytes, signature)
            }
            (LooseSource::Url { .. }, None) => {
                return Err(LooseError::NotFound {
                    source_name: self.label.clone(),
                }
                .into());
            }
            (LooseSource::Path(path), _) => {
                let read_error = |source| LooseError::Read {
                    path: path.clone(),
                    source,
                };
                let size = match std::fs::metadata(path) {
                    Ok(metadata) => metadata.len(),
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                        return Err(LooseError::NotFound {
                            source_name: self.label.clone(),
                        }
                        .into());
                    }
                    Err(error) => return Err(read_error(error).into()),
                };
                if size > self.limits.max_bytes {
                    return Err(LooseError::TooLarge {
                        source_name: self.label.clone(),
                        size,
                        max: self.limits.max_bytes,
                    }
                    .into());
                }
                let bytes =
                    crate::fs::read(path, crate::fs::FileKind::Artifact).map_err(read_error)?;
                let signature = SignatureFile::beside(path).map_err(read_error)?;
                (bytes, signature)
            }
        };
        if let Some((listing, listed)) = &self.listed {
            let found = Sha256::of(&bytes);
            if found != *listed {
                return Err(LooseError::ListedHash {
                    source_name: self.label.clone(),
                    listing: listing.clone(),
                    listed: *listed,
                    found,
                }
                .into());
            }
        }
        let entry = self.record(&bytes, signature.is_some())?;
        Ok(Fetched {
            entry,
            bytes,
            signature,
            label: self.label.clone(),
            loose: true,
            cached: false,
        })
    }

    /// The record of the artifact, made from its bytes: what its manifest says must be what its
    /// file name says.
    fn record(&self, bytes: &[u8], signed: bool) -> Result<VersionEntry, LooseError> {
        let not_a_pack = |reason: String| LooseError::NotAPack {
            source_name: self.label.clone(),
            reason,
        };
        let module = &self.pack.module;
        let files = unpack::read_artifact(bytes, module, &self.limits)
            .map_err(|error| not_a_pack(error.to_string()))?;
        let manifest = files
            .iter()
            .find(|file| file.path == "manifest.toml")
            .ok_or_else(|| not_a_pack("it has no `manifest.toml`".into()))?;
        let text = std::str::from_utf8(&manifest.contents)
            .map_err(|_| not_a_pack("its `manifest.toml` is not UTF-8".into()))?;
        let manifest = crate::module::parse_package_manifest(text, Path::new("manifest.toml"))
            .map_err(not_a_pack)?;
        if manifest.name != module.as_str() || manifest.version != self.pack.version {
            return Err(LooseError::Mismatch {
                source_name: self.label.clone(),
                named: self.pack.clone(),
                name: manifest.name,
                version: manifest.version,
            });
        }
        let package_file = ArtifactName::new(self.pack.clone());
        Ok(VersionEntry {
            version: self.pack.version.clone(),
            signature: signed.then(|| package_file.signature()),
            package_file,
            sha256: Sha256::of(bytes),
            content_hash: unpack::content_hash(module, &files),
            size: bytes.len() as u64,
            created: String::new(),
            signer: None,
            dependencies: manifest.dependencies,
            yanked: false,
            yank_reason: None,
            provenance: None,
            library: !files
                .iter()
                .any(|file| file.path == crate::artifact::EXPORT_FILE),
            tests: None,
        })
    }
}

/// What signs an unsigned loose artifact: its signature travels beside it, from where it was
/// packed; or the registry that holds the same bytes signed.
pub(crate) fn unsigned_hint(pack: &PackRef, signed_in: Option<&str>) -> String {
    match signed_in {
        Some(signed_in) => format!(
            "`{signed_in}` holds the same bytes signed: install from there, without `--from`"
        ),
        None => format!(
            "a signed artifact comes with its signature beside it (`{}`): get it from where the artifact came from",
            crate::artifact::ArtifactName::new(pack.clone()).signature()
        ),
    }
}

impl Registry for LooseArtifact {
    fn label(&self) -> String {
        self.label.clone()
    }

    fn unsigned_hint(&self, pack: &PackRef, _own_key: bool, signed_in: Option<&str>) -> String {
        unsigned_hint(pack, signed_in)
    }

    fn modules(&self) -> Result<Vec<ModuleName>, RegistryError> {
        Ok(vec![self.pack.module.clone()])
    }

    fn index(&self, module: &ModuleName) -> Result<Vec<VersionEntry>, RegistryError> {
        if *module != self.pack.module {
            return Ok(Vec::new());
        }
        Ok(vec![self.loaded()?.entry.clone()])
    }

    fn fetch(&self, pack: &PackRef) -> Result<Fetched, RegistryError> {
        if pack.module != self.pack.module {
            return Err(RegistryError::UnknownModule {
                module: pack.module.clone(),
                registry: self.label.clone(),
                provider_pack: None,
            });
        }
        if pack.version != self.pack.version {
            return Err(RegistryError::UnknownVersion {
                module: pack.module.clone(),
                version: pack.version.clone(),
                available: vec![self.pack.version.clone()],
            });
        }
        self.loaded().cloned()
    }
}
