//! The capability check of a change to an infra: the loaded set as the lock and the disk have
//! it, plus what the change adds, minus what it removes, checked before anything is written,
//! with a hint that names the command that would make the set fit.

use anyhow::bail;

use super::{Loaded, Problem, check_against, loaded};
use crate::catalog::{Catalog, Module};
use crate::context::Context;
use crate::infra::Infra;
use crate::infra::lockfile::ProvidersLock;
use crate::module::ModuleKind;
use crate::names::ModuleName;

/// Refuses a change that would leave the infra's loaded set with an unmet requirement, a
/// conflict or a cycle. `set` is the set the change leaves (the lock's, with what the change
/// adds as it will be installed, minus what it takes away); `adding` are the modules the
/// command names (for the hint), `removing` the modules it takes away. Nothing is written
/// before this passes.
pub fn refuse_misfit(
    infra: &Infra,
    set: &[Loaded],
    catalog: &Catalog,
    adding: &[Module],
    removing: &[ModuleName],
) -> anyhow::Result<()> {
    let mut problems = check_against(set, catalog);
    if problems.is_empty() {
        return Ok(());
    }
    for problem in &mut problems {
        if let Problem::Unmet {
            offered_by,
            unloading,
            ..
        } = problem
        {
            unloading.extend(
                offered_by
                    .iter()
                    .filter(|(name, _)| removing.iter().any(|m| m.as_str() == name))
                    .map(|(name, _)| name.clone()),
            );
        }
    }
    let mut message: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let suggested = problems.iter().find_map(|problem| match problem {
        Problem::Unmet { offered_by, .. } => offered_by.first().cloned(),
        _ => None,
    });
    if !removing.is_empty() {
        message
            .push("hint: `--force` unloads anyway, and leaves what requires it unmet".to_owned());
    } else if let Some(hint) = suggested.and_then(|suggested| together(infra, adding, &suggested)) {
        message.push(format!("hint: {hint}"));
    } else if let Some(hint) = switch_hint(infra, set, adding, &problems) {
        message.push(format!("hint: {hint}"));
    }
    bail!(
        "refusing to change `{}`: its modules would not fit together\n{}",
        infra.name,
        message.join("\n")
    )
}

/// Refuses an update that would leave the infra's loaded set with a problem. `moving` names
/// the versions it would move to (`` `containerd` 0.2.0 ``), for the message.
pub fn refuse_update_misfit(
    infra: &Infra,
    set: &[Loaded],
    catalog: &Catalog,
    moving: &[String],
) -> anyhow::Result<()> {
    let problems = check_against(set, catalog);
    if problems.is_empty() {
        return Ok(());
    }
    let message: Vec<String> = problems.iter().map(ToString::to_string).collect();
    bail!(
        "refusing to update `{}`: with {} its modules would not fit together\n{}\nhint: update the other modules alone (`provisioning providers update {} MODULE...`), or narrow the requirement in `manifest.toml` to the versions that fit",
        infra.name,
        moving.join(", "),
        message.join("\n"),
        infra.name
    )
}

/// The set the lock has (as [`loaded`] reads it), without `removing`, with `adding` in place of
/// what the lock has of them.
pub fn changed_set(
    context: &Context,
    infra: &Infra,
    lock: &ProvidersLock,
    adding: Vec<Loaded>,
    removing: &[ModuleName],
) -> Vec<Loaded> {
    let mut set: Vec<Loaded> = loaded(context, infra, lock)
        .into_iter()
        .filter(|loaded| {
            !removing.contains(&loaded.module) && !adding.iter().any(|a| a.module == loaded.module)
        })
        .collect();
    set.extend(adding);
    set
}

/// For a conflict between a module the command loads and one already loaded: how to switch
/// (unload the loaded one first, with `--force` when something requires what it provides).
fn switch_hint(
    infra: &Infra,
    set: &[Loaded],
    adding: &[Module],
    problems: &[Problem],
) -> Option<String> {
    let named = |name: &ModuleName| adding.iter().any(|module| name == module.name.as_str());
    let (new, old) = problems.iter().find_map(|problem| match problem {
        Problem::Conflict { module, by, .. } if named(module) && !named(by) => Some((module, by)),
        Problem::Conflict { module, by, .. } if named(by) && !named(module) => Some((by, module)),
        _ => None,
    })?;
    let loaded = set.iter().find(|loaded| loaded.module == *old)?;
    let required = set.iter().any(|other| {
        other.module != *old
            && other.module != *new
            && other.capabilities.requires.iter().any(|capability| {
                capability == old.as_str() || loaded.capabilities.provides.contains(capability)
            })
    });
    let name = match loaded.kind {
        ModuleKind::Provider => crate::names::ShortName::from_provider_module(old.as_str())
            .map_or_else(|| old.to_string(), |provider| provider.to_string()),
        _ => old.to_string(),
    };
    Some(format!(
        "to replace `{old}` with `{new}`, unload it first: `provisioning module-loader unload {} {} {name}{}`, then load `{new}`",
        loaded.kind.dir_name(),
        infra.name,
        if required { " --force" } else { "" }
    ))
}

/// The command that loads `adding` with `suggested`: `load <kind>` when they are all of one
/// kind, else `init`, which loads several kinds at once (on an existing infra too). Each module
/// is named once; none when `suggested` is already being loaded (loading it again would not
/// help, and following such a hint added one more name to the next one).
fn together(infra: &Infra, adding: &[Module], suggested: &(String, ModuleKind)) -> Option<String> {
    let mut wanted: Vec<(ModuleKind, String)> = Vec::new();
    for module in adding {
        let entry = (module.kind, module.name.clone());
        if !wanted.contains(&entry) {
            wanted.push(entry);
        }
    }
    // A provider is named on the command line by its provider name, not its module's.
    let name = crate::names::ShortName::from_provider_module(&suggested.0)
        .filter(|_| suggested.1 == ModuleKind::Provider)
        .map_or_else(|| suggested.0.clone(), |provider| provider.to_string());
    let suggested = (suggested.1, name);
    if wanted.contains(&suggested) {
        return None;
    }
    wanted.push(suggested);
    let first = wanted[0].0;
    if wanted.iter().all(|(kind, _)| *kind == first) {
        let names: Vec<&str> = wanted.iter().map(|(_, name)| name.as_str()).collect();
        return Some(format!(
            "load them together: `provisioning module-loader load {} {} {}`",
            first.dir_name(),
            infra.name,
            names.join(" ")
        ));
    }
    let mut flags = Vec::new();
    for kind in ModuleKind::LOADABLE {
        let names: Vec<&str> = wanted
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, name)| name.as_str())
            .collect();
        if !names.is_empty() {
            flags.push(format!("--{} {}", kind.dir_name(), names.join(",")));
        }
    }
    Some(format!(
        "load them together: `provisioning module-loader init {} {}`",
        infra.name,
        flags.join(" ")
    ))
}
