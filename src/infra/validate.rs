//! The checks of `providers validate`: the state of every module (links resolve, vendored packs
//! match their hashes, manifests agree with the lock and the disk), then the evaluation of every
//! module in a good state and of every Nickel file of the infra itself, in parallel. It reads
//! and evaluates; it never writes (but for the evaluation cache), and it never prints: what it
//! finds is in the [`Report`].
//!
//! The infra's `main.ncl` must export (as `nickel export main.ncl` would); its other files
//! (`defs/servers.ncl`, ...) and every module's entry point must evaluate deeply with their
//! contracts ([`nickel::Format::Evaluated`]), so a library of functions or contracts passes and
//! a contract broken anywhere does not. A module is a library or a configuration: either is
//! valid when it evaluates, not only when it serializes.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::closure;
use super::lockfile::{Mode, ProvidersLock};
use super::state::{self, ModuleStatus, State};
use super::{Infra, VENDOR_DIR};
use crate::context::Context;
use crate::dependencies::{declare_hint, undeclared_imports};
use crate::module::{Layout, PackageManifest};
use crate::names::ModuleName;
use crate::nickel;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Evaluation {
    Ok,
    Failed,
    /// Not evaluated: the link is broken, or the module is in the KCL layout.
    Skipped,
}

#[derive(Debug, Serialize)]
pub struct ModuleReport {
    #[serde(flatten)]
    pub status: ModuleStatus,
    pub evaluation: Evaluation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostic: Option<String>,
}

impl ModuleReport {
    pub fn failed(&self) -> bool {
        self.status.state.is_problem() || self.evaluation == Evaluation::Failed
    }
}

/// One Nickel file of the infra's own.
#[derive(Debug, Serialize)]
pub struct FileReport {
    /// Relative to the infra directory: `main.ncl`, `defs/servers.ncl`.
    pub path: String,
    pub evaluation: Evaluation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostic: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub infra: String,
    pub valid: bool,
    pub modules: Vec<ModuleReport>,
    /// The infra's own Nickel files, `main.ncl` first.
    pub files: Vec<FileReport>,
    /// What is wrong with the loaded set's capabilities: unmet, conflicting, cyclic.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// Generated import files edited by hand.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub edited: Vec<String>,
    /// What is worth saying but is not a problem (a source whose version moved on).
    #[serde(skip)]
    pub warnings: Vec<String>,
}

impl Report {
    /// How many problems it found: each failed module, and each of the infra's files that
    /// failed.
    pub fn problems(&self) -> usize {
        let files = self
            .files
            .iter()
            .filter(|file| file.evaluation == Evaluation::Failed)
            .count();
        self.modules.iter().filter(|m| m.failed()).count()
            + files
            + self.capabilities.len()
            + self.edited.len()
    }
}

/// Checks `infra` whole.
pub fn validate(context: &Context, infra: &Infra) -> anyhow::Result<Report> {
    // The lock read once: the statuses, the evaluations and the package map all come from it.
    let lock = ProvidersLock::read(&infra.lock_path())?;
    let statuses = state::inspect_lock(
        context,
        infra,
        &lock,
        &|_| false,
        &super::closure::InstalledManifests::default(),
    )?;
    let modules_dir = infra.modules_dir(context, Layout::Nickel);
    let mut warnings = Vec::new();

    // Read what to evaluate first, then evaluate every module and infra file in parallel.
    let mut jobs = Vec::new();
    let mut modules = module_jobs(
        context,
        infra,
        &lock,
        &modules_dir,
        statuses,
        &mut jobs,
        &mut warnings,
    );
    let generated = super::generated::inspect(context, infra, &lock)?;
    let mut files = file_jobs(infra, &modules_dir, &generated, &mut jobs);
    let packages = super::packages::packages(context, infra, &lock);
    let results = evaluate(context, (&infra.import_paths(context), &packages), &jobs);
    for ((target, _), result) in jobs.iter().zip(results) {
        let (evaluation, diagnostic) = judge(target, &modules, result);
        match target {
            Target::Module(index, _, _) => {
                modules[*index].evaluation = evaluation;
                modules[*index].diagnostic = diagnostic;
            }
            Target::File(index) | Target::Generated(index) => {
                files[*index].evaluation = evaluation;
                files[*index].diagnostic = diagnostic;
            }
        }
    }
    let capabilities = super::capabilities::check_against(
        &super::capabilities::loaded(context, infra, &lock),
        &crate::catalog::Catalog::new(&context.config),
    )
    .iter()
    .map(ToString::to_string)
    .collect();
    let edited = generated_problems(infra, generated, &mut warnings);
    let mut report = Report {
        infra: infra.name.clone(),
        valid: false,
        modules,
        files,
        capabilities,
        edited,
        warnings,
    };
    report.valid = report.problems() == 0;
    Ok(report)
}

