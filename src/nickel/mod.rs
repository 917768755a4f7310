//! Nickel evaluation with `nickel-lang-core`: no `nickel` binary is needed.
//!
//! [`Evaluator::export_json`] evaluates a file fully, applying every contract, with the
//! evaluator's import paths (the infra's `.nickel-modules` and `vendor`, as `nickel export
//! --import-path` would), and serializes the result as `nickel export --format json` does. A
//! failure carries Nickel's own diagnostic, with file, line and the offending value.
//!
//! - [`engine`]: the evaluation itself, which keeps one prepared standard library for many files;
//! - [`worker`]: the same, in a worker process under [`Bounds`] (a deadline and a memory
//!   ceiling, on a stack large enough for deep data), so a runaway file fails alone;
//! - [`doc`]: a module's documentation (fields, contracts, `doc` strings), as `nickel doc`
//!   extracts it, for the registry's web pages;
//! - [`cache`]: exports (and documentation) kept across runs;
//! - this file: the [`Evaluator`] commands use (a worker when the binary runs, the engine
//!   in-process in the library's unit tests), and [`with_evaluators`], which spreads many files
//!   over one evaluator per core.

mod cache;
mod check;
mod confine;
pub mod doc;
pub mod doctest;
mod engine;
pub mod field_path;
mod packages;
pub mod worker;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use cache::{ExportCache, Request as CacheRequest};
pub use confine::{Escape, check_confined, imports};
pub use packages::{Packages, package_imports};

#[derive(Debug, thiserror::Error)]
pub enum NickelError {
    #[error("failed to load `{}` for evaluation: {message}", path.display())]
    Load { path: PathBuf, message: String },
    #[error("`{}` does not evaluate:\n{diagnostic}", path.display())]
    Evaluation { path: PathBuf, diagnostic: String },
    /// The file evaluates, but `--field` names nothing in it.
    #[error("`{}` has no value at `--field {field}`:\n{diagnostic}", path.display())]
    Field {
        path: PathBuf,
        field: String,
        diagnostic: String,
    },
    /// The value evaluates, but the format asked for cannot hold it.
    #[error(
        "the value of `{}`{} cannot be written as {format}: {reason}\nhint: JSON and YAML hold any value (`--format json`){}",
        path.display(),
        field.as_ref().map(|field| format!(" at `--field {field}`")).unwrap_or_default(),
        if *format == "TOML" { ", or pick a record field with `--field`" } else { "" }
    )]
    Unrepresentable {
        path: PathBuf,
        field: Option<String>,
        format: &'static str,
        reason: String,
    },
    #[error(
        "`{}` did not finish evaluating in {seconds} s, and was stopped\nhint: an infinite recursion? If it is only slow, raise `evaluation.timeout_secs`",
        path.display()
    )]
    Timeout { path: PathBuf, seconds: u64 },
    #[error(
        "`{}` used more than {mebibytes} MiB while evaluating, and was stopped\nhint: an unbounded recursion? If it needs more, raise `evaluation.max_memory_mib`",
        path.display()
    )]
    Memory { path: PathBuf, mebibytes: u64 },
    #[error(
        "`{}` is nested too deeply to evaluate (the evaluation stack overflowed)",
        path.display()
    )]
    TooDeep { path: PathBuf },
    #[error("failed to write the export of `{}`", path.display())]
    Output {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
}

impl NickelError {
    pub fn path(&self) -> &Path {
        match self {
            NickelError::Load { path, .. }
            | NickelError::Evaluation { path, .. }
            | NickelError::Field { path, .. }
            | NickelError::Unrepresentable { path, .. }
            | NickelError::Timeout { path, .. }
            | NickelError::Memory { path, .. }
            | NickelError::TooDeep { path }
            | NickelError::Output { path, .. } => path,
        }
    }
}

/// What one evaluation may take (`[evaluation]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub timeout: Duration,
    pub max_memory_bytes: u64,
}

impl Bounds {
    pub fn from_config(evaluation: &crate::config::Evaluation) -> Self {
        Self {
            timeout: Duration::from_secs(evaluation.timeout_secs),
            max_memory_bytes: evaluation.max_memory_mib.saturating_mul(1024 * 1024),
        }
    }
}

