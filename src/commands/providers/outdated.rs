use serde::Serialize;

use crate::Outcome;
use crate::cli::OutdatedArgs;
use crate::commands::workspace::{self, Each, Verb};
use crate::context::Context;
use crate::infra::session::{Access, InfraSession};
use crate::infra::versions::{self, Outdated};
use crate::printer::{Printer, Table};

#[derive(Debug, Serialize)]
struct Report {
    infra: String,
    modules: Vec<Outdated>,
}

/// `providers outdated <infra>|--workspace [--exit-code]`: each pinned module, its pin, the
/// newest version its requirements allow, the newest there is, and why the pin is where it is.
pub fn outdated(
    args: &OutdatedArgs,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let verb = Verb {
        name: "read the versions of",
        prints_one: true,
    };
    workspace::run(
        args.target.target(),
        verb,
        context,
        printer,
        |infra, shared| {
            // The session's registries include the source each pin records.
            let session =
                InfraSession::open(context, infra.clone(), Access::Packs, printer)?.sharing(shared);
            let rows = versions::outdated(&session)?;
            let table = table(&infra.name, &rows);
            let outcome = if args.exit_code && rows.iter().any(|row| row.behind) {
                Outcome::Failure
            } else {
                Outcome::Success
            };
            Ok(Each {
                data: Report {
                    infra: infra.name.clone(),
                    modules: rows,
                },
                table,
                outcome,
            })
        },
    )
}

fn table(infra: &str, rows: &[Outdated]) -> Table {
    let none = || "-".to_owned();
    let mut table = Table::new([
        "MODULE",
        "PINNED",
        "REQUIREMENT",
        "MATCHING",
        "NEWEST",
        "WHY",
    ])
    .when_empty(&format!("no pinned packs in `{infra}`"));
    for row in rows {
        table.row([
            row.module.to_string(),
            row.pinned.to_string(),
            row.requirement.clone(),
            row.matching.as_ref().map_or_else(none, ToString::to_string),
            row.newest.as_ref().map_or_else(none, ToString::to_string),
            row.why.clone(),
        ]);
    }
    table
}
