//! Module dependencies at their sources. A module's `manifest.toml` declares what it imports by
//! name (`[dependencies] provisioning_core = "^0.1"`); this module gives evaluation a way to
//! reach those modules by name, resolves a module's closure over the catalog's sources, and
//! checks that a module is hermetic: every import that names a module names a declared one.
//!
//! - [`ModuleImports`]: the catalog's modules (the core schemas and every provider), each
//!   reachable by its module name from one import directory once a pack needs it (a private
//!   temporary directory holding one symlink per module, removed when packing ends: nothing is
//!   written to the base before a pack succeeds; one a killed pack left is removed by the next,
//!   see [`crate::fs::HeldTempDir`]). Packing evaluates with it on the import path, as an infra
//!   evaluates with `.nickel-modules/` and `vendor/`.
//! - [`undeclared_imports`]: the static half of hermeticity. The other half, that evaluation
//!   read no file outside the module and its dependencies, is [`crate::nickel::check_confined`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::catalog::{Catalog, CatalogError};
use crate::module::PackageManifest;
use crate::names::ModuleName;
use crate::resolve::{self, Candidate, Origin, Requirement, Resolution};

/// How the import directories in `$TMPDIR` are named: `provisioning-imports-held-<random>`.
/// `held`: each holds its lock while it lives, so the next pack may remove one that does not.
/// Versions before it named theirs `provisioning-imports-<random>` and held no lock: those are
/// never removed, since one may be a running pack's.
pub const IMPORTS_PREFIX: &str = "provisioning-imports-held-";

/// A module of the catalog whose package can be read.
#[derive(Debug, Clone)]
pub struct SourceModule {
    pub dir: PathBuf,
    pub manifest: PackageManifest,
}

/// Every module of the catalog, reachable by name from one directory.
#[derive(Debug)]
pub struct ModuleImports {
    /// The directory to put on the import path.
    pub dir: PathBuf,
    /// What the directory maps each name to, `name=target`: what an evaluation with it depends
    /// on (the evaluation cache's key), whatever the directory's own name.
    pub key: Vec<PathBuf>,
    modules: BTreeMap<ModuleName, Result<SourceModule, String>>,
    /// What `import <module>` reaches: every module by name, in the import directory; inside
    /// a module, its declared dependencies ([`Self::packages`]).
    packages: crate::nickel::Packages,
    /// The modules linked in the directory so far: only what a pack's closure needs is.
    linked: std::sync::Mutex<std::collections::BTreeSet<ModuleName>>,
    /// Removes the directory when dropped.
    _temp: crate::fs::HeldTempDir,
}

#[derive(Debug, thiserror::Error)]
pub enum DependencyError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("failed to prepare the import directory `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the dependencies of `{module}` cannot be resolved")]
    Resolve {
        module: ModuleName,
        #[source]
        source: resolve::ResolveError,
    },
}

impl ModuleImports {
    /// Reads the catalog and makes the (empty) import directory; [`Self::link`] then points
    /// `<dir>/<module>` at the modules a pack needs.
    pub fn prepare(catalog: &Catalog) -> Result<Self, DependencyError> {
        Self::prepare_with(catalog, None)
    }

    /// [`Self::prepare`], the modules of one kind as already discovered in this run
    /// ([`Catalog::modules_by_name_with`]).
    pub fn prepare_with(
        catalog: &Catalog,
        discovered: Option<(crate::module::ModuleKind, &[crate::catalog::Module])>,
    ) -> Result<Self, DependencyError> {
        // Held while it lives: the next pack removes it if this one is killed.
        let (temp, _) = crate::fs::HeldTempDir::new(IMPORTS_PREFIX).map_err(|source| {
            DependencyError::Write {
                path: std::env::temp_dir(),
                source,
            }
        })?;
        let dir = temp.path().to_owned();
        let mut key = Vec::new();
        let mut modules = BTreeMap::new();
        for (name, module) in catalog.modules_by_name_with(discovered)? {
            let source = match module.package() {
                Some(package) => Ok(SourceModule {
                    dir: std::fs::canonicalize(&package.dir).unwrap_or(package.dir.clone()),
                    manifest: package.manifest.clone(),
                }),
                None => Err(module.problem().unwrap_or_default()),
            };
            if let Ok(source) = &source {
                key.push(PathBuf::from(format!("{name}={}", source.dir.display())));
            }
            modules.insert(name, source);
        }
        let packages = package_map(&dir, &modules);
        // The package map, without the directory's name (new at every run): what each module
        // names as its packages.
        for (name, source) in &modules {
            let Ok(source) = source else { continue };
            for dependency in source.manifest.dependencies.keys() {
                key.push(PathBuf::from(format!("package:{name}:{dependency}")));
            }
        }
        Ok(Self {
            dir,
            key,
            modules,
            packages,
            linked: std::sync::Mutex::new(std::collections::BTreeSet::new()),
            _temp: temp,
        })
    }

