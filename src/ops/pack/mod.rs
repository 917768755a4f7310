//! Packing one module into a registry directory: read its source, check it ([`check`]: it
//! evaluates, its files evaluate, its doc-comment examples pass), build the artifact ([`crate::artifact`]), sign it, and write it with its registry
//! metadata ([`crate::registry::DirectoryRegistry`]), under the registry's lock. An evaluation
//! failure, a refused source or a conflicting existing version writes nothing.

mod check;
mod error;
mod fingerprint;
mod nickel_pkg;
mod provenance;
mod sign;
mod site_stamp;

pub use error::{PackError, escape_hint};

pub use check::doc_tests;
pub use fingerprint::Fingerprints;
use nickel_pkg::described;
pub use site_stamp::SiteStamp;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::artifact::source::{self};
use crate::artifact::{Artifact, ArtifactFile, ArtifactName, Destination};
use crate::config::Metadata;
use crate::dependencies::{ModuleImports, SourceModule, declare_hint, undeclared_imports};

/// A module's dependency closure: every module it needs, with its source.
type Closure = Vec<(ModuleName, SourceModule)>;
use crate::digest::{ContentHash, Sha256};
use crate::fs::Transaction;
use crate::fs::dir_lock::DirLock;
use crate::names::{ModuleName, PackRef};
use crate::nickel::doc::Documentation;
use crate::nickel::{Evaluator, ExportCache};
use crate::printer::Printer;
use crate::registry::site::VersionDocs;
use crate::registry::{DirectoryRegistry, ModuleMetadata, VersionEntry};
use crate::signing::KeyId;

/// What to pack.
#[derive(Debug, Clone)]
pub struct PackInput {
    pub pack: PackRef,
    pub package_dir: PathBuf,
    pub entry: PathBuf,
    /// Its manifest's `[dependencies]`, recorded in the metadata of the version.
    pub dependencies: BTreeMap<ModuleName, semver::VersionReq>,
    /// What it is; a taskserv or a cluster says so (and its category) in the packed manifest.
    pub kind: crate::module::ModuleKind,
    pub category: Option<String>,
    /// The manifest read from the source's `Nickel-pkg.ncl`, when it has no `manifest.toml`:
    /// the pack's `manifest.toml` is written from it.
    pub described: Option<crate::module::PackageManifest>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Written {
    /// A new artifact.
    Created,
    /// An existing artifact with other bytes, replaced (`--force`).
    Replaced,
    /// The artifact already held exactly these bytes.
    Unchanged,
}

/// What signing did to a packed artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// No signature (no key, or new bytes packed without one).
    Unsigned,
    /// The signature beside it still holds.
    Kept,
    /// Signed now: new bytes, or bytes that were unsigned (the signature came later).
    Made,
    /// Another key's signature of these very bytes stays: `ours` did not replace it.
    KeptAnother { ours: KeyId },
}

/// A packed module, for reports.
#[derive(Debug, Clone, Serialize)]
pub struct Packed {
    pub module: crate::names::ModuleName,
    pub version: semver::Version,
    pub path: PathBuf,
    pub sha256: Sha256,
    pub content_hash: ContentHash,
    pub size: u64,
    pub written: Written,
    /// Whether the Nickel export came from the evaluation cache.
    pub cached_evaluation: bool,
    /// The key that signed it, if one did.
    pub signer: Option<KeyId>,
    /// What signing did.
    #[serde(skip)]
    pub signing: Signing,
    /// What could not be deleted once it was written, to report.
    #[serde(skip)]
    pub leftovers: Vec<String>,
}

/// Serialises the write phase of packs running on several threads of one process.
static WRITE_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Packs modules into one destination.
pub struct Packer<'a> {
    pub registry: &'a DirectoryRegistry,
    pub destination: &'a Destination,
    pub metadata: &'a Metadata,
    /// Evaluation results (exports, checks, doc tests, documentation) kept across runs.
    pub cache: Option<&'a ExportCache>,
    /// What earlier packs were made from, compared by `stat`: the unchanged path.
    pub fingerprints: Option<&'a Fingerprints>,
    /// Seconds since the epoch, for `created`.
    pub now: u64,
    pub force: bool,
    /// `--skip-tests`: pack without running the examples in the doc comments.
    pub skip_tests: bool,
    /// The key that signs every artifact written, when the user has one.
    pub signing: Option<&'a SigningKey>,
    /// The modules a dependency can name; their directory is on the evaluator's import path.
    pub imports: &'a ModuleImports,
    pub printer: &'a Printer,
    /// The digest of what every fingerprint key of this packer shares, made on first use.
    pub shared_key: std::sync::OnceLock<Sha256>,
}

