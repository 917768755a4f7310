//! What packing fails with, and the hint for a source that imports outside its module.

use super::check::{failures, tests_summary};
use crate::artifact::ArchiveError;
use crate::artifact::source::SourceError;
use crate::dependencies::{ModuleImports, declare_hint};
use crate::digest::Sha256;
use crate::names::PackRef;
use crate::nickel::NickelError;
use crate::registry::RegistryError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Nickel(#[from] NickelError),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(
        "`{}` {} is already packed with other contents (sha256 {existing}, now {new})\nhint: packed versions are immutable: bump the version, or pass `--force` to replace it",
        pack.module, pack.version
    )]
    Exists {
        pack: PackRef,
        existing: Sha256,
        new: Sha256,
    },
    #[error(transparent)]
    Signing(#[from] crate::signing::SigningError),
    #[error(transparent)]
    Provenance(#[from] crate::provenance::ProvenanceError),
    #[error("`{module}` is not self-contained: {escape}\nhint: {hint}")]
    NotSelfContained {
        module: crate::names::ModuleName,
        escape: crate::nickel::Escape,
        hint: String,
    },
    #[error("`{module}` is not hermetic: {undeclared}\nhint: {hint}")]
    Undeclared {
        module: crate::names::ModuleName,
        undeclared: crate::dependencies::Undeclared,
        hint: String,
    },
    #[error(transparent)]
    Dependency(#[from] crate::dependencies::DependencyError),
    #[error(
        "`{module}` has examples in its doc comments that fail ({})\n{}\nhint: fix them (`provisioning providers test <provider>` or `module-loader test <kind> <name>` runs them alone), or pass `--skip-tests` to pack anyway",
        tests_summary(report),
        failures(report)
    )]
    Tests {
        module: crate::names::ModuleName,
        report: crate::nickel::doctest::Report,
    },
    #[error("failed to write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The hint for an import that leaves the module: reaching another module by a relative path
/// is what a dependency is for.
pub fn escape_hint(imports: &ModuleImports, escape: &crate::nickel::Escape) -> String {
    let target = std::fs::canonicalize(&escape.target).unwrap_or(escape.target.clone());
    let reached = imports.owner(&target);
    match reached {
        Some(module) => format!(
            "it reaches the module `{module}`: import it by name (`import \"{module}/...\"`) and {}",
            declare_hint(module, imports.version(module))
        ),
        None => "a pack holds only the module's own files and its declared dependencies; move what it needs into the module".into(),
    }
}
