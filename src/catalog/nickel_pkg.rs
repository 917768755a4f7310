//! Modules described by `Nickel-pkg.ncl`: a package directory with a `Nickel-pkg.ncl` and no
//! `manifest.toml` is read through the standard library's contract `std.package.Manifest`,
//! evaluated in-process by a bounded [`Evaluator`], and mapped to a [`PackageManifest`]:
//!
//! - `name`, `version`, `description` (the other fields are checked by the contract only: a
//!   pack's license and authors come from the registry's metadata);
//! - each `'Path` dependency that reaches another module's package directory of the catalog
//!   (`extensions/providers/<name>/nickel`, a taskserv's or a cluster's `nickel/`, or the core
//!   schemas) as that module, keyed by its module name, with the requirement `^<its version>`
//!   (a `'Path` carries no requirement; Cargo reads a bare version the same way);
//! - a `'Git` or `'Index` dependency, or a `'Path` that leaves the catalog, is an error that
//!   names the file, the dependency and what to do: never dropped.
//!
//! Only a directory without `manifest.toml` pays for an evaluation (one bounded worker per
//! read); nothing is cached. When both files exist, `manifest.toml` is the module's manifest
//! and [`Catalog::disagreements`] says where `Nickel-pkg.ncl` says otherwise, for `validate`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use super::Catalog;
use crate::module::{Layout, NICKEL_PKG_FILE, PackageManifest, nickel_string};
use crate::names::{ModuleName, ShortName};
use crate::nickel::{Evaluator, NickelError};

/// A `Nickel-pkg.ncl` as the wrapper exports it: its contract applied, each dependency made a
/// record (an enum variant with an argument does not serialize).
#[derive(Debug, Deserialize)]
struct Described {
    name: String,
    version: String,
    description: String,
    dependencies: BTreeMap<String, Dependency>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind")]
enum Dependency {
    Path { path: String },
    Git { url: String },
    Index { package: String, version: String },
}

/// The file evaluated in place of a `Nickel-pkg.ncl` (`@FILE@`): it applies the contract
/// (again, when the file does) and turns what the contract made structured (versions, index
/// ids, enum variants) back into text, which serializes.
const WRAPPER: &str = r#"let manifest = (import @FILE@) | std.package.Manifest in
let part = fun prefix field value => if std.record.has_field field value then "%{prefix}%{std.to_string (std.record.get field value)}" else "" in
let semver = fun value => if std.is_string value then value else "%{std.to_string value.major}%{part "." "minor" value}%{part "." "patch" value}%{part "-" "pre" value}%{part "+" "build" value}" in
{
  name = manifest.name,
  version = semver manifest.version,
  description = if std.record.has_field "description" manifest then manifest.description else "",
  dependencies = std.record.map (fun _name dependency => dependency |> match {
      'Path target => { kind = "Path", path = target },
      'Git git => { kind = "Git", url = git.url },
      'Index index => {
          kind = "Index",
          package = index.package |> match {
            'Github id => "github:%{id.org}/%{id.name}%{part "/" "path" id}",
            _ => "?",
          },
          version = index.version |> match {
            'Compatible requirement => semver requirement,
            'Exact requirement => "=%{semver requirement}",
          },
        },
    }) manifest.dependencies,
}
"#;

fn wrapper(file: &Path) -> String {
    WRAPPER.replace("@FILE@", &nickel_string(&file.display().to_string()))
}

/// `diagnostic` without its snippets of the wrapper: a file of ours, in a temporary directory
/// gone after the run; the rest of the diagnostic shows the user's file.
fn without_wrapper(diagnostic: &str, wrapper: &Path) -> String {
    let header = format!("┌─ {}:", wrapper.display());
    let mut kept = Vec::new();
    let mut in_wrapper = false;
    for line in diagnostic.lines() {
        if line.contains(&header) {
            in_wrapper = true;
            continue;
        }
        // A snippet's lines are its gutter (a line number or nothing) then `│` or `·`.
        let gutter = line.trim_start_matches(|c: char| c == ' ' || c.is_ascii_digit());
        if in_wrapper && gutter.starts_with(['│', '·']) {
            continue;
        }
        in_wrapper = false;
        kept.push(line);
    }
    kept.join("\n")
}

/// Evaluates `Nickel-pkg.ncl` files, one bounded evaluator for all the reads of one manifest
/// (its own and its dependencies' versions).
struct Reader {
    evaluator: Evaluator,
    scratch: tempfile::TempDir,
}

impl Reader {
    fn new(catalog: &Catalog) -> Result<Self, String> {
        let scratch = tempfile::Builder::new()
            .prefix(".provisioning-nickel-pkg")
            .tempdir()
            .map_err(|error| format!("failed to create a temporary directory: {error}"))?;
        Ok(Self {
            evaluator: Evaluator::new(&[], catalog.bounds),
            scratch,
        })
    }

