//! `<module>.json`: the guide's fields for the latest version (`name`, `version`,
//! `package_file`, `created`, `maintainer`, `repository`, `license`, `homepage`), and every
//! version with its artifact, hashes, size, creation time and signature file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::artifact::ArtifactName;
use crate::config::Metadata;
use crate::digest::{ContentHash, Sha256};
use crate::module::ModuleKind;
use crate::names::{ModuleName, PackRef};
use crate::signing::KeyId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleMetadata {
    pub name: ModuleName,
    /// The newest version, in semver order (absent only while no version is recorded).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "text::optional_version"
    )]
    pub version: Option<semver::Version>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_file: Option<ArtifactName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub maintainer: String,
    pub repository: String,
    pub license: String,
    pub homepage: String,
    /// `taskserv` or `cluster` (absent for providers and the core, whose names say it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ModuleKind>,
    /// A taskserv's category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Every version, oldest first (semver order).
    pub versions: Vec<VersionEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionEntry {
    #[serde(deserialize_with = "text::version")]
    pub version: semver::Version,
    /// The artifact, relative to the packages directory: exactly `<module>_<version>.tar`.
    pub package_file: ArtifactName,
    pub sha256: Sha256,
    /// The `h1:` hash of the files inside the artifact.
    pub content_hash: ContentHash,
    pub size: u64,
    pub created: String,
    /// The detached signature, relative to the packages directory, when the artifact is signed:
    /// exactly `<package_file>.minisig`.
    #[serde(default)]
    pub signature: Option<String>,
    /// The id of the key that made the signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<KeyId>,
    /// What this version requires (its manifest's `[dependencies]`), so that resolution never
    /// downloads a pack to learn what it needs.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "text::requirements"
    )]
    pub dependencies: BTreeMap<ModuleName, semver::VersionReq>,
    /// Withdrawn from resolution (`pack yank`): never chosen by a requirement, still installed
    /// where a lock pins it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub yanked: bool,
    /// Why it was yanked (`pack yank --reason`), e.g. an advisory id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yank_reason: Option<String>,
    /// Its value does not serialize (a library of contracts and functions): the artifact holds
    /// no `export.json`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub library: bool,
    /// The examples in its doc comments, as `pack` ran them; absent when it has none (or was
    /// packed by a release that did not run them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tests: Option<DocTests>,
    /// Its provenance (an in-toto statement in a DSSE envelope, see [`crate::provenance`]),
    /// relative to the packages directory: exactly `<module>_<version>.intoto.jsonl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<String>,
}

/// What `pack` did with a version's doc-comment examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocTests {
    /// Run, as `nickel test` runs them: `skipped` counts the `nickel ignore` blocks.
    Ran {
        passed: usize,
        failed: usize,
        skipped: usize,
    },
    /// `pack --skip-tests`: packed without running them.
    NotRun,
}

impl std::fmt::Display for DocTests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DocTests::Ran {
                passed,
                failed,
                skipped,
            } => write!(f, "{passed} passed, {failed} failed, {skipped} skipped"),
            DocTests::NotRun => f.write_str("not run (packed with --skip-tests)"),
        }
    }
}

/// `index.json` at the root of a registry directory: the modules it holds, which a static host
/// cannot list by itself. Written by every pack command (see [`crate::registry::site`]), read
/// by the HTTP registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryIndex {
    /// [`RegistryIndex::FORMAT`]; a reader refuses another.
    pub format: u32,
    /// Every module with metadata in `registry/`, sorted.
    pub modules: Vec<ModuleName>,
}

impl RegistryIndex {
    pub const FORMAT: u32 = 1;
    pub const FILE_NAME: &str = "index.json";

    /// Parses and checks `index.json`; the error says what is wrong, on one line.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let index: Self = serde_json::from_slice(bytes)
            .map_err(|error| crate::text::plain_words(&error.to_string()))?;
        if index.format != Self::FORMAT {
            return Err(format!(
                "its format is {}, this version of provisioning reads format {}",
                index.format,
                Self::FORMAT
            ));
        }
        Ok(index)
    }

    /// The file's contents: pretty JSON and a final newline.
    pub fn render(&self) -> Vec<u8> {
        // Serializing names and numbers cannot fail.
        let mut json = serde_json::to_vec_pretty(self).unwrap_or_default();
        json.push(b'\n');
        json
    }
}

/// Reads a module's metadata: an error says where (`line L, column C`), which field
/// (`versions[0].version`) and what it must be.
pub fn parse(text: &str) -> Result<ModuleMetadata, String> {
    parse_as(text)
}

