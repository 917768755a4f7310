//! What an infra has that its lock does not: stray links in the modules directory, vendored
//! directories, `manifest.toml` dependencies (untracked, with the command that adopts each), and
//! dependencies outside the managed directories (unmanaged).

use std::collections::BTreeMap;

use super::{ModuleStatus, State};
use crate::context::Context;
use crate::fs::{Entry, entry_at};
use crate::infra::lockfile::{LockEntry, Mode};
use crate::infra::manifest::InfraManifest;
use crate::infra::{Infra, VENDOR_DIR, modules_dir_name};
use crate::module::Layout;
use crate::module::ModuleKind;

pub(super) fn untracked(
    context: &Context,
    infra: &Infra,
    layout: Layout,
    entries: &[&LockEntry],
    manifest: &InfraManifest,
) -> anyhow::Result<Vec<ModuleStatus>> {
    let tracked = |module: &str| entries.iter().any(|entry| entry.module == *module);
    let tracked_as = |module: &str, mode: Mode| {
        entries
            .iter()
            .any(|entry| entry.module == *module && entry.mode() == mode)
    };
    let mut stray = Stray::new();
    let mut unmanaged = Vec::new();
    stray_links(context, infra, layout, &tracked_as, &mut stray)?;
    if layout == Layout::Nickel {
        stray_vendored(infra, &tracked_as, &mut stray)?;
    }
    let prefixes = [
        format!("./{}/", modules_dir_name(context, layout)),
        format!("./{VENDOR_DIR}/"),
    ];
    for (module, dependency) in &manifest.dependencies {
        if tracked(module) || stray.contains_key(module) {
            continue;
        }
        let managed = |path: &&str| {
            prefixes
                .iter()
                .any(|prefix| path.starts_with(prefix.as_str()))
        };
        match dependency.path() {
            Some(path) if managed(&path) => {
                let kind = kind_of(module);
                stray.insert(
                    module.clone(),
                    (
                        path.to_owned(),
                        format!(
                            "`{}` depends on `{module}`, which is not in the lock\nhint: adopt it with {} (add `--version V` for a pack), or remove the line",
                            layout.manifest_file(),
                            adopt_command(kind, module, infra, None)
                        ),
                        kind,
                    ),
                );
            }
            path => unmanaged.push(unmanaged_status(context, infra, layout, module, path)),
        }
    }
    let mut found: Vec<ModuleStatus> = stray
        .into_iter()
        .map(|(module, (source, detail, kind))| ModuleStatus {
            name: display_name(&module),
            kind,
            module,
            mode: None,
            version: None,
            source,
            layout,
            state: State::Untracked,
            detail: Some(detail),
            required_by: Vec::new(),
            direct: true,
        })
        .collect();
    found.extend(unmanaged);
    Ok(found)
}

/// A dependency of the infra's manifest outside the directories `provisioning` manages (or
/// without a path): the user's, reported with how to make it managed.
fn unmanaged_status(
    context: &Context,
    infra: &Infra,
    layout: Layout,
    module: &str,
    path: Option<&str>,
) -> ModuleStatus {
    let name = display_name(module);
    ModuleStatus {
        name: name.clone(),
        module: module.to_owned(),
        kind: kind_of(module),
        mode: None,
        version: None,
        source: path.unwrap_or("-").to_owned(),
        layout,
        state: State::Unmanaged,
        detail: Some(format!(
            "`{}` depends on `{module}` {}, which `provisioning` does not manage; Nickel finds modules by name only in `{}/` and `{VENDOR_DIR}/`\nhint: vendor it with `provisioning providers install {name} {} --version V`, or import it by its relative path",
            layout.manifest_file(),
            path.map_or_else(|| "without a path".to_owned(), |p| format!("at `{p}`")),
            modules_dir_name(context, layout),
            infra.name
        )),
        required_by: Vec::new(),
        direct: true,
    }
}

/// What a module the lock does not know probably is, from its name.
fn kind_of(module: &str) -> ModuleKind {
    module
        .parse()
        .map_or(ModuleKind::Provider, |module| ModuleKind::of(&module))
}

