use std::path::PathBuf;

use serde::Serialize;

use crate::Outcome;
use crate::catalog::{self, Layout};
use crate::cli::InfraArgs;
use crate::context::Context;
use crate::infra::Infra;
use crate::infra::lockfile::Mode;
use crate::infra::state::{self, ModuleStatus, State};
use crate::infra::vendor;
use crate::nickel;
use crate::printer::{Printer, Table};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Evaluation {
    Ok,
    Failed,
    /// Not evaluated: the link is broken, or the module is in the KCL layout.
    Skipped,
}

#[derive(Debug, Serialize)]
struct ModuleReport {
    #[serde(flatten)]
    status: ModuleStatus,
    evaluation: Evaluation,
    #[serde(skip_serializing_if = "Option::is_none")]
    diagnostic: Option<String>,
}

#[derive(Debug, Serialize)]
struct MainReport {
    path: String,
    evaluation: Evaluation,
    #[serde(skip_serializing_if = "Option::is_none")]
    diagnostic: Option<String>,
}

#[derive(Debug, Serialize)]
struct Report {
    infra: String,
    valid: bool,
    modules: Vec<ModuleReport>,
    main: Option<MainReport>,
}

/// `providers validate <infra>`: links resolve, manifests agree with each other and with the
/// disk, and every installed module and the infra's `main.ncl` evaluate.
pub fn validate(args: &InfraArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let infra = Infra::resolve(context, &args.infra)?;
    let statuses = state::inspect(context, &infra)?;
    let modules_dir = infra.modules_dir(context, Layout::Nickel);
    let import_paths: Vec<PathBuf> = vec![modules_dir.clone(), infra.dir.join(vendor::VENDOR_DIR)];

    // Read what to evaluate first, then evaluate every module and `main.ncl` in parallel.
    let mut jobs = Vec::new();
    let mut modules = Vec::new();
    for module in statuses {
        let mut report = ModuleReport {
            status: module,
            evaluation: Evaluation::Skipped,
            diagnostic: None,
        };
        if report.status.state == State::Ok && report.status.layout == Layout::Nickel {
            let link = match report.status.mode {
                Some(Mode::Pack) => vendor::module_dir(&infra, &report.status.module),
                _ => modules_dir.join(&report.status.module),
            };
            match entry_point(&infra, &link, &report.status, printer) {
                Ok(entry) => jobs.push((Some(modules.len()), entry)),
                Err(reason) => {
                    report.evaluation = Evaluation::Failed;
                    report.diagnostic = Some(reason);
                }
            }
        }
        modules.push(report);
    }
    let main_path = infra.dir.join("main.ncl");
    let has_main = main_path.is_file();
    if has_main {
        jobs.push((None, main_path));
    }
    let files: Vec<PathBuf> = jobs.iter().map(|(_, file)| file.clone()).collect();
    let mut main = has_main.then(|| MainReport {
        path: "main.ncl".into(),
        evaluation: Evaluation::Ok,
        diagnostic: None,
    });
    for ((target, _), result) in jobs
        .iter()
        .zip(nickel::export_json_all(&import_paths, &files))
    {
        let (evaluation, diagnostic) = match result {
            Ok(_) => (Evaluation::Ok, None),
            Err(error) => (Evaluation::Failed, Some(error.to_string())),
        };
        match target {
            Some(index) => {
                modules[*index].evaluation = evaluation;
                modules[*index].diagnostic = diagnostic;
            }
            None => {
                if let Some(main) = &mut main {
                    main.evaluation = evaluation;
                    main.diagnostic = diagnostic;
                }
            }
        }
    }

    let module_failures = modules
        .iter()
        .filter(|m| m.status.state != State::Ok || m.evaluation == Evaluation::Failed)
        .count();
    let main_failed = main
        .as_ref()
        .is_some_and(|m| m.evaluation == Evaluation::Failed);
    for module in &modules {
        if let Some(detail) = module
            .status
            .detail
            .as_ref()
            .filter(|_| module.status.state != State::Ok)
        {
            printer.error_message(format!(
                "`{}` ({}): {detail}",
                module.status.module,
                module.status.state.as_str()
            ));
        }
        if let Some(diagnostic) = &module.diagnostic {
            printer.error_message(diagnostic);
        }
    }
    if let Some(diagnostic) = main.as_ref().and_then(|m| m.diagnostic.as_ref()) {
        printer.error_message(diagnostic);
    }
    let report = Report {
        infra: infra.name.clone(),
        valid: module_failures == 0 && !main_failed,
        modules,
        main,
    };
    printer.data(&report, || render(&report))?;
    if report.valid {
        let count = report.modules.len();
        let main = if report.main.is_some() {
            " and main.ncl"
        } else {
            ""
        };
        printer.status(
            "Valid",
            format!(
                "`{}`: {count} module{}{main}",
                infra.name,
                if count == 1 { "" } else { "s" }
            ),
        );
        Ok(Outcome::Success)
    } else {
        let problems = module_failures + usize::from(main_failed);
        printer.error_message(format!(
            "`{}` is not valid: {problems} problem{}",
            infra.name,
            if problems == 1 { "" } else { "s" }
        ));
        Ok(Outcome::Failure)
    }
}

/// The entry point of an installed module, read through its link as the infra sees it. Warns
/// when the version at the source is no longer the one the lock records.
fn entry_point(
    infra: &Infra,
    link: &std::path::Path,
    module: &ModuleStatus,
    printer: &Printer,
) -> Result<PathBuf, String> {
    let manifest = catalog::read_package_manifest(&link.join(Layout::Nickel.manifest_file()))?;
    if module
        .version
        .as_deref()
        .is_some_and(|recorded| recorded != manifest.version)
    {
        printer.warning(format!(
            "`{}` is now version {} at its source; the lock records {}\nhint: run `provisioning providers install {} {}` again to record it",
            module.module,
            manifest.version,
            module.version.as_deref().unwrap_or_default(),
            module.name,
            infra.name
        ));
    }
    Ok(link.join(
        manifest
            .entry
            .as_deref()
            .unwrap_or(Layout::Nickel.default_entry()),
    ))
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
    if let Some(main) = &report.main {
        table.row([
            "-".into(),
            main.path.clone(),
            "-".into(),
            "-".into(),
            evaluation(main.evaluation).into(),
        ]);
    }
    table
}
