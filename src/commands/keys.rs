//! `provisioning keys ...`: the user's signing key and the trusted public keys.

use serde::Serialize;

use crate::Outcome;
use crate::cli::KeysCommand;
use crate::context::Context;
use crate::printer::{Printer, Table};
use crate::signing::{KeyScope, KeySource, Keyring, Trusted};

#[derive(Debug, Serialize)]
struct KeyRow {
    key_id: String,
    source: KeySource,
    path: String,
    /// The patterns of the modules it may sign: `["*"]` for every module.
    scope: Vec<String>,
    #[serde(skip)]
    scope_text: String,
}

/// `keys ...` in a base: the user's keys and the base's `config/trusted-keys`.
pub fn run(command: KeysCommand, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    run_with(
        command,
        &Keyring::new(&context.env, &context.base)?,
        printer,
    )
}

/// `keys ...` outside any base: keys belong to the user, not to a base, so every `keys`
/// command works anywhere (with the user's keys only).
pub fn run_outside_a_base(
    command: KeysCommand,
    env: &std::collections::BTreeMap<String, String>,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    run_with(command, &Keyring::of_user(env)?, printer)
}

fn run_with(command: KeysCommand, keyring: &Keyring, printer: &Printer) -> anyhow::Result<Outcome> {
    match command {
        KeysCommand::Generate(args) => {
            let key_id = keyring.generate(args.force)?;
            printer.status(
                "Generated",
                format!(
                    "signing key {key_id} in `{}`",
                    keyring.secret_key_path().display()
                ),
            );
            printer.status("Trusted", format!("{key_id}: packs you sign now verify here; share `provisioning keys public` with your team"));
            printer.report(
                &serde_json::json!({ "key_id": key_id, "public_key": keyring.public_key()? }),
            )?;
        }
        KeysCommand::Public => crate::write_stdout(&keyring.public_key()?)?,
        KeysCommand::List => {
            let rows: Vec<KeyRow> = keyring
                .trusted()?
                .into_iter()
                .map(|key| KeyRow {
                    key_id: key.key_id.to_string(),
                    source: key.source,
                    path: key.path.display().to_string(),
                    scope: key.scope.patterns(),
                    scope_text: match &key.scope {
                        KeyScope::Every => "every module".to_owned(),
                        KeyScope::Only(_) => key.scope.patterns().join(", "),
                    },
                })
                .collect();
            printer.data(&rows, || {
                let mut table = Table::new(["KEY ID", "SOURCE", "SCOPE", "PATH"])
                    .when_empty("no trusted keys\nhint: `provisioning keys generate`, or `provisioning keys trust <file>`");
                for row in &rows {
                    let source = match row.source {
                        KeySource::Own => "own",
                        KeySource::User => "trusted",
                        KeySource::Base => "base",
                    };
                    table.row([
                        row.key_id.clone(),
                        source.into(),
                        row.scope_text.clone(),
                        row.path.clone(),
                    ]);
                }
                table
            })?;
        }
        KeysCommand::Trust(args) => {
            let trusted = keyring.trust(&args.key, KeyScope::of(args.modules))?;
            print_trusted(&trusted, printer);
        }
    }
    Ok(Outcome::Success)
}

/// What `keys trust` did: the key, its scope, and the scope it replaced.
fn print_trusted(trusted: &Trusted, printer: &Printer) {
    let key = &trusted.key;
    let path = key.path.display();
    let message = match &trusted.before {
        None => format!("key {} for {} (`{path}`)", key.key_id, key.scope),
        Some((_, before)) if *before == key.scope => format!(
            "key {} for {} (`{path}`): trusted so already",
            key.key_id, key.scope
        ),
        Some((KeySource::Base, before)) => format!(
            "key {} for {} (`{path}`): the base's `config/trusted-keys` trusts it for {before}; for you this scope replaces that",
            key.key_id, key.scope
        ),
        Some((_, before)) => format!(
            "key {} for {} (`{path}`): its scope was {before}, and is replaced",
            key.key_id, key.scope
        ),
    };
    printer.status("Trusted", message);
    for warning in &trusted.warnings {
        printer.warning(warning);
    }
}