/// Evaluates files with one set of import paths: in a bounded worker process when the binary
/// runs ([`worker::enable`]), else in-process. Either way the standard library is prepared once
/// for all the files it evaluates.
pub struct Evaluator {
    import_paths: Vec<PathBuf>,
    /// What `import <name>` reaches.
    packages: Packages,
    bounds: Bounds,
    backend: Backend,
}

enum Backend {
    Worker(worker::WorkerSlot),
    InProcess(Box<engine::Engine>),
}

impl Evaluator {
    pub fn new(import_paths: &[PathBuf], bounds: Bounds) -> Self {
        Self::with_packages(import_paths, &Packages::default(), bounds)
    }

    /// An evaluator whose files also import packages by name, through `packages`.
    pub fn with_packages(import_paths: &[PathBuf], packages: &Packages, bounds: Bounds) -> Self {
        let backend = if worker::enabled() {
            Backend::Worker(worker::WorkerSlot::new())
        } else {
            Backend::InProcess(Box::new(engine::Engine::with_packages(
                import_paths,
                packages,
            )))
        };
        Self {
            import_paths: import_paths.to_vec(),
            packages: packages.clone(),
            bounds,
            backend,
        }
    }

    /// Evaluates `file` fully, applying every contract, and exports it as JSON exactly as
    /// `nickel export --format json` does.
    pub fn export_json(&mut self, file: &Path) -> Result<Export, NickelError> {
        self.evaluate(file, &Output::json())
    }

    /// Evaluates `file` (or the field `output.field` of it) fully, applying every contract, and
    /// serializes it as `output.format` says.
    pub fn evaluate(&mut self, file: &Path, output: &Output) -> Result<Export, NickelError> {
        match &mut self.backend {
            Backend::Worker(worker) => worker.evaluate(
                file,
                (&self.import_paths, &self.packages),
                output,
                &self.bounds,
            ),
            Backend::InProcess(engine) => engine.evaluate(file, output),
        }
    }

    /// [`Evaluator::evaluate`], handing the text to `sink` in chunks as it arrives instead of
    /// returning it (from a worker, the text is never held whole). Nothing reaches `sink` unless
    /// the evaluation succeeded.
    pub fn evaluate_into(
        &mut self,
        file: &Path,
        output: &Output,
        sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<Export, NickelError> {
        match &mut self.backend {
            Backend::Worker(worker) => worker.evaluate_into(
                file,
                (&self.import_paths, &self.packages),
                output,
                &self.bounds,
                sink,
            ),
            Backend::InProcess(engine) => {
                let mut export = engine.evaluate(file, output)?;
                sink(export.text.as_bytes()).map_err(|error| NickelError::Output {
                    path: file.to_owned(),
                    error,
                })?;
                export.text.clear();
                Ok(export)
            }
        }
    }

    /// The documentation of `file` (see [`doc`]), as JSON, under the same bounds as an export.
    pub fn document(&mut self, file: &Path) -> Result<Export, NickelError> {
        self.evaluate(
            file,
            &Output {
                format: Format::Documentation,
                field: None,
            },
        )
    }
}

/// What an evaluation produces: `nickel export --format F [--field P]`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Output {
    pub format: Format,
    /// A dotted field path (`servers.web`) to evaluate instead of the whole file.
    pub field: Option<String>,
}

impl Output {
    pub fn json() -> Self {
        Self::of(Format::Json)
    }

    /// The whole file, as `format`.
    pub fn of(format: Format) -> Self {
        Self {
            format,
            field: None,
        }
    }
}

/// The serialization of an evaluated value, as `nickel export --format` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Format {
    Json,
    Yaml,
    Toml,
    /// A string, written as it is (`--format text`, alias `raw`).
    Text,
    /// Evaluated deeply with every contract applied ([`check`]), and not serialized: a file
    /// whose value is a function, a contract or a record contract (a library) passes.
    Evaluated,
    /// Loaded: parsed, typechecked, every import resolved, and evaluated to its head (a record's
    /// fields are not): what a file needs to be importable.
    Loaded,
    /// A module's entry point: [`Format::Evaluated`], then its JSON export when the value
    /// serializes; when it does not, [`Export::library`] says so and the text is empty.
    Module,
    /// The examples in its doc comments, run as `nickel test` runs them ([`doctest`]): the
    /// text is a [`doctest::Report`] as JSON.
    Tests,
    /// Its documentation, as `nickel doc --format json` gives it ([`doc`]).
    Documentation,
}

