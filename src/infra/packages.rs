//! The package map of an infra: what `import upcloud_prov` reaches in its Nickel. Built from
//! the lock already read, so naming modules as packages reads no file more than the import
//! path does.
//!
//! - The infra's own files (and the generated ones) see every installed module of the Nickel
//!   layout by its module name: its link in `.nickel-modules/`, or its pack in `vendor/`, the
//!   same directory the import path reaches (`import "upcloud_prov/main.ncl"`), so both forms
//!   read the same files and export the same bytes.
//! - An installed module's `main.ncl`, imported as a package, sees only the modules that the
//!   lock records it requires (`required_by`): its declared dependencies, package-local as
//!   Nickel's map defines them.

use crate::context::Context;
use crate::infra::Infra;
use crate::infra::closure::installed_dir;
use crate::infra::lockfile::ProvidersLock;
use crate::module::Layout;
use crate::nickel::Packages;

/// The package map the infra's Nickel is evaluated with.
pub fn packages(context: &Context, infra: &Infra, lock: &ProvidersLock) -> Packages {
    let mut packages = Packages::default();
    let nickel = lock
        .providers
        .iter()
        .filter(|entry| entry.layout == Layout::Nickel);
    for entry in nickel {
        let dir = installed_dir(context, infra, entry);
        packages.add(entry.module.as_str(), &dir);
        for dependent in &entry.required_by {
            if let Some(requirer) = lock.module(dependent) {
                let requirer_dir = installed_dir(context, infra, requirer);
                packages.add_scoped(&requirer_dir, entry.module.as_str(), &dir);
            }
        }
    }
    packages
}
