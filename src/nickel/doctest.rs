//! The examples in a module's doc comments, run as `nickel test FILE` runs them, so a module's
//! tests pass or fail here exactly as they do for its authors.
//!
//! The semantics are Nickel's (its CLI's `doctest` module): every ` ```nickel ` block in a
//! field's `doc` is one example (` ```nickel multiline ` is one per chunk between blank lines,
//! ` ```nickel ignore ` none: it is counted as skipped). An example whose last comment lines
//! read `# => VALUE` must equal `VALUE` (`std.contract.Equal`); `# => error` must fail, and
//! `# => error: TEXT` must fail with a message holding `TEXT`; any other must evaluate deeply
//! without error. An example runs in the scope of the record holding the field it documents,
//! so it can name that record's other fields. Examples are found in the file and in the records
//! of every file it imports, and run in the order of a walk of the evaluated record spine.
//!
//! The Markdown is read with `pulldown-cmark` (CommonMark, like the `comrak` the CLI uses; we do
//! not take `comrak` for the reasons given in [`super::doc`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use nickel_lang_core::cache::{CacheHub, ImportResolver as _, InputFormat, SourcePath};
use nickel_lang_core::error::report::{ColorOpt, report_as_str};
use nickel_lang_core::error::{Error, EvalError};
use nickel_lang_core::eval::cache::CacheImpl;
use nickel_lang_core::eval::value::lens::TermContent;
use nickel_lang_core::eval::value::{Container, NickelValue, ValueContent, ValueContentRef};
use nickel_lang_core::eval::{Closure, Environment};
use nickel_lang_core::identifier::{Ident, LocIdent};
use nickel_lang_core::label::Label;
use nickel_lang_core::position::PosTable;
use nickel_lang_core::program::{Program, ProgramBuilder};
use nickel_lang_core::term::record::RecordData;
use nickel_lang_core::term::{LabeledType, Term, TypeAnnotation, make};
use nickel_lang_core::traverse::{Traverse as _, TraverseOrder};
use nickel_lang_core::typ::{Type, TypeF};
use nickel_lang_core::typecheck::TypecheckMode;
use nickel_lang_core::{mk_app, mk_fun};
use serde::{Deserialize, Serialize};

/// What running a file's examples found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub passed: usize,
    /// Every example that did not do what it said, in the order run.
    pub failed: Vec<Failure>,
    /// ` ```nickel ignore ` blocks, which are not run.
    pub skipped: usize,
}

/// One example that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The field it documents, as a dotted path from the file's record (`array.MinItems`).
    pub field: String,
    /// Which of the field's examples, from 0 (as `nickel test` numbers them).
    pub example: usize,
    /// What went wrong, with Nickel's diagnostic.
    pub message: String,
}

/// What an example says it does.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expected {
    /// `# => VALUE`: evaluates to a value equal to this (Nickel source).
    Value(String),
    /// `# => error` or `# => error: TEXT`: fails, with a message holding this text.
    Error(String),
    /// Nothing said: evaluates without error.
    Success,
}

impl Expected {
    /// Reads the trailing comment block of an example: the last lines that are all comments,
    /// one of which starts with `=>`. What follows the `=>` (and the comment lines after it) is
    /// the expectation.
    fn of(example: &str) -> Self {
        let mut lines: Vec<&str> = example.lines().collect();
        while lines.last().is_some_and(|line| line.trim().is_empty()) {
            lines.pop();
        }
        let mut after_arrow = Vec::new();
        for line in lines.iter().rev() {
            let Some(comment) = line.trim_start().strip_prefix('#') else {
                return Expected::Success;
            };
            let Some(arrowed) = comment.trim_start().strip_prefix("=>") else {
                after_arrow.push(comment);
                continue;
            };
            let join = |first: &str| {
                std::iter::once(first)
                    .chain(after_arrow.iter().rev().copied())
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            return match arrowed.trim_start().strip_prefix("error:") {
                Some(message) => Expected::Error(join(message.trim())),
                None if arrowed.trim() == "error" => Expected::Error(String::new()),
                None => Expected::Value(join(arrowed)),
            };
        }
        Expected::Success
    }
}

/// The examples of one doc string, and how many `ignore` blocks it has.
fn examples(doc: &str) -> (Vec<String>, usize) {
    use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};

    let mut examples = Vec::new();
    let mut skipped = 0;
    let mut block: Option<(String, String)> = None;
    for event in Parser::new(doc) {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                block = Some((info.to_string(), String::new()));
            }
            Event::Text(text) => {
                if let Some((_, literal)) = &mut block {
                    literal.push_str(&text);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                let Some((info, literal)) = block.take() else {
                    continue;
                };
                let Some(tag) = info.strip_prefix("nickel") else {
                    continue;
                };
                match tag.trim() {
                    "ignore" => skipped += 1,
                    "multiline" => examples.extend(chunks(&literal)),
                    _ => examples.push(literal),
                }
            }
            _ => {}
        }
    }
    (examples, skipped)
}

