//! Nickel evaluation, in-process through `nickel-lang-core`: no `nickel` binary is needed.
//!
//! [`Evaluator::export_json`] evaluates a file fully, applying every contract, with the
//! evaluator's import paths (the infra's `.nickel-modules` and `vendor`, as `nickel export
//! --import-path` would), and serializes the result as `nickel export --format json` does. A
//! failure carries Nickel's own diagnostic, with file, line and the offending value.
//! [`export_json_all`] and [`with_evaluators`] spread many files over one evaluator per core;
//! [`ExportCache`] keeps results across runs.

use std::path::{Path, PathBuf};

use nickel_lang_core::cache::{CacheHub, InputFormat};
use nickel_lang_core::error::report::{ColorOpt, report_as_str};
use nickel_lang_core::error::{Error, NullReporter};
use nickel_lang_core::eval::cache::CacheImpl;
use nickel_lang_core::eval::value::NickelValue;
use nickel_lang_core::eval::{VirtualMachine, VmContext};
use nickel_lang_core::files::FileId;
use nickel_lang_core::serialize::{self, ExportFormat};

#[derive(Debug, thiserror::Error)]
pub enum NickelError {
    #[error("failed to load `{}` for evaluation: {message}", path.display())]
    Load { path: PathBuf, message: String },
    #[error("`{}` does not evaluate:\n{diagnostic}", path.display())]
    Evaluation { path: PathBuf, diagnostic: String },
}

impl NickelError {
    pub fn path(&self) -> &Path {
        match self {
            NickelError::Load { path, .. } | NickelError::Evaluation { path, .. } => path,
        }
    }
}

/// The result of evaluating one file: its JSON export and every file the evaluation read (the
/// file itself and everything it imported, transitively), for caching.
#[derive(Debug, Clone)]
pub struct Export {
    pub json: String,
    pub files: Vec<PathBuf>,
}

/// Evaluates files on one thread, preparing Nickel's standard library once for all of them
/// (preparing it is most of the cost of evaluating a small file). Files evaluated by one
/// evaluator share its import paths, and imports shared between them are evaluated once.
pub struct Evaluator {
    context: VmContext<CacheHub, CacheImpl>,
}

impl Evaluator {
    pub fn new(import_paths: &[PathBuf]) -> Self {
        let mut cache = CacheHub::new();
        cache.sources.add_import_paths(import_paths.iter().cloned());
        Self {
            context: VmContext::new(cache, std::io::sink(), NullReporter {}),
        }
    }

    /// Evaluates `file` fully, applying every contract, and exports it as JSON exactly as
    /// `nickel export --format json` does.
    pub fn export_json(&mut self, file: &Path) -> Result<Export, NickelError> {
        let file_id = self
            .context
            .import_resolver
            .sources
            .add_file(file, InputFormat::Nickel)
            .map_err(|error| NickelError::Load {
                path: file.to_owned(),
                message: error.to_string(),
            })?;
        let value = match self.evaluate(file_id) {
            Ok(value) => value,
            Err(error) => return Err(self.diagnose(file, error)),
        };
        let exported = serialize::validate(ExportFormat::Json, &value)
            .and_then(|()| serialize::to_string(ExportFormat::Json, &value));
        let json = match exported {
            Ok(json) => json,
            Err(data) => {
                let error = Error::export_error(self.context.pos_table.clone(), data);
                return Err(self.diagnose(file, error));
            }
        };
        let cache = &self.context.import_resolver;
        let mut files: Vec<PathBuf> = std::iter::once(file_id)
            .chain(cache.import_data.transitive_imports(file_id))
            .filter(|id| !cache.sources.is_stdlib_module(*id))
            .map(|id| PathBuf::from(cache.sources.name(id)))
            .collect();
        files.sort();
        files.dedup();
        Ok(Export { json, files })
    }

    fn evaluate(&mut self, file_id: FileId) -> Result<NickelValue, Error> {
        let value = self.context.prepare_eval(file_id)?;
        Ok(VirtualMachine::new(&mut self.context).eval_full_for_export(value)?)
    }

    fn diagnose(&self, file: &Path, error: Error) -> NickelError {
        let mut files = self.context.import_resolver.sources.files().clone();
        let diagnostic = report_as_str(&mut files, error, ColorOpt::Never);
        NickelError::Evaluation {
            path: file.to_owned(),
            diagnostic: diagnostic.trim_end().to_owned(),
        }
    }
}

/// Stack for evaluation threads: Nickel's evaluator recurses with the depth of the data.
const EVALUATION_STACK: usize = 64 * 1024 * 1024;

/// Runs `work` over `items` on as many threads as there are cores, each thread with its own
/// [`Evaluator`] (so the standard library is prepared once per thread, not once per item), and
/// returns the results in the items' order. A failing item does not stop the others.
pub fn with_evaluators<T, R, F>(import_paths: &[PathBuf], items: &[T], work: F) -> Vec<R>
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
        let mut evaluator = Evaluator::new(import_paths);
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
        let mut evaluator = Evaluator::new(import_paths);
        for (slot, item) in results.iter_mut().zip(items) {
            if slot.is_none() {
                *slot = Some(work(&mut evaluator, item));
            }
        }
    }
    results.into_iter().flatten().collect()
}

