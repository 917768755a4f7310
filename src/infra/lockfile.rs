//! `providers.manifest.yaml`, the infra's lock: one entry per installed module (each provider,
//! and the modules they depend on, such as the core schemas), saying how it is installed, from
//! where, and which modules require it. It is kept in git, and `sync` rebuilds the infra from it
//! alone. The file is owned by the tool and rewritten whole (atomically) on each change.
//!
//! Entries are kept in one list, `providers`, sorted by name; an entry that is not a provider
//! says so with `kind: core`. A module installed only because others need it has
//! `direct: false`, and `required_by` names who needs it (`remove` drops it with the last).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::{ContentHash, Sha256};
use crate::module::Layout;
use crate::module::ModuleKind;
use crate::names::{ModuleName, ShortName};
use crate::signing::KeyId;

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

/// One installed module, as the lock records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawEntry", into = "RawEntry")]
pub struct LockEntry {
    /// How commands name it: the provider (`upcloud`), or the module name for other modules.
    pub name: ShortName,
    /// Its module: `upcloud_prov`.
    pub module: ModuleName,
    pub kind: ModuleKind,
    pub version: semver::Version,
    pub layout: Layout,
    pub installed: Installed,
    /// The installed modules that depend on it.
    pub required_by: BTreeSet<ModuleName>,
    /// Whether it was installed by name (`false`: only because others require it).
    pub direct: bool,
}

/// How an entry is installed, with what only that mode records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    /// A link to the provider's package directory, relative to the base (`/`-separated).
    Link {
        source: String,
    },
    Pack(PackPin),
}

/// What the lock pins of a vendored pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackPin {
    /// The registry it came from, as a label (`distribution/registry`, `oci://host/ns`).
    pub source: String,
    pub sha256: Sha256,
    /// The `h1:` hash of its files, which `validate` checks `vendor/` against.
    pub content_hash: ContentHash,
    pub signer: Signer,
}

/// Who signed a pinned pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    Key(KeyId),
    /// Installed with `--allow-unsigned`.
    Unsigned,
}

/// How the lock writes [`Signer::Unsigned`].
const UNSIGNED: &str = "unsigned";

impl std::fmt::Display for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signer::Key(key_id) => write!(f, "{key_id}"),
            Signer::Unsigned => f.write_str(UNSIGNED),
        }
    }
}

impl std::str::FromStr for Signer {
    type Err = crate::signing::KeyIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == UNSIGNED {
            Ok(Signer::Unsigned)
        } else {
            text.parse().map(Signer::Key)
        }
    }
}

crate::digest::serde_as_text!(Signer);

impl LockEntry {
    pub fn mode(&self) -> Mode {
        match self.installed {
            Installed::Link { .. } => Mode::Link,
            Installed::Pack(_) => Mode::Pack,
        }
    }

    /// For a link: the provider's package directory, relative to the base. For a pack: the
    /// registry it came from.
    pub fn source(&self) -> &str {
        match &self.installed {
            Installed::Link { source } => source,
            Installed::Pack(pin) => &pin.source,
        }
    }

    pub fn pin(&self) -> Option<&PackPin> {
        match &self.installed {
            Installed::Pack(pin) => Some(pin),
            Installed::Link { .. } => None,
        }
    }
}

fn is_true(value: &bool) -> bool {
    *value
}

fn yes() -> bool {
    true
}

/// The file format of one entry: flat, in the order the lock has always been written.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    name: ShortName,
    module: ModuleName,
    #[serde(default, skip_serializing_if = "ModuleKind::is_default")]
    kind: ModuleKind,
    mode: Mode,
    version: String,
    source: String,
    #[serde(default, skip_serializing_if = "Layout::is_default")]
    layout: Layout,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<Sha256>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_hash: Option<ContentHash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signer: Option<Signer>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    required_by: BTreeSet<ModuleName>,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    direct: bool,
}

impl TryFrom<RawEntry> for LockEntry {
    type Error = String;

