//! What `pack` checks of a module before it builds the artifact: the module is valid when it
//! evaluates, not only when it serializes.
//!
//! - the entry point is evaluated deeply with its contracts, then exported as JSON when its
//!   value serializes (that export is the artifact's `export.json`); a value that does not (a
//!   library of contracts and functions) makes the pack a library's, with no export;
//! - every other Nickel file the pack holds that the entry point does not import is evaluated
//!   deeply on its own, so a broken file is caught before it is released (the files the entry
//!   point imports were loaded and typechecked with it, and evaluated as far as its value
//!   reaches them: evaluating each again would load a library of thousands of files once per
//!   file);
//! - the files under hidden directories that those evaluations read (a generated library's
//!   `.js2n-lib/`) join the pack;
//! - the examples in the entry point's doc comments (and in the records of the files it
//!   imports) run as `nickel test` runs them, unless `--skip-tests`; one that fails refuses the
//!   pack, naming the field and the example. A module none of whose files has a ```` ```nickel
//!   ```` block has no examples, and is not loaded a second time to find none.
//!
//! Each result is taken from the evaluation cache when no file it read has changed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{PackError, PackInput, Packer};
use crate::artifact::ArtifactFile;
use crate::artifact::source;
use crate::dependencies::ModuleImports;
use crate::nickel::doctest::Report;
use crate::nickel::{CacheRequest, Evaluator, Export, Format, Output};
use crate::registry::DocTests;

/// New evaluation results, kept for the cache until the checks have all passed.
pub(super) type Evaluations = Vec<(PathBuf, Format, Export)>;

/// What the checks found, for the artifact and its metadata.
pub struct Checked {
    /// The JSON export of the entry point, when its value serializes.
    pub export: Option<String>,
    /// Every file the evaluations read, for the confinement check.
    pub read: Vec<PathBuf>,
    /// Whether the entry point's evaluation came from the cache.
    pub cached: bool,
    /// The examples, as run (absent when there are none).
    pub tests: Option<DocTests>,
    /// The version's page, for a registry.
    pub docs: Option<crate::registry::site::VersionDocs>,
    /// What was evaluated anew, for the cache once the pack passed every check
    /// ([`Packer::remember`]).
    evaluations: Evaluations,
}

impl Packer<'_> {
    /// Runs the checks of the module doc over `input`, whose source files are `files`; the
    /// hidden files the evaluations read are added to `files`.
    pub(super) fn check(
        &self,
        evaluator: &mut Evaluator,
        input: &PackInput,
        files: &mut Vec<ArtifactFile>,
    ) -> Result<Checked, PackError> {
        let mut evaluations = Evaluations::new();
        let (entry, cached) =
            self.evaluate(evaluator, &input.entry, Format::Module, &mut evaluations)?;
        let mut read: BTreeSet<PathBuf> = entry.files.iter().map(|f| canonical(f)).collect();
        let root = canonical(&input.package_dir);
        // The files the entry point read were loaded and typechecked with it, and evaluated as
        // far as its value reaches them; the others are evaluated on their own.
        let mut evaluated = read.clone();
        let mut pending: Vec<PathBuf> = nickel_files(&root, files);
        loop {
            for file in pending.drain(..) {
                if !evaluated.insert(file.clone()) {
                    continue;
                }
                let (export, _) =
                    self.evaluate(evaluator, &file, Format::Evaluated, &mut evaluations)?;
                evaluated.extend(export.files.iter().map(|f| canonical(f)));
                read.extend(export.files.iter().map(|f| canonical(f)));
            }
            // Hidden files read by what was evaluated join the pack, and are evaluated in turn.
            let known: BTreeSet<PathBuf> = files.iter().map(|f| root.join(&f.path)).collect();
            let hidden: Vec<PathBuf> = read
                .iter()
                .filter(|path| path.starts_with(&root) && !known.contains(*path))
                .cloned()
                .collect();
            let added = source::read_hidden(&input.package_dir, &hidden)?;
            if added.is_empty() {
                break;
            }
            pending = nickel_files(&root, &added);
            files.extend(added);
        }
        // What the version's web page shows (only for a registry: `--output` has no pages),
        // extracted while the module is loaded, before the examples load it anew.
        let docs = self
            .destination
            .index
            .then(|| self.document(evaluator, input, files, &mut evaluations));
        // The examples last, and only when a file the entry point reads has a ```nickel block
        // (most modules have none): running them loads the module again, in a program of its
        // own.
        let tests = if self.skip_tests {
            Some(DocTests::NotRun)
        } else if entry.files.iter().any(|file| has_examples(file)) {
            self.test(evaluator, input, &mut evaluations)?
        } else {
            None
        };
        Ok(Checked {
            docs,
            evaluations,
            export: (!entry.library).then_some(entry.text),
            read: read.into_iter().collect(),
            cached,
            tests,
        })
    }

    /// Keeps the new evaluations of a module that passed every check, for the next pack. (A
    /// refused pack writes nothing, not even to the cache.)
    pub(super) fn remember(&self, checked: &mut Checked) {
        let Some(cache) = self.cache else { return };
        for (file, format, export) in checked.evaluations.drain(..) {
            let request = CacheRequest {
                file: &file,
                import_paths: &self.imports.key,
                format,
            };
            cache.put(&request, &export);
        }
    }

    /// Runs the examples of the entry point; refuses the pack when one fails.
    fn test(
        &self,
        evaluator: &mut Evaluator,
        input: &PackInput,
        evaluations: &mut Evaluations,
    ) -> Result<Option<DocTests>, PackError> {
        let (export, _) = self.evaluate(evaluator, &input.entry, Format::Tests, evaluations)?;
        let report = parse_report(&export, input)?;
        if !report.failed.is_empty() {
            return Err(PackError::Tests {
                module: input.pack.module.clone(),
                report,
            });
        }
        Ok(
            (report.passed + report.skipped > 0).then_some(DocTests::Ran {
                passed: report.passed,
                failed: 0,
                skipped: report.skipped,
            }),
        )
    }

    /// One evaluation, from the cache when nothing it read has changed; a new result joins
    /// `evaluations`, for the cache once every check has passed. Says whether it came from the
    /// cache.
    pub(super) fn evaluate(
        &self,
        evaluator: &mut Evaluator,
        file: &Path,
        format: Format,
        evaluations: &mut Evaluations,
    ) -> Result<(Export, bool), PackError> {
        let request = CacheRequest {
            file,
            import_paths: &self.imports.key,
            format,
        };
        if let Some(export) = self.cache.and_then(|cache| cache.get(&request)) {
            return Ok((export, true));
        }
        let export = evaluator.evaluate(file, &Output::of(format))?;
        evaluations.push((file.to_owned(), format, export.clone()));
        Ok((export, false))
    }
}

