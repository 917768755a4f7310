//! `export` and `env`: the guide's inner loop, "test changes immediately: `nickel export
//! main.ncl`", with the infra's modules on the import path.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::Outcome;
use crate::cli::{EnvArgs, ExportArgs, OutputFormat, Shell};
use crate::context::Context;
use crate::infra::Infra;
use crate::nickel::{Evaluator, Format, Output};
use crate::printer::Printer;

/// `export <infra> [FILE]`: evaluates the infra's `main.ncl` (or FILE in it) in-process and
/// prints it byte for byte as `nickel export -I .nickel-modules -I vendor --format F [--field P]`
/// does.
pub fn export(args: &ExportArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let infra = match Infra::resolve(context, &args.infra) {
        Ok(infra) => infra,
        Err(error) => {
            return Err(a_file_for_the_infra(context, &args.infra).unwrap_or(error.into()));
        }
    };
    let file = infra_file(&infra, args.file.as_deref())?;
    let format = match printer.format {
        OutputFormat::Table | OutputFormat::Json => Format::Json,
        OutputFormat::Yaml => Format::Yaml,
        OutputFormat::Toml => Format::Toml,
        OutputFormat::Text => Format::Text,
        // Refused before the command runs.
        OutputFormat::Dot
        | OutputFormat::Mermaid
        | OutputFormat::CycloneDx
        | OutputFormat::Spdx => Format::Json,
    };
    let output = Output {
        format,
        field: args.field.clone(),
    };
    let packages = infra_packages(context, &infra, printer);
    let mut evaluator = Evaluator::with_packages(
        &infra.import_paths(context),
        &packages,
        context.evaluation_bounds(),
    );
    // The text goes to stdout as the worker sends it, which it does only once the evaluation
    // has succeeded: a failed one prints nothing. Nickel's diagnostic names the file and the
    // line: nothing to add to it.
    let mut stdout = std::io::stdout().lock();
    evaluator.evaluate_into(&file, &output, &mut |chunk| stdout.write_all(chunk))?;
    // The `nickel` CLI ends JSON with a line break; its YAML and TOML end with one already.
    if format == Format::Json {
        stdout.write_all(b"\n")?;
    }
    stdout.flush()?;
    Ok(Outcome::Success)
}

/// The infra's package map (`import upcloud_prov`), from its lock. A lock that cannot be read
/// is said, and the evaluation goes on without packages: the path form still works, and an
/// import by name fails naming the package.
fn infra_packages(context: &Context, infra: &Infra, printer: &Printer) -> crate::nickel::Packages {
    match crate::infra::lockfile::ProvidersLock::read(&infra.lock_path()) {
        Ok(lock) => crate::infra::packages::packages(context, infra, &lock),
        Err(error) => {
            printer.warning(format!(
                "{error}\nhint: `import <module>` finds no module until it is fixed; `import \"<module>/main.ncl\"` does"
            ));
            crate::nickel::Packages::default()
        }
    }
}

/// `export main.ncl` or `export workspace/infra/wuji/main.ncl`: a file given where the infra
/// goes. The error names the infra holding it and the command that exports it.
fn a_file_for_the_infra(context: &Context, argument: &str) -> Option<anyhow::Error> {
    let file = crate::config::absolutize(&context.cwd, Path::new(argument));
    if !file.is_file() {
        return None;
    }
    let infra_root = context.infra_root();
    // The infra holding it: a directory of the workspace's `infra/`, or one with a manifest.
    let infra_dir = file.ancestors().skip(1).find(|dir| {
        dir.parent() == Some(infra_root.as_path()) || dir.join("manifest.toml").is_file()
    });
    let hint = match infra_dir.and_then(|dir| Some((dir, file.strip_prefix(dir).ok()?))) {
        Some((dir, relative)) => {
            let infra = if dir.parent() == Some(infra_root.as_path()) {
                dir.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            } else {
                context.display_path(dir).display().to_string()
            };
            format!(
                "`export` takes the infra, then the file in it: `provisioning export {infra} {}`",
                relative.display()
            )
        }
        None => {
            "`export` takes the infra, then the file in it: `provisioning export <INFRA> [FILE]`"
                .to_owned()
        }
    };
    // A file where the infra goes is a mistake in how the command was called (exit code 2).
    Some(
        crate::UsageError(format!(
            "`{argument}` is a file, not an infra\nhint: {hint}"
        ))
        .into(),
    )
}

#[derive(Debug, thiserror::Error)]
enum FileError {
    #[error(
        "`{}` is not a file of the infra `{infra}` (looked for `{}`)\nhint: FILE is relative to the infra directory; {}",
        given.display(), path.display(), nickel_files(files)
    )]
    NotFound {
        infra: String,
        given: PathBuf,
        path: PathBuf,
        /// The infra's Nickel files, relative to it.
        files: Vec<String>,
    },
    #[error(
        "the infra `{infra}` has no `main.ncl`\nhint: name the file to evaluate: `provisioning export {infra} FILE`"
    )]
    NoMain { infra: String },
}

