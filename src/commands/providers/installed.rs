use serde::Serialize;

use crate::Outcome;
use crate::cli::TargetArgs;
use crate::commands::workspace::{self, Each, Verb};
use crate::context::Context;
use crate::infra::state::{self, ModuleStatus};
use crate::printer::{Printer, Table};

#[derive(Debug, Serialize)]
struct Installed {
    infra: String,
    providers: Vec<ModuleStatus>,
}

/// `providers installed <infra>|--workspace`: what the infra has, how, and in what state.
pub fn installed(
    args: &TargetArgs,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let verb = Verb {
        name: "read",
        prints_one: true,
    };
    workspace::run(args.target(), verb, context, printer, |infra, _| {
        let modules = state::inspect(context, infra)?;
        let table = status_table(&modules)
            .when_empty(&format!("no providers installed in `{}`", infra.name));
        Ok(Each {
            data: Installed {
                infra: infra.name.clone(),
                providers: modules,
            },
            table,
            outcome: Outcome::Success,
        })
    })
}

fn status_table(modules: &[ModuleStatus]) -> Table {
    let mut table = Table::new([
        "NAME",
        "MODULE",
        "MODE",
        "VERSION",
        "STATE",
        "SOURCE",
        "REQUIRED BY",
    ]);
    for module in modules {
        table.row([
            module.name.clone(),
            module.module.clone(),
            module.mode_cell(),
            module.version_cell(),
            module.state.as_str().into(),
            module.source.clone(),
            if module.required_by.is_empty() {
                "-".into()
            } else {
                module.required_by.join(", ")
            },
        ]);
    }
    table
}