/// Reads any JSON document of the registry, its errors worded as [`parse`] words them.
pub fn parse_as<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let field = error.path().to_string();
        let error = error.into_inner();
        // serde_json ends its messages with the position; every parse error here starts with it.
        let position = format!(" at line {} column {}", error.line(), error.column());
        let message = error.to_string();
        let message = crate::text::plain_words(message.strip_suffix(&position).unwrap_or(&message));
        let field = match field.as_str() {
            // The whole document, or where serde could not tell.
            "." | "?" => String::new(),
            field => format!("`{field}`: "),
        };
        format!(
            "line {}, column {}: {field}{message}",
            error.line(),
            error.column()
        )
    })
}

/// A version's dependencies as JSON (`{"provisioning_core": "^0.1"}`, an OCI annotation), with
/// errors as [`parse`] words them.
pub fn parse_dependencies(json: &str) -> Result<BTreeMap<ModuleName, semver::VersionReq>, String> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    text::requirements(&mut deserializer).map_err(|error| error.to_string())
}

/// Versions and requirements read as text, with errors that say what they must be: semver's
/// own say where its parser stopped ("unexpected character 'l' while parsing major version
/// number") or name its type ("expected semver version").
mod text {
    use std::collections::BTreeMap;

    use serde::de::Error as _;
    use serde::{Deserialize as _, Deserializer};

    use crate::names::ModuleName;

    pub fn version<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<semver::Version, D::Error> {
        parse(&String::deserialize(deserializer)?)
    }

    pub fn optional_version<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<semver::Version>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| parse(&text))
            .transpose()
    }

    pub fn requirements<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<ModuleName, semver::VersionReq>, D::Error> {
        BTreeMap::<ModuleName, String>::deserialize(deserializer)?
            .into_iter()
            .map(|(module, text)| match semver::VersionReq::parse(&text) {
                Ok(requirement) => Ok((module, requirement)),
                Err(_) => Err(D::Error::custom(format!(
                    "`{module}`: `{text}` is not {}",
                    crate::module::REQUIREMENT_FORMS
                ))),
            })
            .collect()
    }

    fn parse<E: serde::de::Error>(text: &str) -> Result<semver::Version, E> {
        crate::names::parse_version(text).map_err(|_| {
            E::custom(format!(
                "`{text}` is not a version (`MAJOR.MINOR.PATCH`, e.g. `1.2.3`)"
            ))
        })
    }
}

