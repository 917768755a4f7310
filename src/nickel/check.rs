//! What "a Nickel file evaluates" means for modules and an infra's non-main files: its value is
//! evaluated deeply, with every contract applied, where functions and contracts are values.
//!
//! `nickel export` demands a value that serializes, so a library of contracts (`{ Port =
//! std.contract.from_predicate ... }`) or of record contracts (`{ Deployment = { kind | String,
//! ... } }`) fails it. Here, as in the record spine that `nickel doc` and `nickel test` walk:
//!
//! - a record's fields are evaluated with their pending contracts applied, and walked in turn;
//!   arrays' elements and enum variants' arguments likewise;
//! - a field without a definition (a record contract's `kind | String`) is a declaration, not a
//!   failure: its contracts are evaluated (so `| js2n.Nulable` is caught), not applied;
//! - a value that needs a field no one defined (`b = a + 1` beside `a | Number`) is a template,
//!   and left as it is;
//! - a function is a value: it is not applied;
//! - a thunk being walked is not entered again, so recursive contracts (`Tree = { left | Tree
//!   | optional }`) terminate.
//!
//! Any other error (a contract broken by a value, a typecheck error, `std.fail_with`) is the
//! user's to see, with its file and line.

use nickel_lang_core::cache::CacheHub;
use nickel_lang_core::error::{Error, EvalErrorKind};
use nickel_lang_core::eval::cache::CacheImpl;
use nickel_lang_core::eval::value::{Container, NickelValue, ValueContentRef};
use nickel_lang_core::eval::{Closure, Environment, VirtualMachine, VmContext};

type Context = VmContext<CacheHub, CacheImpl>;

/// Evaluates `closure` deeply, as the module doc says.
pub fn evaluate(context: &mut Context, closure: Closure) -> Result<(), Error> {
    walk(context, closure.value, closure.env, None)
}

/// Walks `value` in `env`. `guard` is the thunk the value came from, when it came from one
/// with contracts applied around it (a field's value): it is locked while walked, like a thunk
/// walked directly.
fn walk(
    context: &mut Context,
    value: NickelValue,
    env: Environment,
    guard: Option<NickelValue>,
) -> Result<(), Error> {
    let guard = guard.or_else(|| value.as_thunk().is_some().then(|| value.clone()));
    let thunk = guard.as_ref().and_then(NickelValue::as_thunk);
    if let Some(thunk) = thunk
        && !thunk.lock()
    {
        return Ok(());
    }
    let result = walk_unguarded(context, value, env);
    if let Some(thunk) = thunk {
        thunk.unlock();
    }
    match result {
        Err(Error::EvalError(error))
            if matches!(error.error, EvalErrorKind::MissingFieldDef { .. }) =>
        {
            Ok(())
        }
        other => other,
    }
}

fn walk_unguarded(
    context: &mut Context,
    value: NickelValue,
    env: Environment,
) -> Result<(), Error> {
    let evaluated = VirtualMachine::new(context).eval_closure(Closure { value, env })?;
    let env = evaluated.env;
    match evaluated.value.content_ref() {
        ValueContentRef::Record(Container::Alloc(record)) => {
            let fields: Vec<_> = record.fields.values().cloned().collect();
            for field in fields {
                match field.value_with_pending_contracts() {
                    Some(applied) => walk(context, applied, env.clone(), field.value.clone())?,
                    None => {
                        for contract in field.pending_contracts {
                            walk(context, contract.contract, env.clone(), None)?;
                        }
                    }
                }
            }
            Ok(())
        }
        ValueContentRef::Array(Container::Alloc(array)) => {
            let position = evaluated.value.pos_idx();
            let elements: Vec<NickelValue> = array.iter_with_pending_contracts(position).collect();
            for element in elements {
                walk(context, element, env.clone(), None)?;
            }
            Ok(())
        }
        ValueContentRef::EnumVariant(variant) => match variant.arg.clone() {
            Some(argument) => walk(context, argument, env, None),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}