/// The result of evaluating one file: the value serialized as asked (empty for
/// [`Format::Evaluated`]) and every file the evaluation read (the file itself and everything it
/// imported, transitively), for caching.
#[derive(Debug, Clone)]
pub struct Export {
    pub text: String,
    /// For [`Format::Module`]: the value evaluated, and does not serialize (a library of
    /// contracts and functions), so there is no export.
    pub library: bool,
    pub files: Vec<PathBuf>,
}

/// Stack for evaluation threads, for the in-process engine: Nickel's evaluator recurses with
/// the depth of the data (a worker has its own, larger one).
const EVALUATION_STACK: usize = 64 * 1024 * 1024;

/// Runs `work` over `items` on as many threads as there are cores, each thread with its own
/// [`Evaluator`] (so the standard library is prepared once per thread, not once per item), and
/// returns the results in the items' order. A failing item does not stop the others.
pub fn with_evaluators<T, R, F>(
    import_paths: &[PathBuf],
    bounds: Bounds,
    items: &[T],
    work: F,
) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&mut Evaluator, &T) -> R + Sync,
{
    with_package_evaluators(import_paths, &Packages::default(), bounds, items, work)
}

/// [`with_evaluators`], each evaluator importing packages by name through `packages`.
pub fn with_package_evaluators<T, R, F>(
    import_paths: &[PathBuf],
    packages: &Packages,
    bounds: Bounds,
    items: &[T],
    work: F,
) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&mut Evaluator, &T) -> R + Sync,
{
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    let run = || {
        let mut evaluator = Evaluator::with_packages(import_paths, packages, bounds);
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(index) else { break };
            let result = work(&mut evaluator, item);
            if let Ok(mut results) = results.lock() {
                results[index] = Some(result);
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let spawned = std::thread::Builder::new()
                .stack_size(EVALUATION_STACK)
                .spawn_scoped(scope, run);
            if spawned.is_err() {
                // No thread to be had: what is left is done below, on this thread.
                break;
            }
        }
    });
    let mut results = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if results.iter().any(Option::is_none) {
        let mut evaluator = Evaluator::with_packages(import_paths, packages, bounds);
        for (slot, item) in results.iter_mut().zip(items) {
            if slot.is_none() {
                *slot = Some(work(&mut evaluator, item));
            }
        }
    }
    results.into_iter().flatten().collect()
}

/// Evaluates every file with the same import paths, in parallel, each as its [`Output`] says;
/// results in the files' order.
pub fn evaluate_all(
    import_paths: &[PathBuf],
    bounds: Bounds,
    files: &[(PathBuf, Output)],
) -> Vec<Result<Export, NickelError>> {
    evaluate_all_with_packages(import_paths, &Packages::default(), bounds, files)
}