/// One report per module, and a job for each module that is installed and can be evaluated
/// (its entry point found, its imports confined to itself and its dependencies).
fn module_jobs(
    context: &Context,
    infra: &Infra,
    lock: &ProvidersLock,
    modules_dir: &Path,
    statuses: Vec<state::ModuleStatus>,
    jobs: &mut Vec<Job>,
    warnings: &mut Vec<String>,
) -> Vec<ModuleReport> {
    let mut modules = Vec::new();
    for status in statuses {
        let mut report = ModuleReport {
            status,
            evaluation: Evaluation::Skipped,
            diagnostic: None,
        };
        if report.status.state == State::Ok && report.status.layout == Layout::Nickel {
            let dir = match report.status.mode {
                Some(Mode::Pack) => infra.dir.join(VENDOR_DIR).join(&report.status.module),
                _ => modules_dir.join(&report.status.module),
            };
            // The manifest is read once: from `Nickel-pkg.ncl` alone, that is an evaluation.
            let checked = agreeing(context, &report.status, &dir)
                .and_then(|()| crate::catalog::Catalog::new(&context.config).read_manifest(&dir))
                .and_then(|(read_from, manifest)| {
                    let entry = entry_point(infra, &dir, &manifest, &report.status, warnings);
                    let described = read_from.ends_with(crate::module::NICKEL_PKG_FILE);
                    hermetic(
                        context,
                        infra,
                        lock,
                        &dir,
                        (manifest, described),
                        &report.status,
                    )
                    .map(|allowed| (entry, allowed))
                });
            match checked {
                Ok((entry, allowed)) => jobs.push((
                    Target::Module(modules.len(), dir, allowed),
                    (entry, nickel::Output::of(nickel::Format::Evaluated)),
                )),
                Err(reason) => {
                    report.evaluation = Evaluation::Failed;
                    report.diagnostic = Some(reason);
                }
            }
        }
        modules.push(report);
    }
    modules
}

/// One report and one job per file of the infra's own: `main.ncl` exported, a generated file
/// as written only loaded (it lists the modules checked already; walking it would force every
/// contract of every library it names), every other file evaluated deeply.
fn file_jobs(
    infra: &Infra,
    modules_dir: &Path,
    generated: &[(&str, super::generated::FileState)],
    jobs: &mut Vec<Job>,
) -> Vec<FileReport> {
    let mut files = Vec::new();
    for path in infra_files(&infra.dir, modules_dir) {
        let is_generated = generated.iter().any(|(file, state)| {
            *state == super::generated::FileState::Ok && path == Path::new(file)
        });
        let (target, output) = if path == Path::new("main.ncl") {
            (Target::File(files.len()), nickel::Output::json())
        } else if is_generated {
            (
                Target::Generated(files.len()),
                nickel::Output::of(nickel::Format::Loaded),
            )
        } else {
            (
                Target::File(files.len()),
                nickel::Output::of(nickel::Format::Evaluated),
            )
        };
        jobs.push((target, (infra.dir.join(&path), output)));
        files.push(FileReport {
            path: path.to_string_lossy().into_owned(),
            evaluation: Evaluation::Ok,
            diagnostic: None,
        });
    }
    files
}

/// What one evaluation says. A module must also be packable: no import may leave its directory
/// other than into its dependencies.
fn judge(
    target: &Target,
    modules: &[ModuleReport],
    result: Result<nickel::Export, nickel::NickelError>,
) -> (Evaluation, Option<String>) {
    let export = match result {
        Ok(export) => export,
        Err(error) => return (Evaluation::Failed, Some(error.to_string())),
    };
    let Target::Module(index, dir, allowed) = target else {
        return (Evaluation::Ok, None);
    };
    match nickel::check_confined(dir, allowed, &export.files) {
        Ok(()) => (Evaluation::Ok, None),
        Err(escape) => (
            Evaluation::Failed,
            Some(format!(
                "`{}` is not packable: {escape}\nhint: a pack holds only the module's own files and its declared dependencies; move what it needs into the module, or make it a dependency",
                modules[*index].status.module
            )),
        ),
    }
}

