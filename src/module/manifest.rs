//! A module's `manifest.toml`: `[package]` (name, version, description, entry; a pack's kind
//! and category), `[dependencies]` (Cargo's requirement syntax) and `[capabilities]`, parsed
//! once with errors that name the file and the line.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ModuleKind;
use crate::names::{self, ModuleName};

/// The `[package]` table of a module's manifest, and its `[dependencies]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageManifest {
    pub name: String,
    pub version: semver::Version,
    pub description: String,
    /// The entry point, relative to the package directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// The modules it imports by name, each with the versions it accepts (Cargo's requirement
    /// syntax: `"0.1"` means `^0.1`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub dependencies: BTreeMap<ModuleName, semver::VersionReq>,
    /// `[package] kind`: what a pack says it is (absent in sources and in providers' packs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<ModuleKind>,
    /// `[package] category`: a packed taskserv's category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// What it offers and needs beyond named dependencies (`[capabilities]`).
    #[serde(skip_serializing_if = "Capabilities::is_empty")]
    pub capabilities: Capabilities,
}

/// A module's `[capabilities]`: names of capabilities (`container-runtime`) or of modules.
/// `requires` is met by a loaded module that provides the capability or has that name;
/// `conflicts_with` is broken by one that does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provides: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts_with: Vec<String>,
}

impl PackageManifest {
    /// The text of a `manifest.toml` that says what this one does: `[package]` (name, version,
    /// description, entry) and `[dependencies]`. Written into the pack of a module described by
    /// `Nickel-pkg.ncl` alone.
    pub fn to_toml(&self) -> String {
        let mut doc = toml_edit::DocumentMut::new();
        let mut package = toml_edit::Table::new();
        package.insert("name", toml_edit::value(self.name.as_str()));
        package.insert("version", toml_edit::value(self.version.to_string()));
        if !self.description.is_empty() {
            package.insert("description", toml_edit::value(self.description.as_str()));
        }
        if let Some(entry) = &self.entry {
            package.insert("entry", toml_edit::value(entry.as_str()));
        }
        doc.insert("package", toml_edit::Item::Table(package));
        if !self.dependencies.is_empty() {
            let mut dependencies = toml_edit::Table::new();
            for (module, requirement) in &self.dependencies {
                dependencies.insert(module.as_str(), toml_edit::value(requirement.to_string()));
            }
            doc.insert("dependencies", toml_edit::Item::Table(dependencies));
        }
        doc.to_string()
    }
}

impl Capabilities {
    pub fn is_empty(&self) -> bool {
        self.provides.is_empty() && self.requires.is_empty() && self.conflicts_with.is_empty()
    }
}

/// The accepted forms of a version requirement, for hints.
pub const REQUIREMENT_FORMS: &str = "a version requirement in Cargo's syntax: `0.1` (meaning `^0.1`), `^1.2`, `~1.2.3`, `=1.2.3`, `>=1.0, <2.0` or `*`";

/// The `[package]` table as written, before its version is parsed. `name` and `version` are
/// required: their absence is reported in our words, at the table's line.
#[derive(Debug, Deserialize)]
struct RawPackage {
    name: Option<String>,
    version: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    entry: Option<String>,
    /// Written into a packed taskserv's or cluster's manifest, so the artifact says what it is.
    #[serde(default)]
    kind: Option<ModuleKind>,
    #[serde(default)]
    category: Option<String>,
    /// Any other key: ignored, unless it is a dependency written under `[package]` by mistake.
    #[serde(flatten)]
    other: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Deserialize)]
struct ManifestFile {
    package: Option<RawPackage>,
    #[serde(default)]
    dependencies: BTreeMap<String, toml::Value>,
    #[serde(default)]
    capabilities: Capabilities,
}

/// Reads the `[package]` table of a module manifest; the error is a full sentence naming the
/// file (and the line, for malformed TOML).
pub fn read_package_manifest(path: &Path) -> Result<PackageManifest, String> {
    let text = match crate::fs::read_to_string(path, crate::fs::FileKind::ModuleManifest) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!("no manifest: `{}` does not exist", path.display()));
        }
        Err(error) => return Err(format!("failed to read `{}`: {error}", path.display())),
    };
    parse_package_manifest(&text, path)
}

