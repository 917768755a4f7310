//! Versions over time: what is behind (`providers outdated`) and the plan that moves pins
//! forward within their requirements (`providers update`; [`crate::ops::update`] carries it
//! out). Both read an [`InfraSession`]: its lock, each module's requirement (in its
//! `manifest.toml` for a module installed by name, in its requirers' manifests for a
//! dependency), and its registries' indexes (the sources the lock records included).

use std::collections::{BTreeMap, BTreeSet};

use semver::{Version, VersionReq};
use serde::Serialize;

use super::closure::{self, installed_dependencies};
use super::lockfile::{LockEntry, Mode, ProvidersLock};
use super::session::InfraSession;
use crate::artifact::verify::AllowUnsigned;
use crate::module::Layout;
use crate::names::ModuleName;
use crate::registry::{Registry, VersionEntry};
use crate::resolve::{self, Candidate, Origin, Requirement, Resolution};
use crate::signing::TrustedKey;
use crate::version_spec::{VersionSpec, exactly};

/// One pinned module, as `outdated` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct Outdated {
    pub module: ModuleName,
    pub pinned: Version,
    /// What it must satisfy: its requirement in `manifest.toml`, and its requirers'.
    pub requirement: String,
    /// The newest usable version every requirement allows.
    pub matching: Option<Version>,
    /// The newest usable version.
    pub newest: Option<Version>,
    /// Why the pin is where it is.
    pub why: String,
    /// Whether a newer usable version exists.
    pub behind: bool,
}

/// The requirements on each Nickel-layout module of the lock: `(requirement, who)`.
fn requirements(session: &InfraSession<'_>) -> BTreeMap<ModuleName, Vec<(VersionReq, String)>> {
    let (context, infra, lock) = (session.context, &session.infra, session.lock());
    let mut requirements: BTreeMap<ModuleName, Vec<(VersionReq, String)>> = BTreeMap::new();
    for entry in nickel_entries(lock) {
        if entry.direct {
            let own = match entry.mode() {
                Mode::Pack => session
                    .manifest()
                    .dependency_version(entry.module.as_str())
                    .as_deref()
                    .and_then(VersionSpec::from_manifest)
                    .map(|spec| spec.requirement()),
                Mode::Link => None,
            };
            let own = own.unwrap_or_else(|| exactly(&entry.version));
            requirements
                .entry(entry.module.clone())
                .or_default()
                .push((own, "manifest.toml".to_owned()));
        }
        for (dependency, requirement) in
            installed_dependencies(context, infra, entry).unwrap_or_default()
        {
            requirements
                .entry(dependency)
                .or_default()
                .push((requirement, entry.module.to_string()));
        }
    }
    requirements
}

fn nickel_entries(lock: &ProvidersLock) -> impl Iterator<Item = &LockEntry> {
    lock.providers
        .iter()
        .filter(|entry| entry.layout == Layout::Nickel)
}

/// Why a version may not be chosen by `outdated` or `update`: a yanked version never is, not
/// even the pinned one (they move away from it).
fn unusable(
    module: &ModuleName,
    entry: &VersionEntry,
    keys: &[TrustedKey],
    allow_unsigned: bool,
) -> Option<String> {
    closure::exclusion(module, entry, keys, allow_unsigned, false)
}

