//! What an install brings along: the module asked for and every module it needs, resolved
//! ([`crate::resolve`]) against what the infra already has, and the catalog's sources (link
//! mode) or the registry's index (pack mode) for the rest.
//!
//! What the infra has is kept unless it must move: a module installed by name keeps its
//! version (its requirement is "exactly what the lock has"); a module installed only as a
//! dependency keeps its version when that satisfies every requirement, and is otherwise
//! replaced, in the install's mode, by the version resolution picks. A dependency nothing needs
//! any more is dropped. KCL-layout entries take no part: the legacy layout has no dependencies.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use semver::{Version, VersionReq};

use super::lockfile::{LockEntry, Mode, ProvidersLock};
use super::{Infra, VENDOR_DIR};
use crate::artifact::verify::AllowUnsigned;
use crate::catalog::Catalog;
use crate::context::Context;
use crate::module::{Layout, PackageManifest};
use crate::names::ModuleName;
use crate::registry::{Registry, VersionEntry};
use crate::resolve::{self, Candidate, Origin, Requirement, ResolveError};
use crate::signing::TrustedKey;
use crate::version_spec::exactly;

/// Where the versions not already installed come from.
pub enum Sources<'a> {
    /// Link mode: the module's source in the catalog (one version each).
    Catalog(&'a Catalog),
    /// Pack mode: the registry's index, each version signed by a trusted key (or unsigned and
    /// allowed).
    Registry {
        registry: &'a dyn Registry,
        keys: &'a [TrustedKey],
        allow_unsigned: &'a AllowUnsigned,
        /// Versions tried first where the lock pins none: the newest each loose artifact
        /// (`--from`) holds, so that the artifacts given make the closure when they can.
        prefer: &'a BTreeMap<ModuleName, Version>,
    },
}

/// How a planned module gets into the infra.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provenance {
    /// It stays as the lock has it.
    Locked,
    /// Linked to its source, this package directory, a module of this kind.
    Source(PathBuf, crate::module::ModuleKind),
    /// Fetched from the registry, verified and vendored.
    Registry(Box<VersionEntry>),
    /// Asked for exactly, and fetched and verified before the plan was made: vendored.
    Fetched,
}

/// One module of the infra after the install.
#[derive(Debug, Clone)]
pub struct Planned {
    pub module: ModuleName,
    pub version: Version,
    pub provenance: Provenance,
    pub required_by: BTreeSet<ModuleName>,
    pub direct: bool,
    /// What `manifest.toml` keeps for a pack (a requirement as written) [default: its version].
    pub recorded: Option<String>,
}

/// The modules an install leaves in the infra's Nickel layout (the targets among them), and the
/// lock entries it drops.
#[derive(Debug)]
pub struct Plan {
    pub modules: Vec<Planned>,
    pub dropped: Vec<LockEntry>,
}

/// The module asked for.
pub struct Target {
    pub module: ModuleName,
    /// The one version it is installed at, with its dependencies, and how it gets there; `None`
    /// to resolve it from the sources against `requirement`.
    pub fixed: Option<(Version, BTreeMap<ModuleName, VersionReq>, Provenance)>,
    /// What the install asks for: `=V` for a fixed version.
    pub requirement: VersionReq,
}