/// The chunks of a `multiline` block: runs of lines between blank lines.
fn chunks(literal: &str) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in literal.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                chunks.push(current.join("\n"));
                current.clear();
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        chunks.push(current.join("\n"));
    }
    chunks
}

/// An example added to a record as a field of its own, wrapped in a function so that walking
/// the record does not run it.
struct Registered {
    field: LocIdent,
    index: usize,
    expected_error: Option<String>,
}

#[derive(Default)]
struct Registry {
    tests: HashMap<Ident, Registered>,
    skipped: usize,
}

/// Runs the examples of `file` with `import_paths` and `packages`, and says which files that read. An error is
/// the file's own: it does not parse, typecheck or evaluate to a record spine.
pub fn run(
    file: &Path,
    import_paths: &[PathBuf],
    packages: &super::Packages,
) -> Result<(Report, Vec<PathBuf>), String> {
    let mut program: Program<CacheImpl> = ProgramBuilder::new()
        .add_path(file)
        .add_import_paths(import_paths.iter().cloned())
        .with_package_map(packages.to_map())
        .build()
        .map_err(|error| error.to_string())?;
    let report = |program: &Program<CacheImpl>, error: Error| {
        report_as_str(&mut program.files(), error, ColorOpt::Never)
            .trim_end()
            .to_owned()
    };
    let mut registry = Registry::default();
    let prepared = program
        .typecheck(TypecheckMode::Walk)
        .and_then(|()| program.compile())
        .and_then(|()| {
            program
                .custom_transform(0, |cache, positions, value| {
                    register(positions, cache, &mut registry, value)
                })
                .map_err(|error| error.unwrap_error("adding the examples as fields"))
        })
        .and_then(|()| program.eval_closurized_record_spine());
    let spine = prepared.map_err(|error| report(&program, error))?;
    let mut result = Report {
        skipped: registry.skipped,
        ..Report::default()
    };
    let mut path = Vec::new();
    run_record(&mut program, &registry, &spine, &mut path, &mut result);
    Ok((result, files_read(&program)))
}

/// The files on disk among the program's sources (its examples are named after the file they
/// document; the standard library's modules are not files).
fn files_read(program: &Program<CacheImpl>) -> Vec<PathBuf> {
    let files = program.files();
    let mut read: Vec<PathBuf> = files
        .filenames()
        .map(PathBuf::from)
        .filter(|path| path.is_file())
        .collect();
    read.sort();
    read.dedup();
    read
}

/// Runs the examples registered in the record `spine` (and in the records inside it).
fn run_record(
    program: &mut Program<CacheImpl>,
    registry: &Registry,
    spine: &NickelValue,
    path: &mut Vec<String>,
    report: &mut Report,
) {
    let record = match spine.content_ref() {
        ValueContentRef::Record(Container::Alloc(record)) => record,
        ValueContentRef::Term(Term::RecRecord(data)) => &data.record,
        _ => return,
    };
    for (name, field) in &record.fields {
        let Some(value) = field.value.as_ref() else {
            continue;
        };
        let Some(test) = registry.tests.get(&name.ident()) else {
            path.push(name.label().to_owned());
            run_record(program, registry, value, path, report);
            path.pop();
            continue;
        };
        let outcome = program.eval_deep_closure(Closure {
            value: mk_app!(value.clone(), NickelValue::null()),
            env: Environment::new(),
        });
        let message = match (outcome, &test.expected_error) {
            (Ok(_), None) => None,
            (Ok(value), Some(_)) => Some(format!(
                "it evaluated (to `{value}`), but it should have failed"
            )),
            (Err(error), None) => Some(failure_message(program, error)),
            (Err(error), Some(expected)) => {
                let message = failure_message(program, error);
                (!message.contains(expected.as_str())).then(|| {
                    format!("it failed, but not with an error holding \"{expected}\":\n{message}")
                })
            }
        };
        match message {
            None => report.passed += 1,
            Some(message) => {
                let mut field = path.clone();
                field.push(test.field.label().to_owned());
                report.failed.push(Failure {
                    field: field.join("."),
                    example: test.index,
                    message,
                });
            }
        }
    }
}

fn failure_message(program: &Program<CacheImpl>, error: EvalError) -> String {
    report_as_str(
        &mut program.files(),
        Error::EvalError(error),
        ColorOpt::Never,
    )
    .trim_end()
    .to_owned()
}

