//! The capability check of a set of loaded modules: every `requires` met by a loaded module
//! that provides the capability (or has that name), no `conflicts_with` broken, and no cycle
//! among the modules that require each other. Pure and linear in modules + edges; the catalog's
//! providers of a capability come in as an argument, for hints.

mod change;

use std::collections::{BTreeMap, BTreeSet};

pub use change::{changed_set, refuse_misfit, refuse_update_misfit};

use crate::module::{Capabilities, ModuleKind};
use crate::names::ModuleName;

/// One module of the set, with what it declares.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub module: ModuleName,
    pub kind: ModuleKind,
    pub capabilities: Capabilities,
}

/// What is wrong with a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// `module` requires `capability` and no other module of the set provides it; `offered_by`
    /// are the catalog's other modules that would (name, kind), and `provided_by_itself` says
    /// that `module` provides it too (which does not meet its own requirement).
    /// `unloading`: those of `offered_by` the change takes away (loaded now, not after it).
    Unmet {
        module: ModuleName,
        capability: String,
        offered_by: Vec<(String, ModuleKind)>,
        unloading: Vec<String>,
        provided_by_itself: bool,
    },
    /// `module` conflicts with `capability`, which `by` provides (or is).
    Conflict {
        module: ModuleName,
        capability: String,
        by: ModuleName,
    },
    /// Each module of the list requires the next, and the last the first.
    Cycle(Vec<ModuleName>),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Unmet {
                module,
                capability,
                offered_by,
                unloading,
                provided_by_itself,
            } => {
                if let [(name, kind)] = offered_by.as_slice()
                    && name == capability
                {
                    let which = if unloading.contains(name) {
                        "which this change unloads"
                    } else {
                        "which is not loaded"
                    };
                    return write!(
                        f,
                        "`{module}` requires the {} `{capability}`, {which}",
                        kind.as_str()
                    );
                }
                write!(f, "`{module}` requires `{capability}`")?;
                if offered_by.is_empty() && *provided_by_itself {
                    write!(
                        f,
                        ", which only `{module}` itself provides (a module does not meet its own requirement)"
                    )
                } else if offered_by.is_empty() {
                    write!(f, ", which no module of the catalog provides")
                } else {
                    let names: Vec<String> = offered_by
                        .iter()
                        .map(|(name, _)| {
                            if unloading.contains(name) {
                                format!("`{name}` (unloaded by this change)")
                            } else {
                                format!("`{name}` (not loaded)")
                            }
                        })
                        .collect();
                    write!(f, "; provided by {}", names.join(", "))
                }
            }
            Problem::Conflict {
                module,
                capability,
                by,
            } if by.as_str() == capability => {
                write!(
                    f,
                    "`{module}` conflicts with `{by}`: they cannot be loaded together"
                )
            }
            Problem::Conflict {
                module,
                capability,
                by,
            } => write!(
                f,
                "`{module}` conflicts with `{capability}`, which `{by}` provides"
            ),
            Problem::Cycle(modules) => {
                let mut names: Vec<String> = modules.iter().map(|m| format!("`{m}`")).collect();
                if let Some(first) = names.first().cloned() {
                    names.push(first);
                }
                write!(f, "a requirement cycle: {}", names.join(" requires "))
            }
        }
    }
}

/// Who provides what in `loaded`: each capability, and each module's own name.
pub fn providers(loaded: &[Loaded]) -> BTreeMap<&str, Vec<&ModuleName>> {
    let mut providers: BTreeMap<&str, Vec<&ModuleName>> = BTreeMap::new();
    for module in loaded {
        providers
            .entry(module.module.as_str())
            .or_default()
            .push(&module.module);
        for capability in &module.capabilities.provides {
            providers
                .entry(capability)
                .or_default()
                .push(&module.module);
        }
    }
    providers
}

