//! In-process evaluation with `nickel-lang-core`: an [`Engine`] keeps one prepared standard
//! library for every file it evaluates. It has no bounds of its own: the worker process
//! ([`super::worker`]) runs it under a memory ceiling, on a large stack, with a deadline held
//! by the parent.

use std::path::{Path, PathBuf};

use nickel_lang_core::cache::{CacheHub, InputFormat};
use nickel_lang_core::error::report::{ColorOpt, report_as_str};
use nickel_lang_core::error::{Error, EvalErrorKind, ExportErrorKind, NullReporter};
use nickel_lang_core::eval::cache::CacheImpl;
use nickel_lang_core::eval::value::ValueContentRef;
use nickel_lang_core::eval::{Closure, VirtualMachine, VmContext};
use nickel_lang_core::files::FileId;
use nickel_lang_core::program::FieldPath;
use nickel_lang_core::serialize::{self, ExportFormat};

use super::packages::Packages;
use super::{Export, Format, NickelError, Output};

/// Evaluates files on one thread, preparing Nickel's standard library once for all of them
/// (preparing it is most of the cost of evaluating a small file). Files evaluated by one
/// evaluator share its import paths, and imports shared between them are evaluated once.
pub struct Engine {
    context: VmContext<CacheHub, CacheImpl>,
    import_paths: Vec<PathBuf>,
    packages: Packages,
}

impl Engine {
    /// An engine whose files also import packages by name (`import upcloud_prov`) through
    /// `packages`. Even an empty map is set: an unknown name is then Nickel's "unknown package",
    /// not its advice to pass a `--manifest-path`, which means nothing here.
    pub fn with_packages(import_paths: &[PathBuf], packages: &Packages) -> Self {
        let mut cache = CacheHub::new();
        cache.sources.add_import_paths(import_paths.iter().cloned());
        cache.sources.set_package_map(packages.to_map());
        Self {
            context: VmContext::new(cache, std::io::sink(), NullReporter {}),
            import_paths: import_paths.to_vec(),
            packages: packages.clone(),
        }
    }

    /// Evaluates `file` (or one field of it) fully, applying every contract, and serializes it
    /// in `output.format` exactly as `nickel export --format F [--field P]` does (without the
    /// newline the CLI adds after JSON).
    pub fn evaluate(&mut self, file: &Path, output: &Output) -> Result<Export, NickelError> {
        match output.format {
            Format::Documentation => return self.document(file),
            Format::Tests => return self.test(file),
            _ => {}
        }
        let file_id = self.add_file(file)?;
        let closure = self.prepare(file, file_id, output.field.as_deref())?;
        let result = match (output.format, export_format(output.format)) {
            (_, Some(format)) => match self.serialize(closure, format) {
                Ok(Serialized::Text(text)) => Ok((text, false)),
                Ok(Serialized::Unrepresentable(reason)) => {
                    return Err(NickelError::Unrepresentable {
                        path: file.to_owned(),
                        field: output.field.clone(),
                        format: format_name(output.format),
                        reason,
                    });
                }
                Err(error) => Err(error),
            },
            (Format::Module, None) => self.module(closure),
            (Format::Loaded, None) => VirtualMachine::new(&mut self.context)
                .eval_closure(closure)
                .map(|_| (String::new(), false))
                .map_err(Error::from),
            // Evaluated: deeply, and nothing to serialize (a library of functions passes).
            (_, None) => {
                super::check::evaluate(&mut self.context, closure).map(|()| (String::new(), false))
            }
        };
        match result {
            Ok((text, library)) => Ok(Export {
                text,
                library,
                files: self.files_read(file_id),
            }),
            Err(error) => Err(self.diagnose(file, error)),
        }
    }

    /// A module's entry point: evaluated deeply with its contracts ([`super::check`]), then
    /// exported as JSON when its value serializes. A value that does not (functions, contracts,
    /// fields left for the user to define) is a library's: no export, and no failure.
    fn module(&mut self, closure: Closure) -> Result<(String, bool), Error> {
        super::check::evaluate(&mut self.context, closure.clone())?;
        let value =
            match VirtualMachine::new(&mut self.context).eval_full_for_export_closure(closure) {
                Ok(value) => value,
                Err(error) if matches!(error.error, EvalErrorKind::MissingFieldDef { .. }) => {
                    return Ok((String::new(), true));
                }
                Err(error) => return Err(error.into()),
            };
        match serialize::validate(ExportFormat::Json, &value) {
            Ok(()) => {}
            Err(data) if matches!(data.error, ExportErrorKind::NonSerializable(_)) => {
                return Ok((String::new(), true));
            }
            Err(data) => return Err(Error::export_error(self.context.pos_table.clone(), data)),
        }
        serialize::to_string(ExportFormat::Json, &value)
            .map(|text| (text, false))
            .map_err(|data| Error::export_error(self.context.pos_table.clone(), data))
    }

