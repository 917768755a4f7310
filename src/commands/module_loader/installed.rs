//! `module-loader installed <infra>|--workspace`: every module of every kind, with its mode, version and
//! state, and the state of the infra's generated import files.

use serde::Serialize;

use crate::Outcome;
use crate::cli::TargetArgs;
use crate::commands::workspace::{self, Each, Verb};
use crate::context::Context;
use crate::infra::generated::{self, FileState};
use crate::infra::lockfile::ProvidersLock;
use crate::infra::state::{self, ModuleStatus};
use crate::printer::{Printer, Table};

#[derive(Debug, Serialize)]
struct Installed {
    infra: String,
    modules: Vec<ModuleStatus>,
    generated: Vec<GeneratedFile>,
}

#[derive(Debug, Clone, Serialize)]
struct GeneratedFile {
    file: &'static str,
    state: &'static str,
}

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
        let lock = ProvidersLock::read(&infra.lock_path())?;
        let generated: Vec<GeneratedFile> = generated::inspect(context, infra, &lock)?
            .into_iter()
            .map(|(file, state)| GeneratedFile {
                file,
                state: describe(&state),
            })
            .collect();
        Ok(Each {
            table: table(&infra.name, &modules, &generated),
            data: Installed {
                infra: infra.name.clone(),
                modules,
                generated,
            },
            outcome: Outcome::Success,
        })
    })
}

fn table(infra: &str, modules: &[ModuleStatus], generated: &[GeneratedFile]) -> Table {
    let mut table = Table::new(["KIND", "NAME", "MODE", "VERSION", "STATE", "SOURCE"]);
    for module in modules {
        table.row([
            module.kind.as_str().to_owned(),
            module.name.clone(),
            module.mode_cell(),
            module.version_cell(),
            module.state.as_str().into(),
            module.source.clone(),
        ]);
    }
    for file in generated {
        table.row([
            "generated".into(),
            file.file.into(),
            "-".into(),
            "-".into(),
            file.state.into(),
            "-".into(),
        ]);
    }
    table.when_empty(&format!("no modules loaded in `{infra}`"))
}

pub fn describe(state: &FileState) -> &'static str {
    match state {
        FileState::Ok => "ok",
        FileState::Missing => "missing",
        FileState::Edited => "edited by hand",
        FileState::Stale => "stale",
        FileState::Foreign => "not generated",
    }
}
