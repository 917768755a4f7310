//! The `Nickel-pkg.ncl` every pack carries: the module described as Nickel's package manager
//! describes a package, so a vendored infra is a tree that a package-enabled `nickel` evaluates
//! offline. Generated from the module's manifest (name, version, description, dependencies)
//! and the registry's metadata (the maintainer as the author, the license); each dependency is
//! a `'Path` to its sibling directory (`../provisioning_core`), where an infra's `vendor/` has
//! it. Checked before it is packed by evaluating it with `std.package.Manifest` applied, in the
//! pack's own (bounded) evaluator.

use std::collections::BTreeMap;

use super::{PackError, PackInput, Packer};
use crate::artifact::ArtifactFile;
use crate::module::{NICKEL_PKG_FILE, NickelPackage};
use crate::nickel::{Evaluator, Format, Output};

/// Who wrote the file, as its first line says.
const GENERATED_BY: &str =
    "`provisioning pack` from the module's `manifest.toml` and the registry's metadata";

impl Packer<'_> {
    /// The pack's `Nickel-pkg.ncl`, checked against `std.package.Manifest`. It replaces one the
    /// module's source has: the pack's dependencies are its siblings in `vendor/`, not the
    /// source's paths.
    pub(super) fn nickel_pkg(
        &self,
        evaluator: &mut Evaluator,
        input: &PackInput,
        files: &[ArtifactFile],
    ) -> Result<ArtifactFile, PackError> {
        let description = described(input, files);
        let maintainer = self.metadata.maintainer.trim();
        let package = NickelPackage {
            name: input.pack.module.to_string(),
            version: input.pack.version.clone(),
            authors: (!maintainer.is_empty())
                .then(|| maintainer.to_owned())
                .into_iter()
                .collect(),
            description,
            license: self.metadata.license.trim().to_owned(),
            dependencies: input
                .dependencies
                .keys()
                .map(|dependency| (dependency.to_string(), format!("../{dependency}")))
                .collect::<BTreeMap<_, _>>(),
        };
        let text = package.render(GENERATED_BY);
        // Checked where the evaluator can read it: the pack's private import directory.
        let check = self.imports.dir.join(format!(
            ".{}_{}.{NICKEL_PKG_FILE}",
            input.pack.module, input.pack.version
        ));
        crate::fs::atomic_write_unsynced(&check, text.as_bytes()).map_err(|source| {
            PackError::Write {
                path: check.clone(),
                source,
            }
        })?;
        let checked = evaluator.evaluate(&check, &Output::of(Format::Evaluated));
        let _ = crate::fs::remove_file_if_exists(&check);
        checked?;
        Ok(ArtifactFile {
            path: NICKEL_PKG_FILE.to_owned(),
            contents: text.into_bytes(),
            executable: false,
        })
    }
}

/// The description in the `manifest.toml` a pack carries (written from `Nickel-pkg.ncl` for a
/// module described by it alone); empty when it has none.
pub(super) fn described(input: &PackInput, files: &[ArtifactFile]) -> String {
    files
        .iter()
        .find(|file| file.path == "manifest.toml")
        .and_then(|file| std::str::from_utf8(&file.contents).ok())
        .and_then(|text| crate::module::parse_package_manifest(text, &input.package_dir).ok())
        .map(|manifest| manifest.description)
        .unwrap_or_default()
}