/// Parses a module manifest's text; `path` names it in errors.
pub fn parse_package_manifest(text: &str, path: &Path) -> Result<PackageManifest, String> {
    let file: ManifestFile = toml::from_str(text).map_err(|error| {
        format!(
            "`{}` is not a valid manifest: {}",
            path.display(),
            crate::text::located(text, error.message(), error.span())
        )
    })?;
    let Some(raw) = file.package else {
        return Err(format!(
            "`{}` has no `[package]` table\nhint: a module's manifest starts with `[package]`, its `name` and its `version`",
            path.display()
        ));
    };
    let (package_name, raw_version) = package_identity(&raw, text, path)?;
    let capabilities = file.capabilities;
    for name in capabilities
        .provides
        .iter()
        .chain(&capabilities.requires)
        .chain(&capabilities.conflicts_with)
    {
        names::validate(name)
            .map_err(|error| format!("`{}`: `[capabilities]`: {error}", path.display()))?;
    }
    let mut dependencies = BTreeMap::new();
    for (name, requirement) in file.dependencies {
        let module: ModuleName = name
            .parse()
            .map_err(|error| format!("`{}`: dependency `{name}`: {error}", path.display()))?;
        if module == *package_name.as_str() {
            return Err(format!(
                "`{}`: `{module}` depends on itself",
                path.display()
            ));
        }
        // `"^0.1"`, or Cargo's table form `{ version = "^0.1" }`. A `path = "..."` (a
        // development link to another module's source, as Cargo writes it) is accepted here and
        // refused by `pack`, which never puts a development link into a release.
        let table = requirement.as_table();
        let written = match (&requirement, table.and_then(|t| t.get("version"))) {
            (toml::Value::String(text), _) => text.clone(),
            (_, Some(toml::Value::String(text))) => text.clone(),
            (_, None) if table.is_some_and(|t| t.contains_key("path")) => continue,
            _ => {
                return Err(format!(
                    "`{}`: dependency `{module}` must be a version requirement (`{module} = \"^0.1\"`) or a table with one (`{module} = {{ version = \"^0.1\" }}`)",
                    path.display()
                ));
            }
        };
        let requirement = parse_requirement(&written).map_err(|error| {
            format!(
                "`{}`: dependency `{module} = \"{written}\"`: {error}",
                path.display()
            )
        })?;
        dependencies.insert(module, requirement);
    }
    let version = names::parse_version(&raw_version).map_err(|_| {
        format!(
            "`{}`: `version = \"{raw_version}\"` is not a version (`MAJOR.MINOR.PATCH`, e.g. `1.2.3`)",
            path.display(),
        )
    })?;
    Ok(PackageManifest {
        name: package_name,
        version,
        description: raw.description,
        entry: raw.entry,
        kind: raw.kind,
        category: raw.category,
        dependencies,
        capabilities,
    })
}

/// The `[package]` table's `name` and `version`, each missing one reported at the table's
/// line; and a dependency written under `[package]` (where it would mean nothing) refused.
fn package_identity(raw: &RawPackage, text: &str, path: &Path) -> Result<(String, String), String> {
    let table_line = line_of(text, |line| line.trim_start().starts_with("[package]"));
    for (key, value) in &raw.other {
        let requirement = match value {
            toml::Value::String(text) => Some(text.as_str()),
            toml::Value::Table(table) => table.get("version").and_then(toml::Value::as_str),
            _ => None,
        };
        // Keys of Cargo's `[package]` that hold a version-like text are not dependencies.
        const METADATA: [&str; 3] = ["edition", "rust-version", "license"];
        let looks_like_a_dependency = !METADATA.contains(&key.as_str())
            && key.parse::<ModuleName>().is_ok()
            && (requirement.is_some_and(|text| parse_requirement(text).is_ok())
                || value.as_table().is_some_and(|t| t.contains_key("path")));
        if looks_like_a_dependency {
            let line = line_of(text, |line| {
                line.trim_start()
                    .strip_prefix(key.as_str())
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            });
            return Err(format!(
                "`{}`: line {line}: the dependency `{key}` is written under `[package]`, where it means nothing\nhint: move it under `[dependencies]`",
                path.display()
            ));
        }
    }
    let missing = |key: &str, example: &str| {
        format!(
            "`{}`: line {table_line}: `[package]` has no `{key}`\nhint: add it under `[package]`: `{key} = {example}`",
            path.display()
        )
    };
    let name = raw
        .name
        .clone()
        .ok_or_else(|| missing("name", "\"<module>\""))?;
    let version = raw
        .version
        .clone()
        .ok_or_else(|| missing("version", "\"0.1.0\""))?;
    Ok((name, version))
}

/// The 1-based number of the first line of `text` that `matches`; 1 when none does.
fn line_of(text: &str, matches: impl Fn(&str) -> bool) -> usize {
    text.lines().position(matches).map_or(1, |index| index + 1)
}

/// Parses a version requirement, with an error that names the accepted forms rather than the
/// parser's message alone.
pub fn parse_requirement(text: &str) -> Result<semver::VersionReq, String> {
    // semver's own message says where its parser stopped, not what a requirement looks like.
    semver::VersionReq::parse(text.trim()).map_err(|_| {
        format!("`{text}` is not a version requirement\nhint: use {REQUIREMENT_FORMS}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_manifest_reads_back_as_the_same() {
        let manifest = PackageManifest {
            name: "edge_prov".into(),
            version: semver::Version::new(0, 2, 0),
            description: "Edge \"servers\"".into(),
            entry: None,
            dependencies: BTreeMap::from([(
                "provisioning_core".parse().expect("a module name"),
                semver::VersionReq::parse("^0.1.0").expect("a requirement"),
            )]),
            kind: None,
            category: None,
            capabilities: Capabilities::default(),
        };
        let text = manifest.to_toml();
        assert_eq!(
            text,
            "[package]\nname = \"edge_prov\"\nversion = \"0.2.0\"\ndescription = 'Edge \"servers\"'\n\n[dependencies]\nprovisioning_core = \"^0.1.0\"\n"
        );
        assert_eq!(
            parse_package_manifest(&text, Path::new("manifest.toml")),
            Ok(manifest)
        );
    }
}
