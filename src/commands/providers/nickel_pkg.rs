//! `providers nickel-pkg <infra>`: the infra's own `Nickel-pkg.ncl`, its installed modules as
//! `'Path` dependencies (`vendor/<module>` for a pack, `.nickel-modules/<module>` for a link),
//! so that a package-enabled `nickel` (`nickel export main.ncl` in the infra) evaluates it as
//! `provisioning export` does. Each pack carries its own `Nickel-pkg.ncl` already; a linked
//! module needs one at its source, which is said when it has none.

use anyhow::Context as _;

use crate::Outcome;
use crate::cli::InfraArgs;
use crate::context::Context;
use crate::infra::Infra;
use crate::infra::closure::installed_dir;
use crate::infra::session::{Access, InfraSession};
use crate::module::{Layout, NICKEL_PKG_FILE, NickelPackage};
use crate::printer::Printer;

/// Who wrote the file, as its first line says.
const GENERATED_BY: &str =
    "`provisioning providers nickel-pkg` from the infra's lock; run it again after a change";

pub fn nickel_pkg(
    args: &InfraArgs,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let infra = Infra::resolve(context, &args.infra)?;
    let session = InfraSession::open(context, infra, Access::Links, printer)?;
    let infra = &session.infra;
    let manifest = session.manifest();
    let version = manifest
        .package_field("version")
        .map(crate::names::parse_version)
        .transpose()
        .with_context(|| format!("`{}`: `[package] version`", manifest.path().display()))?
        .unwrap_or(semver::Version::new(0, 0, 0));
    let mut dependencies = std::collections::BTreeMap::new();
    for entry in &session.lock().providers {
        if entry.layout != Layout::Nickel {
            continue;
        }
        let dir = installed_dir(context, infra, entry);
        if !dir.join(NICKEL_PKG_FILE).is_file() {
            printer.warning(format!(
                "`{}` has no `{NICKEL_PKG_FILE}` (a link to a source without one), so Nickel's package manager cannot use it\nhint: install it as a pack (every pack has one), or write one at its source",
                entry.module
            ));
        }
        let relative = dir.strip_prefix(&infra.dir).unwrap_or(&dir);
        dependencies.insert(entry.module.to_string(), relative.display().to_string());
    }
    let package = NickelPackage {
        name: manifest
            .package_field("name")
            .unwrap_or(&infra.name)
            .to_owned(),
        version,
        authors: Vec::new(),
        description: String::new(),
        license: String::new(),
        dependencies,
    };
    let path = infra.dir.join(NICKEL_PKG_FILE);
    crate::fs::atomic_write(&path, package.render(GENERATED_BY).as_bytes())
        .with_context(|| format!("failed to write `{}`", path.display()))?;
    printer.status(
        "Wrote",
        format!("`{}`", context.display_path(&path).display()),
    );
    Ok(Outcome::Success)
}