/// The generated files that are not as written (problems), and those missing or stale
/// (warnings: `sync` rewrites them).
fn generated_problems(
    infra: &Infra,
    generated: Vec<(&str, super::generated::FileState)>,
    warnings: &mut Vec<String>,
) -> Vec<String> {
    use super::generated::FileState;
    let mut edited = Vec::new();
    for (file, state) in generated {
        match state {
            FileState::Ok => {}
            FileState::Foreign => edited.push(format!(
                "`{file}` is not a generated file, so it cannot list the infra's modules of its kind\nhint: rename it; `provisioning providers sync {}` then writes the generated one",
                infra.name
            )),
            FileState::Edited => edited.push(format!(
                "`{file}` is generated, and was edited by hand\nhint: `provisioning providers sync {}` rewrites it from the lock",
                infra.name
            )),
            FileState::Missing | FileState::Stale => {
                warnings.push(format!(
                    "`{file}` is {} the lock\nhint: `provisioning providers sync {}` rewrites it",
                    if state == FileState::Missing {
                        "missing; it lists the modules of one kind from"
                    } else {
                        "out of date with"
                    },
                    infra.name
                ));
            }
        }
    }
    edited
}

/// One evaluation to run: what it is for, and the file with what to make of it.
type Job = (Target, (PathBuf, nickel::Output));

/// Evaluates every job, in parallel. A module's evaluation (and a generated file's, which only
/// lists modules) is taken from the evaluation cache when no file it read has changed: a module
/// of thousands of files is checked once, not at every validate. The infra's own files, which
/// are what changes, are always evaluated.
fn evaluate(
    context: &Context,
    (import_paths, packages): (&[PathBuf], &nickel::Packages),
    jobs: &[Job],
) -> Vec<Result<nickel::Export, nickel::NickelError>> {
    let cache = nickel::ExportCache::new(&context.config.distribution.cache_path);
    // What the results depend on: the import paths, and the package map.
    let key: Vec<PathBuf> = import_paths
        .iter()
        .cloned()
        .chain(packages.cache_key())
        .collect();
    fn request<'a>(
        (file, output): &'a (PathBuf, nickel::Output),
        import_paths: &'a [PathBuf],
    ) -> nickel::CacheRequest<'a> {
        nickel::CacheRequest {
            file,
            import_paths,
            format: output.format,
        }
    }
    let mut results: Vec<Option<Result<nickel::Export, nickel::NickelError>>> = jobs
        .iter()
        .map(|(target, job)| match target {
            Target::Module(..) | Target::Generated(_) => cache.get(&request(job, &key)).map(Ok),
            Target::File(_) => None,
        })
        .collect();
    let pending: Vec<usize> = (0..jobs.len()).filter(|i| results[*i].is_none()).collect();
    let requests: Vec<(PathBuf, nickel::Output)> =
        pending.iter().map(|i| jobs[*i].1.clone()).collect();
    let evaluated = nickel::evaluate_all_with_packages(
        import_paths,
        packages,
        context.evaluation_bounds(),
        &requests,
    );
    for (index, result) in pending.into_iter().zip(evaluated) {
        if let (Target::Module(..) | Target::Generated(_), Ok(export)) = (&jobs[index].0, &result) {
            cache.put(&request(&jobs[index].1, &key), export);
        }
        results[index] = Some(result);
    }
    results.into_iter().flatten().collect()
}

/// What one evaluation is for: a module (its index in the report, its directory, where its
/// evaluation may read), or one of the infra's files (its index).
enum Target {
    Module(usize, PathBuf, Vec<PathBuf>),
    File(usize),
    /// A generated file as `provisioning` wrote it (its index among the files).
    Generated(usize),
}

/// The infra's own Nickel files, relative to its directory: `main.ncl` first, then the others
/// sorted; the installed modules (`.nickel-modules/`, `vendor/`) and hidden entries are not its
/// own.
fn infra_files(dir: &Path, modules_dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = nickel_files(dir)
        .into_iter()
        .filter(|file| !file.starts_with(modules_dir) && !file.starts_with(dir.join(VENDOR_DIR)))
        .filter_map(|file| file.strip_prefix(dir).ok().map(Path::to_path_buf))
        .collect();
    files.sort_by_key(|file| (file != Path::new("main.ncl"), file.clone()));
    files
}

