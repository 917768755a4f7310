//! Signing a packed artifact: keeping a signature that still holds, or another key's of the
//! same bytes, else signing with the user's key.

use super::{PackError, Packer, Signing, Written};
use crate::artifact::{Artifact, ArtifactName};
use crate::fs::Transaction;
use crate::registry::VersionEntry;
use crate::signing::KeyId;

impl Packer<'_> {
    /// Signs the artifact at `path` when there is a key (keeping a signature beside it that our
    /// key already made for these bytes, or that another key made unless `--force`), and says
    /// what the metadata records (the signature file and the key id) and what it did.
    pub(super) fn sign(
        &self,
        path: &std::path::Path,
        file_name: &ArtifactName,
        artifact: &Artifact,
        written: Written,
        recorded: Option<&VersionEntry>,
        transaction: &mut Transaction,
    ) -> Result<(Option<String>, Option<KeyId>, Signing), PackError> {
        let signature_name = file_name.signature();
        let signature_path = self.destination.dir.join(&signature_name);
        let Some((secret, public)) = self.signing else {
            return self.without_key(&signature_path, artifact, written, recorded, transaction);
        };
        let own = [crate::signing::TrustedKey {
            key_id: crate::signing::key_id(public.keynum()),
            source: crate::signing::KeySource::Own,
            path: signature_path.clone(),
            key: public.clone(),
            scope: crate::signing::KeyScope::Every,
        }];
        let existing = crate::artifact::verify::SignatureFile::beside(path).map_err(|source| {
            PackError::Write {
                path: signature_path.clone(),
                source,
            }
        })?;
        // Someone else's signature of these very bytes stays, with its signer: a teammate
        // re-packing with their key does not take over a release (unless `--force`).
        if written == Written::Unchanged
            && !self.force
            && let Some(theirs) = existing
                .as_ref()
                .and_then(|signature| crate::signing::signature_key_id(&signature.text))
                .filter(|key_id| *key_id != own[0].key_id)
        {
            let ours = own[0].key_id;
            return Ok((
                Some(signature_name),
                Some(theirs),
                Signing::KeptAnother { ours },
            ));
        }
        let still_good = existing.is_some_and(|signature| {
            crate::signing::verify(
                &own,
                &signature.path,
                &signature.text,
                &artifact.bytes,
                &artifact.pack,
                &artifact.sha256,
            )
            .is_ok()
        });
        let signing = if still_good {
            Signing::Kept
        } else {
            Signing::Made
        };
        if !still_good {
            let text = crate::signing::sign(
                secret,
                public,
                &artifact.bytes,
                &artifact.pack,
                &artifact.sha256,
            )?;
            transaction
                .write(&signature_path, text.as_bytes())
                .map_err(|source| PackError::Write {
                    path: signature_path.clone(),
                    source,
                })?;
        }
        Ok((Some(signature_name), Some(own[0].key_id), signing))
    }

    /// Without a key: the signature recorded for these very bytes still holds; a signature of
    /// earlier bytes would not verify, so it must not stay beside new ones.
    fn without_key(
        &self,
        signature_path: &std::path::Path,
        artifact: &Artifact,
        written: Written,
        recorded: Option<&VersionEntry>,
        transaction: &mut Transaction,
    ) -> Result<(Option<String>, Option<KeyId>, Signing), PackError> {
        if written == Written::Unchanged {
            let recorded = recorded.filter(|entry| entry.sha256 == artifact.sha256);
            let signature = recorded.and_then(|e| e.signature.clone());
            let signing = if signature.is_some() {
                Signing::Kept
            } else {
                Signing::Unsigned
            };
            return Ok((signature, recorded.and_then(|e| e.signer), signing));
        }
        transaction
            .remove_file(signature_path)
            .map_err(|source| PackError::Write {
                path: signature_path.to_owned(),
                source,
            })?;
        Ok((None, None, Signing::Unsigned))
    }
}
