//! Packing one module into the local registry: read its source, evaluate it (or take the cached
//! export), build the artifact, and write it with its registry metadata, under the registry's
//! lock. An evaluation failure, a refused source or a conflicting existing version writes
//! nothing.

use std::path::PathBuf;

use serde::Serialize;

use super::source::{self, SourceError};
use super::{ArchiveError, Destination, artifact_file_name};
use crate::config::Metadata;
use crate::lock::DirLock;
use crate::nickel::{Evaluator, ExportCache, NickelError, export_json_cached};
use crate::printer::Printer;
use crate::registry::{LocalRegistry, ModuleMetadata, RegistryError, VersionEntry};

/// What to pack.
#[derive(Debug, Clone)]
pub struct PackInput {
    pub module: String,
    pub version: semver::Version,
    pub package_dir: PathBuf,
    pub entry: PathBuf,
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

/// A packed module, for reports.
#[derive(Debug, Clone, Serialize)]
pub struct Packed {
    pub module: String,
    pub version: String,
    pub path: PathBuf,
    pub sha256: String,
    pub content_hash: String,
    pub size: u64,
    pub written: Written,
    /// Whether the Nickel export came from the evaluation cache.
    pub cached_evaluation: bool,
    /// The key that signed it, if one did.
    pub signer: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Nickel(#[from] NickelError),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(
        "`{module}` {version} is already packed with other contents (sha256 {existing}, now {new})\nhint: packed versions are immutable: bump the version, or pass `--force` to replace it"
    )]
    Exists {
        module: String,
        version: String,
        existing: String,
        new: String,
    },
    #[error(transparent)]
    Signing(#[from] crate::signing::SigningError),
    #[error("failed to write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Serialises the write phase of packs running on several threads of one process.
static WRITE_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Packs modules into one destination.
pub struct Packer<'a> {
    pub registry: &'a LocalRegistry,
    pub destination: &'a Destination,
    pub metadata: &'a Metadata,
    pub cache: Option<&'a ExportCache>,
    /// Seconds since the epoch, for `created`.
    pub now: u64,
    pub force: bool,
    /// The key that signs every artifact written, when the user has one.
    pub signing: Option<&'a SigningKey>,
    pub printer: &'a Printer,
}

/// A secret key and its public key.
pub type SigningKey = (minisign::SecretKey, minisign::PublicKey);

impl Packer<'_> {
    pub fn pack(&self, evaluator: &mut Evaluator, input: &PackInput) -> Result<Packed, PackError> {
        let files = source::read(
            &input.package_dir,
            "manifest.toml",
            &input.module,
            &input.version,
        )?;
        let (export, cached_evaluation) =
            export_json_cached(evaluator, self.cache, &input.entry, &[])?;
        let artifact = super::build(&input.module, &input.version, &files, &export)?;

        let write_error = |path: &std::path::Path| {
            let path = path.to_owned();
            move |source| PackError::Write { path, source }
        };
        // Threads of this process take turns here, so the lock below is only ever waited for
        // (and "Blocking" only ever said) because of another process.
        let _turn = WRITE_TURN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _lock = if self.destination.index {
            self.registry.lock(self.printer)
        } else {
            fs_err::create_dir_all(&self.destination.dir)
                .and_then(|()| DirLock::acquire(&self.destination.dir, self.printer))
        }
        .map_err(write_error(&self.destination.dir))?;

        let file_name = artifact_file_name(&input.module, &input.version);
        let path = self.destination.dir.join(&file_name);
        let mut metadata = if self.destination.index {
            Some(
                self.registry
                    .read(&input.module)?
                    .unwrap_or_else(|| ModuleMetadata::new(&input.module, self.metadata)),
            )
        } else {
            None
        };
        let recorded = metadata
            .as_ref()
            .and_then(|m| m.get(&input.version))
            .cloned();
        let existing_sha256 = match std::fs::read(&path) {
            Ok(bytes) => Some(super::sha256_hex(&bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(PackError::Write { path, source }),
        };
        let conflict = existing_sha256
            .iter()
            .chain(recorded.as_ref().map(|entry| &entry.sha256))
            .find(|sha256| **sha256 != artifact.sha256)
            .cloned();
        if let Some(existing) = &conflict
            && !self.force
        {
            return Err(PackError::Exists {
                module: input.module.clone(),
                version: input.version.to_string(),
                existing: existing.clone(),
                new: artifact.sha256.clone(),
            });
        }
        let written = match (&existing_sha256, &conflict) {
            (_, Some(_)) => Written::Replaced,
            (Some(_), None) => Written::Unchanged,
            (None, None) => Written::Created,
        };
        if written != Written::Unchanged {
            fs_err::create_dir_all(&self.destination.dir)
                .map_err(write_error(&self.destination.dir))?;
            crate::fs::atomic_write(&path, &artifact.bytes).map_err(write_error(&path))?;
        }
        let (signature, signer) =
            self.sign(&path, &file_name, &artifact, written, recorded.as_ref())?;
        let signer_for_report = signer.clone();
        if let Some(metadata) = &mut metadata {
            let created = recorded
                .filter(|entry| entry.sha256 == artifact.sha256)
                .map_or_else(|| crate::time::rfc3339(self.now), |entry| entry.created);
            let entry = VersionEntry {
                version: input.version.to_string(),
                package_file: file_name,
                sha256: artifact.sha256.clone(),
                content_hash: artifact.content_hash.clone(),
                size: artifact.bytes.len() as u64,
                created,
                signature,
                signer,
            };
            let before = metadata.clone();
            metadata.upsert(entry, self.metadata);
            if *metadata != before {
                self.registry
                    .write(metadata)
                    .map_err(write_error(&self.registry.metadata_path(&input.module)))?;
            }
        }
        Ok(Packed {
            signer: signer_for_report,
            module: input.module.clone(),
            version: input.version.to_string(),
            path,
            sha256: artifact.sha256,
            content_hash: artifact.content_hash,
            size: artifact.bytes.len() as u64,
            written,
            cached_evaluation,
        })
    }
}

impl Packer<'_> {
    /// Signs the artifact at `path` when there is a key (keeping a signature beside it that our
    /// key already made for these bytes), and says what the metadata records: the signature file
    /// and the key id.
    fn sign(
        &self,
        path: &std::path::Path,
        file_name: &str,
        artifact: &super::Artifact,
        written: Written,
        recorded: Option<&VersionEntry>,
    ) -> Result<(Option<String>, Option<String>), PackError> {
        let signature_name = format!("{file_name}.minisig");
        let signature_path = self.destination.dir.join(&signature_name);
        let version = artifact.version.to_string();
        let Some((secret, public)) = self.signing else {
            if written == Written::Unchanged {
                // Still the bytes it was: what was recorded about its signature still holds.
                let recorded = recorded.filter(|entry| entry.sha256 == artifact.sha256);
                return Ok((
                    recorded.and_then(|e| e.signature.clone()),
                    recorded.and_then(|e| e.signer.clone()),
                ));
            }
            // A signature of earlier bytes would not verify: it must not stay beside new ones.
            match std::fs::remove_file(&signature_path) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    return Err(PackError::Write {
                        path: signature_path,
                        source: error,
                    });
                }
                _ => {}
            }
            return Ok((None, None));
        };
        let own = [crate::signing::TrustedKey {
            key_id: crate::signing::key_id(public.keynum()),
            source: crate::signing::KeySource::Own,
            path: signature_path.clone(),
            key: public.clone(),
        }];
        let existing =
            super::verify::SignatureFile::beside(path).map_err(|source| PackError::Write {
                path: signature_path.clone(),
                source,
            })?;
        let still_good = existing.is_some_and(|signature| {
            crate::signing::verify(
                &own,
                &signature.path,
                &signature.text,
                &artifact.bytes,
                &artifact.module,
                &version,
                &artifact.sha256,
            )
            .is_ok()
        });
        if !still_good {
            let text = crate::signing::sign(
                secret,
                public,
                &artifact.bytes,
                &artifact.module,
                &version,
                &artifact.sha256,
            )?;
            crate::fs::atomic_write(&signature_path, text.as_bytes()).map_err(|source| {
                PackError::Write {
                    path: signature_path.clone(),
                    source,
                }
            })?;
        }
        Ok((Some(signature_name), Some(own[0].key_id.clone())))
    }
}
