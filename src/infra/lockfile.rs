//! `providers.manifest.yaml`, the infra's lock: one entry per installed provider, saying how it
//! is installed and from where. It is kept in git, and `sync` rebuilds the infra from it alone.
//! The file is owned by the tool and rewritten whole (atomically) on each change.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::catalog::Layout;
use crate::names;

pub const LOCK_FILE_NAME: &str = "providers.manifest.yaml";

/// The format this version of the tool reads and writes.
pub const FORMAT_VERSION: u32 = 1;

const HEADER: &str = "# Written by `provisioning`; keep it in git.\n# `provisioning providers sync <infra>` rebuilds the infra's modules from this file.\n";

/// How a provider is installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A relative symlink to the provider's live source.
    Link,
    /// A verified pack, unpacked into `vendor/<module>/`.
    Pack,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Link => "link",
            Mode::Pack => "pack",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockEntry {
    /// The provider: `upcloud`.
    pub name: String,
    /// Its module: `upcloud_prov`.
    pub module: String,
    pub mode: Mode,
    pub version: String,
    /// For a link: the provider's package directory, relative to the base. For a pack: the
    /// registry it came from.
    pub source: String,
    #[serde(default, skip_serializing_if = "Layout::is_default")]
    pub layout: Layout,
    /// For a pack: the artifact's hex SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// For a pack: the `h1:` hash of its files, which `validate` checks `vendor/` against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// For a pack: the id of the key that signed it, or `unsigned` when installed with
    /// `--allow-unsigned`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
}

/// What `signer` records for a pack installed with `--allow-unsigned`.
pub const UNSIGNED: &str = "unsigned";

impl LockEntry {
    /// The entry of a linked provider.
    pub fn link(name: &str, module: &str, version: &str, source: String, layout: Layout) -> Self {
        Self {
            name: name.to_owned(),
            module: module.to_owned(),
            mode: Mode::Link,
            version: version.to_owned(),
            source,
            layout,
            sha256: None,
            content_hash: None,
            signer: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvidersLock {
    pub format_version: u32,
    #[serde(default)]
    pub providers: Vec<LockEntry>,
}

impl Default for ProvidersLock {
    fn default() -> Self {
        Self {
            format_version: FORMAT_VERSION,
            providers: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("failed to read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not a valid providers manifest: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("`{}` has format version {found}; this `provisioning` reads version {FORMAT_VERSION}\nhint: upgrade `provisioning`", path.display())]
    UnsupportedVersion { path: PathBuf, found: u32 },
    #[error("`{}`: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

impl ProvidersLock {
    /// Reads the lock; a missing file reads as an empty lock.
    pub fn read(path: &Path) -> Result<Self, LockError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self::default());
            }
            Err(source) => {
                return Err(LockError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let lock: Self = serde_yaml_ng::from_str(&text).map_err(|error| LockError::Parse {
            path: path.to_owned(),
            message: error.to_string(),
        })?;
        if lock.format_version != FORMAT_VERSION {
            return Err(LockError::UnsupportedVersion {
                path: path.to_owned(),
                found: lock.format_version,
            });
        }
        let invalid = |message: String| LockError::Invalid {
            path: path.to_owned(),
            message,
        };
        let mut seen = std::collections::BTreeSet::new();
        for entry in &lock.providers {
            names::validate(&entry.name).map_err(|error| invalid(error.to_string()))?;
            let expected = format!("{}{}", entry.name, names::MODULE_SUFFIX);
            if entry.module != expected {
                return Err(invalid(format!(
                    "provider `{}` has module `{}`, expected `{expected}`",
                    entry.name, entry.module
                )));
            }
            if !seen.insert(&entry.name) {
                return Err(invalid(format!(
                    "provider `{}` is listed twice",
                    entry.name
                )));
            }
            if entry.mode == Mode::Pack
                && (entry.sha256.is_none()
                    || entry.content_hash.is_none()
                    || entry.signer.is_none())
            {
                return Err(invalid(format!(
                    "pack `{}` lacks its `sha256`, `content_hash` or `signer`",
                    entry.module
                )));
            }
            if entry.mode == Mode::Pack && semver::Version::parse(&entry.version).is_err() {
                return Err(invalid(format!(
                    "pack `{}` has version `{}`, not a semantic version",
                    entry.module, entry.version
                )));
            }
        }
        Ok(lock)
    }

    pub fn get(&self, name: &str) -> Option<&LockEntry> {
        self.providers.iter().find(|entry| entry.name == name)
    }

    /// Adds or replaces the entry for `entry.name`, keeping entries sorted by name.
    pub fn upsert(&mut self, entry: LockEntry) {
        self.providers
            .retain(|existing| existing.name != entry.name);
        self.providers.push(entry);
        self.providers.sort_by(|a, b| a.name.cmp(&b.name));
    }

    pub fn remove(&mut self, name: &str) -> Option<LockEntry> {
        let index = self.providers.iter().position(|entry| entry.name == name)?;
        Some(self.providers.remove(index))
    }

    pub fn render(&self) -> String {
        // Serializing plain strings and enums cannot fail.
        let body = serde_yaml_ng::to_string(self).unwrap_or_default();
        format!("{HEADER}{body}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> LockEntry {
        let source = format!("extensions/providers/{name}/nickel");
        LockEntry::link(
            name,
            &format!("{name}_prov"),
            "0.0.1",
            source,
            Layout::Nickel,
        )
    }

    #[test]
    fn renders_and_reads_back() {
        let mut lock = ProvidersLock::default();
        lock.upsert(entry("upcloud"));
        lock.upsert(entry("aws"));
        let text = lock.render();
        assert_eq!(
            text,
            format!(
                "{HEADER}format_version: 1\nproviders:\n- name: aws\n  module: aws_prov\n  mode: link\n  version: 0.0.1\n  source: extensions/providers/aws/nickel\n- name: upcloud\n  module: upcloud_prov\n  mode: link\n  version: 0.0.1\n  source: extensions/providers/upcloud/nickel\n"
            )
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(LOCK_FILE_NAME);
        std::fs::write(&path, text).expect("write");
        assert_eq!(ProvidersLock::read(&path).expect("reads"), lock);
    }

    #[test]
    fn bad_locks_are_refused_with_the_reason() {
        let cases = [
            ("format_version: 2\n", "has format version 2"),
            ("format_version: 1\nproviders:\n  - name: [\n", "line"),
            (
                "format_version: 1\nproviders:\n- {name: up, module: up_prov, mode: copy, version: '1', source: x}\n",
                "unknown variant `copy`",
            ),
            (
                "format_version: 1\nproviders:\n- {name: ../x, module: ../x_prov, mode: link, version: '1', source: x}\n",
                "not a valid name",
            ),
            (
                "format_version: 1\nproviders:\n- {name: up, module: down_prov, mode: link, version: '1', source: x}\n",
                "expected `up_prov`",
            ),
            (
                "format_version: 1\nproviders:\n- {name: up, module: up_prov, mode: link, version: '1', source: x}\n- {name: up, module: up_prov, mode: link, version: '1', source: x}\n",
                "listed twice",
            ),
        ];
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(LOCK_FILE_NAME);
        for (text, expected) in cases {
            std::fs::write(&path, text).expect("write");
            let error = ProvidersLock::read(&path).expect_err(text).to_string();
            assert!(
                error.contains(expected),
                "{text:?}: {error:?} lacks {expected:?}"
            );
        }
    }
}