/// Every problem of the set, in module order. `offered_by` gives the catalog's modules that
/// provide a capability (for the hint of an unmet one).
pub fn check(
    loaded: &[Loaded],
    offered_by: &dyn Fn(&str) -> Vec<(String, ModuleKind)>,
) -> Vec<Problem> {
    let providers = providers(loaded);
    let mut problems = Vec::new();
    for module in loaded {
        for capability in &module.capabilities.requires {
            let met = providers
                .get(capability.as_str())
                .is_some_and(|by| by.iter().any(|by| **by != module.module));
            if !met {
                // The module itself is no answer to its own requirement: a hint that named it
                // asked to load it twice, and grew by one name each time it was followed.
                let others = offered_by(capability)
                    .into_iter()
                    .filter(|(name, _)| name != module.module.as_str())
                    .collect();
                problems.push(Problem::Unmet {
                    module: module.module.clone(),
                    capability: capability.clone(),
                    unloading: Vec::new(),
                    offered_by: others,
                    provided_by_itself: module.capabilities.provides.contains(capability),
                });
            }
        }
        for capability in &module.capabilities.conflicts_with {
            for by in providers.get(capability.as_str()).into_iter().flatten() {
                // Two modules that name each other are one conflict, reported once.
                let mirrored = problems.iter().any(|problem| {
                    matches!(problem, Problem::Conflict { module: other, by: its, capability: named }
                        if other == *by && *its == module.module && named == its.as_str()
                            && capability == by.as_str())
                });
                if **by != module.module && !mirrored {
                    problems.push(Problem::Conflict {
                        module: module.module.clone(),
                        capability: capability.clone(),
                        by: (*by).clone(),
                    });
                }
            }
        }
    }
    if let Some(cycle) = find_cycle(loaded, &providers) {
        problems.push(Problem::Cycle(cycle));
    }
    problems
}

/// A cycle among "requires a capability that this module provides" edges, by depth-first
/// search with three colors: each module and edge is visited once.
fn find_cycle(
    loaded: &[Loaded],
    providers: &BTreeMap<&str, Vec<&ModuleName>>,
) -> Option<Vec<ModuleName>> {
    let edges: BTreeMap<&ModuleName, BTreeSet<&ModuleName>> = loaded
        .iter()
        .map(|module| {
            let targets = module
                .capabilities
                .requires
                .iter()
                .flat_map(|capability| providers.get(capability.as_str()).into_iter().flatten())
                .copied()
                .filter(|target| **target != module.module)
                .collect();
            (&module.module, targets)
        })
        .collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Color {
        Fresh,
        Open,
        Done,
    }
    let mut color: BTreeMap<&ModuleName, Color> =
        edges.keys().map(|module| (*module, Color::Fresh)).collect();
    for start in edges.keys() {
        if color[start] != Color::Fresh {
            continue;
        }
        // The path from `start`, each with the edges still to follow.
        let mut path: Vec<(&ModuleName, Vec<&ModuleName>)> =
            vec![(start, edges[start].iter().copied().collect())];
        color.insert(start, Color::Open);
        while let Some((node, pending)) = path.last_mut() {
            let node = *node;
            match pending.pop() {
                Some(next) => match color.get(next).copied() {
                    Some(Color::Fresh) => {
                        color.insert(next, Color::Open);
                        path.push((next, edges[next].iter().copied().collect()));
                    }
                    Some(Color::Open) => {
                        let from = path.iter().position(|(n, _)| *n == next).unwrap_or(0);
                        return Some(path[from..].iter().map(|(n, _)| (*n).clone()).collect());
                    }
                    Some(Color::Done) | None => {}
                },
                None => {
                    color.insert(node, Color::Done);
                    path.pop();
                }
            }
        }
    }
    None
}

/// The infra's loaded set as the lock and the disk have it: each locked module with the
/// capabilities its installed manifest declares (none when it cannot be read; `validate`
/// reports that on its own).
pub fn loaded(
    context: &crate::context::Context,
    infra: &super::Infra,
    lock: &super::lockfile::ProvidersLock,
) -> Vec<Loaded> {
    lock.providers
        .iter()
        .filter(|entry| entry.layout == crate::module::Layout::Nickel)
        .map(|entry| {
            let manifest = crate::module::Layout::Nickel.manifest_file();
            let installed = super::closure::installed_dir(context, infra, entry).join(manifest);
            // A link not made yet (a fresh clone before `sync`) still says what its source is.
            let source = match &entry.installed {
                super::lockfile::Installed::Link { source } => {
                    Some(super::state::source_path(context, source).join(manifest))
                }
                super::lockfile::Installed::Pack(_) => None,
            };
            let capabilities = crate::module::read_package_manifest(&installed)
                .or_else(|error| match &source {
                    Some(source) => crate::module::read_package_manifest(source),
                    None => Err(error),
                })
                .map(|manifest| manifest.capabilities)
                .unwrap_or_default();
            Loaded {
                module: entry.module.clone(),
                kind: entry.kind,
                capabilities,
            }
        })
        .collect()
}

