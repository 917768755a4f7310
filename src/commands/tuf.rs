//! `registry tuf init | refresh | rotate`: the publisher's side of the local registry's TUF
//! metadata (docs/trust.md). Each holds the registry's lock and writes in one transaction.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::Outcome;
use crate::cli::TufCommand;
use crate::config::absolutize;
use crate::context::Context;
use crate::printer::Printer;
use crate::registry::DirectoryRegistry;
use crate::tuf::TufError;
use crate::tuf::publish::{self, Expiries, Publisher, Versions};

pub fn run(command: TufCommand, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let registry = DirectoryRegistry::from_config(&context.config);
    let site = distribution_dir(&registry)?;
    let keyring = crate::signing::Keyring::new(&context.env, &context.base)?;
    let publisher = Publisher::new(
        crate::tuf::keys::TufKeys::of(&keyring),
        Expiries::from_config(&context.config.tuf),
    );
    let _lock = registry
        .lock(printer)
        .with_context(|| format!("failed to lock `{}`", registry.registry_path.display()))?;
    registry
        .remove_debris()
        .with_context(|| format!("failed to clean `{}`", registry.registry_path.display()))?;
    let shown = context.display_path(&site).display().to_string();
    let mut transaction = crate::fs::Transaction::new();
    match command {
        TufCommand::Init(args) => {
            if crate::tuf::is_enabled(&site) {
                let site = context.display_path(&site).into_owned();
                return Err(TufError::AlreadyInitialized { site }.into());
            }
            // The targets include `index.json`: current before the first signing.
            super::pack::index_without_tuf(&registry, context)?;
            let made = crate::tuf::roots::init(
                &mut transaction,
                &site,
                &publisher,
                args.root_key_out
                    .map(|path| absolutize(&context.cwd, &path))
                    .as_deref(),
            )?;
            let _ = transaction.commit();
            printer.status(
                "Initialized",
                format!("TUF metadata of `{shown}/` (root v1): root key {}, targets key {}, snapshot key {}, timestamp key {}", short(&made.root), short(&made.targets), short(&made.snapshot), short(&made.timestamp)),
            );
            printer.warning(format!(
                "the root key is in `{}`: move it somewhere offline (it signs only key changes: `registry tuf rotate`), and give clients `{shown}/tuf/1.root.json` to pin (`provisioning registry tuf pin <URL> 1.root.json`)",
                made.root_key_file.display()
            ));
            printer.report(&made)?;
        }
        TufCommand::Refresh => {
            let versions = publish::refresh(&mut transaction, &site, &publisher)?;
            let _ = transaction.commit();
            signed(printer, &shown, versions, &publisher);
            printer.report(&versions)?;
        }
        TufCommand::Rotate(args) => {
            let rotated = crate::tuf::roots::rotate(
                &mut transaction,
                &site,
                &publisher,
                args.role,
                &absolutize(&context.cwd, &args.root_key),
                args.new_root_key_out
                    .map(|path| absolutize(&context.cwd, &path))
                    .as_deref(),
            )?;
            let _ = transaction.commit();
            printer.status(
                "Rotated",
                format!(
                    "the {} key of `{shown}/`: {} retired, {} signs now (`{}`); root v{}",
                    rotated.role,
                    rotated
                        .retired
                        .iter()
                        .map(|id| short(id))
                        .collect::<Vec<_>>()
                        .join(", "),
                    short(&rotated.new),
                    rotated.new_key_file.display(),
                    rotated.versions.root
                ),
            );
            printer.report(&rotated)?;
        }
    }
    Ok(Outcome::Success)
}

fn signed(printer: &Printer, shown: &str, versions: Versions, publisher: &Publisher) {
    printer.status(
        "Signed",
        format!(
            "TUF metadata of `{shown}/`: targets v{}, snapshot v{}, timestamp v{} (valid for {}s)",
            versions.targets,
            versions.snapshot,
            versions.timestamp,
            publisher.expiries.timestamp.num_seconds()
        ),
    );
}

/// A key id as the status lines show it: its first 16 hex digits (`registry tuf status` and the
/// JSON report give them whole).
fn short(id: &str) -> &str {
    id.get(..16).unwrap_or(id)
}

/// The registry's `distribution/`: the metadata describes `packages/` and `registry/` by their
/// paths inside it, so both must be there side by side.
fn distribution_dir(registry: &DirectoryRegistry) -> anyhow::Result<PathBuf> {
    let site = crate::registry::site::site_dir(registry)?;
    if registry.pack_path != site.join("packages") {
        return Err(TufError::NotDistributionShaped {
            registry: registry.registry_path.clone(),
            packages: registry.pack_path.clone(),
        }
        .into());
    }
    Ok(site)
}
