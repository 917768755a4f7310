//! The lock's three-way merge: entries keyed by name. An entry's pin (kind, version, layout,
//! mode, source, hashes, signer) is taken from the side that changed it; both sides changing
//! it differently is a conflict. Who requires a module (`required_by`) merges as a set, so two
//! branches that each add a provider needing the core schemas agree on the core. A dependency
//! one side removed stays when the merged lock still has a module requiring it; one nothing
//! requires any more goes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{Conflict, Merged, Sides, conflict_block, infra_name, merge_sets, pick};
use crate::infra::lockfile::{LockEntry, ProvidersLock, render_entry};
use crate::names::{ModuleName, ShortName};

/// One name of the merged lock, while it is merged.
struct Slot {
    module: ModuleName,
    /// The merged pin (an entry whose `required_by` and `direct` are not looked at), or `None`
    /// when the merge removed it.
    pin: Option<LockEntry>,
    /// The pin a side kept unchanged while the other removed it: put back if still required.
    kept: Option<LockEntry>,
    required_by: BTreeSet<ModuleName>,
    direct: bool,
    /// Both sides' entries, when they changed the pin each their own way.
    conflict: Option<(Option<LockEntry>, Option<LockEntry>)>,
}

/// An entry with what the merge combines apart cleared, to compare pins.
fn pin_of(entry: &LockEntry) -> LockEntry {
    LockEntry {
        required_by: BTreeSet::new(),
        direct: true,
        ..entry.clone()
    }
}

pub fn merge(sides: Sides<'_>, path: &Path) -> anyhow::Result<Merged> {
    let parse = |text: &str, side: &str| {
        ProvidersLock::parse(text, path)
            .map_err(|error| anyhow::anyhow!(error).context(format!("{side} lock is not valid")))
    };
    let ancestor = parse(sides.ancestor, "the common ancestor's")?;
    let ours = parse(sides.ours, "our")?;
    let theirs = parse(sides.theirs, "their")?;
    let names: BTreeSet<&ShortName> = [&ancestor, &ours, &theirs]
        .into_iter()
        .flat_map(|lock| lock.providers.iter().map(|entry| &entry.name))
        .collect();
    let mut slots: BTreeMap<ShortName, Slot> = names
        .into_iter()
        .filter_map(|name| {
            let entries = [&ancestor, &ours, &theirs].map(|lock| lock.get(name));
            Some((name.clone(), slot(entries)?))
        })
        .collect();
    keep_what_is_required(&mut slots);
    Ok(render(&slots, path))
}

/// The merged slot of one name, from its entry in the ancestor, ours and theirs.
fn slot(entries: [Option<&LockEntry>; 3]) -> Option<Slot> {
    let [ancestor, ours, theirs] = entries.map(|entry| entry.map(pin_of));
    let module = entries
        .iter()
        .flatten()
        .map(|entry| entry.module.clone())
        .next()?;
    let required = entries.map(|entry| entry.map(|e| e.required_by.clone()).unwrap_or_default());
    let direct = entries.map(|entry| entry.is_some_and(|e| e.direct));
    let direct = pick(Some(&direct[0]), Some(&direct[1]), Some(&direct[2]))
        .flatten()
        .copied()
        .unwrap_or(direct[1]);
    let required_by = merge_sets(&required[0], &required[1], &required[2]);
    Some(
        match pick(ancestor.as_ref(), ours.as_ref(), theirs.as_ref()) {
            Some(pin) => Slot {
                module: module.clone(),
                pin: pin.cloned(),
                // A removal on one side, the other side unchanged: what that side kept.
                kept: pin
                    .is_none()
                    .then(|| ours.clone().or(theirs.clone()))
                    .flatten(),
                required_by,
                direct,
                conflict: None,
            },
            None => Slot {
                module,
                pin: None,
                kept: None,
                required_by,
                direct,
                conflict: Some((entries[1].cloned(), entries[2].cloned())),
            },
        },
    )
}

