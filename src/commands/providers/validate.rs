use crate::Outcome;
use crate::cli::TargetArgs;
use crate::commands::workspace::{self, Each, Verb};
use crate::context::Context;
use crate::infra::Infra;
use crate::infra::state::State;
use crate::infra::validate::{self, Evaluation, Report};
use crate::printer::{Printer, Table};

/// `providers validate <infra>|--workspace`: links resolve, manifests agree with each other and
/// with the disk, and every installed module and every Nickel file of the infra evaluate.
pub fn validate(
    args: &TargetArgs,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let verb = Verb {
        name: "validate",
        prints_one: true,
    };
    workspace::run(args.target(), verb, context, printer, |infra, _| {
        one(infra, context, printer)
    })
}

fn one(infra: &Infra, context: &Context, printer: &Printer) -> anyhow::Result<Each<Report>> {
    let report = validate::validate(context, infra)?;
    for warning in &report.warnings {
        printer.warning(warning);
    }
    for module in &report.modules {
        if let Some(detail) = module
            .status
            .detail
            .as_ref()
            .filter(|_| module.status.state != State::Ok)
        {
            let message = format!(
                "`{}` ({}): {detail}",
                module.status.module,
                module.status.state.as_str()
            );
            if module.status.state.is_problem() {
                printer.error_message(message);
            } else {
                printer.warning(message);
            }
        }
        if let Some(diagnostic) = &module.diagnostic {
            printer.error_message(diagnostic);
        }
    }
    for diagnostic in report.files.iter().filter_map(|f| f.diagnostic.as_ref()) {
        printer.error_message(diagnostic);
    }
    for problem in report.capabilities.iter().chain(&report.edited) {
        printer.error_message(problem);
    }
    let table = render(&report);
    let outcome = if report.valid {
        let count = report.modules.len();
        let files = match report.files.as_slice() {
            [] => String::new(),
            [file] => format!(" and {}", file.path),
            more => format!(" and {} Nickel files", more.len()),
        };
        printer.status(
            "Valid",
            format!(
                "`{}`: {count} module{}{files}",
                infra.name,
                if count == 1 { "" } else { "s" }
            ),
        );
        Outcome::Success
    } else {
        let problems = report.problems();
        printer.error_message(format!(
            "`{}` is not valid: {problems} problem{}",
            infra.name,
            if problems == 1 { "" } else { "s" }
        ));
        Outcome::Failure
    };
    Ok(Each {
        data: report,
        table,
        outcome,
    })
}

fn render(report: &Report) -> Table {
    let mut table = Table::new(["NAME", "MODULE", "MODE", "STATE", "EVALUATION"]);
    let evaluation = |e: Evaluation| match e {
        Evaluation::Ok => "ok",
        Evaluation::Failed => "failed",
        Evaluation::Skipped => "skipped",
    };
    for module in &report.modules {
        table.row([
            module.status.name.clone(),
            module.status.module.clone(),
            module
                .status
                .mode
                .map_or_else(|| "-".into(), |m| m.to_string()),
            module.status.state.as_str().into(),
            evaluation(module.evaluation).into(),
        ]);
    }
    for file in &report.files {
        table.row([
            "-".into(),
            file.path.clone(),
            "-".into(),
            "-".into(),
            evaluation(file.evaluation).into(),
        ]);
    }
    table
}
