//! The provenance step of packing: the signed statement of what the artifact was built from
//! ([`crate::provenance`]), written beside it in the same transaction.

use super::{Closure, PackError, PackInput, Packer, Written};
use crate::artifact::{Artifact, ArtifactName};
use crate::fs::Transaction;
use crate::provenance::{self, Dependency};

/// A pack's provenance, rendered and signed before the write turn (it reads the source's git
/// state and the dependencies' digests, which need no lock), written under it.
pub(super) struct Prepared {
    name: String,
    bytes: Vec<u8>,
}

impl Packer<'_> {
    /// The provenance of `artifact` (at `file_name` in the destination) built from `closure`,
    /// signed with the key that signs packs, when there is one.
    pub(super) fn prepare_provenance(
        &self,
        input: &PackInput,
        closure: &Closure,
        file_name: &ArtifactName,
        artifact: &Artifact,
    ) -> Result<Prepared, PackError> {
        let dependencies = closure
            .iter()
            .map(|(module, source)| {
                let version = source.manifest.version.clone();
                // A dependency the registry does not hold (or cannot read) is recorded
                // without a digest: its source was used, not a pack.
                let sha256 = self
                    .registry
                    .read(module)
                    .ok()
                    .flatten()
                    .and_then(|metadata| metadata.get(&version).map(|entry| entry.sha256));
                Dependency {
                    module: module.clone(),
                    version,
                    sha256,
                }
            })
            .collect();
        let statement = provenance::statement(&provenance::Build {
            artifact: file_name,
            sha256: &artifact.sha256,
            kind: input.kind,
            category: input.category.as_deref(),
            source: provenance::source::probe(&input.package_dir),
            dependencies,
        });
        let key = self.signing.map(|(secret, public)| (secret, public));
        Ok(Prepared {
            name: provenance::file_name(file_name),
            bytes: provenance::render(&statement, &input.pack, key)?,
        })
    }

    /// Writes the prepared provenance unless the bytes are unchanged and the provenance beside
    /// them is already about them; returns its file name, for the metadata.
    pub(super) fn write_provenance(
        &self,
        prepared: Prepared,
        file_name: &ArtifactName,
        artifact: &Artifact,
        written: Written,
        transaction: &mut Transaction,
    ) -> Result<String, PackError> {
        let path = self.destination.dir.join(&prepared.name);
        if written == Written::Unchanged && self.still_about(&path, file_name, artifact) {
            return Ok(prepared.name);
        }
        transaction
            .write(&path, &prepared.bytes)
            .map_err(|source| PackError::Write {
                path: path.clone(),
                source,
            })?;
        Ok(prepared.name)
    }

    /// Whether the provenance at `path` is an envelope about exactly these bytes.
    fn still_about(
        &self,
        path: &std::path::Path,
        file_name: &ArtifactName,
        artifact: &Artifact,
    ) -> bool {
        crate::fs::read(path, crate::fs::FileKind::Provenance)
            .ok()
            .and_then(|bytes| provenance::parse(path, &bytes).ok())
            // Signed by the key that signs now, if one does: an unsigned one gets signed.
            .filter(|envelope| {
                self.signing.is_none_or(|(_, public)| {
                    let ours = crate::signing::key_id(public.keynum()).to_string();
                    envelope.signatures.iter().any(|s| s.keyid == ours)
                })
            })
            .and_then(|envelope| provenance::read_statement(path, &envelope).ok())
            .is_some_and(|statement| {
                statement.subject_sha256(&file_name.to_string())
                    == Some(artifact.sha256.to_string().as_str())
            })
    }
}
