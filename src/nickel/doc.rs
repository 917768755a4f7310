//! A module's documentation, as `nickel doc --format json` extracts it: every field of the
//! entry point's record (and of the records inside it, contracts included), with its type
//! annotation, its contract annotations and its `doc` string.
//!
//! `nickel-lang-core` has this behind its `doc` feature, but that feature brings `comrak` with
//! its default features (`syntect`, `clap`, `bon`: some forty crates) for a Markdown output we
//! do not use. The walk is small, and done here on the public API the same way
//! (`Program::eval_record_spine`, `ExtractedDocumentation::extract_from_term`): the record
//! spine is evaluated (not the leaves), a field still being evaluated is not entered again
//! (recursive contracts), a field without a definition is left as it is, and annotations are
//! printed as the user wrote them. It runs in the evaluation worker, under the same bounds as an
//! export; `tests/it/site.rs` checks it against the real `nickel doc`.

use std::collections::BTreeMap;

use nickel_lang_core::cache::CacheHub;
use nickel_lang_core::error::{Error, EvalErrorKind};
use nickel_lang_core::eval::cache::CacheImpl;
use nickel_lang_core::eval::value::{Container, NickelValue, ValueContent, ValueContentRef};
use nickel_lang_core::eval::{Closure, Environment, VirtualMachine, VmContext};
use nickel_lang_core::term::record::{Field, RecordData};
use nickel_lang_core::term::{RuntimeContract, Term};
use serde::{Deserialize, Serialize};

/// The documented fields of a record, by name (the format of `nickel doc --format json`, with
/// fields sorted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Documentation {
    pub fields: BTreeMap<String, DocumentedField>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentedField {
    /// The fields of its value, when that is a record.
    pub fields: Option<Documentation>,
    /// Its type annotation (`: T`), as written.
    #[serde(rename = "type")]
    pub typ: Option<String>,
    /// Its contract annotations (`| C`), as written.
    pub contracts: Vec<String>,
    /// Its `doc` string.
    pub documentation: Option<String>,
}

type Context = VmContext<CacheHub, CacheImpl>;

/// The documentation of the value `prepared` (a prepared file) evaluates to; `None` when it is
/// not a record.
pub fn extract(
    context: &mut Context,
    prepared: NickelValue,
) -> Result<Option<Documentation>, Error> {
    let spine = eval_guarded(context, prepared, Environment::new())?;
    Ok(from_value(&spine))
}

fn from_value(value: &NickelValue) -> Option<Documentation> {
    match value.content_ref() {
        ValueContentRef::Record(Container::Empty) => Some(Documentation::default()),
        ValueContentRef::Record(Container::Alloc(record)) => Some(from_record(record)),
        ValueContentRef::Term(Term::RecRecord(data)) => Some(from_record(&data.record)),
        _ => None,
    }
}

fn from_record(record: &RecordData) -> Documentation {
    let fields = record
        .fields
        .iter()
        .map(|(name, field)| {
            let metadata = field.metadata.0.as_deref();
            let documented = DocumentedField {
                fields: field.value.as_ref().and_then(from_value),
                // The type as the user wrote it (the label's), not the one evaluation rewrote.
                typ: metadata
                    .and_then(|m| m.annotation.typ.as_ref())
                    .map(|typ| typ.label.typ.to_string()),
                contracts: metadata
                    .iter()
                    .flat_map(|m| m.annotation.contracts.iter())
                    .map(|contract| contract.label.typ.to_string())
                    .collect(),
                documentation: field.metadata.doc().map(ToOwned::to_owned),
            };
            (name.label().to_owned(), documented)
        })
        .collect();
    Documentation { fields }
}

/// Evaluates `value`, and the fields and pending contracts of the record it is, unless it is a
/// thunk being evaluated already (a field of its own, through a recursive contract).
fn eval_guarded(
    context: &mut Context,
    value: NickelValue,
    env: Environment,
) -> Result<NickelValue, Error> {
    let thunk = value.as_thunk();
    if let Some(thunk) = thunk
        && !thunk.lock()
    {
        return Ok(value);
    }
    let result = eval_spine(context, value.clone(), env);
    if let Some(thunk) = thunk {
        thunk.unlock();
    }
    // A field without a definition (a contract's) is used by others: they are left as they are,
    // with nothing to document in their values. Any other failure is the user's to see.
    if let Err(Error::EvalError(error)) = &result
        && let EvalErrorKind::MissingFieldDef { .. } = &error.error
    {
        return Ok(value);
    }
    result
}

fn eval_spine(
    context: &mut Context,
    value: NickelValue,
    env: Environment,
) -> Result<NickelValue, Error> {
    let evaluated = VirtualMachine::new(context).eval_closure(Closure { value, env })?;
    let position = evaluated.value.pos_idx();
    match evaluated.value.content() {
        ValueContent::Record(lens) => {
            let Container::Alloc(data) = lens.take() else {
                return Ok(NickelValue::empty_record().with_pos_idx(position));
            };
            let mut fields = data.fields.clone();
            for field in fields.values_mut() {
                let taken = std::mem::take(field);
                *field = eval_field(context, taken, &evaluated.env)?;
            }
            Ok(NickelValue::record(RecordData { fields, ..data }, position))
        }
        other => Ok(other.restore()),
    }
}

fn eval_field(context: &mut Context, field: Field, env: &Environment) -> Result<Field, Error> {
    let value = field
        .value
        .map(|value| eval_guarded(context, value, env.clone()))
        .transpose()?;
    let pending_contracts = field
        .pending_contracts
        .into_iter()
        .map(|contract| {
            Ok(RuntimeContract {
                contract: eval_guarded(context, contract.contract, env.clone())?,
                label: contract.label,
            })
        })
        .collect::<Result<_, Error>>()?;
    Ok(Field {
        value,
        pending_contracts,
        metadata: field.metadata,
    })
}
