//! Discovery of modules under the extensions directory: providers
//! (`providers/<name>/`), taskservs (`taskservs/<category>/<name>/`) and clusters
//! (`clusters/<name>/`). A module keeps its Nickel package in `nickel/` (with a
//! `manifest.toml`) or, in the legacy layout, its KCL package in `kcl/` (with a `kcl.mod`).
//!
//! A directory that looks like a module but whose package cannot be read is listed with the
//! reason, never skipped. This module only reads; installing is [`crate::infra`]'s job.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::names::{self, ProviderName};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModuleKind {
    Providers,
    Taskservs,
    Clusters,
}

impl ModuleKind {
    pub fn dir_name(self) -> &'static str {
        match self {
            ModuleKind::Providers => "providers",
            ModuleKind::Taskservs => "taskservs",
            ModuleKind::Clusters => "clusters",
        }
    }
}

/// Which package of a module is used: Nickel (the default) or the legacy KCL one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    #[default]
    Nickel,
    Kcl,
}

impl Layout {
    pub fn from_kcl_flag(kcl: bool) -> Self {
        if kcl { Layout::Kcl } else { Layout::Nickel }
    }

    /// The package directory inside a module: `nickel` or `kcl`.
    pub fn package_dir(self) -> &'static str {
        match self {
            Layout::Nickel => "nickel",
            Layout::Kcl => "kcl",
        }
    }

    /// The manifest inside a package, and the infra's own manifest: `manifest.toml` or
    /// `kcl.mod`.
    pub fn manifest_file(self) -> &'static str {
        match self {
            Layout::Nickel => "manifest.toml",
            Layout::Kcl => "kcl.mod",
        }
    }

    pub fn default_entry(self) -> &'static str {
        match self {
            Layout::Nickel => "main.ncl",
            Layout::Kcl => "main.k",
        }
    }

    pub fn is_default(&self) -> bool {
        *self == Layout::Nickel
    }
}

/// The `[package]` table of a module's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageManifest {
    pub name: String,
    pub version: semver::Version,
    pub description: String,
    /// The entry point, relative to the package directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
}

/// The `[package]` table as written, before its version is parsed.
#[derive(Debug, Deserialize)]
struct RawPackage {
    name: String,
    version: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    entry: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ManifestFile {
    package: RawPackage,
}

/// A readable package: its manifest and where its files are.
#[derive(Debug, Clone, Serialize)]
pub struct Package {
    pub dir: PathBuf,
    pub manifest_path: PathBuf,
    pub manifest: PackageManifest,
    /// The entry point, absolute.
    pub entry: PathBuf,
}

/// The state of a module's package in the layout asked for.
#[derive(Debug, Clone)]
pub enum PackageState {
    /// The module has no package directory for this layout.
    Missing,
    /// The package directory exists but cannot be used; the reason says why.
    Broken(String),
    Ready(Package),
}

/// One discovered module.
#[derive(Debug, Clone)]
pub struct Module {
    pub kind: ModuleKind,
    pub name: String,
    /// A taskserv's category (`taskservs/<category>/<name>`).
    pub category: Option<String>,
    pub dir: PathBuf,
    pub has_nickel: bool,
    pub has_kcl: bool,
    /// The layout `package` was read in.
    pub layout: Layout,
    pub package: PackageState,
}

impl Module {
    /// Why the package directory exists but cannot be used, if so.
    pub fn broken(&self) -> Option<&str> {
        match &self.package {
            PackageState::Broken(reason) => Some(reason),
            _ => None,
        }
    }

    /// Why the package cannot be used, if it cannot.
    pub fn problem(&self) -> Option<String> {
        match &self.package {
            PackageState::Ready(_) => None,
            PackageState::Missing => Some(format!("no `{}/` package", self.layout.package_dir())),
            PackageState::Broken(reason) => Some(reason.clone()),
        }
    }

