//! The in-toto Statement v1 a provenance envelope carries, with its SLSA Provenance v1
//! predicate: the fields `pack` writes and `pack verify --provenance | --rebuild` reads.
//! Unknown fields are kept out of the types, not refused: other tools may add to a statement.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// `predicateType` of SLSA Provenance v1.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// `buildDefinition.buildType`: packing a module with this tool, as `docs/compliance.md`
/// describes it (what the parameters mean, what is reproducible).
pub const BUILD_TYPE: &str = "https://provisioning.dev/build-types/pack/v1";
/// `runDetails.builder.id`.
pub const BUILDER_ID: &str = "https://provisioning.dev/builder/provisioning";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub statement_type: String,
    pub subject: Vec<ResourceDescriptor>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: Provenance,
}

/// An in-toto ResourceDescriptor: what is named, where, and its digests.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ResourceDescriptor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    pub build_definition: BuildDefinition,
    pub run_details: RunDetails,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildDefinition {
    pub build_type: String,
    pub external_parameters: ExternalParameters,
    /// The source first (named `source`), then each module of the dependency closure.
    #[serde(default)]
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

/// What was asked for: the module, its version and kind, and where its source was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalParameters {
    pub module: String,
    pub version: String,
    /// `provider`, `taskserv`, `cluster` or `core`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    pub source: Source,
}

/// The module's source directory, and its git state when it is in a repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The module's directory as packed, absolute.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitSource>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitSource {
    /// The `origin` remote's URL, else the repository's root directory.
    pub repository: String,
    /// The commit `HEAD` named, 40 hex digits.
    pub commit: String,
    /// The module's directory relative to the repository's root (`.` at the root).
    pub directory: String,
    /// Whether the module's directory had changes not in the commit (untracked files too).
    pub dirty: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunDetails {
    pub builder: Builder,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Builder {
    pub id: String,
    #[serde(default)]
    pub version: BTreeMap<String, String>,
}

impl Source {
    /// The source as a resolved dependency: a git URI pinned at the commit, else a file URI.
    pub fn descriptor(&self) -> ResourceDescriptor {
        let mut descriptor = ResourceDescriptor {
            name: Some("source".to_owned()),
            ..ResourceDescriptor::default()
        };
        match &self.git {
            Some(git) => {
                descriptor.uri = Some(format!("git+{}@{}", git.repository, git.commit));
                descriptor
                    .digest
                    .insert("gitCommit".to_owned(), git.commit.clone());
                descriptor
                    .annotations
                    .insert("directory".to_owned(), git.directory.clone().into());
                descriptor
                    .annotations
                    .insert("dirty".to_owned(), git.dirty.into());
            }
            None => descriptor.uri = Some(format!("file://{}", self.path)),
        }
        descriptor
    }
}

impl Statement {
    /// The sha256 the statement records for the subject named `name`.
    pub fn subject_sha256(&self, name: &str) -> Option<&str> {
        self.subject
            .iter()
            .find(|subject| subject.name.as_deref() == Some(name))
            .and_then(|subject| subject.digest.get("sha256"))
            .map(String::as_str)
    }

    /// The builder as one line: `provisioning 0.1.0`.
    pub fn builder(&self) -> String {
        let builder = &self.predicate.run_details.builder;
        let versions: Vec<String> = builder
            .version
            .iter()
            .map(|(name, version)| format!("{name} {version}"))
            .collect();
        if versions.is_empty() {
            builder.id.clone()
        } else {
            versions.join(", ")
        }
    }

    /// The source as one line: `git+URL@COMMIT (directory d, dirty)` or the path.
    pub fn source(&self) -> String {
        let source = &self.predicate.build_definition.external_parameters.source;
        match &source.git {
            Some(git) => format!(
                "{}@{} (directory `{}`{})",
                git.repository,
                git.commit,
                git.directory,
                if git.dirty { ", dirty" } else { "" }
            ),
            None => format!("`{}` (not in git)", source.path),
        }
    }
}