    /// Evaluates `closure` fully for export, and serializes it; a value the format cannot hold
    /// at its top (TOML's is a table, text's a string) is said so in our words.
    fn serialize(&mut self, closure: Closure, format: ExportFormat) -> Result<Serialized, Error> {
        let value = VirtualMachine::new(&mut self.context).eval_full_for_export_closure(closure)?;
        let kind = if matches!(value.content_ref(), ValueContentRef::Null) {
            "null".to_owned()
        } else {
            value.type_of().unwrap_or("value").to_lowercase()
        };
        match format {
            ExportFormat::Toml if value.as_record().is_none() => {
                return Ok(Serialized::Unrepresentable(format!(
                    "it is {} {kind}, and a TOML document is a table (a record)",
                    article(&kind)
                )));
            }
            ExportFormat::Text if value.as_string().is_none() => {
                return Ok(Serialized::Unrepresentable(format!(
                    "it is {} {kind}, and `--format text` writes a string",
                    article(&kind)
                )));
            }
            _ => {}
        }
        serialize::validate(format, &value)
            .and_then(|()| serialize::to_string(format, &value))
            .map(Serialized::Text)
            .map_err(|data| Error::export_error(self.context.pos_table.clone(), data))
    }

    /// The examples in the doc comments of `file`, run as `nickel test` runs them
    /// ([`super::doctest`]), in a program of their own: running them adds fields to the file's
    /// terms, which no later evaluation may see.
    pub fn test(&mut self, file: &Path) -> Result<Export, NickelError> {
        let (report, files) = super::doctest::run(file, &self.import_paths, &self.packages)
            .map_err(|diagnostic| NickelError::Evaluation {
                path: file.to_owned(),
                diagnostic,
            })?;
        let text = serde_json::to_string(&report).map_err(|error| NickelError::Load {
            path: file.to_owned(),
            message: error.to_string(),
        })?;
        Ok(Export {
            text,
            library: false,
            files,
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
            library: false,
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

    /// Prepares `file_id` (parse, typecheck, imports), and takes the field `field` of it. An
    /// error of the path (a field missing, a field of something not a record) is the field's,
    /// not the file's: the file may evaluate fine.
    fn prepare(
        &mut self,
        file: &Path,
        file_id: FileId,
        field: Option<&str>,
    ) -> Result<Closure, NickelError> {
        let value = self
            .context
            .prepare_eval(file_id)
            .map_err(|error| self.diagnose(file, error))?;
        let closure = Closure::from(value);
        let Some(field) = field else {
            return Ok(closure);
        };
        let path = FieldPath::parse(&mut self.context.import_resolver, field.to_owned())
            .map_err(|error| self.diagnose_field(file, field, error.into()))?;
        let extracted =
            VirtualMachine::new(&mut self.context).extract_field_value_closure(closure, &path);
        extracted.map_err(|error| {
            let of_the_path = matches!(
                error.error,
                EvalErrorKind::FieldMissing { .. } | EvalErrorKind::QueryNonRecord { .. }
            );
            if of_the_path {
                self.diagnose_field(file, field, error.into())
            } else {
                self.diagnose(file, error.into())
            }
        })
    }

    fn diagnose_field(&self, file: &Path, field: &str, error: Error) -> NickelError {
        match self.diagnose(file, error) {
            NickelError::Evaluation { path, diagnostic } => NickelError::Field {
                path,
                field: field.to_owned(),
                diagnostic,
            },
            other => other,
        }
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

/// What [`Engine::serialize`] made of a value.
enum Serialized {
    Text(String),
    /// The value evaluated, and the format cannot hold it: why.
    Unrepresentable(String),
}

fn article(noun: &str) -> &'static str {
    if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// How messages name a format.
pub(super) fn format_name(format: Format) -> &'static str {
    match format {
        Format::Yaml => "YAML",
        Format::Toml => "TOML",
        Format::Text => "text",
        _ => "JSON",
    }
}

fn export_format(format: Format) -> Option<ExportFormat> {
    match format {
        Format::Json => Some(ExportFormat::Json),
        Format::Yaml => Some(ExportFormat::Yaml),
        Format::Toml => Some(ExportFormat::Toml),
        Format::Text => Some(ExportFormat::Text),
        Format::Evaluated
        | Format::Loaded
        | Format::Module
        | Format::Documentation
        | Format::Tests => None,
    }
}