/// FILE relative to the infra directory, or its `main.ncl`.
fn infra_file(infra: &Infra, file: Option<&Path>) -> Result<PathBuf, FileError> {
    let Some(given) = file else {
        let main = infra.dir.join("main.ncl");
        return if main.is_file() {
            Ok(main)
        } else {
            Err(FileError::NoMain {
                infra: infra.name.clone(),
            })
        };
    };
    let path = crate::config::absolutize(&infra.dir, given);
    if path.is_file() {
        Ok(path)
    } else {
        Err(FileError::NotFound {
            infra: infra.name.clone(),
            given: given.to_owned(),
            path,
            files: infra_nickel_files(&infra.dir),
        })
    }
}

fn nickel_files(files: &[String]) -> String {
    if files.is_empty() {
        "the infra has no Nickel files".to_owned()
    } else {
        let files: Vec<String> = files.iter().map(|file| format!("`{file}`")).collect();
        format!("its Nickel files: {}", files.join(", "))
    }
}

/// The `.ncl` files of an infra, relative to it, two levels deep (`main.ncl`,
/// `defs/servers.ncl`), leaving out the modules' directories.
fn infra_nickel_files(dir: &Path) -> Vec<String> {
    let entries = |dir: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .collect()
    };
    let mut files = Vec::new();
    for path in entries(dir) {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let Some(name) = name else { continue };
        if path.is_dir() && !name.starts_with('.') && name != "vendor" {
            for inner in entries(&path) {
                if inner.extension().is_some_and(|e| e == "ncl")
                    && inner.is_file()
                    && let Ok(relative) = inner.strip_prefix(dir)
                {
                    files.push(relative.display().to_string());
                }
            }
        } else if name.ends_with(".ncl") && path.is_file() {
            files.push(name);
        }
    }
    files.sort();
    files
}

/// `env <infra> [--shell sh|fish|nu]`: the line that sets `NICKEL_IMPORT_PATH` to the infra's
/// import path, for `eval`; with `--format json|yaml`, the variable as data.
pub fn env(args: &EnvArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let infra = Infra::resolve(context, &args.infra)?;
    let value = std::env::join_paths(infra.import_paths(context))
        .context("an import path holds a `:`, which `NICKEL_IMPORT_PATH` cannot carry")?
        .to_string_lossy()
        .into_owned();
    match printer.format {
        OutputFormat::Json | OutputFormat::Yaml => {
            let variables = std::collections::BTreeMap::from([(VARIABLE, &value)]);
            printer.data(&variables, || {
                let mut table = crate::printer::Table::new(["NAME", "VALUE"]);
                table.row([VARIABLE.to_owned(), value.clone()]);
                table
            })?;
        }
        _ => crate::write_stdout(&format!("{}\n", shell_line(args.shell, &value)))?,
    }
    Ok(Outcome::Success)
}

const VARIABLE: &str = "NICKEL_IMPORT_PATH";

/// The line that sets the variable in `shell`, the value quoted so that no character of a
/// path is taken as syntax.
fn shell_line(shell: Shell, value: &str) -> String {
    match shell {
        Shell::Sh => format!("export {VARIABLE}='{}'", value.replace('\'', r"'\''")),
        Shell::Fish => format!(
            "set -gx {VARIABLE} '{}'",
            value.replace('\\', r"\\").replace('\'', r"\'")
        ),
        Shell::Nu => {
            // A raw string with more `#` than any run of them in the value.
            let hashes = "#".repeat(longest_run(value, '#') + 1);
            format!("$env.{VARIABLE} = r{hashes}'{value}'{hashes}")
        }
    }
}

fn longest_run(text: &str, wanted: char) -> usize {
    let (mut longest, mut current) = (0, 0);
    for c in text.chars() {
        current = if c == wanted { current + 1 } else { 0 };
        longest = longest.max(current);
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_lines_quote_every_character_of_a_path() {
        let cases = [
            (Shell::Sh, "/a b:/c", "export NICKEL_IMPORT_PATH='/a b:/c'"),
            (Shell::Sh, "/it's", r"export NICKEL_IMPORT_PATH='/it'\''s'"),
            (
                Shell::Sh,
                "/$HOME`x`",
                "export NICKEL_IMPORT_PATH='/$HOME`x`'",
            ),
            (
                Shell::Fish,
                "/a b:/c",
                "set -gx NICKEL_IMPORT_PATH '/a b:/c'",
            ),
            (
                Shell::Fish,
                r"/it's\",
                r"set -gx NICKEL_IMPORT_PATH '/it\'s\\'",
            ),
            (Shell::Nu, "/a:/b", "$env.NICKEL_IMPORT_PATH = r#'/a:/b'#"),
            (Shell::Nu, "/'#x", "$env.NICKEL_IMPORT_PATH = r##'/'#x'##"),
        ];
        for (shell, value, expected) in cases {
            assert_eq!(shell_line(shell, value), expected, "{shell:?} {value:?}");
        }
    }
}
