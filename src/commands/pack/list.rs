use serde::Serialize;

use super::human_size;
use crate::Outcome;
use crate::context::Context;
use crate::printer::{Printer, Table};
use crate::registry::LocalRegistry;

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
    pub version: String,
    pub package_file: String,
    pub size: Option<u64>,
    pub created: Option<String>,
    pub sha256: Option<String>,
    pub signed: bool,
    pub state: PackageState,
}

/// `pack list`: every package and version in the local registry.
pub fn list(context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let registry = LocalRegistry::from_config(&context.config);
    let mut rows = Vec::new();
    let mut indexed = std::collections::BTreeSet::new();
    for module in registry.modules()? {
        for entry in module.versions.iter().rev() {
            indexed.insert(entry.package_file.clone());
            let path = registry.artifact_path(&entry.package_file);
            let signed = entry
                .signature
                .as_ref()
                .is_some_and(|signature| registry.artifact_path(signature).is_file());
            rows.push(PackageRow {
                module: module.name.clone(),
                version: entry.version.clone(),
                package_file: entry.package_file.clone(),
                size: Some(entry.size),
                created: Some(entry.created.clone()),
                sha256: Some(entry.sha256.clone()),
                signed,
                state: if path.is_file() {
                    PackageState::Ok
                } else {
                    PackageState::Missing
                },
            });
        }
    }
    for (module, version, file_name) in unindexed_artifacts(&registry, &indexed) {
        let path = registry.pack_path.join(&file_name);
        let bytes = fs_err::read(&path)?;
        rows.push(PackageRow {
            module,
            version,
            signed: registry
                .pack_path
                .join(format!("{file_name}.minisig"))
                .is_file(),
            package_file: file_name,
            size: Some(bytes.len() as u64),
            created: None,
            sha256: Some(crate::pack::sha256_hex(&bytes)),
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
                row.version.clone(),
                row.size.map_or_else(|| "-".into(), human_size),
                row.created.clone().unwrap_or_else(|| "-".into()),
                row.sha256
                    .as_ref()
                    .map_or_else(|| "-".into(), |sha| sha[..12].to_owned()),
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
    registry: &LocalRegistry,
    indexed: &std::collections::BTreeSet<String>,
) -> Vec<(String, String, String)> {
    let mut found: Vec<(String, String, String)> = std::fs::read_dir(&registry.pack_path)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let file_name = entry.file_name().to_str()?.to_owned();
            if indexed.contains(&file_name) {
                return None;
            }
            let stem = file_name.strip_suffix(".tar")?;
            let (module, version) = stem.rsplit_once('_')?;
            semver::Version::parse(version).ok()?;
            Some((module.to_owned(), version.to_owned(), file_name))
        })
        .collect();
    found.sort();
    found
}