impl ModuleMetadata {
    /// Parses and checks (see [`Self::check`]) a `<module>.json`; the error says what is wrong,
    /// on one line.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "it is not UTF-8".to_owned())?;
        let metadata = parse(text)?;
        metadata.check()?;
        Ok(metadata)
    }

    pub fn new(name: ModuleName, metadata: &Metadata) -> Self {
        Self {
            name,
            version: None,
            package_file: None,
            created: None,
            maintainer: metadata.maintainer.clone(),
            repository: metadata.repository.clone(),
            license: metadata.license.clone(),
            homepage: metadata.homepage.clone(),
            kind: None,
            category: None,
            versions: Vec::new(),
        }
    }

    /// Records a taskserv's or a cluster's kind and category (providers' and the core's
    /// metadata stays as it was: their names say what they are).
    pub fn with_kind(mut self, kind: ModuleKind, category: Option<&str>) -> Self {
        if matches!(kind, ModuleKind::Taskserv | ModuleKind::Cluster) {
            self.kind = Some(kind);
            self.category = category.map(str::to_owned);
        }
        self
    }

    /// The record of `version`, or the error that lists the versions there are.
    pub fn require(&self, version: &semver::Version) -> Result<VersionEntry, super::RegistryError> {
        self.get(version)
            .cloned()
            .ok_or_else(|| super::RegistryError::UnknownVersion {
                module: self.name.clone(),
                version: version.clone(),
                available: self.versions.iter().map(|v| v.version.clone()).collect(),
            })
    }

    /// What kind of module it is: as recorded, else as its name says.
    pub fn module_kind(&self) -> ModuleKind {
        self.kind.unwrap_or_else(|| ModuleKind::of(&self.name))
    }

    /// Checks what serde cannot: every version is listed once, and names exactly its own files
    /// (`pack clean` deletes what metadata names, so a name must never reach another version's
    /// or another module's files).
    pub fn check(&self) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for entry in &self.versions {
            let pack = PackRef::new(self.name.clone(), entry.version.clone());
            if *entry.package_file.pack() != pack {
                return Err(format!(
                    "version `{}` of `{}` names the file `{}`, expected `{}`",
                    entry.version,
                    self.name,
                    entry.package_file,
                    ArtifactName::new(pack)
                ));
            }
            if let Some(signature) = &entry.signature
                && *signature != entry.package_file.signature()
            {
                return Err(format!(
                    "version `{}` of `{}` names the signature `{signature}`, expected `{}`",
                    entry.version,
                    self.name,
                    entry.package_file.signature()
                ));
            }
            if !seen.insert(&entry.version) {
                return Err(format!(
                    "version `{}` of `{}` is listed twice",
                    entry.version, self.name
                ));
            }
        }
        Ok(())
    }

    pub fn get(&self, version: &semver::Version) -> Option<&VersionEntry> {
        self.versions.iter().find(|entry| entry.version == *version)
    }

    /// Adds or replaces a version, and refreshes the latest-version fields.
    pub fn upsert(&mut self, entry: VersionEntry, metadata: &Metadata) {
        self.versions
            .retain(|existing| existing.version != entry.version);
        self.versions.push(entry);
        self.maintainer.clone_from(&metadata.maintainer);
        self.repository.clone_from(&metadata.repository);
        self.license.clone_from(&metadata.license);
        self.homepage.clone_from(&metadata.homepage);
        self.refresh();
    }

    /// Removes a version; says whether it was there.
    pub fn remove(&mut self, version: &semver::Version) -> bool {
        let before = self.versions.len();
        self.versions.retain(|entry| entry.version != *version);
        self.refresh();
        before != self.versions.len()
    }

    /// Sorts versions (semver order) and points the top-level fields at the newest.
    fn refresh(&mut self) {
        self.versions.sort_by(|a, b| a.version.cmp(&b.version));
        let latest = self.versions.last();
        self.version = latest.map(|entry| entry.version.clone());
        self.package_file = latest.map(|entry| entry.package_file.clone());
        self.created = latest.map(|entry| entry.created.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(version: &str) -> VersionEntry {
        let pack: PackRef = format!("m_prov@{version}").parse().expect("valid");
        VersionEntry {
            version: pack.version.clone(),
            package_file: ArtifactName::new(pack),
            sha256: Sha256::of(b""),
            content_hash: ContentHash::of_summary(""),
            size: 1,
            created: format!("created {version}"),
            signature: None,
            signer: None,
            dependencies: BTreeMap::new(),
            yanked: false,
            yank_reason: None,
            library: false,
            tests: None,
            provenance: None,
        }
    }

    #[test]
    fn latest_is_the_newest_in_semver_order() {
        let config = Metadata {
            maintainer: "m".into(),
            repository: "r".into(),
            license: "MIT".into(),
            homepage: "h".into(),
        };
        let mut metadata = ModuleMetadata::new("m_prov".parse().expect("valid"), &config);
        for version in ["0.10.0", "0.9.0", "0.10.1", "0.2.0"] {
            metadata.upsert(entry(version), &config);
        }
        let order: Vec<String> = metadata
            .versions
            .iter()
            .map(|e| e.version.to_string())
            .collect();
        assert_eq!(order, ["0.2.0", "0.9.0", "0.10.0", "0.10.1"]);
        assert_eq!(metadata.version, Some(semver::Version::new(0, 10, 1)));
        assert_eq!(
            metadata
                .package_file
                .as_ref()
                .map(|f| f.to_string())
                .as_deref(),
            Some("m_prov_0.10.1.tar")
        );
        assert!(metadata.remove(&semver::Version::new(0, 10, 1)));
        assert_eq!(metadata.version, Some(semver::Version::new(0, 10, 0)));
        assert!(!metadata.remove(&semver::Version::new(9, 9, 9)));
        assert_eq!(metadata.check(), Ok(()));
    }

    #[test]
    fn metadata_may_name_only_its_own_files() {
        let config = Metadata {
            maintainer: String::new(),
            repository: String::new(),
            license: String::new(),
            homepage: String::new(),
        };
        let mut metadata = ModuleMetadata::new("m_prov".parse().expect("valid"), &config);
        let mut other = entry("1.0.0");
        other.package_file = "n_prov_1.0.0.tar".parse().expect("valid name");
        metadata.upsert(other, &config);
        assert!(
            metadata
                .check()
                .expect_err("refused")
                .contains("expected `m_prov_1.0.0.tar`")
        );
        let mut metadata = ModuleMetadata::new("m_prov".parse().expect("valid"), &config);
        let mut signed = entry("1.0.0");
        signed.signature = Some("n_prov_1.0.0.tar.minisig".into());
        metadata.upsert(signed, &config);
        assert!(
            metadata
                .check()
                .expect_err("refused")
                .contains("expected `m_prov_1.0.0.tar.minisig`")
        );
    }
}
