//! Nickel evaluation, in-process through `nickel-lang-core`: no `nickel` binary is needed.
//!
//! [`export_json`] evaluates a file fully, applying every contract, with the given import
//! paths (the infra's `.nickel-modules` and `vendor`, as `nickel export --import-path` would),
//! and serializes the result as `nickel export --format json` does. A failure carries Nickel's
//! own diagnostic, with file, line and the offending value.

use std::path::{Path, PathBuf};

use nickel_lang_core::error::Error;
use nickel_lang_core::error::report::{ColorOpt, report_as_str};
use nickel_lang_core::eval::cache::CacheImpl;
use nickel_lang_core::program::{Program, ProgramBuilder};
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

/// Evaluates `file` fully and returns its JSON export.
pub fn export_json(file: &Path, import_paths: &[PathBuf]) -> Result<String, NickelError> {
    let mut program: Program<CacheImpl> = ProgramBuilder::new()
        .add_path(file)
        .add_import_paths(import_paths.iter().cloned())
        .build()
        .map_err(|error| NickelError::Load {
            path: file.to_owned(),
            message: error.to_string(),
        })?;
    let value = match program.eval_full_for_export() {
        Ok(value) => value,
        Err(error) => return Err(diagnose(&program, file, error)),
    };
    let exported = serialize::validate(ExportFormat::Json, &value)
        .and_then(|()| serialize::to_string(ExportFormat::Json, &value));
    match exported {
        Ok(json) => Ok(json),
        Err(data) => {
            let error = Error::export_error(program.pos_table().clone(), data);
            Err(diagnose(&program, file, error))
        }
    }
}

/// One file to evaluate, with its import paths.
#[derive(Debug, Clone)]
pub struct Job {
    pub file: PathBuf,
    pub import_paths: Vec<PathBuf>,
}

/// Stack for evaluation threads: Nickel's evaluator recurses with the depth of the data.
const EVALUATION_STACK: usize = 64 * 1024 * 1024;

/// Evaluates every job with [`export_json`], on as many threads as there are cores, and
/// returns the results in the jobs' order. Each evaluation is independent: a failure does not
/// stop the others.
pub fn export_json_all(jobs: &[Job]) -> Vec<Result<String, NickelError>> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<String, NickelError>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let spawned = std::thread::Builder::new()
                .stack_size(EVALUATION_STACK)
                .spawn_scoped(scope, || {
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(index) else { break };
                        let result = export_json(&job.file, &job.import_paths);
                        if let Ok(mut results) = results.lock() {
                            results[index] = Some(result);
                        }
                    }
                });
            if spawned.is_err() {
                // No thread to be had: the jobs left are evaluated below, on this one.
                break;
            }
        }
    });
    let results = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    results
        .into_iter()
        .zip(jobs)
        .map(|(result, job)| result.unwrap_or_else(|| export_json(&job.file, &job.import_paths)))
        .collect()
}

fn diagnose(program: &Program<CacheImpl>, file: &Path, error: Error) -> NickelError {
    let mut files = program.files();
    let diagnostic = report_as_str(&mut files, error, ColorOpt::Never);
    NickelError::Evaluation {
        path: file.to_owned(),
        diagnostic: diagnostic.trim_end().to_owned(),
    }
}

#[cfg(test)]
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
        let json = export_json(&main, &[dir.path().join("mods")]).expect("evaluates");
        assert_eq!(json, "{\n  \"servers\": 6\n}");
    }

    #[test]
    fn a_contract_violation_names_the_file_and_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let main = dir.path().join("main.ncl");
        std::fs::write(&main, "{\n  port | Number = \"eighty\",\n}\n").expect("write");
        let NickelError::Evaluation { diagnostic, .. } =
            export_json(&main, &[]).expect_err("fails")
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
        let jobs: Vec<Job> = (0..5)
            .map(|i| {
                let file = dir.path().join(format!("f{i}.ncl"));
                let body = if i == 2 {
                    "{ x | Number = \"no\" }".to_owned()
                } else {
                    format!("{{ x = {i} }}")
                };
                std::fs::write(&file, body).expect("write");
                Job {
                    file,
                    import_paths: Vec::new(),
                }
            })
            .collect();
        let results = export_json_all(&jobs);
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
}
