//! The search itself, without recursion: what the index says is read first, breadth-first and a
//! whole frontier at a time (so a remote registry reads it concurrently), up to
//! [`MAX_MODULES`]; then modules are decided one at a time on an explicit stack of frames, each
//! choice recording what it added (requirements, modules to decide) so that undoing it removes
//! exactly that. Memory stays linear in what was read, the stack of the process does not grow
//! with the depth of a chain, and every candidate examined costs work units counted against
//! [`MAX_WORK`].

use std::collections::{BTreeMap, BTreeSet};

use semver::Version;

use super::{Candidate, Index, Origin, Requirement, ResolveError, describe};
use crate::names::ModuleName;

/// The most modules one resolution reads from its index: far more than any infra holds, few
/// enough that a hostile registry cannot make it read forever.
pub const MAX_MODULES: usize = 10_000;

/// The most work one resolution does: each candidate version examined costs one unit, plus one
/// per requirement checked against it and one per dependency it brings. A resolution that
/// needs no backtracking costs a few units per module and dependency.
pub const MAX_WORK: u64 = 2_000_000;

/// The modules still to decide, in rank order.
type Queue = BTreeSet<(usize, ModuleName)>;

/// What the index said about each module read: its versions in the order they are tried, or
/// why they cannot be read.
pub(super) type Read = BTreeMap<ModuleName, Result<Vec<Candidate>, String>>;

/// Reads every module reachable from `roots` through any version's dependencies, a frontier at
/// a time: each frontier is offered to [`Index::prefetch`] first. Refuses to read more than
/// [`MAX_MODULES`].
pub(super) fn read_all(
    roots: &[Requirement],
    index: &dyn Index,
    preferred: &BTreeMap<ModuleName, Version>,
) -> Result<Read, ResolveError> {
    let mut read = Read::new();
    let mut frontier: Vec<ModuleName> = roots
        .iter()
        .map(|root| root.module.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    while !frontier.is_empty() {
        if read.len() + frontier.len() > MAX_MODULES {
            return Err(ResolveError::TooManyModules { limit: MAX_MODULES });
        }
        index.prefetch(&frontier);
        let mut next = BTreeSet::new();
        for module in frontier {
            let candidates = index
                .candidates(&module)
                .map(|list| ordered(list, preferred.get(&module)));
            if let Ok(list) = &candidates {
                for dependency in list.iter().flat_map(|c| c.dependencies.keys()) {
                    if !read.contains_key(dependency) && *dependency != module {
                        next.insert(dependency.clone());
                    }
                }
            }
            read.insert(module, candidates);
        }
        next.retain(|module| !read.contains_key(module));
        frontier = next.into_iter().collect();
    }
    Ok(read)
}

/// A module's versions in the order they are tried: the preferred one first, then newest
/// first. Pre-releases stay in the list: a requirement matches them only when it names a
/// pre-release of the same version (Cargo's rule, as `semver` implements it).
fn ordered(mut list: Vec<Candidate>, preferred: Option<&Version>) -> Vec<Candidate> {
    list.sort_by(|a, b| {
        let a_first = Some(&a.version) == preferred;
        let b_first = Some(&b.version) == preferred;
        b_first
            .cmp(&a_first)
            .then_with(|| b.version.cmp(&a.version))
    });
    list.dedup_by(|a, b| a.version == b.version);
    list
}

/// Each module's place in the order modules are decided: topological order of every version's
/// dependencies (reverse post-order of a depth-first walk on an explicit stack; a cycle is
/// broken where it is met, and refused later). A module whose versions cannot be read is ranked
/// last: the error comes when, and if, it is needed.
pub(super) fn rank(roots: &[Requirement], read: &Read) -> BTreeMap<ModuleName, usize> {
    let mut post_order = Vec::new();
    let mut visited = BTreeSet::new();
    for root in roots {
        let mut stack = vec![(&root.module, false)];
        while let Some((module, expanded)) = stack.pop() {
            if expanded {
                post_order.push(module.clone());
                continue;
            }
            if !visited.insert(module) {
                continue;
            }
            stack.push((module, true));
            let dependencies: BTreeSet<&ModuleName> = match read.get(module) {
                Some(Ok(candidates)) => candidates
                    .iter()
                    .flat_map(|c| c.dependencies.keys())
                    .collect(),
                _ => BTreeSet::new(),
            };
            for dependency in dependencies.into_iter().rev() {
                if !visited.contains(dependency) {
                    stack.push((dependency, false));
                }
            }
        }
    }
    post_order
        .into_iter()
        .rev()
        .enumerate()
        .map(|(rank, module)| (module, rank))
        .collect()
}

/// One module being decided: the version tried now (an index into its candidates), and what
/// that choice added, to undo it.
struct Frame {
    entry: (usize, ModuleName),
    /// The next candidate to try.
    next: usize,
    choice: Option<Choice>,
}

struct Choice {
    /// Modules this choice put in the queue (they were in it not before).
    queued: Vec<(usize, ModuleName)>,
    /// The modules whose requirement lists got one requirement of this choice, at their end.
    required: Vec<ModuleName>,
}

pub(super) struct Search<'a> {
    pub read: &'a Read,
    pub rank: BTreeMap<ModuleName, usize>,
    /// The candidate chosen for each module decided, as an index into its versions.
    pub chosen: BTreeMap<ModuleName, usize>,
    pub requirements: BTreeMap<ModuleName, Vec<Requirement>>,
    pub work: u64,
    /// The first dead end met: the most telling one, since choices are made newest first.
    pub first_conflict: Option<ResolveError>,
}