    /// Makes each module of `closure` reachable by name from the import directory (once, from
    /// any thread). Imports of other modules are refused before evaluation, by
    /// [`undeclared_imports`].
    pub fn link(&self, closure: &[(ModuleName, SourceModule)]) -> Result<(), DependencyError> {
        let mut linked = self
            .linked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (name, source) in closure {
            if linked.contains(name) {
                continue;
            }
            crate::fs::replace_symlink(&source.dir, &self.dir.join(name)).map_err(|source| {
                DependencyError::Write {
                    path: self.dir.clone(),
                    source,
                }
            })?;
            linked.insert(name.clone());
        }
        Ok(())
    }

    /// The package map packing evaluates with: each module by name, as the import directory
    /// reaches it (only those [`Self::link`]ed are there); inside one, the names it declares.
    pub fn packages(&self) -> &crate::nickel::Packages {
        &self.packages
    }

    /// The module names a dependency can name.
    pub fn names(&self) -> impl Iterator<Item = &ModuleName> {
        self.modules.keys()
    }

    /// The closure of `module`'s dependencies at their sources: each resolved against the
    /// version its source has, transitively. An unknown module, a source whose version does not
    /// satisfy a requirement, or a cycle is an error naming the modules.
    pub fn closure(
        &self,
        module: &ModuleName,
        version: &semver::Version,
        dependencies: &BTreeMap<ModuleName, semver::VersionReq>,
    ) -> Result<Vec<(ModuleName, SourceModule)>, DependencyError> {
        let resolution = self.resolve(module, version, dependencies)?;
        Ok(resolution
            .into_keys()
            .filter(|name| name != module)
            .filter_map(|name| {
                let source = self.modules.get(&name)?.as_ref().ok()?.clone();
                Some((name, source))
            })
            .collect())
    }

    fn resolve(
        &self,
        module: &ModuleName,
        version: &semver::Version,
        dependencies: &BTreeMap<ModuleName, semver::VersionReq>,
    ) -> Result<Resolution, DependencyError> {
        let origin = Origin::Module(module.clone(), version.clone());
        let roots: Vec<Requirement> = dependencies
            .iter()
            .map(|(name, requirement)| Requirement {
                module: name.clone(),
                requirement: requirement.clone(),
                origin: origin.clone(),
            })
            .collect();
        resolve::resolve(&roots, self, &BTreeMap::new()).map_err(|source| {
            DependencyError::Resolve {
                module: module.clone(),
                source,
            }
        })
    }
}

/// The package map of the catalog's modules in the import directory `dir`: what an import
/// directory's entries would be named as packages.
fn package_map(
    dir: &std::path::Path,
    modules: &BTreeMap<ModuleName, Result<SourceModule, String>>,
) -> crate::nickel::Packages {
    let mut packages = crate::nickel::Packages::default();
    for (name, source) in modules {
        packages.add(name.as_str(), &dir.join(name));
        let Ok(source) = source else { continue };
        for dependency in source.manifest.dependencies.keys() {
            packages.add_scoped(&dir.join(name), dependency.as_str(), &dir.join(dependency));
        }
    }
    packages
}

/// The sources as an index: each module has one version, the one its source declares.
impl resolve::Index for ModuleImports {
    fn candidates(&self, module: &ModuleName) -> Result<Vec<Candidate>, String> {
        match self.modules.get(module) {
            Some(Ok(source)) => Ok(vec![Candidate {
                version: source.manifest.version.clone(),
                dependencies: source.manifest.dependencies.clone(),
                excluded: None,
            }]),
            Some(Err(problem)) => Err(format!("module `{module}` cannot be used: {problem}")),
            None => {
                let known: Vec<String> = self.modules.keys().map(|m| format!("`{m}`")).collect();
                Err(format!(
                    "unknown module `{module}`\nhint: the modules are {}",
                    known.join(", ")
                ))
            }
        }
    }
}

/// An import that names a module the importer does not declare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undeclared {
    /// The importing file.
    pub file: PathBuf,
    pub line: usize,
    pub import: String,
    /// The module it names.
    pub dependency: ModuleName,
    /// A package import, `import <module>`; else `import "<path>"`.
    pub package: bool,
}

impl fmt::Display for Undeclared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let import = if self.package {
            format!("import {}", self.import)
        } else {
            format!("import \"{}\"", self.import)
        };
        write!(
            f,
            "`{}`:{}: `{import}` uses `{}`, which is not a declared dependency",
            self.file.display(),
            self.line,
            self.dependency
        )
    }
}

