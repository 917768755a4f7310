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
}