/// A secret key and its public key.
pub type SigningKey = (minisign::SecretKey, minisign::PublicKey);

impl Packer<'_> {
    pub fn pack(&self, evaluator: &mut Evaluator, input: &PackInput) -> Result<Packed, PackError> {
        // Sources nobody touched since the last pack answer from its fingerprint; a closure
        // that does not resolve is the whole pack's to report.
        let closure =
            self.imports
                .closure(&input.pack.module, &input.pack.version, &input.dependencies);
        let key = closure
            .as_ref()
            .ok()
            .map(|closure| self.fingerprint_key(input, closure));
        if let Some(packed) = key.as_deref().and_then(|key| self.unchanged(key)) {
            return Ok(packed);
        }
        let started = std::time::SystemTime::now();
        let pack = &input.pack;
        let (mut files, mut checked, closure) = self.read_and_check(evaluator, input, closure)?;
        let read = std::mem::take(&mut checked.read);
        let nickel_pkg = self.nickel_pkg(evaluator, input, &files)?;
        files.retain(|file| file.path != nickel_pkg.path);
        files.push(nickel_pkg);
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let artifact = crate::artifact::build(pack, &files, checked.export.as_deref())?;
        let cached_evaluation = checked.cached;
        let docs = checked.docs.take();
        let file_name = ArtifactName::new(pack.clone());
        let provenance = self.prepare_provenance(input, &closure, &file_name, &artifact)?;

        // Threads of this process take turns here, so the lock below is only ever waited for
        // (and "Blocking" only ever said) because of another process.
        let _turn = WRITE_TURN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _lock = self.lock_destination()?;

        let path = self.destination.dir.join(file_name.to_string());
        let metadata = self.metadata_to_update(input)?;
        let recorded = metadata
            .as_ref()
            .and_then(|m| m.get(&pack.version))
            .cloned();
        // The artifact, its signature and the metadata change together: an error anywhere puts
        // all three back (a kill is covered by the write order, see `write_artifact`).
        let mut transaction = Transaction::new();
        let written = self.write_artifact(
            &artifact,
            &path,
            recorded.as_ref(),
            metadata.as_ref(),
            &mut transaction,
        )?;
        let (signature, signer, signing) = self.sign(
            &path,
            &file_name,
            &artifact,
            written,
            recorded.as_ref(),
            &mut transaction,
        )?;
        let provenance =
            self.write_provenance(provenance, &file_name, &artifact, written, &mut transaction)?;
        if let Some(metadata) = metadata {
            // A yanked version stays yanked, re-packed or replaced (`--force`): only
            // `pack yank --undo` brings it back.
            let recorded_yanked = recorded.as_ref().is_some_and(|entry| entry.yanked);
            let yank_reason = recorded
                .as_ref()
                .and_then(|entry| entry.yank_reason.clone());
            let created = recorded
                .filter(|entry| entry.sha256 == artifact.sha256)
                .map_or_else(|| crate::time::rfc3339(self.now), |entry| entry.created);
            let entry = VersionEntry {
                version: pack.version.clone(),
                package_file: file_name,
                sha256: artifact.sha256,
                content_hash: artifact.content_hash,
                size: artifact.bytes.len() as u64,
                created,
                signature,
                signer,
                dependencies: input.dependencies.clone(),
                yanked: recorded_yanked,
                yank_reason,
                library: checked.export.is_none(),
                tests: checked.tests,
                provenance: Some(provenance),
            };
            // A replaced version was forgotten on disk first: it is written back whatever
            // the metadata read before said.
            self.record(
                metadata,
                entry,
                written == Written::Replaced,
                &mut transaction,
            )?;
        }
        if let Some(docs) = docs {
            self.write_docs(pack, &docs, &mut transaction)?;
        }
        let leftovers = transaction.commit();
        let packed = Packed {
            leftovers,
            signer,
            signing,
            module: pack.module.clone(),
            version: pack.version.clone(),
            path,
            sha256: artifact.sha256,
            content_hash: artifact.content_hash,
            size: artifact.bytes.len() as u64,
            written,
            cached_evaluation,
        };
        if let Some(key) = key {
            self.record_fingerprint(key, started, input, &read, &packed);
        }
        Ok(packed)
    }

    /// The module's files, read and checked: hermetic, evaluating with its dependencies
    /// linked, its imports confined to itself and its declared dependencies (what that one
    /// needs included), its checks remembered; `closure` is the dependency closure as resolved
    /// once for the pack (an error in it is reported here, after the source's own), handed on.
    fn read_and_check(
        &self,
        evaluator: &mut Evaluator,
        input: &PackInput,
        closure: Result<Closure, crate::dependencies::DependencyError>,
    ) -> Result<(Vec<ArtifactFile>, check::Checked, Closure), PackError> {
        let pack = &input.pack;
        let stamp = source::Stamp {
            kind: input.kind,
            category: input.category.as_deref(),
        };
        let mut files = source::read(
            &input.package_dir,
            "manifest.toml",
            pack,
            &stamp,
            input.described.as_ref(),
        )?;
        self.check_hermetic(input, &files)?;
        let closure = closure?;
        self.imports.link(&closure)?;
        let mut checked = self.check(evaluator, input, &mut files)?;
        // Hidden files joined the pack: they must be hermetic too.
        self.check_hermetic(input, &files)?;
        // A pack carries only the module's own files: an import that leaves it other than into
        // a declared dependency (or what that one needs) is refused.
        let allowed: Vec<PathBuf> = closure
            .iter()
            .map(|(_, source)| source.dir.clone())
            .collect();
        crate::nickel::check_confined(&input.package_dir, &allowed, &checked.read).map_err(
            |escape| PackError::NotSelfContained {
                hint: escape_hint(self.imports, &escape),
                module: pack.module.clone(),
                escape,
            },
        )?;
        self.remember(&mut checked);
        Ok((files, checked, closure))
    }

    /// The module's metadata as the registry holds it (new when it has none), when the
    /// destination keeps metadata; `None` for a loose artifact.
    fn metadata_to_update(&self, input: &PackInput) -> Result<Option<ModuleMetadata>, PackError> {
        if !self.destination.index {
            return Ok(None);
        }
        Ok(Some(
            self.registry
                .read(&input.pack.module)?
                .unwrap_or_else(|| ModuleMetadata::new(input.pack.module.clone(), self.metadata))
                .with_kind(input.kind, input.category.as_deref()),
        ))
    }

    /// The module's documentation page data, in the same transaction as its artifact.
    fn write_docs(
        &self,
        pack: &PackRef,
        docs: &VersionDocs,
        transaction: &mut Transaction,
    ) -> Result<(), PackError> {
        let path = crate::registry::site::docs_path(self.registry, pack);
        transaction
            .create_dir_all(path.parent().unwrap_or(&self.registry.registry_path))
            .and_then(|()| transaction.write(&path, &docs.render()).map(|_| ()))
            .map_err(|source| PackError::Write { path, source })
    }

    /// The description and the documentation of a module being packed, for its page: from the
    /// documentation cache, else extracted by `evaluator` (under its bounds). A failure is
    /// recorded as the page's problem, never a reason not to pack: the module evaluated.
    fn document(
        &self,
        evaluator: &mut Evaluator,
        input: &PackInput,
        files: &[ArtifactFile],
        evaluations: &mut check::Evaluations,
    ) -> VersionDocs {
        let description = described(input, files);
        let extracted = self
            .evaluate(
                evaluator,
                &input.entry,
                crate::nickel::Format::Documentation,
                evaluations,
            )
            .map(|(export, _)| export);
        let parsed = extracted
            .map_err(|error| error.to_string())
            .and_then(|export| {
                serde_json::from_str::<Documentation>(&export.text)
                    .map_err(|error| error.to_string())
            });
        match parsed {
            Ok(documentation) => VersionDocs {
                description,
                documentation: Some(documentation),
                problem: None,
            },
            Err(problem) => VersionDocs {
                description,
                documentation: None,
                problem: Some(problem),
            },
        }
    }

    /// Refuses a module whose Nickel files import a module it does not declare.
    fn check_hermetic(&self, input: &PackInput, files: &[ArtifactFile]) -> Result<(), PackError> {
        let known: Vec<&ModuleName> = self.imports.names().collect();
        let sources = files
            .iter()
            .filter(|file| file.path.ends_with(".ncl"))
            .filter_map(|file| {
                let text = std::str::from_utf8(&file.contents).ok()?;
                Some((input.package_dir.join(&file.path), text))
            });
        let undeclared =
            undeclared_imports(sources, &input.pack.module, &input.dependencies, &known);
        match undeclared.into_iter().next() {
            None => Ok(()),
            Some(undeclared) => Err(PackError::Undeclared {
                hint: match input.described {
                    Some(_) => {
                        crate::module::declare_in_nickel_pkg_hint(undeclared.dependency.as_str())
                    }
                    None => declare_hint(
                        &undeclared.dependency,
                        self.imports.version(&undeclared.dependency),
                    ),
                },
                module: input.pack.module.clone(),
                undeclared,
            }),
        }
    }

    /// Takes the lock of the registry, or of the `--output` directory, and removes what killed
    /// runs left there.
    fn lock_destination(&self) -> Result<DirLock, PackError> {
        let dir = &self.destination.dir;
        let error = |source| PackError::Write {
            path: dir.clone(),
            source,
        };
        let lock = if self.destination.index {
            self.registry.lock(self.printer)
        } else {
            crate::fs::create_dir_all(dir).and_then(|()| DirLock::acquire(dir, self.printer))
        }
        .map_err(error)?;
        if self.destination.index {
            self.registry.remove_debris()
        } else {
            crate::fs::remove_debris(dir).map(|_| ())
        }
        .map_err(error)?;
        Ok(lock)
    }

    /// Writes the artifact at `path`, unless exactly these bytes are there. Other bytes, on disk
    /// or recorded in the metadata, are a conflict: refused unless `force`.
    ///
    /// Replacing (`--force`) keeps the three files of a version one recoverable unit through
    /// their write order: the metadata forgets the version first and the old signature goes;
    /// then the artifact, its signature and the metadata are written. A run killed anywhere
    /// leaves metadata that never names bytes with another hash: at worst an unindexed artifact
    /// (`pack list` says so), which the next `pack` records.
    fn write_artifact(
        &self,
        artifact: &Artifact,
        path: &std::path::Path,
        recorded: Option<&VersionEntry>,
        metadata: Option<&ModuleMetadata>,
        transaction: &mut Transaction,
    ) -> Result<Written, PackError> {
        let write_error = |source| PackError::Write {
            path: path.to_owned(),
            source,
        };
        let existing_sha256 = match crate::fs::read(path, crate::fs::FileKind::Artifact) {
            Ok(bytes) => Some(Sha256::of(&bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(write_error(source)),
        };
        let conflict = existing_sha256
            .iter()
            .chain(recorded.map(|entry| &entry.sha256))
            .find(|sha256| **sha256 != artifact.sha256)
            .copied();
        if let Some(existing) = conflict
            && !self.force
        {
            return Err(PackError::Exists {
                pack: artifact.pack.clone(),
                existing,
                new: artifact.sha256,
            });
        }
        let written = match (existing_sha256, conflict) {
            (_, Some(_)) => Written::Replaced,
            (Some(_), None) => Written::Unchanged,
            (None, None) => Written::Created,
        };
        if written == Written::Replaced {
            self.forget(artifact, path, metadata, transaction)?;
        }
        if written != Written::Unchanged {
            transaction
                .create_dir_all(&self.destination.dir)
                .map_err(|source| PackError::Write {
                    path: self.destination.dir.clone(),
                    source,
                })?;
            transaction
                .write(path, &artifact.bytes)
                .map_err(write_error)?;
        }
        Ok(written)
    }

    /// Before a version's bytes are replaced: the metadata stops naming it, then its signature
    /// (of the old bytes) goes.
    fn forget(
        &self,
        artifact: &Artifact,
        path: &std::path::Path,
        metadata: Option<&ModuleMetadata>,
        transaction: &mut Transaction,
    ) -> Result<(), PackError> {
        if let Some(metadata) = metadata
            && metadata.get(&artifact.pack.version).is_some()
        {
            let mut forgotten = metadata.clone();
            forgotten.remove(&artifact.pack.version);
            let metadata_path = self.registry.metadata_path(&forgotten.name);
            if forgotten.versions.is_empty() {
                transaction.remove_file(&metadata_path)
            } else {
                transaction.write(&metadata_path, &DirectoryRegistry::render(&forgotten))
            }
            .map_err(|source| PackError::Write {
                path: metadata_path,
                source,
            })?;
        }
        // Then the signature of the old bytes, which the metadata no longer names.
        let mut signature = path.as_os_str().to_owned();
        signature.push(".minisig");
        let signature = std::path::PathBuf::from(signature);
        transaction
            .remove_file(&signature)
            .map_err(|source| PackError::Write {
                path: signature.clone(),
                source,
            })?;
        Ok(())
    }

    /// Records a version in the module's metadata, when that changes it (or `always`).
    fn record(
        &self,
        mut metadata: ModuleMetadata,
        entry: VersionEntry,
        always: bool,
        transaction: &mut Transaction,
    ) -> Result<(), PackError> {
        let before = metadata.clone();
        metadata.upsert(entry, self.metadata);
        if always || metadata != before {
            let path = self.registry.metadata_path(&metadata.name);
            transaction
                .write(&path, &DirectoryRegistry::render(&metadata))
                .map_err(|source| PackError::Write { path, source })?;
        }
        Ok(())
    }
}