/// Plans the install of `targets` (one or many, together) into `infra`, whose lock is `lock`.
pub fn plan(
    context: &Context,
    infra: &Infra,
    lock: &ProvidersLock,
    targets: &[Target],
    sources: &Sources<'_>,
) -> Result<Plan, ResolveError> {
    let targets: BTreeMap<&ModuleName, &Target> = targets
        .iter()
        .map(|target| (&target.module, target))
        .collect();
    let entries: Vec<&LockEntry> = lock
        .providers
        .iter()
        .filter(|entry| entry.layout == Layout::Nickel && !targets.contains_key(&entry.module))
        .collect();
    let locked: Locked<'_> = entries
        .iter()
        .map(|entry| {
            // A module whose manifest cannot be read (its vendored copy is missing, say) is
            // taken to need what the lock says it needs, as installed: nothing is dropped
            // because it could not be read.
            let dependencies = installed_dependencies(context, infra, entry).unwrap_or_else(|| {
                entries
                    .iter()
                    .filter(|other| other.required_by.contains(&entry.module))
                    .map(|other| (other.module.clone(), exactly(&other.version)))
                    .collect()
            });
            (entry.module.clone(), (*entry, dependencies))
        })
        .collect();
    let roots = plan_roots(&targets, &locked, &infra.name);
    // What the lock pins stays when it satisfies, the target included; else what the loose
    // artifacts hold.
    let pinned: BTreeMap<ModuleName, Version> = lock
        .providers
        .iter()
        .filter(|entry| entry.layout == Layout::Nickel)
        .map(|entry| (entry.module.clone(), entry.version.clone()))
        .collect();
    let mut preferred: BTreeMap<ModuleName, Version> = match sources {
        Sources::Registry { prefer, .. } => (*prefer).clone(),
        Sources::Catalog(_) => BTreeMap::new(),
    };
    preferred.extend(pinned.clone());
    let index = InstallIndex {
        targets: &targets,
        locked: &locked,
        pinned: &pinned,
        sources,
        origins: std::sync::Mutex::new(BTreeMap::new()),
        ahead: ReadAhead::default(),
    };
    let resolution = resolve::resolve(&roots, &index, &preferred)?;
    let origins = index
        .origins
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);

    let modules = planned(&resolution, &targets, &locked, &origins);
    let dropped = entries
        .into_iter()
        .filter(|entry| !resolution.contains_key(&entry.module))
        .cloned()
        .collect();
    Ok(Plan { modules, dropped })
}

/// A locked module with what it needs, as installed.
type Locked<'a> = BTreeMap<ModuleName, (&'a LockEntry, BTreeMap<ModuleName, VersionReq>)>;

/// What the resolution starts from: the targets as asked, and every module installed directly
/// at its pinned version.
fn plan_roots(
    targets: &BTreeMap<&ModuleName, &Target>,
    locked: &Locked<'_>,
    infra: &str,
) -> Vec<Requirement> {
    let mut roots: Vec<Requirement> = targets
        .values()
        .map(|target| Requirement {
            module: target.module.clone(),
            requirement: target.requirement.clone(),
            origin: Origin::Root("the command line".into()),
        })
        .collect();
    for (module, (entry, _)) in locked {
        if entry.direct {
            roots.push(Requirement {
                module: module.clone(),
                requirement: exactly(&entry.version),
                origin: Origin::Root(format!("{module} (installed in `{infra}`)")),
            });
        }
    }
    roots
}

/// Each resolved module with where its version comes from and whether the infra asks for it
/// directly.
fn planned(
    resolution: &crate::resolve::Resolution,
    targets: &BTreeMap<&ModuleName, &Target>,
    locked: &Locked<'_>,
    origins: &BTreeMap<(ModuleName, Version), Provenance>,
) -> Vec<Planned> {
    let mut modules = Vec::new();
    for (module, resolved) in resolution {
        let locked_entry = locked.get(module).map(|(entry, _)| *entry);
        let target = targets.get(module);
        let provenance =
            if let Some((_, _, provenance)) = target.and_then(|target| target.fixed.as_ref()) {
                provenance.clone()
            } else {
                origins
                    .get(&(module.clone(), resolved.version.clone()))
                    .cloned()
                    .unwrap_or(Provenance::Locked)
            };
        modules.push(Planned {
            module: module.clone(),
            version: resolved.version.clone(),
            provenance,
            required_by: resolved.required_by.clone(),
            direct: target.is_some() || locked_entry.is_some_and(|entry| entry.direct),
            recorded: None,
        });
    }
    modules
}

/// The dependencies of an installed module, read from its manifest in the infra (through its
/// link, or in `vendor/`); `None` when the manifest cannot be read (`validate` reports why).
pub fn installed_dependencies(
    context: &Context,
    infra: &Infra,
    entry: &LockEntry,
) -> Option<BTreeMap<ModuleName, VersionReq>> {
    let dir = installed_dir(context, infra, entry);
    crate::catalog::Catalog::new(&context.config)
        .read_manifest(&dir)
        .map(|(_, manifest)| manifest.dependencies)
        .ok()
}

/// The manifests of an infra's installed modules, each read at most once: a command that both
/// checks the modules' dependencies and writes the generated import files (which name each
/// module's entry point) reads every manifest once, not once for each. Built after the last
/// change to the disk it describes, and dropped with it.
#[derive(Debug, Default)]
pub struct InstalledManifests {
    read: std::cell::RefCell<BTreeMap<PathBuf, Option<std::rc::Rc<PackageManifest>>>>,
}

