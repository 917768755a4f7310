//! Discovery of modules under the extensions directory: providers
//! (`providers/<name>/`), taskservs (`taskservs/<category>/<name>/`) and clusters
//! (`clusters/<name>/`). A module keeps its Nickel package in `nickel/` (with a
//! `manifest.toml`, or a `Nickel-pkg.ncl` alone, read by [`nickel_pkg`]) or, in the legacy
//! layout, its KCL package in `kcl/` (with a `kcl.mod`).
//!
//! The core schemas (`[nickel] core_module`, packaged as `core_package_name`) are a module
//! too: the one every provider may depend on. [`Catalog`] finds any module by its module name,
//! for dependencies.
//!
//! A directory that looks like a module but whose package cannot be read is listed with the
//! reason, never skipped. This module only reads; installing is [`crate::infra`]'s job.

mod error;
mod nickel_pkg;

pub use error::CatalogError;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::module::{Layout, ModuleKind, PackageManifest};

use crate::names::{self, ModuleName, ShortName};

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
    Ready(Box<Package>),
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

    /// The module name it is loaded and packed as: its package's, else (a module known only
    /// to a registry, with no source here) what its kind makes of its name.
    pub fn module_name(&self) -> Result<ModuleName, names::NameError> {
        if let Some(package) = self.package() {
            return package.manifest.name.parse();
        }
        let name: ShortName = self.name.parse()?;
        Ok(match self.kind {
            ModuleKind::Provider => name.provider_module(),
            _ => ModuleName::from(&name),
        })
    }

    pub fn package(&self) -> Option<&Package> {
        match &self.package {
            PackageState::Ready(package) => Some(package),
            _ => None,
        }
    }
}

/// Lists the modules of one kind under the catalog's extensions, sorted by name.
pub fn discover(
    catalog: &Catalog,
    kind: ModuleKind,
    layout: Layout,
) -> Result<Vec<Module>, CatalogError> {
    let root = catalog.extensions.join(kind.dir_name());
    let mut modules = Vec::new();
    match kind {
        ModuleKind::Provider | ModuleKind::Cluster => {
            for (name, dir) in subdirs(&root)? {
                modules.push(read_module(catalog, kind, name, None, dir, layout));
            }
        }
        ModuleKind::Taskserv => {
            for (category, category_dir) in subdirs(&root)? {
                for (name, dir) in subdirs(&category_dir)? {
                    modules.push(read_module(
                        catalog,
                        kind,
                        name,
                        Some(category.clone()),
                        dir,
                        layout,
                    ));
                }
            }
        }
        // The core schemas are found through the configuration: see [`Catalog`].
        ModuleKind::Core => {}
    }
    modules.sort_by(|a, b| (&a.name, &a.category).cmp(&(&b.name, &b.category)));
    Ok(modules)
}

/// Finds one provider, or says which exist.
pub fn find_provider(
    catalog: &Catalog,
    name: &ShortName,
    layout: Layout,
) -> Result<Module, CatalogError> {
    let dir = catalog.extensions.join("providers").join(name.as_str());
    if dir.is_dir() {
        return Ok(read_module(
            catalog,
            ModuleKind::Provider,
            name.to_string(),
            None,
            dir,
            layout,
        ));
    }
    let known = discover(catalog, ModuleKind::Provider, layout)?
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
    catalog: &Catalog,
    kind: ModuleKind,
    name: String,
    category: Option<String>,
    dir: PathBuf,
    layout: Layout,
) -> Module {
    let has_nickel = dir.join(Layout::Nickel.package_dir()).is_dir();
    let has_kcl = dir.join(Layout::Kcl.package_dir()).is_dir();
    let package = if let Err(error) = names::validate(&name) {
        PackageState::Broken(invalid_dir_name(kind, &dir, &error))
    } else {
        read_package(
            catalog,
            kind,
            &name,
            &dir.join(layout.package_dir()),
            layout,
        )
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

/// Why a module directory whose name is not a module name cannot be used: the directory named,
/// since its name is the module's, with a name that would do.
fn invalid_dir_name(kind: ModuleKind, dir: &Path, error: &names::NameError) -> String {
    let name = dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let suggestion: String = name
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '_' | '-' => c,
            _ => '-',
        })
        .collect();
    let suggestion = suggestion.trim_start_matches(['-', '_']);
    let rename = if names::validate(suggestion).is_ok() {
        format!("rename the directory, e.g. to `{suggestion}`")
    } else {
        "rename the directory".to_owned()
    };
    format!(
        "`{}`: a {} is named by its directory, and {error}\nhint: {rename}",
        dir.display(),
        kind.as_str(),
    )
}

