//! Dependency resolution: which version of each module an infra gets. One version of a module
//! per infra (Nickel imports a module by name), the newest that satisfies every requirement on
//! it, searched depth-first with backtracking (the way Cargo's resolver works, without its
//! heuristics): a module whose newest version conflicts with what was chosen before is tried
//! at its older versions, and a choice that leads nowhere is undone.
//!
//! Modules are decided in topological order of every version's dependencies (requirers before
//! what they require), so that when a module's version is chosen, every requirement on it is
//! usually known already: newest-first then rarely has to be undone.
//!
//! It works in memory over what an [`Index`] says about each version (its dependencies, and
//! whether it may be chosen at all: unsigned, untrusted or yanked versions may not), so that
//! nothing is downloaded to learn what a pack needs. The same resolver serves link mode (the
//! index is the catalog's sources: one version per module) and pack mode (the registry's
//! metadata).
//!
//! Metadata may be hostile, so a resolution is bounded ([`search`]): no recursion per module
//! (explicit stacks), at most [`MAX_MODULES`] modules read, a frontier at a time so that a remote
//! index reads them concurrently ([`Index::prefetch`]), at most [`MAX_WORK`] units of work, and
//! memory linear in what was read.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use semver::{Version, VersionReq};

use self::search::Search;
pub use self::search::{MAX_MODULES, MAX_WORK};
use crate::names::ModuleName;

mod search;

/// One version of a module, as the index describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub version: Version,
    pub dependencies: BTreeMap<ModuleName, VersionReq>,
    /// Why this version may not be chosen (`unsigned`, `yanked`...), if it may not.
    pub excluded: Option<String>,
}

/// What resolution reads: every version of a module, in any order. A module it does not know is
/// an error (the message names it and, when it can, what exists).
pub trait Index {
    fn candidates(&self, module: &ModuleName) -> Result<Vec<Candidate>, String>;

    /// Says that the candidates of each of `modules` are asked next, so that an index over a
    /// remote registry reads them together (concurrently) and answers
    /// [`Index::candidates`] from what it read. Best effort: a failure here comes back from
    /// `candidates`.
    fn prefetch(&self, _modules: &[ModuleName]) {}
}

/// Where a requirement comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The infra itself: what the user asked for, or a module it already has. The text says
    /// which (`the install of aws_prov`).
    Root(String),
    /// A chosen version of a module.
    Module(ModuleName, Version),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Root(text) => f.write_str(text),
            Origin::Module(module, version) => write!(f, "{module} {version}"),
        }
    }
}

/// A requirement on a module, and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub module: ModuleName,
    pub requirement: VersionReq,
    pub origin: Origin,
}

/// The chosen version of one module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub version: Version,
    pub dependencies: BTreeMap<ModuleName, VersionReq>,
    /// The chosen modules that require it, sorted.
    pub required_by: BTreeSet<ModuleName>,
    /// Whether a root requirement names it (the user asked for it, not only a module).
    pub root: bool,
}

/// Every module of the closure, by name.
pub type Resolution = BTreeMap<ModuleName, Resolved>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("{0}")]
    Index(String),
    #[error("{}", unavailable_message(.module, .requirements, .reason))]
    Unavailable {
        module: ModuleName,
        requirements: Vec<(VersionReq, String)>,
        /// What the index said, with its hint.
        reason: String,
    },
    #[error("{}", conflict_message(.module, .requirements, .rejected))]
    Conflict {
        module: ModuleName,
        requirements: Vec<(VersionReq, String)>,
        /// Every version of the module, with why it may not be chosen at all (unsigned,
        /// yanked) when that is the reason.
        rejected: Vec<(Version, Option<String>)>,
    },
    #[error("dependency cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    #[error(
        "resolution gave up after {limit} units of work (versions examined and requirements checked against them): the requirements are too entangled to search\nhint: require narrower versions"
    )]
    TooMuchWork { limit: u64 },
    #[error(
        "resolution would read more than {limit} modules, the most one resolution reads: the dependencies reach too far\nhint: a registry's metadata names more dependencies than any infra holds; check what requires them"
    )]
    TooManyModules { limit: usize },
}

impl ResolveError {
    /// Whether some version was refused only for being unsigned (so `--allow-unsigned` would
    /// help).
    pub fn unsigned(&self) -> bool {
        match self {
            ResolveError::Conflict { rejected, .. } => rejected
                .iter()
                .any(|(_, reason)| reason.as_deref() == Some(UNSIGNED)),
            _ => false,
        }
    }
}

/// The reason an index gives for an unsigned version.
pub const UNSIGNED: &str = "unsigned";

fn conflict_message(
    module: &ModuleName,
    requirements: &[(VersionReq, String)],
    rejected: &[(Version, Option<String>)],
) -> String {
    let mut message = if requirements.len() > 1 {
        format!("no version of `{module}` satisfies every requirement on it:")
    } else {
        format!("no version of `{module}` satisfies the requirement on it:")
    };
    for (requirement, origin) in requirements {
        message.push_str(&format!("\n  {origin} requires {module} {requirement}"));
    }
    if rejected.is_empty() {
        message.push_str("\nhint: the registry has no versions of it");
    } else {
        let mut sorted: Vec<&(Version, Option<String>)> = rejected.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let versions: Vec<String> = sorted
            .iter()
            .map(|(version, reason)| match reason {
                Some(reason) => format!("{version} ({reason})"),
                None => version.to_string(),
            })
            .collect();
        message.push_str(&format!("\nhint: available: {}", versions.join(", ")));
        if rejected
            .iter()
            .any(|(_, reason)| reason.as_deref() == Some(UNSIGNED))
        {
            // Scoped to this module: the bare flag would drop the check of every other pack.
            message.push_str(&format!(
                "; pass `--allow-unsigned={}` to accept its unsigned versions",
                module.short_name()
            ));
        }
    }
    message
}

