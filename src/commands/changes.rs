//! Printing what an operation on an infra did ([`Report`]), in the words of the command that
//! asked: `providers install` says `Installed`, `module-loader load` says `Loaded` and names
//! the kind.

use crate::Outcome;
use crate::infra::Change;
use crate::infra::lockfile::{Installed, LockEntry, Signer};
use crate::ops::{DependencyAction, DependencyChange, Event, Report};
use crate::printer::Printer;

/// The words of one command.
#[derive(Debug, Clone, Copy)]
pub struct Wording {
    /// `Installed`, `Loaded`: the status verb of a module placed.
    pub placed: &'static str,
    /// `installed`, `loaded`: as in "is already loaded".
    pub state: &'static str,
    /// `Removed`, `Unloaded`.
    pub removed: &'static str,
    /// `install`, `load`, `remove`, `unload`: as in "could not be loaded".
    pub verb: &'static str,
    /// Name the kind of each module (`taskserv `kubernetes``).
    pub kinds: bool,
}

impl Wording {
    pub const PROVIDERS: Self = Self {
        placed: "Installed",
        state: "installed",
        removed: "Removed",
        verb: "install",
        kinds: false,
    };
    pub const MODULES: Self = Self {
        placed: "Loaded",
        state: "loaded",
        removed: "Unloaded",
        verb: "load",
        kinds: true,
    };
}

/// Prints every failure, then (when there is none) the warnings and events; returns the
/// outcome. `participle` is the word for a change refused as a whole (`loaded`, `unloaded`).
pub fn print(report: Report, wording: Wording, participle: &str, printer: &Printer) -> Outcome {
    let infra = report.infra.clone();
    let infra = infra.as_str();
    if !report.failures.is_empty() {
        let failed = report.failures.len();
        for failure in report.failures {
            let (verb, module) = (wording.verb, &failure.module);
            let preposition = if verb.starts_with("un") {
                "from"
            } else {
                "into"
            };
            printer.error(&failure.error.context(format!(
                "failed to {verb} `{module}` {preposition} `{infra}`"
            )));
        }
        printer.error_message(format!(
            "{failed} of {} modules could not be {participle} {} `{infra}`, so none were",
            report.named,
            if participle.starts_with("un") {
                "from"
            } else {
                "into"
            }
        ));
        return Outcome::Failure;
    }
    for warning in &report.warnings {
        printer.warning(warning);
    }
    for event in &report.events {
        print_event(event, infra, wording, printer);
    }
    Outcome::Success
}

fn print_event(event: &Event, infra: &str, wording: Wording, printer: &Printer) {
    match event {
        Event::Created { infra, dir } => {
            printer.status("Created", format!("`{infra}` in `{}`", dir.display()));
        }
        Event::Placed { entry, change } => placed(entry, *change, infra, wording, printer),
        Event::PinKept { entry, switch } => printer.status(
            "Kept",
            format!(
                "{}`{}` {} in `{infra}` as the pack it pins (link mode was not asked for)\nhint: to link it instead: `{switch}`",
                kind(entry, wording),
                entry.module,
                entry.version
            ),
        ),
        Event::Dependency(change) => dependency(change, printer),
        Event::Kept {
            module,
            required_by,
        } => {
            let required_by: Vec<String> = required_by.iter().map(ToString::to_string).collect();
            printer.status(
                "Kept",
                format!("`{module}` in `{infra}`: required by {}", required_by.join(", ")),
            );
        }
        Event::Removed { module, entry } => {
            if entry.is_none() {
                printer.warning(format!(
                    "`{}` was not in the lock of `{infra}`; removed its leftovers",
                    module.short_name()
                ));
            }
            let kind = entry.as_ref().map_or(String::new(), |e| kind(e, wording));
            printer.status(wording.removed, format!("{kind}`{module}` from `{infra}`"));
        }
        Event::Absent { module } => printer.status(
            "Skipped",
            format!("`{}` is not {} in `{infra}`", module.short_name(), wording.state),
        ),
    }
}

fn kind(entry: &LockEntry, wording: Wording) -> String {
    if wording.kinds {
        format!("{} ", entry.kind.as_str())
    } else {
        String::new()
    }
}

fn placed(entry: &LockEntry, change: Change, infra: &str, wording: Wording, printer: &Printer) {
    let kind = kind(entry, wording);
    let (module, version) = (&entry.module, &entry.version);
    match change {
        Change::Changed => {
            let how = match &entry.installed {
                Installed::Pack(pin) if pin.signer == Signer::Unsigned && !wording.kinds => {
                    format!(
                        "pack from `{}`, unsigned, allowed by `--allow-unsigned`",
                        pin.source
                    )
                }
                Installed::Pack(pin) => {
                    format!("pack from `{}`, signed by {}", pin.source, pin.signer)
                }
                Installed::Link { source } => format!("link to `{source}`"),
            };
            printer.status(
                wording.placed,
                format!("{kind}`{module}` {version} into `{infra}` ({how})"),
            );
        }
        Change::Unchanged => printer.status(
            "Unchanged",
            format!(
                "{kind}`{module}` {version} is already {} in `{infra}`",
                wording.state
            ),
        ),
    }
}

/// One status line per dependency linked, vendored or dropped, as Cargo says `Adding` and
/// `Removing`.
fn dependency(change: &DependencyChange, printer: &Printer) {
    let required_by: Vec<String> = change.required_by.iter().map(ToString::to_string).collect();
    let (verb, why) = match change.action {
        DependencyAction::Linked => ("Linked", format!("required by {}", required_by.join(", "))),
        DependencyAction::Vendored => (
            "Vendored",
            format!("required by {}", required_by.join(", ")),
        ),
        DependencyAction::Removed => ("Removed", "no longer required".to_owned()),
    };
    printer.status(
        verb,
        format!("{} {} ({why})", change.module, change.version),
    );
}
