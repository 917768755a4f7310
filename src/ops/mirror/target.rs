//! Where a mirror is written: a directory made a registry in the `distribution/` layout
//! (`packages/`, `registry/`, `index.json` and the web pages, as `pack index` writes them), or
//! an OCI namespace (as `pack publish` pushes).

use std::collections::BTreeMap;

use anyhow::Context as _;

use super::Copy;
use crate::config::Metadata;
use crate::fs::dir_lock::DirLock;
use crate::names::{ModuleName, PackRef};
use crate::printer::Printer;
use crate::registry::oci::{OciRegistry, Publication, Published};
use crate::registry::{DirectoryRegistry, ModuleMetadata, Registry, VersionEntry};

/// The mirror.
pub enum Target {
    Directory(DirectoryRegistry),
    Oci(Box<OciRegistry>),
}

impl Target {
    pub fn label(&self) -> String {
        self.registry().label()
    }

    pub(super) fn registry(&self) -> &dyn Registry {
        match self {
            Target::Directory(directory) => directory,
            Target::Oci(oci) => oci.as_ref(),
        }
    }

    /// A directory's lock, held from the first read of what it holds to the last write.
    pub(super) fn lock(&self, printer: &Printer) -> anyhow::Result<Option<DirLock>> {
        match self {
            Target::Directory(directory) => {
                let lock = directory.lock(printer).with_context(|| {
                    format!(
                        "failed to lock the mirror `{}`",
                        directory.registry_path.display()
                    )
                })?;
                Ok(Some(lock))
            }
            Target::Oci(_) => Ok(None),
        }
    }

    /// Writes `copies` and the yank states of `yanks`; the packs that could not be written,
    /// each with why (an error is what stops a directory's writing altogether).
    pub(super) fn write(
        &self,
        copies: &[Copy],
        yanks: &[(PackRef, VersionEntry)],
        source: &dyn Registry,
        tuf: Option<&crate::tuf::publish::Publisher>,
    ) -> anyhow::Result<Vec<(PackRef, String)>> {
        match self {
            Target::Directory(directory) => {
                write_directory(directory, copies, yanks, source, tuf)?;
                Ok(Vec::new())
            }
            Target::Oci(oci) => Ok(write_oci(oci, copies, yanks, source)),
        }
    }
}

/// The module's descriptive fields (maintainer, license...) as the source records them, else
/// none: a mirror does not claim a maintainer it does not know.
fn descriptive(source: &dyn Registry, module: &ModuleName) -> Metadata {
    match source.record(module) {
        Ok(Some(record)) => fields(&record),
        _ => Metadata {
            maintainer: String::new(),
            repository: String::new(),
            license: String::new(),
            homepage: String::new(),
        },
    }
}

/// The descriptive fields `record` holds.
fn fields(record: &ModuleMetadata) -> Metadata {
    Metadata {
        maintainer: record.maintainer.clone(),
        repository: record.repository.clone(),
        license: record.license.clone(),
        homepage: record.homepage.clone(),
    }
}

/// Every file of each copy (the artifact, its signature and provenance), then each module's
/// record, then `index.json` and the pages: a record never names a file not there yet.
fn write_directory(
    directory: &DirectoryRegistry,
    copies: &[Copy],
    yanks: &[(PackRef, VersionEntry)],
    source: &dyn Registry,
    tuf: Option<&crate::tuf::publish::Publisher>,
) -> anyhow::Result<()> {
    directory.remove_debris()?;
    if copies.is_empty() && yanks.is_empty() {
        return Ok(());
    }
    crate::fs::create_dir_all(&directory.pack_path)?;
    for copy in copies {
        let artifact = directory.artifact_path(&copy.entry.package_file.to_string());
        crate::fs::atomic_write(&artifact, &copy.bytes)?;
        if let (Some(name), Some(text)) = (&copy.entry.signature, &copy.signature) {
            crate::fs::atomic_write(&directory.artifact_path(name), text.as_bytes())?;
        }
        if let (Some(name), Some(bytes)) = (&copy.entry.provenance, &copy.provenance) {
            crate::fs::atomic_write(&directory.artifact_path(name), bytes)?;
        }
    }
    let mut by_module: BTreeMap<&ModuleName, Vec<(&VersionEntry, crate::module::ModuleKind)>> =
        BTreeMap::new();
    for copy in copies {
        by_module
            .entry(&copy.pack.module)
            .or_default()
            .push((&copy.entry, copy.kind));
    }
    for (pack, entry) in yanks {
        let kind = crate::module::ModuleKind::of(&pack.module);
        by_module
            .entry(&pack.module)
            .or_default()
            .push((entry, kind));
    }
    for (module, entries) in by_module {
        let mut record = match directory.read(module)? {
            Some(record) => record,
            None => fresh_record(module, entries[0].1, source),
        };
        let fields = fields(&record);
        for (entry, _) in entries {
            record.upsert(entry.clone(), &fields);
        }
        directory
            .write(&record)
            .with_context(|| format!("failed to write the record of `{module}` in the mirror"))?;
    }
    crate::registry::site::write(directory, None, tuf)
        .context("failed to write the mirror's index and pages")?;
    Ok(())
}

/// The record of a module new to the mirror: the source's, without its versions.
fn fresh_record(
    module: &ModuleName,
    kind: crate::module::ModuleKind,
    source: &dyn Registry,
) -> ModuleMetadata {
    match source.record(module) {
        Ok(Some(mut record)) => {
            record.versions.clear();
            record
        }
        _ => {
            ModuleMetadata::new(module.clone(), &descriptive(source, module)).with_kind(kind, None)
        }
    }
}

/// Pushes `copies` as `pack publish` does, then the yank states; the packs that failed.
fn write_oci(
    oci: &OciRegistry,
    copies: &[Copy],
    yanks: &[(PackRef, VersionEntry)],
    source: &dyn Registry,
) -> Vec<(PackRef, String)> {
    let publications: Vec<Publication> = copies
        .iter()
        .map(|copy| {
            let mut publication = Publication::new(
                copy.pack.clone(),
                copy.entry.clone(),
                copy.bytes.clone(),
                copy.signature.clone(),
                &descriptive(source, &copy.pack.module),
            );
            publication.provenance = copy.provenance.clone();
            publication
        })
        .collect();
    let mut failed = Vec::new();
    for (copy, result) in copies.iter().zip(oci.publish(&publications, &|| {})) {
        match result {
            Ok(Published::Pushed | Published::SignatureAdded | Published::Unchanged) => {}
            Ok(Published::SignedByAnother(_)) => failed.push((
                copy.pack.clone(),
                format!(
                    "`{}` holds the same bytes signed by another key: its signature was kept",
                    oci.label()
                ),
            )),
            Err(error) => failed.push((copy.pack.clone(), error.to_string())),
        }
    }
    let yanked = copies
        .iter()
        .filter(|copy| copy.entry.yanked)
        .map(|copy| (&copy.pack, &copy.entry))
        .chain(yanks.iter().map(|(pack, entry)| (pack, entry)));
    for (pack, entry) in yanked {
        if failed.iter().any(|(failed, _)| failed == pack) {
            continue;
        }
        if let Err(error) = oci.set_yanked(pack, entry.yanked, entry.yank_reason.as_deref()) {
            failed.push((pack.clone(), error.to_string()));
        }
    }
    failed
}
