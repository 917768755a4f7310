use anyhow::bail;

use crate::Outcome;
use crate::cli::YankArgs;
use crate::context::Context;
use crate::printer::Printer;
use crate::registry::DirectoryRegistry;

/// `pack yank module@version [--undo]`: withdraw a version from resolution (or restore it) in
/// the local registry, or in the directory `--registry` names. The version stays: an infra that
/// pins it still installs and syncs it.
pub fn yank(args: &YankArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let registry = match context.registry_flag.as_deref() {
        Some(flag) if flag.contains("://") => bail!(
            "`pack yank` works on a registry directory; `{flag}` is a remote registry\nhint: yank in the `distribution/` directory the registry is published from"
        ),
        Some(flag) => DirectoryRegistry::in_distribution_dir(
            &crate::config::absolutize(&context.cwd, std::path::Path::new(flag)),
            &context.config.paths.base,
        ),
        None => DirectoryRegistry::from_config(&context.config),
    };
    let pack = &args.pack;
    let yanked = !args.undo;
    let changed = registry.set_yanked(pack, yanked, printer)?;
    let (verb, state) = match (yanked, changed) {
        (true, true) => ("Yanked", "withdrawn from resolution; pinned infras keep it"),
        (false, true) => ("Restored", "back in resolution"),
        (true, false) => ("Unchanged", "already yanked"),
        (false, false) => ("Unchanged", "not yanked"),
    };
    printer.status(
        verb,
        format!(
            "`{}` {} in `{}`: {state}",
            pack.module,
            pack.version,
            crate::registry::Registry::label(&registry)
        ),
    );
    Ok(Outcome::Success)
}
