//! `--workspace`: a command run over every infra under the workspace's `infra/` instead of
//! one. Each infra is run as the command runs one ([`Each`]); its data goes into one table with
//! an INFRA column (or one JSON/YAML list), and the exit code is the worst. An infra that fails
//! is reported, attributed to it, and does not stop the others. The infras of the run share a
//! [`RunCache`]: a pack several of them need is fetched and verified once.

use serde::Serialize;

use crate::Outcome;
use crate::cli::Target;
use crate::context::Context;
use crate::infra::Infra;
use crate::printer::{Printer, Table};
use crate::registry::shared::RunCache;

/// What a command found in one infra: its data, the rows of its table, and its outcome.
pub struct Each<T> {
    pub data: T,
    pub table: Table,
    pub outcome: Outcome,
}

/// One infra in the `--format json|yaml` output of `--workspace`: the infra's own report, or
/// the error that stopped it.
#[derive(Serialize)]
struct Entry<T> {
    /// Only when there is no report: every report names its infra.
    #[serde(skip_serializing_if = "Option::is_none")]
    infra: Option<String>,
    /// `ok`, `failed` (the command ran and its check failed), or `error` (it could not run).
    status: &'static str,
    #[serde(flatten)]
    report: Option<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip)]
    name: String,
}

#[derive(Serialize)]
struct Workspace<T> {
    infras: Vec<Entry<T>>,
    /// Whether an infra failed (the exit code is 1).
    failed: bool,
}

/// What a command is called in messages ("failed to validate `a`"), and whether it prints its
/// data for one infra (`sync` prints only its status then).
#[derive(Debug, Clone, Copy)]
pub struct Verb {
    pub name: &'static str,
    pub prints_one: bool,
}

/// Runs `each` over the target: one infra as the command always did, or every infra of the
/// workspace, sharing one [`RunCache`].
pub fn run<T: Serialize>(
    target: Target<'_>,
    verb: Verb,
    context: &Context,
    printer: &Printer,
    mut each: impl FnMut(&Infra, Option<&RunCache>) -> anyhow::Result<Each<T>>,
) -> anyhow::Result<Outcome> {
    let infra = match target {
        Target::Infra(name) => Infra::resolve(context, name)?,
        Target::Workspace => return workspace(verb.name, context, printer, each),
    };
    let Each {
        data,
        table,
        outcome,
    } = each(&infra, None)?;
    if verb.prints_one {
        printer.data(&data, || table)?;
    }
    Ok(outcome)
}

fn workspace<T: Serialize>(
    verb: &str,
    context: &Context,
    printer: &Printer,
    mut each: impl FnMut(&Infra, Option<&RunCache>) -> anyhow::Result<Each<T>>,
) -> anyhow::Result<Outcome> {
    let infras = every_infra(context)?;
    let cache = RunCache::default();
    let mut entries = Vec::new();
    let mut tables = Vec::new();
    for infra in &infras {
        let (entry, table) = match each(infra, Some(&cache)) {
            Ok(Each {
                data,
                table,
                outcome,
            }) => {
                let status = match outcome {
                    Outcome::Success => "ok",
                    Outcome::Failure => "failed",
                };
                (entry(infra, status, Some(data), None), table)
            }
            Err(error) => {
                let error = error.context(format!("failed to {verb} `{}`", infra.name));
                printer.error(&error);
                let message = format!("{error:#}");
                // The error itself is on stderr: a long one would widen every row.
                let table = Table::new(["ERROR"]).when_empty("(failed: see the error)");
                (entry(infra, "error", None, Some(message)), table)
            }
        };
        entries.push(entry);
        tables.push((infra.name.clone(), table));
    }
    let failing: Vec<String> = entries
        .iter()
        .filter(|entry| entry.status != "ok")
        .map(|entry| format!("`{}`", entry.name))
        .collect();
    printer.data(
        &Workspace {
            infras: entries,
            failed: !failing.is_empty(),
        },
        || Table::merged("INFRA", tables),
    )?;
    let count = infras.len();
    if failing.is_empty() {
        printer.status(
            "Finished",
            format!(
                "{count} infra{} of the workspace",
                if count == 1 { "" } else { "s" }
            ),
        );
        return Ok(Outcome::Success);
    }
    printer.error_message(format!(
        "{} of {count} infras of the workspace failed: {}",
        failing.len(),
        failing.join(", ")
    ));
    Ok(Outcome::Failure)
}

fn entry<T>(
    infra: &Infra,
    status: &'static str,
    report: Option<T>,
    error: Option<String>,
) -> Entry<T> {
    Entry {
        infra: report.is_none().then(|| infra.name.clone()),
        status,
        report,
        error,
        name: infra.name.clone(),
    }
}

/// Every infra of the workspace; none is an error, not an empty success.
pub fn every_infra(context: &Context) -> anyhow::Result<Vec<Infra>> {
    let infras = Infra::all(context);
    if infras.is_empty() {
        anyhow::bail!(
            "no infras in the workspace `{}`\nhint: create one with `provisioning module-loader init <infra>`",
            context.display_path(&context.infra_root()).display()
        );
    }
    Ok(infras)
}