/// [`evaluate_all`], the files importing packages by name through `packages`.
pub fn evaluate_all_with_packages(
    import_paths: &[PathBuf],
    packages: &Packages,
    bounds: Bounds,
    files: &[(PathBuf, Output)],
) -> Vec<Result<Export, NickelError>> {
    with_package_evaluators(
        import_paths,
        packages,
        bounds,
        files,
        |evaluator, (file, output)| evaluator.evaluate(file, output),
    )
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // test fixtures are written directly
mod tests {
    use super::*;

    fn bounds() -> Bounds {
        Bounds {
            timeout: Duration::from_secs(60),
            max_memory_bytes: 1 << 31,
        }
    }

    #[test]
    fn exports_json_with_imports_from_the_import_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let lib = dir.path().join("mods/lib_prov");
        std::fs::create_dir_all(&lib).expect("mkdir");
        std::fs::write(lib.join("main.ncl"), "{ size | Number = 2 }").expect("write");
        let main = dir.path().join("main.ncl");
        std::fs::write(
            &main,
            "let lib = import \"lib_prov/main.ncl\" in { servers = lib.size * 3 }",
        )
        .expect("write");
        let json = Evaluator::new(&[dir.path().join("mods")], bounds())
            .export_json(&main)
            .expect("evaluates")
            .text;
        assert_eq!(json, "{\n  \"servers\": 6\n}");
    }

    #[test]
    fn a_contract_violation_names_the_file_and_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let main = dir.path().join("main.ncl");
        std::fs::write(&main, "{\n  port | Number = \"eighty\",\n}\n").expect("write");
        let NickelError::Evaluation { diagnostic, .. } = Evaluator::new(&[], bounds())
            .export_json(&main)
            .expect_err("fails")
        else {
            panic!("expected an evaluation error");
        };
        assert!(diagnostic.contains("contract broken"), "{diagnostic}");
        assert!(diagnostic.contains("main.ncl:2:"), "{diagnostic}");
        assert!(diagnostic.contains("\"eighty\""), "{diagnostic}");
    }

    #[test]
    fn many_evaluations_keep_their_order_and_their_failures() {
        let dir = tempfile::tempdir().expect("temp dir");
        let files: Vec<PathBuf> = (0..5)
            .map(|i| {
                let file = dir.path().join(format!("f{i}.ncl"));
                let body = if i == 2 {
                    "{ x | Number = \"no\" }".to_owned()
                } else {
                    format!("{{ x = {i} }}")
                };
                std::fs::write(&file, body).expect("write");
                file
            })
            .collect();
        let jobs: Vec<(PathBuf, Output)> =
            files.iter().map(|f| (f.clone(), Output::json())).collect();
        let results = evaluate_all(&[], bounds(), &jobs);
        assert_eq!(results.len(), 5);
        for (i, result) in results.iter().enumerate() {
            match result {
                Ok(export) => assert_eq!(export.text, format!("{{\n  \"x\": {i}\n}}")),
                Err(error) => {
                    assert_eq!(i, 2);
                    assert!(error.path().ends_with("f2.ncl"));
                }
            }
        }
        assert!(results[2].is_err());
    }

    #[test]
    fn an_evaluator_reports_the_files_an_evaluation_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("a.ncl"), "{ b = import \"b.ncl\" }").expect("write");
        std::fs::write(dir.path().join("b.ncl"), "{ c = import \"c.ncl\" }").expect("write");
        std::fs::write(dir.path().join("c.ncl"), "1").expect("write");
        std::fs::write(dir.path().join("other.ncl"), "2").expect("write");
        let mut evaluator = Evaluator::new(&[], bounds());
        let export = evaluator
            .export_json(&dir.path().join("a.ncl"))
            .expect("evaluates");
        let names: Vec<_> = export
            .files
            .iter()
            .map(|f| f.file_name().expect("name").to_owned())
            .collect();
        assert_eq!(names, ["a.ncl", "b.ncl", "c.ncl"]);
        // The same evaluator goes on to other files, and to failures, independently.
        assert!(
            evaluator
                .export_json(&dir.path().join("missing.ncl"))
                .is_err()
        );
        assert_eq!(
            evaluator
                .export_json(&dir.path().join("other.ncl"))
                .expect("evaluates")
                .text,
            "2"
        );
    }

    #[test]
    fn the_export_cache_is_invalidated_by_any_file_the_evaluation_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let main = dir.path().join("main.ncl");
        let lib = dir.path().join("lib.ncl");
        std::fs::write(&main, "{ x = import \"lib.ncl\" }").expect("write");
        std::fs::write(&lib, "1").expect("write");
        let cache = ExportCache::new(&dir.path().join("cache"));
        let request = CacheRequest {
            file: &main,
            import_paths: &[],
            format: Format::Json,
        };
        assert!(cache.get(&request).is_none());
        let first = Evaluator::new(&[], bounds())
            .export_json(&main)
            .expect("evaluates");
        assert_eq!(first.text, "{\n  \"x\": 1\n}");
        cache.put(&request, &first);
        let second = cache.get(&request).expect("cached");
        assert_eq!(second.files.len(), 2, "the cache keeps the files it read");
        assert_eq!(second.text, first.text);
        assert!(
            cache
                .get(&CacheRequest {
                    import_paths: &[dir.path().to_owned()],
                    ..request
                })
                .is_none(),
            "other import paths are another entry"
        );
        assert!(
            cache
                .get(&CacheRequest {
                    format: Format::Module,
                    ..request
                })
                .is_none(),
            "another format is another entry"
        );
        std::fs::write(&lib, "2").expect("write");
        assert!(cache.get(&request).is_none(), "a file it read changed");
    }
}
