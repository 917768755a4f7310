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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use semver::{Version, VersionReq};

use crate::names::ModuleName;

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
        "resolution gave up after {0} attempts: the requirements are too entangled to search\nhint: require narrower versions"
    )]
    TooComplex(usize),
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
            message.push_str("; pass `--allow-unsigned` to accept unsigned versions");
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

/// How many times a choice may be undone before resolution gives up.
const MAX_BACKTRACKS: usize = 100_000;

/// Resolves `roots` and everything they need. `preferred` versions (what a lock already pins)
/// are tried first when they satisfy the requirements, so that nothing moves unless it must.
pub fn resolve(
    roots: &[Requirement],
    index: &dyn Index,
    preferred: &BTreeMap<ModuleName, Version>,
) -> Result<Resolution, ResolveError> {
    let mut search = Search {
        index,
        preferred,
        candidates: BTreeMap::new(),
        chosen: BTreeMap::new(),
        requirements: BTreeMap::new(),
        rank: BTreeMap::new(),
        backtracks: 0,
        first_conflict: None,
    };
    search.rank(roots);
    let mut queue = Queue::new();
    for root in roots {
        search
            .requirements
            .entry(root.module.clone())
            .or_default()
            .push(root.clone());
        queue.insert(search.ranked(&root.module));
    }
    if !search.solve(queue)? {
        return Err(search.first_conflict.unwrap_or_else(|| {
            ResolveError::Index("no solution to the requirements was found".into())
        }));
    }
    let resolution = search.resolution(roots);
    check_cycles(&resolution)?;
    Ok(resolution)
}

/// The modules still to decide, in rank order.
type Queue = BTreeSet<(usize, ModuleName)>;

struct Search<'a> {
    index: &'a dyn Index,
    preferred: &'a BTreeMap<ModuleName, Version>,
    /// Each module's versions, in the order they are tried, read once.
    candidates: BTreeMap<ModuleName, Vec<Candidate>>,
    chosen: BTreeMap<ModuleName, Candidate>,
    requirements: BTreeMap<ModuleName, Vec<Requirement>>,
    /// Each module's place in the order modules are decided.
    rank: BTreeMap<ModuleName, usize>,
    backtracks: usize,
    /// The first dead end met: the most telling one, since choices are made newest first.
    first_conflict: Option<ResolveError>,
}