impl InstalledManifests {
    /// The manifest of `entry` as installed in `infra`; `None` when it cannot be read
    /// (`validate` reports why).
    pub fn of(
        &self,
        context: &Context,
        infra: &Infra,
        entry: &LockEntry,
    ) -> Option<std::rc::Rc<PackageManifest>> {
        let path = installed_dir(context, infra, entry);
        if let Some(known) = self.read.borrow().get(&path) {
            return known.clone();
        }
        let manifest = crate::catalog::Catalog::new(&context.config)
            .read_manifest(&path)
            .ok()
            .map(|(_, manifest)| std::rc::Rc::new(manifest));
        self.read.borrow_mut().insert(path, manifest.clone());
        manifest
    }
}

/// Where an installed module's files are, as the infra's import path sees them.
pub fn installed_dir(context: &Context, infra: &Infra, entry: &LockEntry) -> PathBuf {
    match entry.mode() {
        Mode::Link => infra.modules_dir(context, entry.layout).join(&entry.module),
        Mode::Pack => infra.dir.join(VENDOR_DIR).join(&entry.module),
    }
}

struct InstallIndex<'a> {
    targets: &'a BTreeMap<&'a ModuleName, &'a Target>,
    /// What the lock pins: a yanked version stays available to the infra that pins it.
    pinned: &'a BTreeMap<ModuleName, Version>,
    locked: &'a BTreeMap<ModuleName, (&'a LockEntry, BTreeMap<ModuleName, VersionReq>)>,
    sources: &'a Sources<'a>,
    /// Where each candidate offered from the sources comes from.
    origins: std::sync::Mutex<BTreeMap<(ModuleName, Version), Provenance>>,
    ahead: ReadAhead,
}

impl InstallIndex<'_> {
    fn offer(&self, module: &ModuleName, version: &Version, provenance: Provenance) {
        if let Ok(mut origins) = self.origins.lock() {
            origins.insert((module.clone(), version.clone()), provenance);
        }
    }

    fn offered_by_sources(&self, module: &ModuleName) -> Result<Vec<Candidate>, String> {
        match self.sources {
            Sources::Catalog(catalog) => {
                let found = catalog.find(module).map_err(|error| error.to_string())?;
                let Some(package) = found.package() else {
                    return Err(format!(
                        "module `{module}` cannot be used: {}",
                        found.problem().unwrap_or_default()
                    ));
                };
                let version = package.manifest.version.clone();
                self.offer(
                    module,
                    &version,
                    Provenance::Source(package.dir.clone(), found.kind),
                );
                Ok(vec![Candidate {
                    version,
                    dependencies: package.manifest.dependencies.clone(),
                    excluded: None,
                }])
            }
            Sources::Registry {
                registry,
                keys,
                allow_unsigned,
                ..
            } => {
                let entries = self.ahead.index(*registry, module)?;
                if entries.is_empty() {
                    let pack = crate::catalog::pack_command(module);
                    let hint = if registry.has_loose() {
                        format!("give its artifact with another `--from`, or pack it: {pack}")
                    } else {
                        format!("pack it first: {pack}; or publish it to the registry")
                    };
                    return Err(format!(
                        "no packs of `{module}` in {}\nhint: {hint}",
                        registry.description()
                    ));
                }
                Ok(entries
                    .into_iter()
                    .map(|entry| {
                        let pinned = self.pinned.get(module) == Some(&entry.version);
                        let allowed = allow_unsigned.allows(module);
                        let excluded = exclusion(module, &entry, keys, allowed, pinned);
                        let candidate = Candidate {
                            version: entry.version.clone(),
                            dependencies: entry.dependencies.clone(),
                            excluded,
                        };
                        let version = entry.version.clone();
                        self.offer(module, &version, Provenance::Registry(Box::new(entry)));
                        candidate
                    })
                    .collect())
            }
        }
    }
}

