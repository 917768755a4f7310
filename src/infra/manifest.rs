//! The infra's `manifest.toml` (or `kcl.mod`): a read model ([`InfraManifest`], serde) for
//! commands that only look, and an edit model ([`InfraManifestMut`], `toml_edit`) for commands
//! that change it, so the user's comments, order and formatting survive every edit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml_edit::{DocumentMut, InlineTable, Item, Table, Value};

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("failed to read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not valid TOML: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("`{}`: `{key}` must be a table", path.display())]
    NotATable { path: PathBuf, key: String },
}

/// A dependency as the read model sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Dependency {
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
}

/// The parts of an infra manifest the tool reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct InfraManifest {
    #[serde(default)]
    pub dependencies: BTreeMap<String, DependencyValue>,
}

/// A dependency may be written as a table or as a bare version string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DependencyValue {
    Detailed(Dependency),
    Version(String),
}

impl<'de> Deserialize<'de> for DependencyValue {
    /// Says what a dependency may be when it is neither (serde's untagged enums only say that no
    /// variant matched).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = DependencyValue;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a version string or a table such as `{ path = \"./vendor/aws_prov\", version = \"1.0.0\" }`",
                )
            }

            fn visit_str<E: serde::de::Error>(self, version: &str) -> Result<Self::Value, E> {
                Ok(DependencyValue::Version(version.to_owned()))
            }

            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                map: M,
            ) -> Result<Self::Value, M::Error> {
                Dependency::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(DependencyValue::Detailed)
            }
        }

        deserializer.deserialize_any(Visitor)
    }
}

impl DependencyValue {
    pub fn path(&self) -> Option<&str> {
        match self {
            DependencyValue::Detailed(dependency) => dependency.path.as_deref(),
            DependencyValue::Version(_) => None,
        }
    }

    pub fn version(&self) -> Option<&str> {
        match self {
            DependencyValue::Detailed(dependency) => dependency.version.as_deref(),
            DependencyValue::Version(version) => Some(version),
        }
    }
}