/// [`check`], with the hints from `catalog`, which is read (every module of every kind) only
/// when a requirement is unmet: the check itself stays off the disk.
pub fn check_against(loaded: &[Loaded], catalog: &crate::catalog::Catalog) -> Vec<Problem> {
    let everything = std::cell::OnceCell::new();
    check(loaded, &|capability| {
        offered_by(everything.get_or_init(|| catalog.loadable()), capability)
    })
}

/// The catalog's modules that provide `capability` (or are named so), for hints.
pub fn offered_by(
    catalog: &[crate::catalog::Module],
    capability: &str,
) -> Vec<(String, ModuleKind)> {
    catalog
        .iter()
        .filter(|module| {
            module.package().is_some_and(|package| {
                package.manifest.name == capability
                    || package
                        .manifest
                        .capabilities
                        .provides
                        .iter()
                        .any(|p| p == capability)
            })
        })
        .map(|module| {
            let name = module
                .package()
                .map_or_else(|| module.name.clone(), |p| p.manifest.name.clone());
            (name, module.kind)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(name: &str, provides: &[&str], requires: &[&str], conflicts: &[&str]) -> Loaded {
        let list = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
        Loaded {
            module: name.parse().expect("name"),
            kind: ModuleKind::Taskserv,
            capabilities: Capabilities {
                provides: list(provides),
                requires: list(requires),
                conflicts_with: list(conflicts),
            },
        }
    }

    fn none(_: &str) -> Vec<(String, ModuleKind)> {
        Vec::new()
    }

    #[test]
    fn requirements_conflicts_and_cycles() {
        let catalog = |capability: &str| {
            if capability == "container-runtime" {
                vec![
                    ("containerd".to_owned(), ModuleKind::Taskserv),
                    ("crio".to_owned(), ModuleKind::Taskserv),
                ]
            } else {
                Vec::new()
            }
        };
        let kubernetes = module("kubernetes", &["orchestrator"], &["container-runtime"], &[]);
        let containerd = module("containerd", &["container-runtime"], &[], &["crio"]);
        let crio = module("crio", &["container-runtime"], &[], &[]);
        let web = module("web", &[], &["kubernetes"], &[]);

        assert_eq!(
            check(
                &[kubernetes.clone(), containerd.clone(), web.clone()],
                &catalog
            ),
            []
        );
        let unmet = check(&[kubernetes.clone(), web.clone()], &catalog);
        assert_eq!(
            unmet.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "`kubernetes` requires `container-runtime`; provided by `containerd` (not loaded), `crio` (not loaded)"
            ]
        );
        let conflict = check(&[containerd.clone(), crio], &none);
        let mutual = module("crio", &["container-runtime"], &[], &["containerd"]);
        let both_ways = check(&[containerd.clone(), mutual], &none);
        assert_eq!(both_ways, conflict, "a conflict both modules declare, once");
        assert_eq!(
            conflict.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["`containerd` conflicts with `crio`: they cannot be loaded together"]
        );
        // A module that provides what it requires does not meet its own requirement.
        let alone = module("selfish", &["x"], &["x"], &[]);
        let itself = |_: &str| vec![("selfish".to_owned(), ModuleKind::Taskserv)];
        assert_eq!(
            check(&[alone], &itself)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "`selfish` requires `x`, which only `selfish` itself provides (a module does not meet its own requirement)"
            ]
        );
        let a = module("a", &["cap-a"], &["cap-b"], &[]);
        let b = module("b", &["cap-b"], &["c"], &[]);
        let c = module("c", &[], &["cap-a"], &[]);
        let cycle = check(&[a, b, c], &none);
        assert_eq!(
            cycle.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["a requirement cycle: `a` requires `b` requires `c` requires `a`"]
        );
    }

    #[test]
    fn a_long_chain_is_checked_without_recursion() {
        // 10,000 modules in a chain, each requiring the next one's capability.
        let count = 10_000;
        let loaded: Vec<Loaded> = (0..count)
            .map(|i| {
                let provides = format!("cap-{i}");
                let requires = format!("cap-{}", i + 1);
                if i + 1 == count {
                    module(&format!("m{i}"), &[&provides], &[], &[])
                } else {
                    module(&format!("m{i}"), &[&provides], &[&requires], &[])
                }
            })
            .collect();
        assert_eq!(check(&loaded, &none), []);
    }
}