/// Why a version of `module` the registry records may not be chosen, if it may not: yanked
/// (unless it is the version the lock pins), unsigned, or signed by a key that is not trusted,
/// or trusted for other modules only (allowed when `--allow-unsigned` allows the module, as
/// verification allows them).
pub fn exclusion(
    module: &ModuleName,
    entry: &VersionEntry,
    keys: &[TrustedKey],
    allow_unsigned: bool,
    pinned: bool,
) -> Option<String> {
    if entry.yanked && !pinned {
        return Some("yanked".to_owned());
    }
    if allow_unsigned {
        return None;
    }
    let (Some(_), Some(signer)) = (&entry.signature, &entry.signer) else {
        return entry
            .signature
            .is_none()
            .then(|| resolve::UNSIGNED.to_owned());
    };
    match keys.iter().find(|key| key.key_id == *signer) {
        None => Some(format!("signed by {signer}, not a trusted key")),
        Some(key) if !key.scope.allows(module) => Some(format!(
            "signed by {signer}, a key trusted only for {}",
            key.scope
        )),
        Some(_) => None,
    }
}

impl resolve::Index for InstallIndex<'_> {
    /// Reads ahead the registry's records of the modules resolution will ask of the sources:
    /// not those a target fixes or the lock pins directly.
    fn prefetch(&self, modules: &[ModuleName]) {
        let Sources::Registry { registry, .. } = self.sources else {
            return;
        };
        let from_sources: Vec<&ModuleName> = modules
            .iter()
            .filter(|module| match self.targets.get(module) {
                Some(target) => target.fixed.is_none(),
                None => !self
                    .locked
                    .get(*module)
                    .is_some_and(|(entry, _)| entry.direct),
            })
            .collect();
        self.ahead.read(*registry, &from_sources);
    }

    fn candidates(&self, module: &ModuleName) -> Result<Vec<Candidate>, String> {
        if let Some(target) = self.targets.get(module) {
            return match &target.fixed {
                Some((version, dependencies, _)) => Ok(vec![Candidate {
                    version: version.clone(),
                    dependencies: dependencies.clone(),
                    excluded: None,
                }]),
                None => self.offered_by_sources(module),
            };
        }
        let Some((entry, dependencies)) = self.locked.get(module) else {
            return self.offered_by_sources(module);
        };
        let locked = Candidate {
            version: entry.version.clone(),
            dependencies: dependencies.clone(),
            excluded: None,
        };
        if entry.direct {
            self.offer(module, &entry.version, Provenance::Locked);
            return Ok(vec![locked]);
        }
        // A dependency may move when it must. A pack install replaces a linked dependency by
        // a pack (a pinned module must not rest on a live source), the same version first.
        let more = self.offered_by_sources(module);
        let replace_link =
            matches!(self.sources, Sources::Registry { .. }) && entry.mode() == Mode::Link;
        match more {
            Ok(more) if replace_link && !more.is_empty() => Ok(more),
            more => {
                self.offer(module, &entry.version, Provenance::Locked);
                let mut candidates = vec![locked];
                candidates.extend(
                    more.unwrap_or_default()
                        .into_iter()
                        .filter(|c| c.version != entry.version),
                );
                Ok(candidates)
            }
        }
    }
}

/// The registry's records of modules read ahead of need, a whole frontier of the resolution at
/// once ([`Registry::index_many`]: concurrently from a remote registry, under the command's one
/// network deadline), each taken once when resolution asks for it.
#[derive(Default)]
pub(super) struct ReadAhead(
    std::sync::Mutex<BTreeMap<ModuleName, Result<Vec<VersionEntry>, String>>>,
);

impl ReadAhead {
    /// Reads the records of those of `modules` not read yet.
    pub(super) fn read(&self, registry: &dyn Registry, modules: &[&ModuleName]) {
        let mut read = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let missing: Vec<ModuleName> = modules
            .iter()
            .filter(|module| !read.contains_key(**module))
            .map(|module| (*module).clone())
            .collect();
        if missing.len() < 2 {
            return;
        }
        for (module, entries) in missing.iter().zip(registry.index_many(&missing)) {
            read.insert(module.clone(), entries.map_err(|error| error.to_string()));
        }
    }

    /// The records of `module`: what was read ahead, else read now.
    pub(super) fn index(
        &self,
        registry: &dyn Registry,
        module: &ModuleName,
    ) -> Result<Vec<VersionEntry>, String> {
        let ahead = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(module);
        ahead.unwrap_or_else(|| registry.index(module).map_err(|error| error.to_string()))
    }
}