    fn described(&mut self, file: &Path) -> Result<Described, String> {
        let read = self.scratch.path().join("read-Nickel-pkg.ncl");
        crate::fs::atomic_write_unsynced(&read, wrapper(file).as_bytes())
            .map_err(|error| format!("failed to write `{}`: {error}", read.display()))?;
        let export = self
            .evaluator
            .export_json(&read)
            .map_err(|error| match error {
                NickelError::Evaluation { diagnostic, .. }
                | NickelError::Load {
                    message: diagnostic,
                    ..
                } => format!(
                    "`{}` is not a valid Nickel package manifest (`std.package.Manifest`):\n{}",
                    file.display(),
                    without_wrapper(&diagnostic, &read)
                ),
                // A bound names the file the user wrote, not the wrapper.
                NickelError::Timeout { seconds, .. } => NickelError::Timeout {
                    path: file.to_owned(),
                    seconds,
                }
                .to_string(),
                NickelError::Memory { mebibytes, .. } => NickelError::Memory {
                    path: file.to_owned(),
                    mebibytes,
                }
                .to_string(),
                NickelError::TooDeep { .. } => NickelError::TooDeep {
                    path: file.to_owned(),
                }
                .to_string(),
                other => format!("`{}`: {other}", file.display()),
            })?;
        serde_json::from_str(&export.text)
            .map_err(|error| format!("`{}`: unexpected manifest: {error}", file.display()))
    }
}

impl Catalog {
    /// The manifest of the package in `dir`: its `manifest.toml`, else (when there is none)
    /// its `Nickel-pkg.ncl`; with the file it was read from.
    pub fn read_manifest(&self, dir: &Path) -> Result<(PathBuf, PackageManifest), String> {
        let manifest_path = dir.join(Layout::Nickel.manifest_file());
        match crate::module::read_package_manifest(&manifest_path) {
            Ok(manifest) => Ok((manifest_path, manifest)),
            Err(reason) => {
                let nickel_pkg = dir.join(NICKEL_PKG_FILE);
                if manifest_path.symlink_metadata().is_err() && nickel_pkg.is_file() {
                    let manifest = self.read_nickel_pkg(dir, &nickel_pkg)?;
                    Ok((nickel_pkg, manifest))
                } else {
                    Err(reason)
                }
            }
        }
    }

    /// A package described by `file`, its `Nickel-pkg.ncl`, alone.
    fn read_nickel_pkg(&self, dir: &Path, file: &Path) -> Result<PackageManifest, String> {
        let mut reader = Reader::new(self)?;
        let described = reader.described(file)?;
        let version = crate::names::parse_version(&described.version).map_err(|_| {
            format!(
                "`{}`: `version = \"{}\"` is not a version (`MAJOR.MINOR.PATCH`, e.g. `1.2.3`)",
                file.display(),
                described.version
            )
        })?;
        let root = std::fs::canonicalize(dir)
            .map_err(|error| format!("failed to read `{}`: {error}", dir.display()))?;
        let mut dependencies = BTreeMap::new();
        for (name, dependency) in &described.dependencies {
            let (module, requirement) =
                self.dependency(&mut reader, file, &root, name, dependency)?;
            if module.as_str() == described.name {
                return Err(format!(
                    "`{}`: `{module}` depends on itself",
                    file.display()
                ));
            }
            dependencies.insert(module, requirement);
        }
        Ok(PackageManifest {
            name: described.name,
            version,
            description: described.description,
            entry: None,
            dependencies,
            kind: None,
            category: None,
            capabilities: crate::module::Capabilities::default(),
        })
    }

    /// One dependency of `file` as a module of the catalog and a requirement, or why not.
    fn dependency(
        &self,
        reader: &mut Reader,
        file: &Path,
        root: &Path,
        name: &str,
        dependency: &Dependency,
    ) -> Result<(ModuleName, semver::VersionReq), String> {
        let unresolvable = |what: String, declare: &str| {
            format!(
                "`{}`: the dependency `{name}` is {what}, which `provisioning` does not resolve\nhint: make it a module of the catalog (under `extensions/`) and depend on it with `'Path` to its directory, or, if it is published as a pack, describe this module with a `manifest.toml` that declares it under `[dependencies]`: `{name} = \"{declare}\"`",
                file.display()
            )
        };
        let path = match dependency {
            Dependency::Git { url } => {
                return Err(unresolvable(
                    format!("a `'Git` dependency (`{url}`)"),
                    "<requirement>",
                ));
            }
            Dependency::Index { package, version } => {
                let requirement = if version.starts_with('=') {
                    version.clone()
                } else {
                    format!("^{version}")
                };
                return Err(unresolvable(
                    format!("an `'Index` dependency (`{package}`, version `{version}`)"),
                    &requirement,
                ));
            }
            Dependency::Path { path } => path,
        };
        let target = std::fs::canonicalize(root.join(path)).map_err(|_| {
            format!(
                "`{}`: the dependency `{name} = 'Path \"{path}\"` does not exist: `{}`",
                file.display(),
                root.join(path).display()
            )
        })?;
        let Some(module) = self.module_at(&target) else {
            return Err(format!(
                "`{}`: the dependency `{name} = 'Path \"{path}\"` reaches `{}`, which is not a module of the catalog\nhint: a `'Path` dependency names a module's package directory: `extensions/providers/<name>/nickel`, `extensions/taskservs/<category>/<name>/nickel`, `extensions/clusters/<name>/nickel` or the core schemas (`{}`)",
                file.display(),
                target.display(),
                self.core.0.display()
            ));
        };
        // Read again by the same evaluator, its own file would meet the contract twice (and
        // fail on `version`): say what is wrong instead.
        if target == root {
            return Err(format!(
                "`{}`: `{module}` depends on itself (`{name} = 'Path \"{path}\"`)",
                file.display()
            ));
        }
        if module.as_str() != name {
            return Err(format!(
                "`{}`: the dependency `{name} = 'Path \"{path}\"` is the module `{module}`, which Nickel code imports by its module name\nhint: name the dependency `{module}`",
                file.display()
            ));
        }
        let version = self.version_at(reader, &target)?;
        let requirement = semver::VersionReq::parse(&format!("^{version}"))
            .map_err(|error| format!("`{}`: the dependency `{name}`: {error}", file.display()))?;
        Ok((module, requirement))
    }