fn read_package(
    catalog: &Catalog,
    kind: ModuleKind,
    name: &str,
    dir: &Path,
    layout: Layout,
) -> PackageState {
    if !dir.is_dir() {
        return PackageState::Missing;
    }
    // The legacy layout has `kcl.mod`; a Nickel package, `manifest.toml` or `Nickel-pkg.ncl`.
    let read = match layout {
        Layout::Nickel => catalog.read_manifest(dir),
        Layout::Kcl => {
            let manifest_path = dir.join(layout.manifest_file());
            crate::module::read_package_manifest(&manifest_path)
                .map(|manifest| (manifest_path, manifest))
        }
    };
    let (manifest_path, manifest) = match read {
        Ok(read) => read,
        Err(reason) => return PackageState::Broken(reason),
    };
    let expected = match kind {
        ModuleKind::Provider => format!("{name}{}", names::MODULE_SUFFIX),
        ModuleKind::Core | ModuleKind::Taskserv | ModuleKind::Cluster => name.to_owned(),
    };
    if matches!(kind, ModuleKind::Taskserv | ModuleKind::Cluster)
        && name.ends_with(names::MODULE_SUFFIX)
    {
        return PackageState::Broken(format!(
            "a {} cannot be named `{name}`: names ending in `{}` are providers' modules",
            kind.as_str(),
            names::MODULE_SUFFIX
        ));
    }
    if manifest.name != expected {
        return PackageState::Broken(format!(
            "`{}` names the package `{}`, expected `{expected}`",
            manifest_path.display(),
            manifest.name
        ));
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
    PackageState::Ready(Box::new(Package {
        dir: dir.to_owned(),
        manifest_path,
        manifest,
        entry,
    }))
}

/// Every module a dependency can name: the providers under `extensions/` and the core schemas.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub extensions: PathBuf,
    /// The core schemas' package directory and module name (`[nickel] core_module`,
    /// `core_package_name`).
    pub core: (PathBuf, ModuleName),
    /// What evaluating a module's `Nickel-pkg.ncl` may take.
    pub bounds: crate::nickel::Bounds,
}

impl Catalog {
    pub fn new(config: &crate::config::Config) -> Self {
        Self {
            extensions: config.paths.extensions.clone(),
            core: (
                config.nickel.core_module.clone(),
                config.nickel.core_package_name.clone(),
            ),
            bounds: crate::nickel::Bounds::from_config(&config.evaluation),
        }
    }

    /// The module packaged as `module`: the core schemas, a provider (`<name>_prov`), a
    /// taskserv or a cluster (by its name).
    pub fn find(&self, module: &ModuleName) -> Result<Module, CatalogError> {
        let (core_dir, core_name) = &self.core;
        if core_name == module {
            return Ok(self.core_module(core_dir, core_name));
        }
        if let Some(provider) = module.provider() {
            let dir = self.extensions.join("providers").join(provider.as_str());
            if dir.is_dir() {
                return Ok(read_module(
                    self,
                    ModuleKind::Provider,
                    provider.to_string(),
                    None,
                    dir,
                    Layout::Nickel,
                ));
            }
        } else {
            let mut found = Vec::new();
            for kind in [ModuleKind::Taskserv, ModuleKind::Cluster] {
                found.extend(self.find_in(kind, module.as_str())?);
            }
            match found.len() {
                0 => {}
                1 => return Ok(found.remove(0)),
                _ => {
                    return Err(CatalogError::AmbiguousKinds {
                        name: module.to_string(),
                    });
                }
            }
        }
        Err(CatalogError::UnknownModule {
            name: module.to_string(),
            known: self
                .module_names()?
                .iter()
                .map(ToString::to_string)
                .collect(),
        })
    }

    /// The module of `kind` called `name` on the command line (`upcloud`, `kubernetes`), or
    /// the error that lists the catalog's modules of that kind.
    pub fn find_named(&self, kind: ModuleKind, name: &str) -> Result<Module, CatalogError> {
        let found = match kind {
            ModuleKind::Provider => {
                let dir = self.extensions.join("providers").join(name);
                dir.is_dir()
                    .then(|| read_module(self, kind, name.to_owned(), None, dir, Layout::Nickel))
            }
            ModuleKind::Taskserv | ModuleKind::Cluster => self.find_in(kind, name)?,
            ModuleKind::Core => {
                let (dir, core) = &self.core;
                (core.as_str() == name).then(|| self.core_module(dir, core))
            }
        };
        found.ok_or_else(|| CatalogError::UnknownOfKind {
            kind,
            name: name.to_owned(),
            known: discover(self, kind, Layout::Nickel)
                .map(|modules| modules.into_iter().map(|m| m.name).collect())
                .unwrap_or_default(),
        })
    }

