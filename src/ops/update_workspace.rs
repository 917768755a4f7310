//! `providers update --workspace`: the infras of the workspace updated as one. A module moves
//! to the same version in every infra that pins it, or in none: every infra's update is
//! planned (and its packs fetched and verified) first; when a module would end at different
//! versions in different infras, or an infra's plan fails, nothing is written and the refusal
//! names each infra and why. Then each infra is written in a transaction of its own.

use std::collections::BTreeMap;

use semver::Version;

use super::update::{self, PreparedUpdate, UpdateOptions, UpdateReport};
use crate::infra::lockfile::Mode;
use crate::infra::session::InfraSession;
use crate::infra::versions;
use crate::names::ModuleName;

/// What an update of the workspace did, or would have done.
pub struct WorkspaceUpdate {
    /// Each infra's update, in infra order: written, or (with refusals, or a dry run) planned.
    pub infras: Vec<UpdateReport>,
    /// Why nothing was written: each infra that could not be planned, and each module that
    /// would not end at one version. Empty when the update went through.
    pub refusals: Vec<String>,
}

/// Updates the infras of `sessions` as one (see the module's documentation).
pub fn update_workspace(
    sessions: &mut [InfraSession<'_>],
    options: &UpdateOptions<'_>,
) -> anyhow::Result<WorkspaceUpdate> {
    let mut refusals = Vec::new();
    let mut prepared: Vec<Option<PreparedUpdate>> = Vec::new();
    for session in sessions.iter() {
        let named = named_here(session, options);
        if !options.modules.is_empty() && named.is_empty() {
            prepared.push(None);
            continue;
        }
        match update::prepare(session, &named, options) {
            Ok(update) => {
                refusals.extend(update.report.failures.iter().map(|failure| {
                    format!(
                        "`{}`: `{}` cannot be updated: {:#}",
                        session.infra.name, failure.module, failure.error
                    )
                }));
                prepared.push(Some(update));
            }
            Err(error) => {
                refusals.push(format!("`{}`: {error:#}", session.infra.name));
                prepared.push(None);
            }
        }
    }
    refusals.extend(split_versions(sessions, &prepared)?);
    let mut infras = Vec::new();
    for (session, update) in sessions.iter_mut().zip(prepared) {
        let Some(update) = update else { continue };
        if refusals.is_empty() {
            infras.push(update::apply_prepared(session, update)?);
        } else {
            infras.push(update.report);
        }
    }
    Ok(WorkspaceUpdate { infras, refusals })
}

/// The modules named that the session's infra pins (every pin when none is named).
fn named_here(session: &InfraSession<'_>, options: &UpdateOptions<'_>) -> Vec<ModuleName> {
    let lock = session.lock();
    update::named_modules(lock, options.modules)
        .into_iter()
        .filter(|module| {
            lock.module(module)
                .is_some_and(|entry| entry.mode() == Mode::Pack)
        })
        .collect()
}

/// Each module that moves somewhere but would not end at one version in every infra that pins
/// it: the versions, the infras, and why an infra holds it back.
fn split_versions(
    sessions: &[InfraSession<'_>],
    prepared: &[Option<PreparedUpdate>],
) -> anyhow::Result<Vec<String>> {
    // module → the version it ends at → the infras.
    let mut ends: BTreeMap<ModuleName, BTreeMap<Version, Vec<usize>>> = BTreeMap::new();
    let mut moves: Vec<ModuleName> = Vec::new();
    for (index, session) in sessions.iter().enumerate() {
        let changes = prepared[index].as_ref().map_or(&[][..], |p| p.changes());
        for entry in &session.lock().providers {
            if entry.mode() != Mode::Pack || changes.iter().any(|c| c.module == entry.module) {
                continue;
            }
            let versions = ends.entry(entry.module.clone()).or_default();
            versions
                .entry(entry.version.clone())
                .or_default()
                .push(index);
        }
        for change in changes {
            if let Some(to) = &change.to {
                moves.push(change.module.clone());
                let versions = ends.entry(change.module.clone()).or_default();
                versions.entry(to.clone()).or_default().push(index);
            }
        }
    }
    moves.sort();
    moves.dedup();
    let mut refusals = Vec::new();
    for module in moves {
        let Some(versions) = ends.get(&module).filter(|versions| versions.len() > 1) else {
            continue;
        };
        let Some((newest, at_newest)) = versions.iter().next_back() else {
            continue;
        };
        let mut held = Vec::new();
        for (version, infras) in versions.iter().filter(|(version, _)| *version != newest) {
            for &index in infras {
                let moved = prepared[index]
                    .as_ref()
                    .is_some_and(|p| p.changes().iter().any(|c| c.module == module));
                held.push(held_back(&sessions[index], &module, version, moved)?);
            }
        }
        let at_newest: Vec<String> = at_newest
            .iter()
            .map(|&index| format!("`{}`", sessions[index].infra.name))
            .collect();
        refusals.push(format!(
            "`{module}` cannot move to one version in every infra that pins it: {newest} in {}; {}",
            at_newest.join(", "),
            held.join("; ")
        ));
    }
    Ok(refusals)
}

/// Why `module` ends at `version` in the session's infra: `outdated`'s reason for its pin.
fn held_back(
    session: &InfraSession<'_>,
    module: &ModuleName,
    version: &Version,
    moved: bool,
) -> anyhow::Result<String> {
    let why = versions::outdated(session)?
        .into_iter()
        .find(|row| row.module == *module)
        .map(|row| row.why)
        .filter(|why| !why.is_empty())
        .unwrap_or_else(|| "its other pins hold it back".to_owned());
    let ends = if moved { "moves only to" } else { "stays at" };
    Ok(format!("`{}` {ends} {version}: {why}", session.infra.name))
}
