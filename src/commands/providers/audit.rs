use serde::Serialize;

use crate::Outcome;
use crate::cli::TargetArgs;
use crate::commands::workspace::{self, Each, Verb};
use crate::context::Context;
use crate::infra::audit::{self, PinAudit, Status};
use crate::infra::session::{Access, InfraSession};
use crate::printer::{Printer, Table};

#[derive(Debug, Serialize)]
struct Report {
    infra: String,
    /// Whether a pin fails the audit (the exit code is 1).
    failed: bool,
    pins: Vec<PinAudit>,
}

/// `providers audit <infra>|--workspace`: every pin, yanked or not, signed by a trusted key or
/// not, with provenance that verifies or not. Exit 1 when a pin fails; a pin without
/// provenance, or a check that could not be made, is a warning.
pub fn audit(args: &TargetArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let verb = Verb {
        name: "audit",
        prints_one: true,
    };
    workspace::run(args.target(), verb, context, printer, |infra, shared| {
        // The session's registries include the source each pin records.
        let session =
            InfraSession::open(context, infra.clone(), Access::Packs, printer)?.sharing(shared);
        let pins = audit::audit(&session, context.offline)?;
        let infra = &infra.name;
        let failing: Vec<String> = pins
            .iter()
            .filter(|pin| pin.status() == Status::Failed)
            .map(|pin| format!("`{}` {}", pin.module, pin.version))
            .collect();
        let table = table(infra, &pins);
        if !failing.is_empty() {
            printer.error_message(format!(
                "{} of {} pins of `{infra}` fail the audit: {}",
                failing.len(),
                pins.len(),
                failing.join(", ")
            ));
        }
        Ok(Each {
            data: Report {
                infra: infra.clone(),
                failed: !failing.is_empty(),
                pins,
            },
            table,
            outcome: if failing.is_empty() {
                Outcome::Success
            } else {
                Outcome::Failure
            },
        })
    })
}

fn table(infra: &str, pins: &[PinAudit]) -> Table {
    let mut table = Table::new([
        "MODULE",
        "VERSION",
        "STATUS",
        "YANKED",
        "SIGNER",
        "PROVENANCE",
    ])
    .when_empty(&format!("no pinned packs in `{infra}`"));
    for pin in pins {
        table.row([
            pin.module.to_string(),
            pin.version.to_string(),
            status_word(pin.status()).to_owned(),
            pin.yanked.detail.clone(),
            pin.signer.detail.clone(),
            pin.provenance.detail.clone(),
        ]);
    }
    table
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Ok => "ok",
        Status::Warning => "warning",
        Status::Failed => "FAILED",
    }
}
