//! `providers test <provider>` and `module-loader test <kind> <name>`: the examples in a
//! module's doc comments, run at its source as `pack` runs them (and as `nickel test` does).

use anyhow::Context as _;
use serde::Serialize;

use crate::Outcome;
use crate::catalog::{self, Catalog, Module};
use crate::cli::{ModuleTestArgs, ProviderTestArgs};
use crate::context::Context;
use crate::dependencies::ModuleImports;
use crate::module::Layout;
use crate::nickel::{Evaluator, doctest};
use crate::printer::{Printer, Table};

/// `providers test <provider>`.
pub fn provider(
    args: &ProviderTestArgs,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let module = catalog::find_provider(
        &crate::catalog::Catalog::new(&context.config),
        &args.provider,
        Layout::Nickel,
    )?;
    run(&module, context, printer)
}

/// `module-loader test <kind> <name>`.
pub fn module(
    args: &ModuleTestArgs,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let module = Catalog::new(&context.config).find_named(args.kind, args.name.as_str())?;
    run(&module, context, printer)
}

#[derive(Serialize)]
struct Tested<'a> {
    module: String,
    #[serde(flatten)]
    report: &'a doctest::Report,
}

fn run(module: &Module, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let input = super::pack::input_for(module, None)?;
    let imports = ModuleImports::prepare(&Catalog::new(&context.config))?;
    let mut evaluator = Evaluator::with_packages(
        std::slice::from_ref(&imports.dir),
        imports.packages(),
        context.evaluation_bounds(),
    );
    let report = crate::ops::pack::doc_tests(&imports, &mut evaluator, &input)
        .with_context(|| format!("failed to test `{}`", input.pack.module))?;
    for failure in &report.failed {
        printer.error_message(format!(
            "example {} of `{}` failed: {}",
            failure.example, failure.field, failure.message
        ));
    }
    let summary = format!(
        "{} passed, {} failed, {} skipped",
        report.passed,
        report.failed.len(),
        report.skipped
    );
    let verb = if report.failed.is_empty() {
        "Tested"
    } else {
        "Failed"
    };
    printer.status(verb, format!("`{}`: {summary}", input.pack.module));
    let tested = Tested {
        module: input.pack.module.to_string(),
        report: &report,
    };
    printer.data(&tested, || {
        let mut table = Table::new(["MODULE", "PASSED", "FAILED", "SKIPPED"]);
        table.row([
            tested.module.clone(),
            report.passed.to_string(),
            report.failed.len().to_string(),
            report.skipped.to_string(),
        ]);
        table
    })?;
    Ok(if report.failed.is_empty() {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}
