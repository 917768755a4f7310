//! `pack mirror --to DIR|oci://… [--from REGISTRY] (--workspace | --infra NAME… | MODULE@REQ…)`:
//! the source, the mirror and what to copy, from the command line; the copying is
//! [`crate::ops::mirror`]'s.

use anyhow::{Context as _, bail};
use serde::Serialize;

use crate::Outcome;
use crate::address::Remote;
use crate::cli::MirrorArgs;
use crate::context::Context;
use crate::infra::Infra;
use crate::ops::mirror::{self, MirrorOptions, Mirrored, MirroredPack, Target, Wanted};
use crate::printer::Printer;
use crate::registry::{DirectoryRegistry, Registries, Registry};

#[derive(Debug, Serialize)]
struct MirrorRow {
    module: String,
    version: String,
    /// `copied`, `already_there` or `yank_updated`; none on error.
    result: Option<Mirrored>,
    provenance: bool,
    error: Option<String>,
}

/// `pack mirror`.
pub fn mirror(args: &MirrorArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let options = context.registry_options();
    let source: Box<dyn Registry> = match &args.from {
        Some(from) => crate::registry::open_flag(from, &options)?,
        None => Registries::open(&options)?.primary(),
    };
    let target = target(&args.to, context)?;
    if let mirror::Target::Directory(directory) = &target {
        super::check_tuf_keys(directory, context)?;
    }
    let mut wanted = Wanted {
        requirements: args.packs.clone(),
        ..Wanted::default()
    };
    let infras = if args.workspace {
        Infra::all(context)
    } else {
        args.infra
            .iter()
            .map(|name| Infra::resolve(context, name))
            .collect::<Result<Vec<_>, _>>()?
    };
    for infra in &infras {
        wanted
            .add_infra(infra)
            .with_context(|| format!("failed to read what `{}` pins", infra.name))?;
    }
    let keys = context.trusted_keys()?;
    let packs = mirror::mirror(
        &wanted,
        &MirrorOptions {
            source: source.as_ref(),
            target: &target,
            keys: &keys,
            limits: context.unpack_limits(),
            tuf: super::tuf_publisher(context).as_ref(),
            printer,
        },
    )
    .with_context(|| format!("failed to mirror into `{}`", target.label()))?;
    report(&packs, &source.label(), &target.label(), printer)
}

/// The mirror `--to` names: `oci://…`, or a directory (relative to the working directory).
fn target(to: &str, context: &Context) -> anyhow::Result<Target> {
    if !to.contains("://") {
        let dir = crate::config::absolutize(&context.cwd, std::path::Path::new(to));
        return Ok(Target::Directory(DirectoryRegistry::in_distribution_dir(
            &dir,
            &context.config.paths.base,
        )));
    }
    if let Remote::Http(_) = Remote::parse(to)? {
        bail!(
            "an HTTP registry is read-only: `pack mirror` cannot write to `{to}`\nhint: mirror into a directory (`--to DIR`) and serve it, or upload it, as it is"
        );
    }
    let mut options = context.registry_options();
    options.flag = Some(to);
    Registries::remote_oci(&options)?
        .map(|oci| Target::Oci(Box::new(oci)))
        .context("`--to` names no OCI registry")
}

/// A status line per pack copied (the others with `-v`), a summary, and the rows for
/// `--format json|yaml`.
fn report(
    packs: &[MirroredPack],
    source: &str,
    target: &str,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let mut rows = Vec::new();
    let mut failed = 0;
    for mirrored in packs {
        let (module, version) = (&mirrored.pack.module, &mirrored.pack.version);
        match &mirrored.result {
            Ok(Mirrored::Copied) => printer.status(
                "Copied",
                format!(
                    "`{module}` {version} from `{source}` to `{target}`{}",
                    if mirrored.provenance {
                        " (with its provenance)"
                    } else {
                        ""
                    }
                ),
            ),
            Ok(Mirrored::YankUpdated) => {
                printer.status("Updated", format!("the yank state of `{module}` {version}"));
            }
            Ok(Mirrored::AlreadyThere) => {
                printer.verbose(format!("`{module}` {version} is already in the mirror"));
            }
            Err(error) => {
                failed += 1;
                printer.error_message(format!("failed to mirror `{module}` {version}: {error}"));
            }
        }
        rows.push(MirrorRow {
            module: module.to_string(),
            version: version.to_string(),
            result: mirrored.result.as_ref().ok().copied(),
            provenance: mirrored.provenance,
            error: mirrored.result.as_ref().err().cloned(),
        });
    }
    printer.report(&rows)?;
    let count = |wanted: Mirrored| {
        packs
            .iter()
            .filter(|mirrored| mirrored.result.as_ref().ok() == Some(&wanted))
            .count()
    };
    if failed > 0 {
        printer.error_message(format!(
            "{failed} of {} packs could not be mirrored",
            packs.len()
        ));
        return Ok(Outcome::Failure);
    }
    let mut summary = format!("{} copied", count(Mirrored::Copied));
    let yanks = count(Mirrored::YankUpdated);
    if yanks > 0 {
        summary.push_str(&format!(", {yanks} yank states updated"));
    }
    summary.push_str(&format!(
        ", {} already there, in `{target}`",
        count(Mirrored::AlreadyThere)
    ));
    printer.status("Finished", summary);
    Ok(Outcome::Success)
}
