//! The provenance of a pack: `<module>_<version>.intoto.jsonl` beside the artifact, one DSSE
//! envelope ([`dsse`]) whose payload is an in-toto Statement v1 about the artifact with a SLSA
//! Provenance v1 predicate ([`statement`]): what was packed, from which source ([`source`]:
//! the git repository, commit and whether the tree was dirty, or the path), with which
//! dependencies (each pack's sha256), by which builder. It is signed with the pack's minisign
//! key, so one trusted key verifies both.
//!
//! This module builds, reads and verifies the file; it does not know where registries keep it
//! (`ops::pack` writes it, the registries carry it, `commands::pack::verify` checks it).
//! `docs/compliance.md` says what it proves and how to check it with standard tools.

pub mod dsse;
pub mod source;
pub mod statement;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use dsse::Envelope;
pub use statement::Statement;

use crate::artifact::ArtifactName;
use crate::digest::Sha256;
use crate::module::ModuleKind;
use crate::names::{ModuleName, PackRef};
use crate::signing::{KeyId, KeySource, TrustedKey};

/// The envelope's `payloadType`.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// What follows `<module>_<version>` in the file's name.
pub const FILE_SUFFIX: &str = ".intoto.jsonl";

/// The provenance file of an artifact: `<module>_<version>.intoto.jsonl`.
pub fn file_name(artifact: &ArtifactName) -> String {
    let pack = artifact.pack();
    format!("{}_{}{FILE_SUFFIX}", pack.module, pack.version)
}

#[derive(Debug, thiserror::Error)]
pub enum ProvenanceError {
    #[error("`{}` is not a provenance envelope: {message}", path.display())]
    Malformed { path: PathBuf, message: String },
    #[error("`{}` is not signed\nhint: a key signs the provenance when it packs: `provisioning keys generate`, then pack again", path.display())]
    Unsigned { path: PathBuf },
    #[error("`{}` is signed only by keys that are not trusted: {}\nhint: if you trust one, `provisioning keys trust <its .pub file>`", path.display(), key_ids.join(", "))]
    Untrusted { path: PathBuf, key_ids: Vec<String> },
    #[error("the signature of `{}` by key {key_id} does not match its statement: it was changed after signing", path.display())]
    BadSignature { path: PathBuf, key_id: KeyId },
    #[error("`{}` is about {found}, not about `{artifact}` with sha256 {sha256}", path.display())]
    WrongSubject {
        path: PathBuf,
        artifact: String,
        sha256: Sha256,
        found: String,
    },
    #[error("failed to sign the provenance of `{}` {}: {message}", pack.module, pack.version)]
    Sign { pack: PackRef, message: String },
}

/// A dependency of a packed module, as its provenance records it.
#[derive(Debug, Clone)]
pub struct Dependency {
    pub module: ModuleName,
    pub version: semver::Version,
    /// The sha256 of its pack, when the registry holds that version.
    pub sha256: Option<Sha256>,
}

/// What a provenance statement is made of.
#[derive(Debug, Clone)]
pub struct Build<'a> {
    pub artifact: &'a ArtifactName,
    pub sha256: &'a Sha256,
    pub kind: ModuleKind,
    pub category: Option<&'a str>,
    pub source: statement::Source,
    pub dependencies: Vec<Dependency>,
}

/// The statement about a built artifact. It holds no time: the same source and dependencies
/// give the same statement, as they give the same artifact.
pub fn statement(build: &Build<'_>) -> Statement {
    let pack = build.artifact.pack();
    let subject = statement::ResourceDescriptor {
        name: Some(build.artifact.to_string()),
        digest: BTreeMap::from([("sha256".to_owned(), build.sha256.to_string())]),
        ..Default::default()
    };
    let dependencies = build.dependencies.iter().map(|dependency| {
        let pack = PackRef::new(dependency.module.clone(), dependency.version.clone());
        statement::ResourceDescriptor {
            name: Some(ArtifactName::new(pack).to_string()),
            digest: dependency
                .sha256
                .iter()
                .map(|sha256| ("sha256".to_owned(), sha256.to_string()))
                .collect(),
            annotations: BTreeMap::from([
                ("module".to_owned(), dependency.module.to_string().into()),
                ("version".to_owned(), dependency.version.to_string().into()),
            ]),
            ..Default::default()
        }
    });
    Statement {
        statement_type: statement::STATEMENT_TYPE.to_owned(),
        subject: vec![subject],
        predicate_type: statement::PREDICATE_TYPE.to_owned(),
        predicate: statement::Provenance {
            build_definition: statement::BuildDefinition {
                build_type: statement::BUILD_TYPE.to_owned(),
                resolved_dependencies: std::iter::once(build.source.descriptor())
                    .chain(dependencies)
                    .collect(),
                external_parameters: statement::ExternalParameters {
                    module: pack.module.to_string(),
                    version: pack.version.to_string(),
                    kind: build.kind.as_str().to_owned(),
                    category: build.category.map(str::to_owned),
                    source: build.source.clone(),
                },
            },
            run_details: statement::RunDetails {
                builder: statement::Builder {
                    id: statement::BUILDER_ID.to_owned(),
                    version: BTreeMap::from([(
                        "provisioning".to_owned(),
                        env!("CARGO_PKG_VERSION").to_owned(),
                    )]),
                },
            },
        },
    }
}