    fn try_from(raw: RawEntry) -> Result<Self, String> {
        let expected = match raw.kind {
            ModuleKind::Provider => raw.name.provider_module(),
            ModuleKind::Core | ModuleKind::Taskserv | ModuleKind::Cluster => {
                ModuleName::from(&raw.name)
            }
        };
        if raw.module != expected {
            return Err(format!(
                "{} `{}` has module `{}`, expected `{expected}`",
                match raw.kind {
                    ModuleKind::Core => "module",
                    other => other.as_str(),
                },
                raw.name,
                raw.module
            ));
        }
        if raw.required_by.contains(&raw.module) {
            return Err(format!("`{}` is required by itself", raw.module));
        }
        if !raw.direct && raw.required_by.is_empty() {
            return Err(format!(
                "`{}` is installed only as a dependency, but nothing requires it",
                raw.module
            ));
        }
        let version = semver::Version::parse(&raw.version).map_err(|error| {
            format!(
                "`{}` has version `{}`, not a semantic version: {error}",
                raw.module, raw.version
            )
        })?;
        let installed = match (raw.mode, raw.sha256, raw.content_hash, raw.signer) {
            (Mode::Link, None, None, None) => Installed::Link { source: raw.source },
            (Mode::Link, ..) => {
                return Err(format!(
                    "link `{}` has a pack's `sha256`, `content_hash` or `signer`",
                    raw.module
                ));
            }
            (Mode::Pack, Some(sha256), Some(content_hash), Some(signer)) => {
                Installed::Pack(PackPin {
                    source: raw.source,
                    sha256,
                    content_hash,
                    signer,
                })
            }
            (Mode::Pack, ..) => {
                return Err(format!(
                    "pack `{}` lacks its `sha256`, `content_hash` or `signer`",
                    raw.module
                ));
            }
        };
        Ok(Self {
            name: raw.name,
            module: raw.module,
            kind: raw.kind,
            version,
            layout: raw.layout,
            installed,
            required_by: raw.required_by,
            direct: raw.direct,
        })
    }
}