/// Keeps the entries installed by name and those a kept entry requires, putting back a
/// dependency one side removed when the other side added a module that requires it.
fn keep_what_is_required(slots: &mut BTreeMap<ShortName, Slot>) {
    let mut kept: BTreeSet<ModuleName> = slots
        .values()
        .filter(|slot| slot.conflict.is_some() || (slot.direct && slot.pin.is_some()))
        .map(|slot| slot.module.clone())
        .collect();
    loop {
        let more: Vec<ModuleName> = slots
            .values()
            .filter(|slot| !kept.contains(&slot.module))
            .filter(|slot| slot.pin.is_some() || slot.kept.is_some())
            .filter(|slot| slot.required_by.iter().any(|m| kept.contains(m)))
            .map(|slot| slot.module.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        kept.extend(more);
    }
    for slot in slots.values_mut() {
        slot.required_by.retain(|m| kept.contains(m));
        if slot.conflict.is_none() {
            slot.pin = if kept.contains(&slot.module) {
                slot.pin.take().or(slot.kept.take())
            } else {
                None
            };
        }
    }
}

/// The merged lock's text: rendered as the tool writes it when clean, else with each conflict
/// between markers where its entry goes.
fn render(slots: &BTreeMap<ShortName, Slot>, path: &Path) -> Merged {
    let entries = slots.values().filter_map(|slot| {
        slot.pin.as_ref().map(|pin| LockEntry {
            required_by: slot.required_by.clone(),
            direct: slot.direct,
            ..pin.clone()
        })
    });
    let conflicts: Vec<Conflict> = slots
        .values()
        .filter_map(|slot| {
            let (ours, theirs) = slot.conflict.as_ref()?;
            Some(Conflict {
                key: slot.module.to_string(),
                ours: describe(ours.as_ref()),
                theirs: describe(theirs.as_ref()),
            })
        })
        .collect();
    if conflicts.is_empty() {
        let lock = ProvidersLock {
            providers: entries.collect(),
            ..ProvidersLock::default()
        };
        return Merged {
            text: lock.render(),
            conflicts,
            text_conflicts: 0,
        };
    }
    let infra = infra_name(path);
    let mut list = String::new();
    for slot in slots.values() {
        if let Some(pin) = &slot.pin {
            list.push_str(&render_entry(&LockEntry {
                required_by: slot.required_by.clone(),
                direct: slot.direct,
                ..pin.clone()
            }));
        } else if let Some((ours, theirs)) = &slot.conflict {
            let module = &slot.module;
            let comment = format!(
                "conflict (`provisioning lock merge`): `{module}` is {} here and {} on the other side\nkeep one side's entry, delete the other and the marker lines, then run `provisioning providers sync {infra}`",
                describe(ours.as_ref()),
                describe(theirs.as_ref()),
            );
            let side =
                |entry: &Option<LockEntry>| entry.as_ref().map(render_entry).unwrap_or_default();
            list.push_str(&conflict_block(&comment, &side(ours), &side(theirs)));
        }
    }
    Merged {
        text: ProvidersLock::render_with(&list),
        conflicts,
        text_conflicts: 0,
    }
}

/// What a side made of an entry, in words: `1.0.1 (pack, sha256 2fac80784304)`,
/// `0.0.1 (link to extensions/providers/aws/nickel)`, `removed`.
pub fn describe(entry: Option<&LockEntry>) -> String {
    let Some(entry) = entry else {
        return "removed".to_owned();
    };
    match entry.pin() {
        Some(pin) => format!(
            "{} (pack from `{}`, sha256 {})",
            entry.version,
            pin.source,
            pin.sha256.short()
        ),
        None => format!("{} (link to `{}`)", entry.version, entry.source()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(entries: &[&str]) -> String {
        let mut text = String::from("format_version: 1\nproviders:\n");
        for entry in entries {
            text.push_str(&format!("- {entry}\n"));
        }
        text
    }

    const UPCLOUD: &str =
        "{name: upcloud, module: upcloud_prov, mode: link, version: 0.0.1, source: u}";
    const AWS: &str = "{name: aws, module: aws_prov, mode: link, version: 1.0.0, source: a}";
    const AWS_MOVED: &str = "{name: aws, module: aws_prov, mode: link, version: 1.1.0, source: a}";

    fn core(required_by: &str) -> String {
        format!(
            "{{name: provisioning_core, module: provisioning_core, kind: core, mode: link, version: 0.1.0, source: schemas, required_by: [{required_by}], direct: false}}"
        )
    }

    fn merged(ancestor: &str, ours: &str, theirs: &str) -> Merged {
        let sides = Sides {
            ancestor,
            ours,
            theirs,
        };
        merge(
            sides,
            Path::new("workspace/infra/wuji/providers.manifest.yaml"),
        )
        .expect("merges")
    }

    fn names(text: &str) -> Vec<String> {
        let lock = ProvidersLock::parse(text, Path::new("merged")).expect("a valid lock");
        lock.providers
            .iter()
            .map(|entry| {
                let required: Vec<String> =
                    entry.required_by.iter().map(ToString::to_string).collect();
                format!("{} {} [{}]", entry.name, entry.version, required.join(","))
            })
            .collect()
    }

    /// Ours removed `upcloud` (and the core with it); theirs added `aws`, which needs the core
    /// too: the core stays, required by `aws` alone.
    #[test]
    fn a_dependency_one_side_dropped_stays_while_the_other_side_needs_it() {
        let ancestor = lock(&[UPCLOUD, &core("upcloud_prov")]);
        let theirs = lock(&[AWS, UPCLOUD, &core("aws_prov, upcloud_prov")]);
        let result = merged(&ancestor, &lock(&[]), &theirs);
        assert!(result.conflicts.is_empty(), "{result:?}");
        assert_eq!(
            names(&result.text),
            ["aws 1.0.0 []", "provisioning_core 0.1.0 [aws_prov]"]
        );
    }

    #[test]
    fn a_dependency_nothing_requires_any_more_goes() {
        let ancestor = lock(&[AWS, UPCLOUD, &core("aws_prov, upcloud_prov")]);
        let ours = lock(&[UPCLOUD, &core("upcloud_prov")]);
        let theirs = lock(&[AWS, &core("aws_prov")]);
        let result = merged(&ancestor, &ours, &theirs);
        assert!(result.conflicts.is_empty(), "{result:?}");
        assert_eq!(names(&result.text), Vec::<String>::new());
    }

    #[test]
    fn a_module_moved_on_one_side_and_removed_on_the_other_is_a_conflict() {
        let ancestor = lock(&[AWS]);
        let result = merged(&ancestor, &lock(&[AWS_MOVED]), &lock(&[]));
        assert_eq!(
            result.conflicts,
            [Conflict {
                key: "aws_prov".into(),
                ours: "1.1.0 (link to `a`)".into(),
                theirs: "removed".into(),
            }]
        );
        assert!(
            result.text.contains("<<<<<<< ours\n- name: aws\n"),
            "{}",
            result.text
        );
        assert!(
            result.text.contains("=======\n>>>>>>> theirs\n"),
            "{}",
            result.text
        );
    }
}