    /// The version of the package in `dir`: its `manifest.toml`'s, else its `Nickel-pkg.ncl`'s
    /// (read without its dependencies, so a cycle of `'Path` dependencies ends).
    fn version_at(&self, reader: &mut Reader, dir: &Path) -> Result<semver::Version, String> {
        let manifest_path = dir.join(Layout::Nickel.manifest_file());
        let nickel_pkg = dir.join(NICKEL_PKG_FILE);
        if manifest_path.symlink_metadata().is_err() && nickel_pkg.is_file() {
            let described = reader.described(&nickel_pkg)?;
            return crate::names::parse_version(&described.version).map_err(|_| {
                format!(
                    "`{}`: `version = \"{}\"` is not a version",
                    nickel_pkg.display(),
                    described.version
                )
            });
        }
        crate::module::read_package_manifest(&manifest_path).map(|manifest| manifest.version)
    }

    /// The module whose package directory is `dir` (canonical), by where it lies: the core
    /// schemas, or `providers/<name>/nickel`, `taskservs/<category>/<name>/nickel`,
    /// `clusters/<name>/nickel` under the extensions.
    fn module_at(&self, dir: &Path) -> Option<ModuleName> {
        let (core_dir, core_name) = &self.core;
        if std::fs::canonicalize(core_dir).ok().as_deref() == Some(dir) {
            return Some(core_name.clone());
        }
        let extensions = std::fs::canonicalize(&self.extensions).ok()?;
        let relative = dir.strip_prefix(&extensions).ok()?;
        let parts: Vec<&str> = relative
            .components()
            .map(|component| match component {
                Component::Normal(part) => part.to_str(),
                _ => None,
            })
            .collect::<Option<_>>()?;
        let package_dir = Layout::Nickel.package_dir();
        match parts.as_slice() {
            ["providers", name, last] if *last == package_dir => {
                Some(name.parse::<ShortName>().ok()?.provider_module())
            }
            ["taskservs", _, name, last] | ["clusters", name, last] if *last == package_dir => {
                name.parse().ok()
            }
            _ => None,
        }
    }

    /// Where the package in `dir`, which has both a `manifest.toml` and a `Nickel-pkg.ncl`,
    /// is described differently by the two: name, version, the names of its dependencies.
    /// `Ok(None)` when it does not have both files.
    pub fn disagreements(&self, dir: &Path) -> Result<Option<Vec<String>>, String> {
        let manifest_path = dir.join(Layout::Nickel.manifest_file());
        let nickel_pkg = dir.join(NICKEL_PKG_FILE);
        if !manifest_path.is_file() || !nickel_pkg.is_file() {
            return Ok(None);
        }
        let manifest = crate::module::read_package_manifest(&manifest_path)?;
        let described = Reader::new(self)?.described(&nickel_pkg)?;
        let mut differences = Vec::new();
        if described.name != manifest.name {
            differences.push(format!(
                "`name`: `{}` in `manifest.toml`, `{}` in `{NICKEL_PKG_FILE}`",
                manifest.name, described.name
            ));
        }
        if described.version != manifest.version.to_string() {
            differences.push(format!(
                "`version`: `{}` in `manifest.toml`, `{}` in `{NICKEL_PKG_FILE}`",
                manifest.version, described.version
            ));
        }
        let declared: BTreeSet<&str> = manifest
            .dependencies
            .keys()
            .map(ModuleName::as_str)
            .collect();
        let described_names: BTreeSet<&str> =
            described.dependencies.keys().map(String::as_str).collect();
        if declared != described_names {
            let list = |names: &BTreeSet<&str>| {
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names
                        .iter()
                        .map(|name| format!("`{name}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            };
            differences.push(format!(
                "`dependencies`: {} in `manifest.toml`, {} in `{NICKEL_PKG_FILE}`",
                list(&declared),
                list(&described_names)
            ));
        }
        Ok(Some(differences))
    }
}
