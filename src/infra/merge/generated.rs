//! The generated files' three-way merge: `providers.ncl`, `taskservs.ncl`, `clusters.ncl` are a
//! record with one field per lock entry of their kind (`aws = import "aws_prov/main.ncl",`),
//! sorted by name. Their fields merge as the lock's entries do, and the header is written again
//! with the hash of the merged record, so the result is what the merged lock renders. A side
//! that is not a generated file (written or edited by hand) goes through git's text merge.

use std::collections::BTreeSet;

use super::text::merge_file;
use super::{Conflict, Merged, Sides, conflict_block, pick};
use crate::infra::generated::{body, with_header};

/// A generated record's fields: `(name, line)`, the name unquoted.
type Fields = Vec<(String, String)>;

pub fn merge(sides: Sides<'_>) -> anyhow::Result<Merged> {
    let (Some(ancestor), Some(ours), Some(theirs)) = (
        fields(sides.ancestor),
        fields(sides.ours),
        fields(sides.theirs),
    ) else {
        let merged = merge_file(sides)?;
        return Ok(Merged {
            text: merged.text,
            conflicts: Vec::new(),
            text_conflicts: merged.conflicts,
        });
    };
    let names: BTreeSet<&String> = [&ancestor, &ours, &theirs]
        .into_iter()
        .flat_map(|fields| fields.iter().map(|(name, _)| name))
        .collect();
    let find = |fields: &Fields, name: &str| {
        fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, line)| line.clone())
    };
    let mut merged = String::from("{\n");
    let mut conflicts = Vec::new();
    for name in names {
        let [in_ancestor, in_ours, in_theirs] = [&ancestor, &ours, &theirs].map(|f| find(f, name));
        match pick(in_ancestor.as_ref(), in_ours.as_ref(), in_theirs.as_ref()) {
            Some(Some(line)) => merged.push_str(&format!("{line}\n")),
            Some(None) => {}
            None => {
                let side = |line: &Option<String>| {
                    line.as_ref()
                        .map(|line| format!("{line}\n"))
                        .unwrap_or_default()
                };
                let comment = format!(
                    "conflict (`provisioning lock merge`): the two sides import `{name}` differently\nresolve `providers.manifest.yaml`, then run `provisioning providers sync`: it rewrites this file"
                );
                merged.push_str(&conflict_block(
                    &comment,
                    &side(&in_ours),
                    &side(&in_theirs),
                ));
                let describe = |line: Option<String>| line.unwrap_or_else(|| "removed".into());
                conflicts.push(Conflict {
                    key: name.clone(),
                    ours: describe(in_ours),
                    theirs: describe(in_theirs),
                });
            }
        }
    }
    merged.push_str("}\n");
    Ok(Merged {
        text: with_header(&merged),
        conflicts,
        text_conflicts: 0,
    })
}

/// The fields of a generated file, sorted as written; an empty text (the file did not exist on
/// that side) has none. `None` when the text is not an intact generated file.
fn fields(text: &str) -> Option<Fields> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    let record = body(text)?.strip_prefix("{\n")?.strip_suffix("}\n")?;
    record
        .lines()
        .map(|line| {
            let (field, _) = line.trim().split_once(" = ")?;
            Some((field.trim_matches('"').to_owned(), line.to_owned()))
        })
        .collect()
}