/// Every import in `files` (`(path, Nickel text)`) whose first component names one of `known`
/// modules but none of `declared`, unless it resolves beside its importer (a file or directory
/// of the module's own wins, as in Nickel); and every package import (`import <module>`) of one
/// of `known` that is not declared (a package import never resolves beside its importer).
pub fn undeclared_imports<'a>(
    files: impl IntoIterator<Item = (PathBuf, &'a str)>,
    module: &ModuleName,
    declared: &BTreeMap<ModuleName, semver::VersionReq>,
    known: &[&ModuleName],
) -> Vec<Undeclared> {
    let mut found = Vec::new();
    for (file, text) in files {
        for (line, import) in crate::nickel::imports(text) {
            let Some(first) = import.split('/').next() else {
                continue;
            };
            let Some(dependency) = known.iter().find(|name| name.as_str() == first) else {
                continue;
            };
            let local = file.parent().is_some_and(|dir| dir.join(first).exists());
            if *dependency != module && !declared.contains_key(*dependency) && !local {
                found.push(Undeclared {
                    file: file.clone(),
                    line,
                    import,
                    dependency: (*dependency).clone(),
                    package: false,
                });
            }
        }
        for (line, name) in crate::nickel::package_imports(text) {
            let Some(dependency) = known.iter().find(|known| known.as_str() == name) else {
                continue;
            };
            if *dependency != module && !declared.contains_key(*dependency) {
                found.push(Undeclared {
                    file: file.clone(),
                    line,
                    import: name,
                    dependency: (*dependency).clone(),
                    package: true,
                });
            }
        }
    }
    found.sort_by_key(|undeclared| (undeclared.file.clone(), undeclared.line));
    found
}

/// The hint for an undeclared dependency: the line to add, with the requirement its source
/// would satisfy.
pub fn declare_hint(dependency: &ModuleName, version: Option<&semver::Version>) -> String {
    let requirement = version.map_or_else(|| "*".to_owned(), caret);
    format!(
        "declare it under `[dependencies]` in the module's `manifest.toml`: `{dependency} = \"{requirement}\"`"
    )
}

/// The caret requirement a version satisfies, as Cargo writes it: `0.1.4` → `^0.1`, `1.2.0` →
/// `^1.2`, `0.0.3` → `^0.0.3`.
pub fn caret(version: &semver::Version) -> String {
    match (version.major, version.minor) {
        (0, 0) => format!("^0.0.{}", version.patch),
        (major, minor) => format!("^{major}.{minor}"),
    }
}

impl ModuleImports {
    /// The module whose source holds `path` (canonical), if one does.
    pub fn owner(&self, path: &std::path::Path) -> Option<&ModuleName> {
        self.modules.iter().find_map(|(name, source)| {
            let source = source.as_ref().ok()?;
            path.starts_with(&source.dir).then_some(name)
        })
    }

    /// The version of a module at its source, for hints.
    pub fn version(&self, module: &ModuleName) -> Option<&semver::Version> {
        Some(&self.modules.get(module)?.as_ref().ok()?.manifest.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carets_as_cargo_writes_them() {
        for (version, expected) in [("0.1.4", "^0.1"), ("1.2.0", "^1.2"), ("0.0.3", "^0.0.3")] {
            assert_eq!(
                caret(&semver::Version::parse(version).expect("v")),
                expected
            );
        }
    }

    #[test]
    fn undeclared_package_imports_are_found_with_their_lines() {
        let core: ModuleName = "provisioning_core".parse().expect("name");
        let aws: ModuleName = "aws_prov".parse().expect("name");
        let me: ModuleName = "upcloud_prov".parse().expect("name");
        let text = "let core = import provisioning_core in\nlet aws = import aws_prov in\nlet me = import upcloud_prov in\nimport other";
        let declared = BTreeMap::from([(core.clone(), semver::VersionReq::STAR)]);
        let found = undeclared_imports(
            [(PathBuf::from("/nonexistent/main.ncl"), text)],
            &me,
            &declared,
            &[&core, &aws, &me],
        );
        assert_eq!(
            found,
            [Undeclared {
                file: PathBuf::from("/nonexistent/main.ncl"),
                line: 2,
                import: "aws_prov".into(),
                dependency: aws,
                package: true,
            }]
        );
        assert_eq!(
            found[0].to_string(),
            "`/nonexistent/main.ncl`:2: `import aws_prov` uses `aws_prov`, which is not a declared dependency"
        );
    }

    #[test]
    fn undeclared_module_imports_are_found_with_their_lines() {
        let core: ModuleName = "provisioning_core".parse().expect("name");
        let aws: ModuleName = "aws_prov".parse().expect("name");
        let me: ModuleName = "upcloud_prov".parse().expect("name");
        let text = "let core = import \"provisioning_core/main.ncl\" in\nlet aws = import \"aws_prov/main.ncl\" in\nimport \"contracts.ncl\"";
        let declared = BTreeMap::from([(core.clone(), semver::VersionReq::STAR)]);
        let found = undeclared_imports(
            [(PathBuf::from("/nonexistent/main.ncl"), text)],
            &me,
            &declared,
            &[&core, &aws, &me],
        );
        assert_eq!(
            found,
            [Undeclared {
                file: PathBuf::from("/nonexistent/main.ncl"),
                line: 2,
                import: "aws_prov/main.ncl".into(),
                dependency: aws.clone(),
                package: false,
            }]
        );
    }
}