impl From<LockEntry> for RawEntry {
    fn from(entry: LockEntry) -> Self {
        let mode = entry.mode();
        let (source, sha256, content_hash, signer) = match entry.installed {
            Installed::Link { source } => (source, None, None, None),
            Installed::Pack(pin) => (
                pin.source,
                Some(pin.sha256),
                Some(pin.content_hash),
                Some(pin.signer),
            ),
        };
        Self {
            name: entry.name,
            module: entry.module,
            kind: entry.kind,
            mode,
            version: entry.version.to_string(),
            source,
            layout: entry.layout,
            sha256,
            content_hash,
            signer,
            required_by: entry.required_by,
            direct: entry.direct,
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
    /// Each pinned pack's module and the source it came from: where the commands that restore or
    /// move it look for it ([`crate::registry::Registries::chain_recorded`]).
    pub fn pack_sources(&self) -> impl Iterator<Item = (&str, &ModuleName)> {
        self.providers
            .iter()
            .filter_map(|entry| Some((entry.pin()?.source.as_str(), &entry.module)))
    }

    /// Reads the lock; a missing file reads as an empty lock.
    pub fn read(path: &Path) -> Result<Self, LockError> {
        let text = match crate::fs::read_to_string(path, crate::fs::FileKind::Lock) {
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
        Self::parse(&text, path)
    }

    /// Reads the lock from its text; `path` is the file it is named by in errors. An empty text
    /// is an empty lock.
    pub fn parse(text: &str, path: &Path) -> Result<Self, LockError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let lock: Self = serde_yaml_ng::from_str(text).map_err(|error| LockError::Parse {
            path: path.to_owned(),
            message: crate::text::plain_words(&error.to_string()),
        })?;
        if lock.format_version != FORMAT_VERSION {
            return Err(LockError::UnsupportedVersion {
                path: path.to_owned(),
                found: lock.format_version,
            });
        }
        let mut seen = std::collections::BTreeSet::new();
        for entry in &lock.providers {
            if !seen.insert(&entry.name) {
                return Err(LockError::Invalid {
                    path: path.to_owned(),
                    message: format!("provider `{}` is listed twice", entry.name),
                });
            }
        }
        for entry in &lock.providers {
            if let Some(unknown) = entry
                .required_by
                .iter()
                .find(|module| lock.module(module).is_none())
            {
                return Err(LockError::Invalid {
                    path: path.to_owned(),
                    message: format!(
                        "`{}` is required by `{unknown}`, which the lock does not list",
                        entry.module
                    ),
                });
            }
        }
        Ok(lock)
    }

    pub fn get(&self, name: &ShortName) -> Option<&LockEntry> {
        self.providers.iter().find(|entry| entry.name == *name)
    }

    /// The entry of a module, by module name.
    pub fn module(&self, module: &ModuleName) -> Option<&LockEntry> {
        self.providers.iter().find(|entry| entry.module == *module)
    }

    /// Adds or replaces the entry for `entry.name`, keeping entries sorted by name.
    /// The entry that holds the name `module` would be locked under, when it is another module
    /// or another kind (a provider `kubernetes` and a taskserv `kubernetes` are both named
    /// `kubernetes`): the two cannot be in one infra.
    pub fn clash(&self, module: &ModuleName, kind: ModuleKind) -> Option<&LockEntry> {
        let name = module.short_name();
        self.providers
            .iter()
            .find(|entry| entry.name == name && (entry.module != *module || entry.kind != kind))
    }

    pub fn upsert(&mut self, entry: LockEntry) {
        self.providers
            .retain(|existing| existing.name != entry.name);
        self.providers.push(entry);
        self.providers.sort_by(|a, b| a.name.cmp(&b.name));
    }

    pub fn remove(&mut self, name: &ShortName) -> Option<LockEntry> {
        let index = self
            .providers
            .iter()
            .position(|entry| entry.name == *name)?;
        Some(self.providers.remove(index))
    }

    pub fn render(&self) -> String {
        // Serializing plain strings and enums cannot fail.
        let body = serde_yaml_ng::to_string(self).unwrap_or_default();
        format!("{HEADER}{body}")
    }

    /// The lock's text with `entries` as its list (one `- name: …` item per
    /// entry, as [`render_entry`] writes them): how `lock merge` writes a lock holding conflict
    /// markers, which no [`ProvidersLock`] can.
    pub fn render_with(entries: &str) -> String {
        format!("{HEADER}format_version: {FORMAT_VERSION}\nproviders:\n{entries}")
    }
}

/// One entry as an item of the lock's `providers` list (`- name: aws\n  module: …`).
pub fn render_entry(entry: &LockEntry) -> String {
    // Serializing plain strings and enums cannot fail.
    serde_yaml_ng::to_string(std::slice::from_ref(entry)).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // test fixtures are written directly
mod tests {
    use super::*;

    fn entry(name: &str) -> LockEntry {
        let name: ShortName = name.parse().expect("valid name");
        LockEntry {
            module: name.provider_module(),
            kind: ModuleKind::Provider,
            installed: Installed::Link {
                source: format!("extensions/providers/{name}/nickel"),
            },
            name,
            version: semver::Version::new(0, 0, 1),
            layout: Layout::Nickel,
            required_by: BTreeSet::new(),
            direct: true,
        }
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
                "format_version: 1\nproviders:\n- {name: up, module: up_prov, mode: link, version: 1.0.0, source: x}\n- {name: up, module: up_prov, mode: link, version: 1.0.0, source: x}\n",
                "listed twice",
            ),
            (
                "format_version: 1\nproviders:\n- {name: up, module: up_prov, mode: pack, version: 1.0.0, source: x, sha256: '00', content_hash: 'h1:x', signer: unsigned}\n",
                "is not a sha256",
            ),
            (
                "format_version: 1\nproviders:\n- {name: up, module: up_prov, mode: pack, version: 1.0.0, source: x}\n",
                "lacks its `sha256`",
            ),
            (
                "format_version: 1\nproviders:\n- {name: up, module: up_prov, mode: link, version: 1.0.0, source: x, required_by: [ghost_prov], direct: false}\n",
                "required by `ghost_prov`, which the lock does not list",
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