impl InfraManifest {
    /// Reads the manifest; a missing file reads as an empty manifest.
    pub fn read(path: &Path) -> Result<Self, ManifestError> {
        let Some(text) = read_optional(path)? else {
            return Ok(Self::default());
        };
        toml::from_str(&text).map_err(|error| ManifestError::Parse {
            path: path.to_owned(),
            message: crate::text::located(&text, error.message(), error.span()),
        })
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, ManifestError> {
    match crate::fs::read_to_string(path, crate::fs::FileKind::InfraManifest) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ManifestError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// An infra manifest opened for editing.
#[derive(Debug, Clone)]
pub struct InfraManifestMut {
    path: PathBuf,
    doc: DocumentMut,
}

impl InfraManifestMut {
    /// Opens the manifest at `path`; a missing one starts as `[package]` with the infra's name.
    pub fn open(path: &Path, infra_name: &str) -> Result<Self, ManifestError> {
        let doc = match read_optional(path)? {
            Some(text) => text
                .parse::<DocumentMut>()
                .map_err(|error| ManifestError::Parse {
                    path: path.to_owned(),
                    message: crate::text::located(&text, error.message(), error.span()),
                })?,
            None => {
                let mut doc = DocumentMut::new();
                let mut package = Table::new();
                package.insert("name", toml_edit::value(infra_name));
                package.insert("version", toml_edit::value("0.1.0"));
                doc.insert("package", Item::Table(package));
                doc
            }
        };
        // Check the shape now, so an edit never fails half-way.
        if doc
            .get("dependencies")
            .is_some_and(|item| !item.is_table_like())
        {
            return Err(ManifestError::NotATable {
                path: path.to_owned(),
                key: "dependencies".into(),
            });
        }
        Ok(Self {
            path: path.to_owned(),
            doc,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn dependencies(&mut self) -> &mut dyn toml_edit::TableLike {
        if self.doc.get("dependencies").is_none() {
            self.doc.insert("dependencies", Item::Table(Table::new()));
        }
        self.doc["dependencies"]
            .as_table_like_mut()
            .expect("`dependencies` was checked to be a table when the manifest was opened")
    }

    /// The `path` of a dependency, if it has one.
    pub fn dependency_path(&self, module: &str) -> Option<String> {
        let dependency = self.doc.get("dependencies")?.as_table_like()?.get(module)?;
        dependency
            .as_table_like()?
            .get("path")?
            .as_str()
            .map(str::to_owned)
    }

    /// `module`'s dependency on one line as it is written (`module = "^1.0"`,
    /// `module = { git = "…" }`), when there is one; a `[dependencies.module]` table is shown
    /// inline.
    pub fn dependency_line(&self, module: &str) -> Option<String> {
        let dependency = self.doc.get("dependencies")?.as_table_like()?.get(module)?;
        let mut value = dependency.clone().into_value().ok()?;
        value.decor_mut().clear();
        if let Value::InlineTable(table) = &mut value {
            table.fmt();
        }
        Some(format!("{module} = {value}"))
    }

    /// A string of `[package]` (`name`, `version`), when it has one.
    pub fn package_field(&self, key: &str) -> Option<&str> {
        self.doc.get("package")?.as_table_like()?.get(key)?.as_str()
    }

    /// The modules `[dependencies]` lists, in its order.
    pub fn dependency_names(&self) -> Vec<String> {
        self.doc
            .get("dependencies")
            .and_then(Item::as_table_like)
            .map(|deps| deps.iter().map(|(name, _)| name.to_owned()).collect())
            .unwrap_or_default()
    }

    /// The version or requirement a dependency records (`module = "^1"` or `{ version = … }`).
    pub fn dependency_version(&self, module: &str) -> Option<String> {
        let dependency = self.doc.get("dependencies")?.as_table_like()?.get(module)?;
        match dependency.as_str() {
            Some(version) => Some(version.to_owned()),
            None => dependency
                .as_table_like()?
                .get("version")?
                .as_str()
                .map(str::to_owned),
        }
    }

    /// Makes `module` a path dependency: `module = { path = "…" }`. An entry that already says
    /// exactly that is left as written. Says whether it changed.
    pub fn set_path_dependency(&mut self, module: &str, path: &str) -> bool {
        self.set_dependency(module, &[("path", path)])
    }

    /// Makes `module` a pinned pack: `module = { path = "./vendor/module", version = "V" }`.
    /// Says whether it changed.
    pub fn set_pack_dependency(&mut self, module: &str, path: &str, version: &str) -> bool {
        self.set_dependency(module, &[("path", path), ("version", version)])
    }

    /// Sets `module = { key = "value", ... }`, unless it already says exactly that.
    fn set_dependency(&mut self, module: &str, fields: &[(&str, &str)]) -> bool {
        let is_same = self
            .doc
            .get("dependencies")
            .and_then(|deps| deps.as_table_like())
            .and_then(|deps| deps.get(module))
            .and_then(Item::as_table_like)
            .is_some_and(|dep| {
                dep.len() == fields.len()
                    && fields
                        .iter()
                        .all(|(key, value)| dep.get(key).and_then(Item::as_str) == Some(*value))
            });
        if is_same {
            return false;
        }
        let mut inline = InlineTable::new();
        for (key, value) in fields {
            inline.insert(*key, Value::from(*value));
        }
        self.put_dependency(module, inline);
        true
    }

    fn put_dependency(&mut self, module: &str, inline: InlineTable) {
        let dependencies = self.dependencies();
        match dependencies.get_mut(module) {
            // Replacing the value keeps the key and the comments above it.
            Some(item) => *item = Item::Value(Value::InlineTable(inline)),
            None => {
                dependencies.insert(module, Item::Value(Value::InlineTable(inline)));
            }
        }
        // In a one-line `dependencies = { ... }`, the new entry would inherit the spacing of the
        // old last one (`} , new`); normalise that one line.
        if let Some(inline) = self
            .doc
            .get_mut("dependencies")
            .and_then(Item::as_inline_table_mut)
        {
            inline.fmt();
        }
    }

    /// Removes `module` from `[dependencies]`; says whether it was there.
    /// Removes `module`'s dependency; says whether there was one. A `[dependencies]` table
    /// left empty goes too, unless it carries a comment: the manifest is as it was before the
    /// first install.
    pub fn remove_dependency(&mut self, module: &str) -> bool {
        let Some(deps) = self
            .doc
            .get_mut("dependencies")
            .and_then(Item::as_table_like_mut)
        else {
            return false;
        };
        if deps.remove(module).is_none() {
            return false;
        }
        let bare = deps.is_empty()
            && self
                .doc
                .get("dependencies")
                .and_then(Item::as_table)
                .is_some_and(|table| {
                    let prefix = table.decor().prefix().and_then(|p| p.as_str());
                    prefix.is_none_or(|p| !p.contains('#'))
                });
        if bare {
            self.doc.remove("dependencies");
        }
        true
    }

    pub fn render(&self) -> String {
        self.doc.to_string()
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // test fixtures are written directly
mod tests {
    use super::*;

    fn edit(input: &str, change: impl FnOnce(&mut InfraManifestMut)) -> String {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("manifest.toml");
        std::fs::write(&path, input).expect("write");
        let mut manifest = InfraManifestMut::open(&path, "wuji").expect("opens");
        change(&mut manifest);
        manifest.render()
    }

    #[test]
    fn adding_a_dependency_keeps_comments_and_order() {
        let input = "# my infra\n[package]\nname = \"wuji\" # the name\nversion = \"0.1.0\"\n\n[dependencies]\n# pinned\naws_prov = { path = \"./vendor/aws_prov\", version = \"1.0.0\" }\n\n[extra]\nkeep = true\n";
        let output = edit(input, |m| {
            assert!(m.set_path_dependency("upcloud_prov", "./.nickel-modules/upcloud_prov"));
        });
        assert_eq!(
            output,
            "# my infra\n[package]\nname = \"wuji\" # the name\nversion = \"0.1.0\"\n\n[dependencies]\n# pinned\naws_prov = { path = \"./vendor/aws_prov\", version = \"1.0.0\" }\nupcloud_prov = { path = \"./.nickel-modules/upcloud_prov\" }\n\n[extra]\nkeep = true\n"
        );
    }

    #[test]
    fn removing_a_dependency_keeps_the_rest() {
        let input = "[package]\nname = \"wuji\"\n\n[dependencies]\nupcloud_prov = { path = \"./.nickel-modules/upcloud_prov\" }\n# keep me\naws_prov = { path = \"./.nickel-modules/aws_prov\" }\n";
        let output = edit(input, |m| assert!(m.remove_dependency("upcloud_prov")));
        assert_eq!(
            output,
            "[package]\nname = \"wuji\"\n\n[dependencies]\n# keep me\naws_prov = { path = \"./.nickel-modules/aws_prov\" }\n"
        );
    }

    #[test]
    fn a_missing_manifest_starts_with_a_package() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut manifest =
            InfraManifestMut::open(&dir.path().join("manifest.toml"), "wuji").expect("opens");
        manifest.set_path_dependency("local_prov", "./.nickel-modules/local_prov");
        assert_eq!(
            manifest.render(),
            "[package]\nname = \"wuji\"\nversion = \"0.1.0\"\n\n[dependencies]\nlocal_prov = { path = \"./.nickel-modules/local_prov\" }\n"
        );
    }

    #[test]
    fn a_dependency_that_is_neither_a_version_nor_a_table_says_what_it_may_be() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("manifest.toml");
        std::fs::write(&path, "[dependencies]\naws_prov = 3\n").expect("write");
        let error = InfraManifest::read(&path).expect_err("refused").to_string();
        assert!(
            error.contains("line 2")
                && error.contains("expected a version string or a table")
                && error.contains("found integer `3`"),
            "{error}"
        );
    }

    #[test]
    fn a_non_table_dependencies_key_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("manifest.toml");
        std::fs::write(&path, "dependencies = 3\n").expect("write");
        let error = InfraManifestMut::open(&path, "wuji").expect_err("refused");
        assert!(
            error
                .to_string()
                .ends_with("`dependencies` must be a table"),
            "{error}"
        );
    }
}
