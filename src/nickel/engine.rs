//! In-process evaluation with `nickel-lang-core`: an [`Engine`] keeps one prepared standard
//! library for every file it evaluates. It has no bounds of its own: the worker process
//! ([`super::worker`]) runs it under a memory ceiling, on a large stack, with a deadline held
//! by the parent.

use std::path::{Path, PathBuf};

use nickel_lang_core::cache::{CacheHub, InputFormat};
use nickel_lang_core::error::report::{ColorOpt, report_as_str};
use nickel_lang_core::error::{Error, NullReporter};
use nickel_lang_core::eval::cache::CacheImpl;
use nickel_lang_core::eval::value::NickelValue;
use nickel_lang_core::eval::{Closure, VirtualMachine, VmContext};
use nickel_lang_core::files::FileId;
use nickel_lang_core::program::FieldPath;
use nickel_lang_core::serialize::{self, ExportFormat};

use super::{Export, Format, NickelError, Output};

/// Evaluates files on one thread, preparing Nickel's standard library once for all of them
/// (preparing it is most of the cost of evaluating a small file). Files evaluated by one
/// evaluator share its import paths, and imports shared between them are evaluated once.
pub struct Engine {
    context: VmContext<CacheHub, CacheImpl>,
}

impl Engine {
    pub fn new(import_paths: &[PathBuf]) -> Self {
        let mut cache = CacheHub::new();
        cache.sources.add_import_paths(import_paths.iter().cloned());
        Self {
            context: VmContext::new(cache, std::io::sink(), NullReporter {}),
        }
    }

    /// Evaluates `file` (or one field of it) fully, applying every contract, and serializes it
    /// in `output.format` exactly as `nickel export --format F [--field P]` does (without the
    /// newline the CLI adds after JSON).
    pub fn evaluate(&mut self, file: &Path, output: &Output) -> Result<Export, NickelError> {
        if output.format == Format::Documentation {
            return self.document(file);
        }
        let file_id = self.add_file(file)?;
        let value = match self.evaluate_value(file_id, output.field.as_deref()) {
            Ok(value) => value,
            Err(error) => return Err(self.diagnose(file, error)),
        };
        let text = match export_format(output.format) {
            // Evaluated fully is all that was asked: a function is a fine value here.
            None => String::new(),
            Some(format) => match serialize::validate(format, &value)
                .and_then(|()| serialize::to_string(format, &value))
            {
                Ok(text) => text,
                Err(data) => {
                    let error = Error::export_error(self.context.pos_table.clone(), data);
                    return Err(self.diagnose(file, error));
                }
            },
        };
        Ok(Export {
            text,
            files: self.files_read(file_id),
        })
    }

    /// The documentation of `file` as `nickel doc --format json` gives it ([`super::doc`]), as
    /// JSON, with every file the evaluation read.
    pub fn document(&mut self, file: &Path) -> Result<Export, NickelError> {
        let file_id = self.add_file(file)?;
        let documentation = match self
            .context
            .prepare_eval(file_id)
            .and_then(|prepared| super::doc::extract(&mut self.context, prepared))
        {
            Ok(Some(documentation)) => documentation,
            Ok(None) => {
                return Err(NickelError::Load {
                    path: file.to_owned(),
                    message: "it is not a record, so it has no fields to document".into(),
                });
            }
            Err(error) => return Err(self.diagnose(file, error)),
        };
        let text =
            serde_json::to_string_pretty(&documentation).map_err(|error| NickelError::Load {
                path: file.to_owned(),
                message: error.to_string(),
            })?;
        Ok(Export {
            text,
            files: self.files_read(file_id),
        })
    }

    /// Registers `file` with the evaluator's sources.
    fn add_file(&mut self, file: &Path) -> Result<FileId, NickelError> {
        self.context
            .import_resolver
            .sources
            .add_file(file, InputFormat::Nickel)
            .map_err(|error| NickelError::Load {
                path: file.to_owned(),
                message: error.to_string(),
            })
    }

    /// `file_id` and every file it imported, transitively, but the standard library's.
    fn files_read(&self, file_id: FileId) -> Vec<PathBuf> {
        let cache = &self.context.import_resolver;
        let mut files: Vec<PathBuf> = std::iter::once(file_id)
            .chain(cache.import_data.transitive_imports(file_id))
            .filter(|id| !cache.sources.is_stdlib_module(*id))
            .map(|id| PathBuf::from(cache.sources.name(id)))
            .collect();
        files.sort();
        files.dedup();
        files
    }

    fn evaluate_value(
        &mut self,
        file_id: FileId,
        field: Option<&str>,
    ) -> Result<NickelValue, Error> {
        let value = self.context.prepare_eval(file_id)?;
        let mut closure = Closure::from(value);
        if let Some(field) = field {
            let path = FieldPath::parse(&mut self.context.import_resolver, field.to_owned())?;
            closure = VirtualMachine::new(&mut self.context)
                .extract_field_value_closure(closure, &path)?;
        }
        Ok(VirtualMachine::new(&mut self.context).eval_full_for_export_closure(closure)?)
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

fn export_format(format: Format) -> Option<ExportFormat> {
    match format {
        Format::Json => Some(ExportFormat::Json),
        Format::Yaml => Some(ExportFormat::Yaml),
        Format::Toml => Some(ExportFormat::Toml),
        Format::Text => Some(ExportFormat::Text),
        Format::Evaluated | Format::Documentation => None,
    }
}