/// Checks that a module imports by name only modules it declares, and returns the directories
/// of its installed dependencies (and theirs), where its evaluation may read. `described`: its
/// manifest was read from `Nickel-pkg.ncl` alone, where the hint says to declare a dependency.
fn hermetic(
    context: &Context,
    infra: &Infra,
    lock: &ProvidersLock,
    dir: &Path,
    (manifest, described): (PackageManifest, bool),
    module: &ModuleStatus,
) -> Result<Vec<PathBuf>, String> {
    let Ok(name) = module.module.parse::<ModuleName>() else {
        return Ok(Vec::new());
    };
    let known: Vec<&ModuleName> = lock.providers.iter().map(|entry| &entry.module).collect();
    let mut texts = Vec::new();
    for file in nickel_files(dir) {
        let text = crate::fs::read_to_string(&file, crate::fs::FileKind::Nickel)
            .map_err(|error| error.to_string())?;
        texts.push((file, text));
    }
    let sources = texts
        .iter()
        .map(|(file, text)| (file.clone(), text.as_str()));
    if let Some(undeclared) = undeclared_imports(sources, &name, &manifest.dependencies, &known)
        .into_iter()
        .next()
    {
        return Err(format!(
            "`{name}` is not packable: {undeclared}\nhint: {}",
            if described {
                crate::module::declare_in_nickel_pkg_hint(undeclared.dependency.as_str())
            } else {
                declare_hint(
                    &undeclared.dependency,
                    lock.module(&undeclared.dependency)
                        .map(|entry| &entry.version),
                )
            }
        ));
    }
    // The dependencies' directories, transitively, as the infra has them.
    let mut allowed = Vec::new();
    let mut queue: Vec<ModuleName> = manifest.dependencies.into_keys().collect();
    let mut seen = std::collections::BTreeSet::new();
    while let Some(dependency) = queue.pop() {
        if dependency == name {
            return Err(format!(
                "`{name}` is not packable: it requires itself through its dependencies (a dependency cycle)\nhint: `provisioning pack provider` names the cycle"
            ));
        }
        if !seen.insert(dependency.clone()) {
            continue;
        }
        let Some(entry) = lock.module(&dependency) else {
            continue;
        };
        allowed.push(closure::installed_dir(context, infra, entry));
        if let Some(more) = closure::installed_dependencies(context, infra, entry) {
            queue.extend(more.into_keys());
        }
    }
    Ok(allowed)
}

/// The Nickel files under `dir` (through its link), sorted; hidden entries skipped.
fn nickel_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(path),
                Ok(kind) if kind.is_file() && path.extension().is_some_and(|e| e == "ncl") => {
                    files.push(path);
                }
                _ => {}
            }
        }
    }
    files.sort();
    files
}

/// Refuses a linked module whose source has both a `manifest.toml` and a `Nickel-pkg.ncl` that
/// say different things (name, version, dependencies): `manifest.toml` is what the tool reads,
/// Nickel's package manager reads the other. A pack's pair is generated from one and the same
/// manifest, and its hash already says it is as packed: it is not read again.
fn agreeing(context: &Context, module: &ModuleStatus, dir: &Path) -> Result<(), String> {
    if module.mode == Some(Mode::Pack) {
        return Ok(());
    }
    let differences = crate::catalog::Catalog::new(&context.config).disagreements(dir)?;
    match differences.filter(|differences| !differences.is_empty()) {
        None => Ok(()),
        Some(differences) => Err(format!(
            "`{}` and `{}` disagree:\n{}\nhint: `manifest.toml` is the module's manifest for `provisioning`; make `{}` say the same, or remove it (every pack carries one generated from `manifest.toml`)",
            dir.join(Layout::Nickel.manifest_file()).display(),
            dir.join(crate::module::NICKEL_PKG_FILE).display(),
            differences
                .iter()
                .map(|difference| format!("  {difference}"))
                .collect::<Vec<_>>()
                .join("\n"),
            crate::module::NICKEL_PKG_FILE,
        )),
    }
}

/// The entry point of an installed module, read through its link as the infra sees it. Warns
/// when the version at the source is no longer the one the lock records.
fn entry_point(
    infra: &Infra,
    dir: &Path,
    manifest: &PackageManifest,
    module: &ModuleStatus,
    warnings: &mut Vec<String>,
) -> PathBuf {
    if let Some(recorded) = module.version.as_ref().filter(|v| **v != manifest.version) {
        warnings.push(format!(
            "`{}` is now version {} at its source; the lock records {recorded}\nhint: run `provisioning providers install {} {}` again to record it",
            module.module, manifest.version, module.name, infra.name
        ));
    }
    dir.join(
        manifest
            .entry
            .as_deref()
            .unwrap_or(Layout::Nickel.default_entry()),
    )
}
