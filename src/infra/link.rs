//! Link mode's steps: a relative symlink `<modules dir>/<module>` to a provider's live source,
//! and its removal. Each step adds its changes to the [`Transaction`] it is given; opening and
//! committing it, and recording the result in the manifest and the lock, is [`crate::ops`]'s.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use super::lockfile::{Mode, ProvidersLock};
use super::manifest::InfraManifestMut;
use super::{Infra, link_dependency_path, modules_dir_name};
use crate::context::Context;
use crate::fs::{Entry, Transaction, entry_at, relative_path};
use crate::module::Layout;
use crate::names::ModuleName;

/// The modules directory of `layout`, created when missing; refuses a file or a symlink there.
pub fn ensure_modules_dir(
    context: &Context,
    infra: &Infra,
    layout: Layout,
    transaction: &mut Transaction,
) -> anyhow::Result<PathBuf> {
    let dir = infra.modules_dir(context, layout);
    match entry_at(&dir)? {
        Entry::Dir => {}
        Entry::Missing => transaction.create_dir_all(&dir)?,
        Entry::Symlink(target) => bail!(
            "`{}` is a symlink (to `{}`), expected a directory\nhint: remove it; `provisioning` keeps one link per module inside a real `{}` directory",
            dir.display(),
            target.display(),
            modules_dir_name(context, layout)
        ),
        Entry::File => bail!(
            "`{}` is a file, expected a directory\nhint: remove or rename it",
            dir.display()
        ),
    }
    Ok(dir)
}

/// Points `<modules dir>/<module>` at `source` with a relative link. A symlink there is
/// replaced; anything else is refused unless `force`. Says whether anything changed.
pub fn place(
    context: &Context,
    infra: &Infra,
    layout: Layout,
    module: &ModuleName,
    source: &Path,
    force: bool,
    transaction: &mut Transaction,
) -> anyhow::Result<bool> {
    let modules_dir = ensure_modules_dir(context, infra, layout, transaction)?;
    let link = modules_dir.join(module);
    let what = match entry_at(&link)? {
        Entry::Missing | Entry::Symlink(_) => None,
        Entry::Dir => Some("a directory"),
        Entry::File => Some("a file"),
    };
    if let Some(what) = what {
        if !force {
            bail!(
                "`{}` is {what}, not a link; refusing to replace it\nhint: move it away, or pass `--force` to replace it",
                link.display()
            );
        }
        transaction.remove_dir(&link)?;
    }
    let target = relative_path(&canonical(&modules_dir)?, &canonical(source)?);
    Ok(transaction.symlink(&target, &link)?)
}

/// The source of a link as the lock records it: relative to the base, `/`-separated.
pub fn recorded_source(context: &Context, source: &Path) -> anyhow::Result<String> {
    let relative = relative_path(&canonical(&context.config.paths.base)?, &canonical(source)?);
    Ok(relative
        .components()
        .map(|component| component.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/"))
}

fn canonical(path: &Path) -> anyhow::Result<PathBuf> {
    std::fs::canonicalize(path).with_context(|| format!("failed to resolve `{}`", path.display()))
}

/// Removes the link of `module` in `layout`; a directory or file there is refused unless
/// `force`. Says whether anything went.
pub fn unlink(
    context: &Context,
    infra: &Infra,
    layout: Layout,
    module: &ModuleName,
    force: bool,
    transaction: &mut Transaction,
) -> anyhow::Result<bool> {
    let link = infra.modules_dir(context, layout).join(module);
    match entry_at(&link)? {
        Entry::Missing => Ok(false),
        Entry::Symlink(_) => Ok(transaction.remove_symlink(&link)?),
        Entry::Dir | Entry::File if force => {
            transaction.remove_dir(&link)?;
            Ok(true)
        }
        Entry::Dir | Entry::File => bail!(
            "`{}` is not a link; refusing to delete it\nhint: pass `--force` to delete it too",
            link.display()
        ),
    }
}

/// Removes the link of `module` in `layout` if it is a symlink; anything else stays. Says
/// whether it went.
pub fn remove_symlink(
    context: &Context,
    infra: &Infra,
    layout: Layout,
    module: &ModuleName,
    transaction: &mut Transaction,
) -> anyhow::Result<bool> {
    let link = infra.modules_dir(context, layout).join(module);
    Ok(transaction.remove_symlink(&link)?)
}

/// Removes the symlinks in the modules directories that the lock does not list as links (a
/// pack's stale link would shadow its vendored copy). Real directories are never touched.
/// Returns the modules removed, with their layout: the caller drops the dependencies that
/// pointed at them ([`points_here`]).
pub fn prune(
    context: &Context,
    infra: &Infra,
    lock: &ProvidersLock,
    transaction: &mut Transaction,
) -> anyhow::Result<Vec<(Layout, String)>> {
    let mut pruned = Vec::new();
    for layout in [Layout::Nickel, Layout::Kcl] {
        let modules_dir = infra.modules_dir(context, layout);
        if !modules_dir.is_dir() {
            continue;
        }
        let linked = |module: &str| {
            lock.providers.iter().any(|entry| {
                entry.layout == layout && entry.module == *module && entry.mode() == Mode::Link
            })
        };
        let mut entries: Vec<_> = fs_err::read_dir(&modules_dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|entry| entry.file_name());
        for dir_entry in entries {
            let name = dir_entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || linked(&name) {
                continue;
            }
            if transaction.remove_symlink(&dir_entry.path())? {
                pruned.push((layout, name));
            }
        }
    }
    Ok(pruned)
}

/// Whether `manifest`'s dependency on `name` points at its link in `layout`'s modules
/// directory.
pub fn points_here(
    context: &Context,
    manifest: &InfraManifestMut,
    layout: Layout,
    name: &str,
) -> bool {
    name.parse::<ModuleName>().is_ok_and(|module| {
        manifest.dependency_path(name).as_deref()
            == Some(link_dependency_path(context, layout, &module).as_str())
    })
}