/// The examples of a module at its source, run alone (`providers test`): its dependencies
/// reachable by name as `pack` has them, and never from the cache.
pub fn doc_tests(
    imports: &ModuleImports,
    evaluator: &mut Evaluator,
    input: &PackInput,
) -> Result<Report, PackError> {
    let closure = imports.closure(&input.pack.module, &input.pack.version, &input.dependencies)?;
    imports.link(&closure)?;
    let export = evaluator.evaluate(&input.entry, &Output::of(Format::Tests))?;
    parse_report(&export, input)
}

fn parse_report(export: &Export, input: &PackInput) -> Result<Report, PackError> {
    serde_json::from_str(&export.text).map_err(|error| {
        PackError::Nickel(crate::nickel::NickelError::Load {
            path: input.entry.clone(),
            message: format!("the examples' report is not readable: {error}"),
        })
    })
}

/// Whether `file` has a fenced code block whose info string starts with `nickel`: an example
/// for `nickel test` (or an ignored one).
fn has_examples(file: &Path) -> bool {
    let Ok(text) = crate::fs::read_to_string(file, crate::fs::FileKind::Nickel) else {
        return false;
    };
    text.lines().any(|line| {
        let line = line.trim_start();
        let rest = line
            .strip_prefix("```")
            .or_else(|| line.strip_prefix("~~~"))
            .map(|rest| rest.trim_start_matches(['`', '~']).trim_start());
        rest.is_some_and(|info| info.starts_with("nickel"))
    })
}

/// The Nickel files among `files` (paths relative to `root`), as absolute paths.
fn nickel_files(root: &Path, files: &[ArtifactFile]) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|file| file.path.ends_with(".ncl"))
        .map(|file| root.join(&file.path))
        .collect()
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// `<passed> passed, <failed> failed, <skipped> skipped` of a module's doc-comment examples.
pub(super) fn tests_summary(report: &crate::nickel::doctest::Report) -> String {
    format!(
        "{} passed, {} failed, {} skipped",
        report.passed,
        report.failed.len(),
        report.skipped
    )
}

/// Each failed example, one per line.
pub(super) fn failures(report: &crate::nickel::doctest::Report) -> String {
    report
        .failed
        .iter()
        .map(|failure| {
            format!(
                "example {} of `{}` failed: {}",
                failure.example, failure.field, failure.message
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
