//! The infra `manifest.toml`'s three-way merge. `[dependencies]` is merged key by key (each
//! dependency is the module's line; a line both sides changed differently is a conflict), with
//! the comments of the side whose line is taken; the rest of the file, the dependencies taken
//! out, goes through git's text merge (`git merge-file`). When that leaves conflicts, or a side
//! writes its dependencies in a form other than a `[dependencies]` table, the whole file goes
//! through git's text merge, as without the driver.

use std::path::Path;

use toml_edit::{DocumentMut, Item, Key, Table, Value};

use super::text::merge_file;
use super::{Conflict, Merged, Sides, conflict_block, infra_name, pick};

/// A side's dependencies, in its order: the key as written (with its comments) and the value.
type Dependencies = Vec<(Key, Item)>;

const PLACEHOLDER: &str = "__provisioning_lock_merge_conflict_";

pub fn merge(sides: Sides<'_>, path: &Path) -> anyhow::Result<Merged> {
    let parse = |text: &str, side: &str| {
        text.parse::<DocumentMut>().map_err(|error| {
            anyhow::anyhow!(
                "{side} `{}` is not valid TOML: {}",
                path.display(),
                crate::text::located(text, error.message(), error.span())
            )
        })
    };
    let mut docs = [
        parse(sides.ancestor, "the common ancestor's")?,
        parse(sides.ours, "our")?,
        parse(sides.theirs, "their")?,
    ];
    let [ancestor, ours, theirs] = docs.each_mut().map(take_dependencies);
    let (Some(ancestor), Some(ours), Some(theirs)) = (ancestor, ours, theirs) else {
        return whole_file(sides);
    };
    let [stripped_ancestor, stripped_ours, stripped_theirs] = docs.map(|doc| doc.to_string());
    let rest = merge_file(Sides {
        ancestor: &stripped_ancestor,
        ours: &stripped_ours,
        theirs: &stripped_theirs,
    })?;
    if rest.conflicts > 0 {
        return whole_file(sides);
    }
    let mut merged: DocumentMut = rest.text.parse()?;
    let (entries, conflicts, lines) = merge_entries(&ancestor.0, &ours.0, &theirs.0);
    // The table as ours writes it (its comments, its place), else as theirs does.
    let table = match (&ours.1, &theirs.1) {
        (Some(table), Some(_)) => Some(table.clone()),
        (ours_table, theirs_table) if !entries.is_empty() => Some(
            ours_table
                .clone()
                .or(theirs_table.clone())
                .unwrap_or_default(),
        ),
        _ => None,
    };
    if let Some(mut table) = table {
        for (key, item) in &entries {
            table.insert_formatted(key, item.clone());
        }
        merged.insert("dependencies", Item::Table(table));
    }
    let mut text = merged.to_string();
    let infra = infra_name(path);
    for (index, (conflict, (ours, theirs))) in conflicts.iter().zip(&lines).enumerate() {
        let comment = format!(
            "conflict (`provisioning lock merge`): `{}` is {} here and {} on the other side\nkeep one side's line, delete the other and the marker lines (the lock `providers.manifest.yaml` says which), then run `provisioning providers sync {infra}`",
            conflict.key, conflict.ours, conflict.theirs
        );
        let side = |line: &Option<String>| {
            line.as_ref()
                .map(|line| format!("{line}\n"))
                .unwrap_or_default()
        };
        let block = conflict_block(&comment, &side(ours), &side(theirs));
        text = text.replace(&format!("{PLACEHOLDER}{index} = 0\n"), &block);
    }
    Ok(Merged {
        text,
        conflicts,
        text_conflicts: 0,
    })
}

/// git's text merge of the whole file.
fn whole_file(sides: Sides<'_>) -> anyhow::Result<Merged> {
    let merged = merge_file(sides)?;
    Ok(Merged {
        text: merged.text,
        conflicts: Vec::new(),
        text_conflicts: merged.conflicts,
    })
}

/// Takes `[dependencies]` out of `doc`: its entries, and the table itself without them (its
/// header's comments and place). The text merge of the rest never sees it, so an edit near
/// the table on one side and a new table on the other do not touch. `None` when the
/// dependencies are not a table of their own (`dependencies = { … }`).
fn take_dependencies(doc: &mut DocumentMut) -> Option<(Dependencies, Option<Table>)> {
    if doc.get("dependencies").is_some_and(|item| !item.is_table()) {
        return None;
    }
    let Some(Item::Table(mut table)) = doc.remove("dependencies") else {
        return Some((Vec::new(), None));
    };
    let entries = table
        .iter()
        .filter_map(|(name, item)| Some((table.key(name)?.clone(), item.clone())))
        .collect();
    table.clear();
    Some((entries, Some(table)))
}

/// A dependency as one line, its comments and spacing aside: `aws_prov = { path = "…" }`.
fn line(key: &Key, item: &Item) -> String {
    let value = item.clone().into_value().map(|mut value| {
        value.decor_mut().clear();
        if let Value::InlineTable(table) = &mut value {
            table.fmt();
        }
        value.to_string()
    });
    // A `[dependencies.module]` sub-table has no one-line form: compared as written.
    let value = value.unwrap_or_else(|item| item.to_string());
    format!("{} = {}", key.get(), value.trim())
}

/// Each side's line of a conflicting dependency (`None`: removed).
type ConflictLines = Vec<(Option<String>, Option<String>)>;

/// The merged dependencies in order (ours, then those only theirs has) with the key each
/// keeps, and the conflicts (with each side's line), each held by a placeholder entry where it
/// goes.
fn merge_entries(
    ancestor: &Dependencies,
    ours: &Dependencies,
    theirs: &Dependencies,
) -> (Dependencies, Vec<Conflict>, ConflictLines) {
    let find = |side: &Dependencies, name: &str| {
        side.iter()
            .find(|(key, _)| key.get() == name)
            .map(|(key, item)| (key.clone(), item.clone(), line(key, item)))
    };
    let mut names: Vec<&str> = ours.iter().map(|(key, _)| key.get()).collect();
    for (key, _) in theirs {
        if !names.contains(&key.get()) {
            names.push(key.get());
        }
    }
    for (key, _) in ancestor {
        if !names.contains(&key.get()) {
            names.push(key.get());
        }
    }
    let mut entries = Vec::new();
    let mut conflicts = Vec::new();
    let mut conflict_lines = Vec::new();
    for name in names {
        let [in_ancestor, in_ours, in_theirs] = [ancestor, ours, theirs].map(|s| find(s, name));
        let lines = [&in_ancestor, &in_ours, &in_theirs].map(|e| e.as_ref().map(|e| e.2.clone()));
        match pick(lines[0].as_ref(), lines[1].as_ref(), lines[2].as_ref()) {
            Some(None) => {}
            Some(Some(chosen)) => {
                let from = if lines[1].as_ref() == Some(chosen) {
                    in_ours
                } else {
                    in_theirs
                };
                if let Some((key, item, _)) = from {
                    entries.push((key, item));
                }
            }
            None => {
                let placeholder = Key::new(format!("{PLACEHOLDER}{}", conflicts.len()));
                entries.push((placeholder, toml_edit::value(0)));
                let describe = |line: &Option<String>| {
                    line.as_ref()
                        .map_or_else(|| "removed".to_owned(), |line| format!("`{line}`"))
                };
                conflicts.push(Conflict {
                    key: name.to_owned(),
                    ours: describe(&lines[1]),
                    theirs: describe(&lines[2]),
                });
                let [_, ours, theirs] = lines.clone();
                conflict_lines.push((ours, theirs));
            }
        }
    }
    (entries, conflicts, conflict_lines)
}