impl Search<'_> {
    /// Chooses a version for every module in `queue` (and what they need); says whether it
    /// could. On `false`, the state is as it was on entry.
    /// Ranks every module reachable from `roots` through any version's dependencies in
    /// topological order (reverse post-order of a depth-first walk; a cycle is broken where it
    /// is met, and refused later). A module whose versions cannot be read is ranked last: the
    /// error comes when, and if, it is needed.
    fn rank(&mut self, roots: &[Requirement]) {
        let mut post_order = Vec::new();
        let mut visited = BTreeSet::new();
        for root in roots {
            let mut stack = vec![(root.module.clone(), false)];
            while let Some((module, expanded)) = stack.pop() {
                if expanded {
                    post_order.push(module);
                    continue;
                }
                if !visited.insert(module.clone()) {
                    continue;
                }
                stack.push((module.clone(), true));
                let dependencies: BTreeSet<ModuleName> = self
                    .candidates(&module)
                    .map(|candidates| {
                        candidates
                            .iter()
                            .flat_map(|c| c.dependencies.keys().cloned())
                            .collect()
                    })
                    .unwrap_or_default();
                for dependency in dependencies.into_iter().rev() {
                    if !visited.contains(&dependency) {
                        stack.push((dependency, false));
                    }
                }
            }
        }
        self.rank = post_order
            .into_iter()
            .rev()
            .enumerate()
            .map(|(rank, module)| (module, rank))
            .collect();
    }

    fn ranked(&self, module: &ModuleName) -> (usize, ModuleName) {
        (
            self.rank.get(module).copied().unwrap_or(usize::MAX),
            module.clone(),
        )
    }

    fn solve(&mut self, mut queue: Queue) -> Result<bool, ResolveError> {
        let Some((_, module)) = queue.pop_first() else {
            return Ok(true);
        };
        if self.chosen.contains_key(&module) {
            return self.solve(queue);
        }
        let requirements = self.requirements.get(&module).cloned().unwrap_or_default();
        let candidates = match self.candidates(&module) {
            Ok(candidates) => candidates,
            Err(ResolveError::Index(reason)) => {
                return Err(ResolveError::Unavailable {
                    module,
                    requirements: describe(&requirements),
                    reason,
                });
            }
            Err(other) => return Err(other),
        };
        let mut rejected = Vec::new();
        for candidate in candidates {
            rejected.push((candidate.version.clone(), candidate.excluded.clone()));
            if candidate.excluded.is_some()
                || requirements
                    .iter()
                    .any(|r| !r.requirement.matches(&candidate.version))
            {
                continue;
            }
            // What this version needs must agree with what is already chosen.
            let clash = candidate.dependencies.iter().find_map(|(dependency, req)| {
                let chosen = self.chosen.get(dependency)?;
                (!req.matches(&chosen.version)).then(|| (dependency.clone(), req.clone()))
            });
            if let Some((dependency, requirement)) = clash {
                self.note_conflict(&dependency, (&module, &candidate, &requirement));
                continue;
            }
            let origin = Origin::Module(module.clone(), candidate.version.clone());
            let mut next = queue.clone();
            for (dependency, requirement) in &candidate.dependencies {
                self.requirements
                    .entry(dependency.clone())
                    .or_default()
                    .push(Requirement {
                        module: dependency.clone(),
                        requirement: requirement.clone(),
                        origin: origin.clone(),
                    });
                next.insert(self.ranked(dependency));
            }
            self.chosen.insert(module.clone(), candidate.clone());
            if self.solve(next)? {
                return Ok(true);
            }
            // Undo this choice and try the next version.
            self.chosen.remove(&module);
            for dependency in candidate.dependencies.keys() {
                if let Some(list) = self.requirements.get_mut(dependency) {
                    list.retain(|r| r.origin != origin);
                }
            }
            self.backtracks += 1;
            if self.backtracks > MAX_BACKTRACKS {
                return Err(ResolveError::TooComplex(MAX_BACKTRACKS));
            }
        }
        if self.first_conflict.is_none() {
            self.first_conflict = Some(ResolveError::Conflict {
                module: module.clone(),
                requirements: describe(&requirements),
                rejected,
            });
        }
        Ok(false)
    }

    /// Records, as the first conflict, a dependency of `candidate` that disagrees with what was
    /// chosen for it: both requirements, each with where it comes from.
    fn note_conflict(
        &mut self,
        dependency: &ModuleName,
        (module, candidate, requirement): (&ModuleName, &Candidate, &VersionReq),
    ) {
        if self.first_conflict.is_some() {
            return;
        }
        let mut requirements = describe(
            self.requirements
                .get(dependency)
                .map(Vec::as_slice)
                .unwrap_or_default(),
        );
        requirements.push((
            requirement.clone(),
            format!("{module} {}", candidate.version),
        ));
        let rejected = self
            .candidates
            .get(dependency)
            .map(|all| {
                all.iter()
                    .map(|c| (c.version.clone(), c.excluded.clone()))
                    .collect()
            })
            .unwrap_or_default();
        self.first_conflict = Some(ResolveError::Conflict {
            module: dependency.clone(),
            requirements,
            rejected,
        });
    }

    /// A module's versions in the order they are tried: the preferred one first, then newest
    /// first. Pre-releases stay in the list: a requirement matches them only when it names a
    /// pre-release of the same version (Cargo's rule, as `semver` implements it).
    fn candidates(&mut self, module: &ModuleName) -> Result<Vec<Candidate>, ResolveError> {
        if let Some(known) = self.candidates.get(module) {
            return Ok(known.clone());
        }
        let mut list = self.index.candidates(module).map_err(ResolveError::Index)?;
        let preferred = self.preferred.get(module);
        list.sort_by(|a, b| {
            let a_first = Some(&a.version) == preferred;
            let b_first = Some(&b.version) == preferred;
            b_first
                .cmp(&a_first)
                .then_with(|| b.version.cmp(&a.version))
        });
        list.dedup_by(|a, b| a.version == b.version);
        self.candidates.insert(module.clone(), list.clone());
        Ok(list)
    }

    fn resolution(&self, roots: &[Requirement]) -> Resolution {
        let mut resolution: Resolution = self
            .chosen
            .iter()
            .map(|(module, candidate)| {
                (
                    module.clone(),
                    Resolved {
                        version: candidate.version.clone(),
                        dependencies: candidate.dependencies.clone(),
                        required_by: BTreeSet::new(),
                        root: roots.iter().any(|root| root.module == *module),
                    },
                )
            })
            .collect();
        for (module, candidate) in &self.chosen {
            for dependency in candidate.dependencies.keys() {
                if let Some(resolved) = resolution.get_mut(dependency) {
                    resolved.required_by.insert(module.clone());
                }
            }
        }
        resolution
    }
}

/// Requirements as `(requirement, who requires it)`, each origin said once.
fn describe(requirements: &[Requirement]) -> Vec<(VersionReq, String)> {
    let mut described: Vec<(VersionReq, String)> = Vec::new();
    for requirement in requirements {
        let item = (
            requirement.requirement.clone(),
            requirement.origin.to_string(),
        );
        if !described.contains(&item) {
            described.push(item);
        }
    }
    described
}

/// Refuses a resolution whose modules require each other in a circle.
fn check_cycles(resolution: &Resolution) -> Result<(), ResolveError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        module: &ModuleName,
        resolution: &Resolution,
        marks: &mut BTreeMap<ModuleName, Mark>,
        path: &mut Vec<ModuleName>,
    ) -> Result<(), ResolveError> {
        match marks.get(module) {
            Some(Mark::Done) => return Ok(()),
            Some(Mark::Open) => {
                let start = path.iter().position(|m| m == module).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..]
                    .iter()
                    .map(|m| match resolution.get(m) {
                        Some(resolved) => format!("{m} {}", resolved.version),
                        None => m.to_string(),
                    })
                    .collect();
                cycle.push(module.to_string());
                return Err(ResolveError::Cycle(cycle));
            }
            None => {}
        }
        marks.insert(module.clone(), Mark::Open);
        path.push(module.clone());
        if let Some(resolved) = resolution.get(module) {
            for dependency in resolved.dependencies.keys() {
                visit(dependency, resolution, marks, path)?;
            }
        }
        path.pop();
        marks.insert(module.clone(), Mark::Done);
        Ok(())
    }
    let mut marks = BTreeMap::new();
    for module in resolution.keys() {
        visit(module, resolution, &mut marks, &mut Vec::new())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
