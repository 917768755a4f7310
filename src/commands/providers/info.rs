use std::path::Path;

use serde::Serialize;

use crate::Outcome;
use crate::artifact::ArtifactName;
use crate::catalog;
use crate::cli::InfoArgs;
use crate::context::Context;
use crate::infra::Infra;
use crate::infra::lockfile::{Mode, ProvidersLock};
use crate::module::{Layout, PackageManifest};
use crate::names::ModuleName;
use crate::printer::Printer;

#[derive(Debug, Serialize)]
pub struct ProviderInfo {
    pub name: String,
    pub module: String,
    pub path: String,
    pub layout: Layout,
    pub manifest: Option<PackageManifest>,
    pub entry: Option<String>,
    pub files: Vec<String>,
    /// Versions packed in the packages directory.
    pub packed_versions: Vec<String>,
    pub used_by: Vec<Usage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// An infra that has the provider installed: how, and which of its packages (Nickel or KCL),
/// whichever layout `info` was asked about.
#[derive(Debug, Serialize)]
pub struct Usage {
    pub infra: String,
    pub mode: Mode,
    pub version: semver::Version,
    pub layout: Layout,
}

/// `providers info <provider>`: one provider in full.
pub fn info(args: &InfoArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let layout = Layout::from_kcl_flag(args.layout.kcl);
    let module = catalog::find_provider(
        &crate::catalog::Catalog::new(&context.config),
        &args.provider,
        layout,
    )?;
    let module_name = args.provider.provider_module();
    let package = module.package();
    let files = match package {
        Some(package) => package_files(&package.dir)?,
        None => Vec::new(),
    };
    let mut used_by = Vec::new();
    for infra in Infra::all(context) {
        match ProvidersLock::read(&infra.lock_path()) {
            Ok(lock) => {
                if let Some(entry) = lock.get(&args.provider) {
                    used_by.push(Usage {
                        infra: infra.name,
                        mode: entry.mode(),
                        version: entry.version.clone(),
                        layout: entry.layout,
                    });
                }
            }
            Err(error) => printer.warning(format!("skipping infra `{}`: {error}", infra.name)),
        }
    }
    let info = ProviderInfo {
        name: module.name.clone(),
        module: module_name.to_string(),
        path: context.display_path(&module.dir).display().to_string(),
        layout,
        manifest: package.map(|p| p.manifest.clone()),
        entry: package.map(|p| context.display_path(&p.entry).display().to_string()),
        files,
        packed_versions: packed_versions(&context.config.distribution.pack_path, &module_name),
        used_by,
        problem: module.problem(),
    };
    printer.data(&info, || render(&info))?;
    // The command fails: its error, naming the file, is an error on stderr too.
    Ok(if let Some(problem) = &info.problem {
        printer.error_message(problem);
        Outcome::Failure
    } else {
        Outcome::Success
    })
}

fn render(info: &ProviderInfo) -> crate::printer::Table {
    let mut table = crate::printer::Table::new(["FIELD", "VALUE"]);
    let none = || "-".to_owned();
    table.row(["name".into(), info.name.clone()]);
    table.row(["module".into(), info.module.clone()]);
    if let Some(manifest) = &info.manifest {
        table.row(["package".into(), manifest.name.clone()]);
        table.row(["version".into(), manifest.version.to_string()]);
        table.row(["description".into(), manifest.description.clone()]);
        let dependencies: Vec<String> = manifest
            .dependencies
            .iter()
            .map(|(module, requirement)| format!("{module} {requirement}"))
            .collect();
        table.row([
            "dependencies".into(),
            if dependencies.is_empty() {
                none()
            } else {
                dependencies.join(", ")
            },
        ]);
    }
    if let Some(problem) = &info.problem {
        table.row(["problem".into(), problem.clone()]);
    }
    table.row(["path".into(), info.path.clone()]);
    table.row(["entry".into(), info.entry.clone().unwrap_or_else(none)]);
    table.row([
        "files".into(),
        if info.files.is_empty() {
            none()
        } else {
            info.files.join(", ")
        },
    ]);
    table.row([
        "packed versions".into(),
        if info.packed_versions.is_empty() {
            none()
        } else {
            info.packed_versions.join(", ")
        },
    ]);
    let used: Vec<String> = info
        .used_by
        .iter()
        .map(|u| {
            format!(
                "{} ({} {}, {})",
                u.infra,
                u.mode,
                u.version,
                u.layout.package_dir()
            )
        })
        .collect();
    table.row([
        "used by".into(),
        if used.is_empty() {
            none()
        } else {
            used.join(", ")
        },
    ]);
    table
}

/// The files of a package, relative to it, sorted.
fn package_files(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in fs_err::read_dir(&current)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                pending.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                files.push(relative.display().to_string());
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Versions of `module` in the packages directory (`<module>_<version>.tar`), in semver order.
fn packed_versions(pack_path: &Path, module: &ModuleName) -> Vec<String> {
    let mut versions: Vec<semver::Version> = std::fs::read_dir(pack_path)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<ArtifactName>().ok())
        .filter(|name| name.pack().module == *module)
        .map(|name| name.pack().version.clone())
        .collect();
    versions.sort();
    versions.iter().map(ToString::to_string).collect()
}