/// Evaluates every file with the same import paths, in parallel; results in the files' order.
pub fn export_json_all(
    import_paths: &[PathBuf],
    files: &[PathBuf],
) -> Vec<Result<String, NickelError>> {
    with_evaluators(import_paths, files, |evaluator, file| {
        evaluator.export_json(file).map(|e| e.json)
    })
}

/// Evaluation results kept on disk (`<cache_path>/nickel/`), keyed by the evaluated file and
/// import paths, and valid while every file the evaluation read still has the content it had.
/// A re-pack of unchanged sources then costs a few file hashes instead of an evaluation.
///
/// The cache is best effort: an unreadable or stale entry is a miss, and a failure to write one
/// is ignored (the result is still correct, only the next run is slower).
#[derive(Debug, Clone)]
pub struct ExportCache {
    dir: PathBuf,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct CachedExport {
    /// Every file the evaluation read, with the hex SHA-256 of its contents then.
    files: Vec<(PathBuf, String)>,
    json: String,
}

impl ExportCache {
    pub fn new(cache_path: &Path) -> Self {
        Self {
            dir: cache_path.join("nickel"),
        }
    }

    fn entry_path(&self, file: &Path, import_paths: &[PathBuf]) -> PathBuf {
        // The tool's version stands for the evaluator's: a new release may evaluate differently.
        let mut key = format!(
            "provisioning {}\0{}",
            env!("CARGO_PKG_VERSION"),
            file.display()
        );
        for path in import_paths {
            key.push('\0');
            key.push_str(&path.display().to_string());
        }
        self.dir.join(format!(
            "{}.json",
            crate::digest::Sha256::of(key.as_bytes())
        ))
    }

    /// The cached export of `file`, if every file it read is unchanged.
    pub fn get(&self, file: &Path, import_paths: &[PathBuf]) -> Option<String> {
        let text = std::fs::read(self.entry_path(file, import_paths)).ok()?;
        let cached: CachedExport = serde_json::from_slice(&text).ok()?;
        let unchanged = cached.files.iter().all(|(path, hash)| {
            std::fs::read(path)
                .is_ok_and(|contents| crate::digest::Sha256::of(&contents).to_string() == *hash)
        });
        unchanged.then_some(cached.json)
    }

    pub fn put(&self, file: &Path, import_paths: &[PathBuf], export: &Export) {
        let files: Option<Vec<(PathBuf, String)>> = export
            .files
            .iter()
            .map(|path| {
                Some((
                    path.clone(),
                    crate::digest::Sha256::of(&std::fs::read(path).ok()?).to_string(),
                ))
            })
            .collect();
        let Some(files) = files else { return };
        let cached = CachedExport {
            files,
            json: export.json.clone(),
        };
        if let Ok(json) = serde_json::to_vec(&cached) {
            let _ = crate::fs::create_dir_all(&self.dir);
            let _ = crate::fs::atomic_write(&self.entry_path(file, import_paths), &json);
        }
    }
}

/// Evaluates `file` with `evaluator`, or takes its export from `cache` when nothing it read has
/// changed. Says whether the cache answered.
pub fn export_json_cached(
    evaluator: &mut Evaluator,
    cache: Option<&ExportCache>,
    file: &Path,
    import_paths: &[PathBuf],
) -> Result<(String, bool), NickelError> {
    if let Some(json) = cache.and_then(|cache| cache.get(file, import_paths)) {
        return Ok((json, true));
    }
    let export = evaluator.export_json(file)?;
    if let Some(cache) = cache {
        cache.put(file, import_paths, &export);
    }
    Ok((export.json, false))
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // test fixtures are written directly
mod tests {
    use super::*;

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
        let json = Evaluator::new(&[dir.path().join("mods")])
            .export_json(&main)
            .expect("evaluates")
            .json;
        assert_eq!(json, "{\n  \"servers\": 6\n}");
    }

    #[test]
    fn a_contract_violation_names_the_file_and_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let main = dir.path().join("main.ncl");
        std::fs::write(&main, "{\n  port | Number = \"eighty\",\n}\n").expect("write");
        let NickelError::Evaluation { diagnostic, .. } =
            Evaluator::new(&[]).export_json(&main).expect_err("fails")
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
        let results = export_json_all(&[], &files);
        assert_eq!(results.len(), 5);
        for (i, result) in results.iter().enumerate() {
            match result {
                Ok(json) => assert_eq!(json, &format!("{{\n  \"x\": {i}\n}}")),
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
        let mut evaluator = Evaluator::new(&[]);
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
                .json,
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
        let mut evaluator = Evaluator::new(&[]);
        let first =
            export_json_cached(&mut evaluator, Some(&cache), &main, &[]).expect("evaluates");
        assert_eq!(first, ("{\n  \"x\": 1\n}".to_owned(), false));
        let second =
            export_json_cached(&mut Evaluator::new(&[]), Some(&cache), &main, &[]).expect("cached");
        assert_eq!(second, (first.0.clone(), true));
        std::fs::write(&lib, "2").expect("write");
        let third = export_json_cached(&mut Evaluator::new(&[]), Some(&cache), &main, &[])
            .expect("evaluates");
        assert_eq!(third, ("{\n  \"x\": 2\n}".to_owned(), false));
    }
}