/// Each pinned module: its pin, the newest version its requirements allow, the newest there
/// is, and why the pin is where it is. Linked modules follow their source and are not listed.
pub fn outdated(session: &InfraSession<'_>) -> anyhow::Result<Vec<Outdated>> {
    let requirements = requirements(session);
    let pinned: Vec<&LockEntry> = nickel_entries(session.lock())
        .filter(|entry| entry.mode() == Mode::Pack)
        .collect();
    // Every index at once: a remote registry reads them concurrently.
    let modules: Vec<ModuleName> = pinned.iter().map(|entry| entry.module.clone()).collect();
    if modules.is_empty() {
        return Ok(Vec::new());
    }
    let (registry, keys) = (session.registry(Vec::new())?, session.keys()?);
    let indexes = registry.index_many(&modules);
    let mut rows = Vec::new();
    for (entry, index) in pinned.into_iter().zip(indexes) {
        let module = &entry.module;
        let on_it = requirements.get(module).cloned().unwrap_or_default();
        let requirement = on_it
            .iter()
            .map(|(requirement, who)| match who.as_str() {
                "manifest.toml" => requirement.to_string(),
                who => format!("{requirement} ({who})"),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let index = index?;
        let usable: Vec<&VersionEntry> = index
            .iter()
            .filter(|version| unusable(module, version, keys, false).is_none())
            .collect();
        let allowed = |version: &Version| on_it.iter().all(|(req, _)| req.matches(version));
        let matching = usable
            .iter()
            .map(|version| &version.version)
            .filter(|version| allowed(version))
            .max()
            .cloned();
        let pinned = &entry.version;
        // Pre-releases count as newer only for a pin that is one (as `cargo outdated` does).
        let newest = usable
            .iter()
            .map(|version| version.version.clone())
            .filter(|version| version.pre.is_empty() || !pinned.pre.is_empty())
            .max();
        let why = why_not_newer(
            &index,
            entry,
            &on_it,
            &matching,
            newest.as_ref(),
            &registry.label(),
            keys,
        );
        rows.push(Outdated {
            module: module.clone(),
            pinned: pinned.clone(),
            requirement,
            behind: newest.as_ref().is_some_and(|newest| newest > pinned),
            matching,
            newest,
            why,
        });
    }
    Ok(rows)
}

/// Why a pin is where it is: not in the registry, yanked, behind (and what holds it back), or
/// up to date; newer versions that may not be chosen at all are said once.
fn why_not_newer(
    index: &[VersionEntry],
    entry: &LockEntry,
    on_it: &[(VersionReq, String)],
    matching: &Option<Version>,
    newest: Option<&Version>,
    registry: &str,
    keys: &[TrustedKey],
) -> String {
    let (module, pinned) = (&entry.module, &entry.version);
    let yanked_pin = index
        .iter()
        .find(|version| version.version == *pinned && version.yanked);
    let mut why = if index.is_empty() {
        format!("`{module}` is not in the registry `{registry}`")
    } else if let Some(yanked) = yanked_pin {
        match &yanked.yank_reason {
            Some(reason) => format!("the pinned version is yanked: {reason}"),
            None => "the pinned version is yanked".to_owned(),
        }
    } else if matching.as_ref().is_some_and(|matching| matching > pinned) {
        "an update is available: `providers update` moves it".to_owned()
    } else if let Some(newest) = newest.filter(|newest| *newest > pinned) {
        match on_it.iter().find(|(req, _)| !req.matches(newest)) {
            Some((req, who)) if who == "manifest.toml" => {
                format!("the requirement {req} excludes {newest}")
            }
            Some((req, who)) => format!("{who} requires {req}, which excludes {newest}"),
            None => format!("{newest} needs what other pins exclude"),
        }
    } else {
        "up to date".to_owned()
    };
    let refused: Vec<String> = index
        .iter()
        .filter(|version| version.version > *pinned)
        .filter_map(|version| {
            unusable(module, version, keys, false)
                .map(|reason| format!("{} is {reason}", version.version))
        })
        .collect();
    if !refused.is_empty() {
        why.push_str(&format!(" ({})", refused.join(", ")));
    }
    why
}

/// What `update` does to one module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionChange {
    pub module: ModuleName,
    /// `None`: added (a new dependency).
    pub from: Option<Version>,
    /// `None`: removed (nothing needs it any more).
    pub to: Option<Version>,
}

/// The resolution `update` moves the infra to, and the changes from the lock.
#[derive(Debug)]
pub struct UpdatePlan {
    pub resolution: Resolution,
    pub changes: Vec<VersionChange>,
    /// Each resolved version's record, for the modules that change.
    pub records: BTreeMap<ModuleName, VersionEntry>,
    /// What `manifest.toml` keeps for the modules installed by name (their requirement).
    pub recorded: BTreeMap<ModuleName, String>,
}

/// Plans an update of `infra`: the pinned modules named (all of them when none is) and what
/// they need are re-resolved against the registry within their requirements, newest first;
/// everything else stays as the lock has it.
pub fn plan_update(
    session: &InfraSession<'_>,
    named: &[ModuleName],
    allow_unsigned: &AllowUnsigned,
) -> anyhow::Result<UpdatePlan> {
    let (context, infra) = (session.context, &session.infra);
    let entries: BTreeMap<ModuleName, &LockEntry> = nickel_entries(session.lock())
        .map(|entry| (entry.module.clone(), entry))
        .collect();
    refuse_unpinned(&infra.name, &entries, named)?;
    let installed: BTreeMap<ModuleName, BTreeMap<ModuleName, VersionReq>> = entries
        .iter()
        .map(|(module, entry)| {
            let dependencies = installed_dependencies(context, infra, entry).unwrap_or_default();
            (module.clone(), dependencies)
        })
        .collect();
    let moving = moving_set(&entries, &installed, named);
    let (roots, recorded) = update_roots(session, &entries);
    let preferred: BTreeMap<ModuleName, Version> = entries
        .iter()
        .filter(|(module, _)| !moving.contains(*module))
        .map(|(module, entry)| (module.clone(), entry.version.clone()))
        .collect();
    let index = UpdateIndex {
        entries: &entries,
        installed: &installed,
        moving: &moving,
        registry: session.registry(Vec::new())?,
        keys: session.keys()?,
        allow_unsigned,
        records: std::sync::Mutex::new(BTreeMap::new()),
        ahead: closure::ReadAhead::default(),
    };
    let resolution = resolve::resolve(&roots, &index, &preferred)?;
    let all_records = index
        .records
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (changes, records) = changes_from(&entries, &resolution, &all_records);
    Ok(UpdatePlan {
        resolution,
        changes,
        records,
        recorded,
    })
}

/// Refuses a named module that is linked (a link follows its source) or not installed.
fn refuse_unpinned(
    infra: &str,
    entries: &BTreeMap<ModuleName, &LockEntry>,
    named: &[ModuleName],
) -> anyhow::Result<()> {
    for module in named {
        match entries.get(module) {
            Some(entry) if entry.mode() == Mode::Pack => {}
            Some(_) => anyhow::bail!(
                "`{module}` is linked in `{infra}`: a link follows its source; only pinned packs update"
            ),
            None => {
                let pinned: Vec<String> = entries
                    .values()
                    .filter(|entry| entry.mode() == Mode::Pack)
                    .map(|entry| format!("`{}`", entry.name))
                    .collect();
                anyhow::bail!(
                    "`{module}` is not installed in `{infra}`\nhint: pinned: {}",
                    if pinned.is_empty() {
                        "none".to_owned()
                    } else {
                        pinned.join(", ")
                    }
                );
            }
        }
    }
    Ok(())
}

/// The modules that may move: those named (or every pinned one) and, transitively, the pinned
/// modules they need.
fn moving_set(
    entries: &BTreeMap<ModuleName, &LockEntry>,
    installed: &BTreeMap<ModuleName, BTreeMap<ModuleName, VersionReq>>,
    named: &[ModuleName],
) -> BTreeSet<ModuleName> {
    let pinned = |module: &ModuleName| {
        entries
            .get(module)
            .is_some_and(|entry| entry.mode() == Mode::Pack)
    };
    let mut moving: BTreeSet<ModuleName> = if named.is_empty() {
        entries
            .keys()
            .filter(|module| pinned(module))
            .cloned()
            .collect()
    } else {
        named.iter().cloned().collect()
    };
    let mut queue: Vec<ModuleName> = moving.iter().cloned().collect();
    while let Some(module) = queue.pop() {
        for dependency in installed.get(&module).into_iter().flat_map(BTreeMap::keys) {
            if pinned(dependency) && moving.insert(dependency.clone()) {
                queue.push(dependency.clone());
            }
        }
    }
    moving
}

/// What the infra asks for directly: a pack within the requirement `manifest.toml` records
/// (else exactly its pinned version), a link at its version; and the requirements recorded.
fn update_roots(
    session: &InfraSession<'_>,
    entries: &BTreeMap<ModuleName, &LockEntry>,
) -> (Vec<Requirement>, BTreeMap<ModuleName, String>) {
    let mut recorded = BTreeMap::new();
    let mut roots = Vec::new();
    for entry in entries.values().filter(|entry| entry.direct) {
        let requirement = match entry.mode() {
            Mode::Pack => {
                let text = session.manifest().dependency_version(entry.module.as_str());
                if let Some(text) = &text {
                    recorded.insert(entry.module.clone(), text.clone());
                }
                text.as_deref()
                    .and_then(VersionSpec::from_manifest)
                    .map_or_else(|| exactly(&entry.version), |spec| spec.requirement())
            }
            Mode::Link => exactly(&entry.version),
        };
        roots.push(Requirement {
            module: entry.module.clone(),
            requirement,
            origin: Origin::Root(format!("manifest.toml ({})", entry.module)),
        });
    }
    (roots, recorded)
}

/// The versions that change between the lock and `resolution` (a module nothing needs any
/// more goes), with the record of each new version.
fn changes_from(
    entries: &BTreeMap<ModuleName, &LockEntry>,
    resolution: &Resolution,
    all_records: &BTreeMap<(ModuleName, Version), VersionEntry>,
) -> (Vec<VersionChange>, BTreeMap<ModuleName, VersionEntry>) {
    let mut changes = Vec::new();
    let mut records = BTreeMap::new();
    for (module, resolved) in resolution {
        let from = entries.get(module).map(|entry| entry.version.clone());
        if from.as_ref() == Some(&resolved.version) {
            continue;
        }
        if let Some(record) = all_records.get(&(module.clone(), resolved.version.clone())) {
            records.insert(module.clone(), record.clone());
        }
        changes.push(VersionChange {
            module: module.clone(),
            from,
            to: Some(resolved.version.clone()),
        });
    }
    for (module, entry) in entries {
        if !resolution.contains_key(module) && !entry.direct {
            changes.push(VersionChange {
                module: module.clone(),
                from: Some(entry.version.clone()),
                to: None,
            });
        }
    }
    (changes, records)
}

struct UpdateIndex<'a> {
    entries: &'a BTreeMap<ModuleName, &'a LockEntry>,
    installed: &'a BTreeMap<ModuleName, BTreeMap<ModuleName, VersionReq>>,
    moving: &'a BTreeSet<ModuleName>,
    registry: &'a dyn Registry,
    keys: &'a [TrustedKey],
    allow_unsigned: &'a AllowUnsigned,
    records: std::sync::Mutex<BTreeMap<(ModuleName, Version), VersionEntry>>,
    ahead: closure::ReadAhead,
}