impl<'a> Search<'a> {
    pub fn new(read: &'a Read, rank: BTreeMap<ModuleName, usize>) -> Self {
        Self {
            read,
            rank,
            chosen: BTreeMap::new(),
            requirements: BTreeMap::new(),
            work: 0,
            first_conflict: None,
        }
    }

    pub fn ranked(&self, module: &ModuleName) -> (usize, ModuleName) {
        (
            self.rank.get(module).copied().unwrap_or(usize::MAX),
            module.clone(),
        )
    }

    /// The candidate chosen for `module`, if it is decided.
    pub fn chosen(&self, module: &ModuleName) -> Option<&'a Candidate> {
        let index = *self.chosen.get(module)?;
        match self.read.get(module) {
            Some(Ok(candidates)) => candidates.get(index),
            _ => None,
        }
    }

    /// Chooses a version for every module in `queue` and what they need; says whether it
    /// could. Chronological backtracking on an explicit stack: a module with no version left
    /// undoes the choice before it, which then tries its next version.
    pub fn solve(&mut self, mut queue: Queue) -> Result<bool, ResolveError> {
        let mut stack: Vec<Frame> = Vec::new();
        loop {
            let Some(entry) = queue.pop_first() else {
                return Ok(true);
            };
            stack.push(Frame {
                entry,
                next: 0,
                choice: None,
            });
            // Find the next version to try, undoing choices until one has a version left.
            loop {
                let Some(frame) = stack.last_mut() else {
                    return Ok(false);
                };
                if let Some(choice) = frame.choice.take() {
                    self.undo(&frame.entry.1, choice, &mut queue);
                }
                if let Some(choice) = self.try_next(frame, &mut queue)? {
                    frame.choice = Some(choice);
                    break;
                }
                let Some(frame) = stack.pop() else {
                    return Ok(false);
                };
                self.note_exhausted(&frame.entry.1);
                queue.insert(frame.entry);
            }
        }
    }

    /// Tries `frame`'s module's versions from the next one on; the first that fits is chosen
    /// (its requirements recorded, its dependencies queued).
    fn try_next(
        &mut self,
        frame: &mut Frame,
        queue: &mut Queue,
    ) -> Result<Option<Choice>, ResolveError> {
        let module = &frame.entry.1;
        let read = self.read;
        let candidates = match read.get(module) {
            Some(Ok(candidates)) => candidates,
            Some(Err(reason)) => {
                return Err(ResolveError::Unavailable {
                    module: module.clone(),
                    requirements: describe(self.requirements_on(module)),
                    reason: reason.clone(),
                });
            }
            None => {
                return Err(ResolveError::Index(format!(
                    "the versions of `{module}` were not read"
                )));
            }
        };
        while let Some(candidate) = candidates.get(frame.next) {
            let index = frame.next;
            frame.next += 1;
            let checked = self.requirements_on(module).len() + candidate.dependencies.len();
            self.work = self.work.saturating_add(1 + checked as u64);
            if self.work > MAX_WORK {
                return Err(ResolveError::TooMuchWork { limit: MAX_WORK });
            }
            if candidate.excluded.is_some()
                || self
                    .requirements_on(module)
                    .iter()
                    .any(|r| !r.requirement.matches(&candidate.version))
            {
                continue;
            }
            // What this version needs must agree with what is already chosen.
            let clash = candidate.dependencies.iter().find(|(dependency, req)| {
                self.chosen(dependency)
                    .is_some_and(|chosen| !req.matches(&chosen.version))
            });
            if let Some((dependency, requirement)) = clash {
                self.note_conflict(dependency, (module, candidate, requirement));
                continue;
            }
            let origin = Origin::Module(module.clone(), candidate.version.clone());
            let mut choice = Choice {
                queued: Vec::new(),
                required: Vec::with_capacity(candidate.dependencies.len()),
            };
            for (dependency, requirement) in &candidate.dependencies {
                self.requirements
                    .entry(dependency.clone())
                    .or_default()
                    .push(Requirement {
                        module: dependency.clone(),
                        requirement: requirement.clone(),
                        origin: origin.clone(),
                    });
                choice.required.push(dependency.clone());
                if !self.chosen.contains_key(dependency) && dependency != module {
                    let entry = self.ranked(dependency);
                    if queue.insert(entry.clone()) {
                        choice.queued.push(entry);
                    }
                }
            }
            self.chosen.insert(module.clone(), index);
            return Ok(Some(choice));
        }
        Ok(None)
    }

    /// Undoes `module`'s choice: what it queued leaves the queue, its requirements (the last
    /// of each list, since choices are undone in the reverse order they were made) go.
    fn undo(&mut self, module: &ModuleName, choice: Choice, queue: &mut Queue) {
        self.chosen.remove(module);
        for entry in &choice.queued {
            queue.remove(entry);
        }
        for dependency in &choice.required {
            if let Some(list) = self.requirements.get_mut(dependency) {
                list.pop();
            }
        }
    }

    fn requirements_on(&self, module: &ModuleName) -> &[Requirement] {
        self.requirements
            .get(module)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Records, as the first conflict, that no version of `module` fits what is required of
    /// it.
    fn note_exhausted(&mut self, module: &ModuleName) {
        if self.first_conflict.is_some() {
            return;
        }
        self.first_conflict = Some(ResolveError::Conflict {
            module: module.clone(),
            requirements: describe(self.requirements_on(module)),
            rejected: self.rejected(module),
        });
    }

    /// Records, as the first conflict, a dependency of `candidate` that disagrees with what was
    /// chosen for it: both requirements, each with where it comes from.
    fn note_conflict(
        &mut self,
        dependency: &ModuleName,
        (module, candidate, requirement): (&ModuleName, &Candidate, &semver::VersionReq),
    ) {
        if self.first_conflict.is_some() {
            return;
        }
        let mut requirements = describe(self.requirements_on(dependency));
        requirements.push((
            requirement.clone(),
            format!("{module} {}", candidate.version),
        ));
        self.first_conflict = Some(ResolveError::Conflict {
            module: dependency.clone(),
            requirements,
            rejected: self.rejected(dependency),
        });
    }

    /// Every version of `module`, with why it may not be chosen at all when it may not.
    fn rejected(&self, module: &ModuleName) -> Vec<(Version, Option<String>)> {
        match self.read.get(module) {
            Some(Ok(all)) => all
                .iter()
                .map(|c| (c.version.clone(), c.excluded.clone()))
                .collect(),
            _ => Vec::new(),
        }
    }
}