/// The envelope of `statement`, signed with `key` (unsigned, with no signature, without one),
/// as the file's bytes: one JSON line.
pub fn render(
    statement: &Statement,
    pack: &PackRef,
    key: Option<(&minisign::SecretKey, &minisign::PublicKey)>,
) -> Result<Vec<u8>, ProvenanceError> {
    // Plain data with string keys always serializes.
    let payload = serde_json::to_vec(statement).unwrap_or_default();
    let envelope = match key {
        Some((secret, public)) => {
            dsse::sign(secret, public, PAYLOAD_TYPE, &payload).map_err(|message| {
                ProvenanceError::Sign {
                    pack: pack.clone(),
                    message,
                }
            })?
        }
        None => Envelope {
            payload: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &payload),
            payload_type: PAYLOAD_TYPE.to_owned(),
            signatures: Vec::new(),
        },
    };
    let mut line = serde_json::to_vec(&envelope).unwrap_or_default();
    line.push(b'\n');
    Ok(line)
}

/// A provenance file's envelope (its first line), read as hostile input.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Envelope, ProvenanceError> {
    let malformed = |message: String| ProvenanceError::Malformed {
        path: path.to_owned(),
        message,
    };
    let line = bytes
        .split(|byte| *byte == b'\n')
        .find(|line| !line.iter().all(u8::is_ascii_whitespace))
        .ok_or_else(|| malformed("it is empty".to_owned()))?;
    let envelope: Envelope = serde_json::from_slice(line)
        .map_err(|error| malformed(crate::text::plain_words(&error.to_string())))?;
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(malformed(format!(
            "its `payloadType` is `{}`, not `{PAYLOAD_TYPE}`",
            envelope.payload_type
        )));
    }
    Ok(envelope)
}

/// The statement an envelope carries, without checking its signature.
pub fn read_statement(path: &Path, envelope: &Envelope) -> Result<Statement, ProvenanceError> {
    let malformed = |message: String| ProvenanceError::Malformed {
        path: path.to_owned(),
        message,
    };
    let payload = envelope
        .payload_bytes()
        .map_err(|_| malformed("its `payload` is not base64".to_owned()))?;
    let statement: Statement = serde_json::from_slice(&payload).map_err(|error| {
        malformed(format!(
            "its payload is not an in-toto statement: {}",
            crate::text::plain_words(&error.to_string())
        ))
    })?;
    if statement.statement_type != statement::STATEMENT_TYPE
        || statement.predicate_type != statement::PREDICATE_TYPE
    {
        return Err(malformed(format!(
            "its statement is a `{}` of `{}`, not SLSA provenance v1",
            statement.statement_type, statement.predicate_type
        )));
    }
    Ok(statement)
}

/// A provenance whose signature and subject hold.
#[derive(Debug, Clone)]
pub struct Verified {
    pub key_id: KeyId,
    pub key_source: KeySource,
    pub statement: Statement,
}

/// Verifies the envelope of `path` against the trusted keys, and that its statement is about
/// `artifact` with `sha256`.
pub fn verify(
    path: &Path,
    envelope: &Envelope,
    trusted: &[TrustedKey],
    artifact: &ArtifactName,
    sha256: &Sha256,
) -> Result<Verified, ProvenanceError> {
    let statement = read_statement(path, envelope)?;
    let key = envelope.verify(trusted).map_err(|problem| match problem {
        dsse::SignatureProblem::Unsigned => ProvenanceError::Unsigned {
            path: path.to_owned(),
        },
        dsse::SignatureProblem::Untrusted(key_ids) => ProvenanceError::Untrusted {
            path: path.to_owned(),
            key_ids,
        },
        dsse::SignatureProblem::Mismatch(key_id) => ProvenanceError::BadSignature {
            path: path.to_owned(),
            key_id,
        },
        dsse::SignatureProblem::Payload => ProvenanceError::Malformed {
            path: path.to_owned(),
            message: "its `payload` is not base64".to_owned(),
        },
    })?;
    let name = artifact.to_string();
    if statement.subject_sha256(&name) != Some(sha256.to_string().as_str()) {
        let found = statement
            .subject
            .iter()
            .map(|subject| {
                format!(
                    "`{}` with sha256 {}",
                    subject.name.as_deref().unwrap_or("?"),
                    subject.digest.get("sha256").map_or("?", String::as_str)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        return Err(ProvenanceError::WrongSubject {
            path: path.to_owned(),
            artifact: name,
            sha256: *sha256,
            found: if found.is_empty() {
                "no subject".to_owned()
            } else {
                found
            },
        });
    }
    Ok(Verified {
        key_id: key.key_id,
        key_source: key.source,
        statement,
    })
}
