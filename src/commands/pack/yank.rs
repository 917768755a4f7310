use anyhow::bail;

use crate::Outcome;
use crate::address::Remote;
use crate::cli::YankArgs;
use crate::context::Context;
use crate::names::PackRef;
use crate::printer::Printer;
use crate::registry::{DirectoryRegistry, Registries, Registry};

/// `pack yank module@version [--reason TEXT] [--undo]`: withdraw a version from resolution (or
/// restore it), recording why, in
/// the OCI registry (`--registry oci://…`, a configured one's name, or the only configured remote
/// one), else in the local registry or the directory `--registry` names (as a path or by name); a static HTTP registry (flag or configuration) is
/// read-only, and refused. The version stays: an infra that pins it still installs and syncs it.
pub fn yank(args: &YankArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let pack = &args.pack;
    let yanked = !args.undo;
    let options = context.registry_options();
    if let Some(Remote::Http(url)) = Registries::remote_address(&options)? {
        bail!(
            "`{}` is a static HTTP registry, which is read-only: `pack yank` cannot write to it\nhint: yank in the `distribution/` directory it serves (`provisioning --registry DIR pack yank {pack}`), then upload that directory again",
            url.display()
        );
    }
    if let Some(oci) = Registries::remote_oci(&options)? {
        let changed = oci.set_yanked(pack, yanked, args.reason.as_deref())?;
        report(args, changed, &Registry::label(&oci), printer);
        return Ok(Outcome::Success);
    }
    let registry = match Registries::flag_directory(&options) {
        Some(dir) => DirectoryRegistry::in_distribution_dir(&dir, &context.config.paths.base),
        None => DirectoryRegistry::from_config(&context.config),
    };
    super::check_tuf_keys(&registry, context)?;
    let changed = registry.set_yanked(pack, yanked, args.reason.as_deref(), printer)?;
    if changed {
        let _ = super::index::refresh_or_warn(&registry, context, printer);
    }
    report(args, changed, &Registry::label(&registry), printer);
    Ok(Outcome::Success)
}

fn report(args: &YankArgs, changed: bool, label: &str, printer: &Printer) {
    let pack: &PackRef = &args.pack;
    let (verb, mut state) = match (!args.undo, changed) {
        (true, true) => ("Yanked", "withdrawn from resolution".to_owned()),
        (false, true) => ("Restored", "back in resolution".to_owned()),
        (true, false) => ("Unchanged", "already yanked".to_owned()),
        (false, false) => ("Unchanged", "not yanked".to_owned()),
    };
    if let Some(reason) = &args.reason {
        state.push_str(&format!(" ({reason})"));
    }
    if verb == "Yanked" {
        state.push_str("; pinned infras keep it");
    }
    printer.status(
        verb,
        format!("`{}` {} in `{label}`: {state}", pack.module, pack.version),
    );
}