    pub fn package(&self) -> Option<&Package> {
        match &self.package {
            PackageState::Ready(package) => Some(package),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("unknown provider `{name}`\nhint: {}", known_list("providers", known))]
    UnknownProvider { name: String, known: Vec<String> },
    #[error("failed to read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn known_list(what: &str, known: &[String]) -> String {
    if known.is_empty() {
        format!("no {what} found")
    } else {
        let names: Vec<String> = known.iter().map(|name| format!("`{name}`")).collect();
        format!("found {what}: {}", names.join(", "))
    }
}

/// Lists the modules of one kind under `extensions`, sorted by name.
pub fn discover(
    extensions: &Path,
    kind: ModuleKind,
    layout: Layout,
) -> Result<Vec<Module>, CatalogError> {
    let root = extensions.join(kind.dir_name());
    let mut modules = Vec::new();
    match kind {
        ModuleKind::Providers | ModuleKind::Clusters => {
            for (name, dir) in subdirs(&root)? {
                modules.push(read_module(kind, name, None, dir, layout));
            }
        }
        ModuleKind::Taskservs => {
            for (category, category_dir) in subdirs(&root)? {
                for (name, dir) in subdirs(&category_dir)? {
                    modules.push(read_module(kind, name, Some(category.clone()), dir, layout));
                }
            }
        }
    }
    modules.sort_by(|a, b| (&a.name, &a.category).cmp(&(&b.name, &b.category)));
    Ok(modules)
}

/// Finds one provider, or says which exist.
pub fn find_provider(
    extensions: &Path,
    name: &ProviderName,
    layout: Layout,
) -> Result<Module, CatalogError> {
    let dir = extensions.join("providers").join(name.as_str());
    if dir.is_dir() {
        return Ok(read_module(
            ModuleKind::Providers,
            name.to_string(),
            None,
            dir,
            layout,
        ));
    }
    let known = discover(extensions, ModuleKind::Providers, layout)?
        .into_iter()
        .map(|module| module.name)
        .collect();
    Err(CatalogError::UnknownProvider {
        name: name.to_string(),
        known,
    })
}

/// The visible subdirectories of `dir`, sorted; none when `dir` does not exist.
fn subdirs(dir: &Path) -> Result<Vec<(String, PathBuf)>, CatalogError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(CatalogError::Read {
                path: dir.to_owned(),
                source,
            });
        }
    };
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| CatalogError::Read {
            path: dir.to_owned(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if !name.starts_with('.') && path.is_dir() {
            dirs.push((name, path));
        }
    }
    dirs.sort();
    Ok(dirs)
}

fn read_module(
    kind: ModuleKind,
    name: String,
    category: Option<String>,
    dir: PathBuf,
    layout: Layout,
) -> Module {
    let has_nickel = dir.join(Layout::Nickel.package_dir()).is_dir();
    let has_kcl = dir.join(Layout::Kcl.package_dir()).is_dir();
    let package = if let Err(error) = names::validate(&name) {
        PackageState::Broken(error.to_string())
    } else {
        read_package(kind, &name, &dir.join(layout.package_dir()), layout)
    };
    Module {
        kind,
        name,
        category,
        dir,
        has_nickel,
        has_kcl,
        layout,
        package,
    }
}

fn read_package(kind: ModuleKind, name: &str, dir: &Path, layout: Layout) -> PackageState {
    if !dir.is_dir() {
        return PackageState::Missing;
    }
    let manifest_path = dir.join(layout.manifest_file());
    let manifest = match read_package_manifest(&manifest_path) {
        Ok(manifest) => manifest,
        Err(reason) => return PackageState::Broken(reason),
    };
    if kind == ModuleKind::Providers {
        let expected = format!("{name}{}", names::MODULE_SUFFIX);
        if manifest.name != expected {
            return PackageState::Broken(format!(
                "`{}` names the package `{}`, expected `{expected}`",
                manifest_path.display(),
                manifest.name
            ));
        }
    }
    let entry_name = manifest
        .entry
        .clone()
        .unwrap_or_else(|| layout.default_entry().to_owned());
    let entry_relative = Path::new(&entry_name);
    if entry_relative.is_absolute()
        || entry_relative
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return PackageState::Broken(format!(
            "`{}`: the entry point `{entry_name}` must be a path inside the package",
            manifest_path.display()
        ));
    }
    let entry = dir.join(entry_relative);
    if !entry.is_file() {
        return PackageState::Broken(format!(
            "the entry point `{}` does not exist",
            entry.display()
        ));
    }
    PackageState::Ready(Package {
        dir: dir.to_owned(),
        manifest_path,
        manifest,
        entry,
    })
}

/// Reads the `[package]` table of a module manifest; the error is a full sentence naming the
/// file (and the line, for malformed TOML).
pub fn read_package_manifest(path: &Path) -> Result<PackageManifest, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!("no manifest: `{}` does not exist", path.display()));
        }
        Err(error) => return Err(format!("failed to read `{}`: {error}", path.display())),
    };
    let file: ManifestFile = toml::from_str(&text).map_err(|error| {
        format!(
            "`{}` is not a valid manifest: {}",
            path.display(),
            crate::text::located(&text, error.message(), error.span())
        )
    })?;
    let raw = file.package;
    let version = semver::Version::parse(&raw.version).map_err(|error| {
        format!(
            "`{}`: `{}` is not a semantic version: {error}",
            path.display(),
            raw.version
        )
    })?;
    Ok(PackageManifest {
        name: raw.name,
        version,
        description: raw.description,
        entry: raw.entry,
    })
}