    /// A taskserv (in whichever category holds it) or a cluster called `name`.
    fn find_in(&self, kind: ModuleKind, name: &str) -> Result<Option<Module>, CatalogError> {
        if names::validate(name).is_err() {
            return Ok(None);
        }
        let root = self.extensions.join(kind.dir_name());
        match kind {
            ModuleKind::Cluster => {
                let dir = root.join(name);
                Ok(dir
                    .is_dir()
                    .then(|| read_module(self, kind, name.to_owned(), None, dir, Layout::Nickel)))
            }
            ModuleKind::Taskserv => {
                let mut found: Vec<(String, PathBuf)> = subdirs(&root)?
                    .into_iter()
                    .map(|(category, dir)| (category, dir.join(name)))
                    .filter(|(_, dir)| dir.is_dir())
                    .collect();
                match found.len() {
                    0 => Ok(None),
                    1 => {
                        let (category, dir) = found.remove(0);
                        Ok(Some(read_module(
                            self,
                            kind,
                            name.to_owned(),
                            Some(category),
                            dir,
                            Layout::Nickel,
                        )))
                    }
                    _ => Err(CatalogError::Ambiguous {
                        name: name.to_owned(),
                        categories: found.into_iter().map(|(category, _)| category).collect(),
                    }),
                }
            }
            ModuleKind::Provider | ModuleKind::Core => Ok(None),
        }
    }

    /// The module names of every module a dependency can name, sorted.
    pub fn module_names(&self) -> Result<Vec<ModuleName>, CatalogError> {
        let mut names: Vec<ModuleName> = discover(self, ModuleKind::Provider, Layout::Nickel)?
            .iter()
            .filter_map(|module| module.name.parse::<ShortName>().ok())
            .map(|provider| provider.provider_module())
            .collect();
        // Only modules that can be used: a taskserv whose name is refused is not one.
        for kind in [ModuleKind::Taskserv, ModuleKind::Cluster] {
            names.extend(
                discover(self, kind, Layout::Nickel)?
                    .iter()
                    .filter(|module| module.broken().is_none())
                    .filter_map(|module| module.name.parse::<ModuleName>().ok()),
            );
        }
        names.push(self.core.1.clone());
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Every module of [`Self::module_names`] with what [`Self::find`] gives for it, each
    /// manifest read once (not once to list and once to find): what packing's import directory
    /// is made of. A taskserv and a cluster of one name are [`CatalogError::AmbiguousKinds`],
    /// as `find` says.
    pub fn modules_by_name(&self) -> Result<BTreeMap<ModuleName, Module>, CatalogError> {
        self.modules_by_name_with(None)
    }

    /// [`Self::modules_by_name`], the modules of one kind taken from `discovered` (what
    /// [`discover`] gave for it with [`Layout::Nickel`] in this run) instead of read again:
    /// `pack providers` discovers its providers first, and reads each manifest once in all.
    pub fn modules_by_name_with(
        &self,
        discovered: Option<(ModuleKind, &[Module])>,
    ) -> Result<BTreeMap<ModuleName, Module>, CatalogError> {
        let of_kind = |kind: ModuleKind| match discovered {
            Some((known, modules)) if known == kind => Ok(modules.to_vec()),
            _ => discover(self, kind, Layout::Nickel),
        };
        let mut modules = BTreeMap::new();
        for module in of_kind(ModuleKind::Provider)? {
            if let Ok(provider) = module.name.parse::<ShortName>() {
                modules.insert(provider.provider_module(), module);
            }
        }
        for kind in [ModuleKind::Taskserv, ModuleKind::Cluster] {
            for module in of_kind(kind)? {
                let Ok(name) = module.name.parse::<ModuleName>() else {
                    continue;
                };
                if module.broken().is_some() {
                    continue;
                }
                if modules.contains_key(&name) {
                    return Err(CatalogError::AmbiguousKinds {
                        name: name.to_string(),
                    });
                }
                modules.insert(name, module);
            }
        }
        let (core_dir, core_name) = &self.core;
        modules.insert(core_name.clone(), self.core_module(core_dir, core_name));
        Ok(modules)
    }

    /// Every loadable module of the catalog with its package read: for the capability check's
    /// hints (which modules provide what).
    pub fn loadable(&self) -> Vec<Module> {
        ModuleKind::LOADABLE
            .iter()
            .flat_map(|kind| discover(self, *kind, Layout::Nickel).unwrap_or_default())
            .collect()
    }

    fn core_module(&self, dir: &Path, name: &ModuleName) -> Module {
        Module {
            kind: ModuleKind::Core,
            name: name.to_string(),
            category: None,
            dir: dir.to_owned(),
            has_nickel: dir.is_dir(),
            has_kcl: false,
            layout: Layout::Nickel,
            package: read_package(self, ModuleKind::Core, name.as_str(), dir, Layout::Nickel),
        }
    }
}

/// The command that packs `module`, for hints: by its name it is a provider or the core; else
/// a taskserv or a cluster, which `pack taskserv` or `pack cluster` packs.
pub fn pack_command(module: &ModuleName) -> String {
    match module.provider() {
        Some(provider) => format!("`provisioning pack provider {provider}`"),
        None if module.as_str() == "provisioning_core" => {
            "`provisioning pack core`, for the core schemas".to_owned()
        }
        None => format!("`provisioning pack taskserv {module}` (or `pack cluster {module}`)"),
    }
}