/// Adds each documented field's examples to the record holding it, as fields with fresh names,
/// so they run in the record's scope; every record of `value` is visited.
fn register(
    positions: &mut PosTable,
    cache: &mut CacheHub,
    registry: &mut Registry,
    value: NickelValue,
) -> Result<NickelValue, Error> {
    // Examples are parsed as if they were in the file they document, so their imports resolve.
    let source = value
        .pos(positions)
        .as_opt_ref()
        .and_then(|span| cache.get_path(span.src_id))
        .map_or_else(
            || SourcePath::Generated("example".to_owned()),
            |path| SourcePath::Snippet(PathBuf::from(path)),
        );
    let mut visit = |value: NickelValue| -> Result<NickelValue, Error> {
        let position = value.pos_idx();
        Ok(match value.content() {
            ValueContent::Term(TermContent::RecRecord(lens)) => {
                let data = lens.take();
                let record = with_examples(positions, cache, registry, &source, data.record)?;
                NickelValue::term(
                    Term::rec_record(record, data.includes, data.dyn_fields, None, false),
                    position,
                )
            }
            ValueContent::Record(lens) => {
                let record = lens.take().unwrap_or_alloc();
                let record = with_examples(positions, cache, registry, &source, record)?;
                NickelValue::record(record, position)
            }
            other => other.restore(),
        })
    };
    value.traverse(&mut visit, TraverseOrder::TopDown)
}

fn with_examples(
    positions: &mut PosTable,
    cache: &mut CacheHub,
    registry: &mut Registry,
    source: &SourcePath,
    mut record: RecordData,
) -> Result<RecordData, Error> {
    let mut added = Vec::new();
    for (name, field) in &record.fields {
        let Some(doc) = field.metadata.doc() else {
            continue;
        };
        let (examples, skipped) = examples(doc);
        registry.skipped += skipped;
        for (index, example) in examples.iter().enumerate() {
            let expected = Expected::of(example);
            let mut term = parse(positions, cache, source, example)?;
            if let Expected::Value(value) = &expected {
                term = must_equal(positions, cache, source, value, term)?;
            }
            let id = LocIdent::fresh();
            registry.tests.insert(
                id.ident(),
                Registered {
                    field: *name,
                    index,
                    expected_error: match expected {
                        Expected::Error(message) => Some(message),
                        _ => None,
                    },
                },
            );
            added.push((id, mk_fun!(LocIdent::fresh(), term)));
        }
    }
    for (id, term) in added {
        record.fields.insert(id, term.into());
    }
    Ok(record)
}

/// `term | std.contract.Equal (expected)`, blamed at the expected value.
fn must_equal(
    positions: &mut PosTable,
    cache: &mut CacheHub,
    source: &SourcePath,
    expected: &str,
    term: NickelValue,
) -> Result<NickelValue, Error> {
    let expected = parse(positions, cache, source, expected)?;
    let span = expected.pos_idx();
    let equal = make::static_access(
        NickelValue::term_posless(Term::Var("std".into())),
        ["contract", "Equal"],
    );
    let contract = Type::from(TypeF::Contract(mk_app!(equal, expected)));
    let annotation = TypeAnnotation {
        typ: None,
        contracts: vec![LabeledType {
            typ: contract.clone(),
            label: Label {
                typ: Rc::new(contract),
                span,
                ..Default::default()
            },
        }],
    };
    Ok(Term::annotated(annotation, term).into())
}

/// Parses an example (not typechecked on its own: it is checked within the record it joins).
fn parse(
    positions: &mut PosTable,
    cache: &mut CacheHub,
    source: &SourcePath,
    text: &str,
) -> Result<NickelValue, Error> {
    let id = cache.sources.add_string(source.clone(), text.to_owned());
    cache.parse_to_term(positions, id, InputFormat::Nickel)?;
    cache.get(id).ok_or_else(|| {
        Error::IOError(nickel_lang_core::error::IOError(
            "an example parsed to nothing".into(),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_example_says_what_it_expects_in_its_last_comments() {
        let cases = [
            ("1 + 1", Expected::Success),
            ("1 + 1\n# => 2", Expected::Value(" 2".into())),
            ("1 + 1\n# => 2\n\n", Expected::Value(" 2".into())),
            ("[\n1]\n# => [\n#   1]", Expected::Value(" [\n   1]".into())),
            ("x | Never\n# => error", Expected::Error(String::new())),
            (
                "x | Never\n# => error: contract broken",
                Expected::Error("contract broken".into()),
            ),
            ("# => 1\nx", Expected::Success),
            ("x\n# a comment", Expected::Success),
        ];
        for (example, expected) in cases {
            assert_eq!(Expected::of(example), expected, "{example:?}");
        }
    }

    #[test]
    fn nickel_blocks_are_examples_multiline_ones_one_per_chunk() {
        let doc = "Text.\n\n```nickel\n1 + 1\n```\n\n```nickel multiline\na\n\n  \nb\n# => c\n```\n\n```nickel ignore\nnope\n```\n\n```json\n{}\n```\n\n    indented\n";
        let (examples, skipped) = examples(doc);
        assert_eq!(examples, ["1 + 1\n", "a", "b\n# => c"]);
        assert_eq!(skipped, 1);
    }
}
