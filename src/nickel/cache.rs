//! The evaluation cache: exports kept on disk, valid while every file they read is unchanged.

use std::path::{Path, PathBuf};

use super::Export;

/// Evaluation results kept on disk (`<cache_path>/nickel/`), keyed by the evaluated file, the format asked and
/// the import paths (or what stands for them: see [`crate::dependencies::ModuleImports::key`]), and valid while every file the evaluation read still has the content it had.
/// A re-pack of unchanged sources then costs a few file hashes instead of an evaluation.
///
/// The cache is best effort: an unreadable or stale entry is a miss, and a failure to write one
/// is ignored (the result is still correct, only the next run is slower).
/// What a cached result is of: a file, evaluated with import paths (or what stands for them) to
/// produce a format.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub file: &'a Path,
    pub import_paths: &'a [PathBuf],
    pub format: super::Format,
}

#[derive(Debug, Clone)]
pub struct ExportCache {
    dir: PathBuf,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct CachedExport {
    /// Every file the evaluation read, with the hex SHA-256 of its contents then.
    files: Vec<(PathBuf, String)>,
    json: String,
    /// A library's entry point: evaluated, with no export.
    #[serde(default)]
    library: bool,
}

impl ExportCache {
    pub fn new(cache_path: &Path) -> Self {
        Self {
            dir: cache_path.join("nickel"),
        }
    }

    fn entry_path(&self, request: &Request<'_>) -> PathBuf {
        // The tool's version stands for the evaluator's: a new release may evaluate differently.
        let mut key = format!(
            "provisioning {}\0{:?}\0{}",
            env!("CARGO_PKG_VERSION"),
            request.format,
            request.file.display()
        );
        for path in request.import_paths {
            key.push('\0');
            key.push_str(&path.display().to_string());
        }
        self.dir.join(format!(
            "{}.json",
            crate::digest::Sha256::of(key.as_bytes())
        ))
    }

    /// The cached export of `file`, if every file it read is unchanged.
    pub fn get(&self, request: &Request<'_>) -> Option<Export> {
        let text = crate::fs::read(&self.entry_path(request), crate::fs::FileKind::Cache).ok()?;
        let cached: CachedExport = serde_json::from_slice(&text).ok()?;
        let unchanged = cached.files.iter().all(|(path, hash)| {
            crate::fs::read(path, crate::fs::FileKind::Nickel)
                .is_ok_and(|contents| crate::digest::Sha256::of(&contents).to_string() == *hash)
        });
        unchanged.then(|| Export {
            text: cached.json,
            library: cached.library,
            files: cached.files.into_iter().map(|(path, _)| path).collect(),
        })
    }

    /// Records `export`. Files are recorded by their canonical paths: a file read through a
    /// directory of links that is gone by the next run (packing's import directory) is still
    /// found and checked.
    pub fn put(&self, request: &Request<'_>, export: &Export) {
        let files: Option<Vec<(PathBuf, String)>> = export
            .files
            .iter()
            .map(|path| {
                Some((
                    std::fs::canonicalize(path).ok()?,
                    crate::digest::Sha256::of(
                        &crate::fs::read(path, crate::fs::FileKind::Nickel).ok()?,
                    )
                    .to_string(),
                ))
            })
            .collect();
        let Some(files) = files else { return };
        let cached = CachedExport {
            files,
            json: export.text.clone(),
            library: export.library,
        };
        if let Ok(json) = serde_json::to_vec(&cached) {
            let _ = crate::fs::create_dir_all(&self.dir);
            // Best effort, and derived: a cache entry lost to a crash is only a miss.
            let _ = crate::fs::atomic_write_unsynced(&self.entry_path(request), &json);
        }
    }
}
