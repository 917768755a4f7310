//! `pack verify --provenance`: the provenance beside a pack, its DSSE signature checked against
//! the trusted keys (the keys that verify `.minisig` signatures) and its subject against the
//! artifact's name and sha256.

use std::path::PathBuf;

use serde::Serialize;

use crate::artifact::ArtifactName;
use crate::artifact::verify::{Check, Status};
use crate::digest::Sha256;
use crate::names::PackRef;
use crate::provenance::{self, Statement, Verified};
use crate::signing::TrustedKey;

/// A provenance file as found: how messages name it, and its bytes.
pub(super) struct Found {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// What `--provenance` reports.
#[derive(Debug, Serialize)]
pub(super) struct ProvenanceSummary {
    pub signer: String,
    pub source: String,
    pub builder: String,
    pub statement: Statement,
}

impl ProvenanceSummary {
    pub fn of(verified: &Verified) -> Self {
        Self {
            signer: verified.key_id.to_string(),
            source: verified.statement.source(),
            builder: verified.statement.builder(),
            statement: verified.statement.clone(),
        }
    }
}

/// The check of `found` (the provenance of `pack`, whose artifact has `sha256`).
pub(super) fn check(
    pack: &PackRef,
    sha256: &Sha256,
    found: Option<&Found>,
    keys: &[TrustedKey],
) -> (Check, Option<Verified>) {
    let artifact = ArtifactName::new(pack.clone());
    let outcome = match found {
        None => Err(format!(
            "`{}` {} has no provenance (`{}`)\nhint: packing writes it beside the artifact: pack the version again to add it",
            pack.module,
            pack.version,
            provenance::file_name(&artifact)
        )),
        Some(found) => provenance::parse(&found.path, &found.bytes)
            .and_then(|envelope| {
                provenance::verify(&found.path, &envelope, keys, &artifact, sha256)
            })
            .map_err(|error| error.to_string()),
    };
    match outcome {
        Ok(verified) => (
            Check {
                check: "provenance",
                status: Status::Ok,
                detail: format!(
                    "signed by key {} ({}); source {}; builder {}",
                    verified.key_id,
                    verified.key_source,
                    verified.statement.source(),
                    verified.statement.builder()
                ),
            },
            Some(verified),
        ),
        Err(detail) => (
            Check {
                check: "provenance",
                status: Status::Failed,
                detail,
            },
            None,
        ),
    }
}

/// The statement of `found`, unverified: where a rebuild finds the source.
pub(super) fn statement(found: &Found) -> anyhow::Result<Statement> {
    let envelope = provenance::parse(&found.path, &found.bytes)?;
    Ok(provenance::read_statement(&found.path, &envelope)?)
}
