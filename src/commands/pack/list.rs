use serde::Serialize;

use crate::Outcome;
use crate::context::Context;
use crate::digest::Sha256;
use crate::pack::ArtifactName;
use crate::printer::{Printer, Table};
use crate::registry::DirectoryRegistry;

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PackageState {
    /// In the metadata and on disk.
    Ok,
    /// In the metadata, but the artifact is gone.
    Missing,
    /// On disk, but in no metadata (packed with `--output` and copied in, or left by a crash).
    Unindexed,
}

#[derive(Debug, Serialize)]
pub struct PackageRow {
    pub module: String,
    pub version: semver::Version,
    pub package_file: ArtifactName,
    pub size: Option<u64>,
    pub created: Option<String>,
    pub sha256: Option<Sha256>,
    pub signed: bool,
    pub state: PackageState,
}

/// `pack list`: every package and version in the local registry.
pub fn list(context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let registry = DirectoryRegistry::from_config(&context.config);
    let mut rows = Vec::new();
    let mut indexed = std::collections::BTreeSet::new();
    for module in registry.all()? {
        for entry in module.versions.iter().rev() {
            indexed.insert(entry.package_file.clone());
            let path = registry.artifact_path(&entry.package_file.to_string());
            let signed = entry
                .signature
                .as_ref()
                .is_some_and(|signature| registry.artifact_path(signature).is_file());
            rows.push(PackageRow {
                module: module.name.to_string(),
                version: entry.version.clone(),
                package_file: entry.package_file.clone(),
                size: Some(entry.size),
                created: Some(entry.created.clone()),
                sha256: Some(entry.sha256),
                signed,
                state: if path.is_file() {
                    PackageState::Ok
                } else {
                    PackageState::Missing
                },
            });
        }
    }
    for file_name in unindexed_artifacts(&registry, &indexed) {
        let path = registry.artifact_path(&file_name.to_string());
        let bytes = crate::fs::read_regular(&path)?;
        rows.push(PackageRow {
            module: file_name.pack().module.to_string(),
            version: file_name.pack().version.clone(),
            signed: registry.artifact_path(&file_name.signature()).is_file(),
            package_file: file_name,
            size: Some(bytes.len() as u64),
            created: None,
            sha256: Some(Sha256::of(&bytes)),
            state: PackageState::Unindexed,
        });
    }
    printer.data(&rows, || {
        let mut table = Table::new([
            "MODULE", "VERSION", "SIZE", "CREATED", "SHA256", "SIGNED", "STATE",
        ])
        .when_empty(&format!(
            "no packages in `{}`",
            context.display_path(&registry.pack_path).display()
        ));
        for row in &rows {
            table.row([
                row.module.clone(),
                row.version.to_string(),
                row.size.map_or_else(
                    || "-".into(),
                    |size| indicatif::HumanBytes(size).to_string(),
                ),
                row.created.clone().unwrap_or_else(|| "-".into()),
                row.sha256.map_or_else(|| "-".into(), |sha| sha.short()),
                if row.signed { "yes" } else { "no" }.into(),
                match row.state {
                    PackageState::Ok => "ok",
                    PackageState::Missing => "missing",
                    PackageState::Unindexed => "unindexed",
                }
                .into(),
            ]);
        }
        table
    })?;
    Ok(Outcome::Success)
}

/// Artifacts `<module>_<version>.tar` in the packages directory that no metadata names.
fn unindexed_artifacts(
    registry: &DirectoryRegistry,
    indexed: &std::collections::BTreeSet<ArtifactName>,
) -> Vec<ArtifactName> {
    let mut found: Vec<ArtifactName> = std::fs::read_dir(&registry.pack_path)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .filter(|name| !indexed.contains(name))
        .collect();
    found.sort();
    found
}