/// A module's provider name when it is a provider's, else the module name.
fn display_name(module: &str) -> String {
    crate::names::ShortName::from_provider_module(module)
        .map_or_else(|| module.to_owned(), |name| name.to_string())
}

/// Modules found but not in the lock: module → (source, what is wrong, what kind it looks like).
type Stray = BTreeMap<String, (String, String, ModuleKind)>;

/// The command that adopts an untracked module of `kind`, as the hint gives it.
fn adopt_command(kind: ModuleKind, module: &str, infra: &Infra, version: Option<&str>) -> String {
    let version = version.map_or_else(String::new, |v| format!(" --version {v}"));
    match kind {
        ModuleKind::Provider => format!(
            "`provisioning providers install {} {}{version}`",
            display_name(module),
            infra.name
        ),
        ModuleKind::Taskserv | ModuleKind::Cluster => format!(
            "`provisioning module-loader load {} {} {module}{version}`",
            kind.dir_name(),
            infra.name
        ),
        ModuleKind::Core => "installing a module that depends on it".to_owned(),
    }
}

/// What kind a stray link's target says it is: where under `extensions/` it points.
fn kind_of_target(module: &str, target: &std::path::Path) -> ModuleKind {
    let under = |dir: &str| target.components().any(|c| c.as_os_str() == dir);
    if under("taskservs") {
        ModuleKind::Taskserv
    } else if under("clusters") {
        ModuleKind::Cluster
    } else {
        kind_of(module)
    }
}

/// Entries of the modules directory that are not links the lock records.
fn stray_links(
    context: &Context,
    infra: &Infra,
    layout: Layout,
    tracked_as: &dyn Fn(&str, Mode) -> bool,
    stray: &mut Stray,
) -> anyhow::Result<()> {
    let modules_dir = infra.modules_dir(context, layout);
    if !modules_dir.is_dir() {
        return Ok(());
    }
    for dir_entry in fs_err::read_dir(&modules_dir)? {
        let dir_entry = dir_entry?;
        let module = dir_entry.file_name().to_string_lossy().into_owned();
        if module.starts_with('.') || tracked_as(&module, Mode::Link) {
            continue;
        }
        let (source, kind) = match entry_at(&dir_entry.path())? {
            Entry::Symlink(target) => (
                target.display().to_string(),
                kind_of_target(&module, &target),
            ),
            _ => ("(not a link)".to_owned(), kind_of(&module)),
        };
        let detail = format!(
            "`{}/{module}` is not in the lock\nhint: adopt it with {}, or remove it",
            modules_dir_name(context, layout),
            adopt_command(kind, &module, infra, None)
        );
        stray.insert(module, (source, detail, kind));
    }
    Ok(())
}

/// Directories of `vendor/` that are not packs the lock records.
fn stray_vendored(
    infra: &Infra,
    tracked_as: &dyn Fn(&str, Mode) -> bool,
    stray: &mut Stray,
) -> anyhow::Result<()> {
    let vendor_dir = infra.dir.join(VENDOR_DIR);
    if !vendor_dir.is_dir() {
        return Ok(());
    }
    for dir_entry in fs_err::read_dir(&vendor_dir)? {
        let dir_entry = dir_entry?;
        let module = dir_entry.file_name().to_string_lossy().into_owned();
        if module.starts_with('.')
            || !dir_entry.file_type()?.is_dir()
            || tracked_as(&module, Mode::Pack)
        {
            continue;
        }
        let path = format!("./{VENDOR_DIR}/{module}");
        // The version its own manifest says, for the command that adopts it.
        let manifest = crate::module::read_package_manifest(
            &dir_entry.path().join(Layout::Nickel.manifest_file()),
        );
        let version = manifest
            .as_ref()
            .map_or_else(|_| "V".to_owned(), |manifest| manifest.version.to_string());
        // A pack says what it is; else its name does.
        let kind = manifest
            .ok()
            .and_then(|manifest| manifest.kind)
            .unwrap_or_else(|| kind_of(&module));
        let detail = format!(
            "`{VENDOR_DIR}/{module}` is not in the lock\nhint: adopt it with {} (verified against the registry's pack), or remove it",
            adopt_command(kind, &module, infra, Some(&version))
        );
        stray.entry(module).or_insert((path, detail, kind));
    }
    Ok(())
}
