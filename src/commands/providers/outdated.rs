use serde::Serialize;

use crate::Outcome;
use crate::cli::OutdatedArgs;
use crate::context::Context;
use crate::infra::Infra;
use crate::infra::session::{Access, InfraSession};
use crate::infra::versions::{self, Outdated};
use crate::printer::{Printer, Table};

#[derive(Debug, Serialize)]
struct Report<'a> {
    infra: &'a str,
    modules: &'a [Outdated],
}

/// `providers outdated <infra> [--exit-code]`: each pinned module, its pin, the newest version
/// its requirements allow, the newest there is, and why the pin is where it is.
pub fn outdated(
    args: &OutdatedArgs,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let infra = Infra::resolve(context, &args.infra)?;
    // The session's registries include the source each pin records.
    let session = InfraSession::open(context, infra, Access::Packs, printer)?;
    let rows = versions::outdated(&session)?;
    let infra = &session.infra;
    let none = || "-".to_owned();
    printer.data(
        &Report {
            infra: &infra.name,
            modules: &rows,
        },
        || {
            let mut table = Table::new([
                "MODULE",
                "PINNED",
                "REQUIREMENT",
                "MATCHING",
                "NEWEST",
                "WHY",
            ])
            .when_empty(&format!("no pinned packs in `{}`", infra.name));
            for row in &rows {
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
        },
    )?;
    if args.exit_code && rows.iter().any(|row| row.behind) {
        return Ok(Outcome::Failure);
    }
    Ok(Outcome::Success)
}