fn unavailable_message(
    module: &ModuleName,
    requirements: &[(VersionReq, String)],
    reason: &str,
) -> String {
    let needed: Vec<String> = requirements
        .iter()
        .map(|(requirement, origin)| format!("{origin} requires {module} {requirement}"))
        .collect();
    // The index's hint, if any, stays last.
    let (what, hint) = match reason.split_once("\nhint: ") {
        Some((what, hint)) => (what, Some(hint)),
        None => (reason, None),
    };
    let mut message = format!("{what}\n  needed because {}", needed.join("; "));
    if let Some(hint) = hint {
        message.push_str(&format!("\nhint: {hint}"));
    }
    message
}

/// Resolves `roots` and everything they need. `preferred` versions (what a lock already pins)
/// are tried first when they satisfy the requirements, so that nothing moves unless it must.
pub fn resolve(
    roots: &[Requirement],
    index: &dyn Index,
    preferred: &BTreeMap<ModuleName, Version>,
) -> Result<Resolution, ResolveError> {
    let read = search::read_all(roots, index, preferred)?;
    let mut search = Search::new(&read, search::rank(roots, &read));
    let mut queue = BTreeSet::new();
    for root in roots {
        search
            .requirements
            .entry(root.module.clone())
            .or_default()
            .push(root.clone());
        queue.insert(search.ranked(&root.module));
    }
    if !search.solve(queue)? {
        return Err(search.first_conflict.take().unwrap_or_else(|| {
            ResolveError::Index("no solution to the requirements was found".into())
        }));
    }
    let resolution = resolution(&search, roots);
    check_cycles(&resolution)?;
    Ok(resolution)
}

fn resolution(search: &Search<'_>, roots: &[Requirement]) -> Resolution {
    let mut resolution: Resolution = search
        .chosen
        .keys()
        .filter_map(|module| {
            let candidate = search.chosen(module)?;
            Some((
                module.clone(),
                Resolved {
                    version: candidate.version.clone(),
                    dependencies: candidate.dependencies.clone(),
                    required_by: BTreeSet::new(),
                    root: false,
                },
            ))
        })
        .collect();
    for root in roots {
        if let Some(resolved) = resolution.get_mut(&root.module) {
            resolved.root = true;
        }
    }
    for module in search.chosen.keys() {
        for dependency in search
            .chosen(module)
            .into_iter()
            .flat_map(|c| c.dependencies.keys())
        {
            if let Some(resolved) = resolution.get_mut(dependency) {
                resolved.required_by.insert(module.clone());
            }
        }
    }
    resolution
}

/// Requirements as `(requirement, who requires it)`, each origin said once.
fn describe(requirements: &[Requirement]) -> Vec<(VersionReq, String)> {
    let mut seen = BTreeSet::new();
    requirements
        .iter()
        .map(|requirement| {
            (
                requirement.requirement.clone(),
                requirement.origin.to_string(),
            )
        })
        .filter(|(requirement, origin)| seen.insert((requirement.to_string(), origin.clone())))
        .collect()
}

/// Refuses a resolution whose modules require each other in a circle: a depth-first walk on an
/// explicit stack (the path from where it started, each with the dependencies left to visit).
fn check_cycles(resolution: &Resolution) -> Result<(), ResolveError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    type Dependencies<'r> = std::collections::btree_map::Keys<'r, ModuleName, VersionReq>;
    let dependencies = |module: &ModuleName| -> Option<Dependencies<'_>> {
        resolution
            .get(module)
            .map(|resolved| resolved.dependencies.keys())
    };
    let mut marks: BTreeMap<&ModuleName, Mark> = BTreeMap::new();
    for start in resolution.keys() {
        if marks.contains_key(start) {
            continue;
        }
        marks.insert(start, Mark::Open);
        let mut path: Vec<(&ModuleName, Option<Dependencies<'_>>)> =
            vec![(start, dependencies(start))];
        while let Some((module, left)) = path.last_mut() {
            let Some(dependency) = left.as_mut().and_then(Iterator::next) else {
                marks.insert(*module, Mark::Done);
                path.pop();
                continue;
            };
            match marks.get(dependency) {
                Some(Mark::Done) => {}
                Some(Mark::Open) => {
                    let from = path.iter().position(|(m, _)| *m == dependency).unwrap_or(0);
                    let mut cycle: Vec<String> = path[from..]
                        .iter()
                        .map(|(m, _)| match resolution.get(*m) {
                            Some(resolved) => format!("{m} {}", resolved.version),
                            None => m.to_string(),
                        })
                        .collect();
                    cycle.push(dependency.to_string());
                    return Err(ResolveError::Cycle(cycle));
                }
                None => {
                    marks.insert(dependency, Mark::Open);
                    path.push((dependency, dependencies(dependency)));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