impl resolve::Index for UpdateIndex<'_> {
    /// Reads ahead the registry's records of the modules that may move.
    fn prefetch(&self, modules: &[ModuleName]) {
        let moving: Vec<&ModuleName> = modules
            .iter()
            .filter(|module| !self.entries.contains_key(*module) || self.moving.contains(*module))
            .collect();
        self.ahead.read(self.registry, &moving);
    }

    fn candidates(&self, module: &ModuleName) -> Result<Vec<Candidate>, String> {
        if let Some(entry) = self.entries.get(module)
            && !self.moving.contains(module)
        {
            return Ok(vec![Candidate {
                version: entry.version.clone(),
                dependencies: self.installed.get(module).cloned().unwrap_or_default(),
                excluded: None,
            }]);
        }
        let index = self.ahead.index(self.registry, module)?;
        if index.is_empty() {
            return Err(format!(
                "no packs of `{module}` in the registry `{}`",
                self.registry.label()
            ));
        }
        let mut records = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(index
            .into_iter()
            .map(|entry| {
                let candidate = Candidate {
                    version: entry.version.clone(),
                    dependencies: entry.dependencies.clone(),
                    excluded: unusable(
                        module,
                        &entry,
                        self.keys,
                        self.allow_unsigned.allows(module),
                    ),
                };
                records.insert((module.clone(), entry.version.clone()), entry);
                candidate
            })
            .collect())
    }
}
