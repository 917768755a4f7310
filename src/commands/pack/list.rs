use serde::Serialize;

use crate::Outcome;
use crate::artifact::ArtifactName;
use crate::context::Context;
use crate::digest::Sha256;
use crate::module::ModuleKind;
use crate::printer::{Printer, Table};
use crate::registry::DirectoryRegistry;
use crate::registry::directory::ArtifactFile;

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PackageState {
    /// In the metadata and on disk.
    Ok,
    /// In the metadata, but the artifact is gone.
    Missing,
    /// On disk, but in no metadata (packed with `--output` and copied in, or left by a crash).
    Unindexed,
    /// On disk and in the metadata, but the bytes or the signature are not what the metadata
    /// records (a torn write, or an edit by hand).
    Mismatch,
}

#[derive(Debug, Serialize)]
pub struct PackageRow {
    pub module: String,
    /// Always written, a provider's too: a tool reading the list should not have to know a
    /// default.
    pub kind: ModuleKind,
    pub version: semver::Version,
    pub package_file: ArtifactName,
    pub size: Option<u64>,
    pub created: Option<String>,
    pub sha256: Option<Sha256>,
    pub signed: bool,
    /// Withdrawn from resolution (`pack yank`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub yanked: bool,
    pub state: PackageState,
    /// What does not match, for `mismatch`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
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
            let problem = if path.is_file() {
                mismatch(&registry, entry)?
            } else {
                None
            };
            rows.push(PackageRow {
                module: module.name.to_string(),
                kind: module.module_kind(),
                version: entry.version.clone(),
                package_file: entry.package_file.clone(),
                size: Some(entry.size),
                created: Some(entry.created.clone()),
                sha256: Some(entry.sha256),
                signed,
                yanked: entry.yanked,
                state: match (path.is_file(), &problem) {
                    (false, _) => PackageState::Missing,
                    (true, Some(_)) => PackageState::Mismatch,
                    (true, None) => PackageState::Ok,
                },
                problem,
            });
        }
    }
    let (unindexed, strays) = unindexed_artifacts(&registry, &indexed);
    for file_name in unindexed {
        let path = registry.artifact_path(&file_name.to_string());
        let bytes = crate::fs::read(&path, crate::fs::FileKind::Artifact)?;
        rows.push(PackageRow {
            module: file_name.pack().module.to_string(),
            kind: ModuleKind::of(&file_name.pack().module),
            version: file_name.pack().version.clone(),
            signed: registry.artifact_path(&file_name.signature()).is_file(),
            package_file: file_name,
            size: Some(bytes.len() as u64),
            created: None,
            sha256: Some(Sha256::of(&bytes)),
            yanked: false,
            state: PackageState::Unindexed,
            problem: None,
        });
    }
    // Listed under their kind: providers, then the core, taskservs, clusters.
    rows.sort_by_key(|row| row.kind);
    let empty = format!(
        "no packages in `{}`",
        context.display_path(&registry.pack_path).display()
    );
    printer.data(&rows, || table(&rows, &empty))?;
    for (path, what) in strays {
        printer.warning(format!(
            "`{}` is {what}, not an artifact, so it is not listed\nhint: move it out of the packages directory",
            context.display_path(&path).display()
        ));
    }
    for row in &rows {
        if let Some(problem) = &row.problem {
            printer.warning(format!(
                "`{}` {}: {problem}\nhint: pack it again with `--force` to make the three agree, or `pack clean --force` it",
                row.module, row.version
            ));
        }
    }
    Ok(Outcome::Success)
}

/// The rows as `pack list` prints them; `empty` when there are none.
fn table(rows: &[PackageRow], empty: &str) -> Table {
    let mut table = Table::new([
        "MODULE", "KIND", "VERSION", "SIZE", "CREATED", "SHA256", "SIGNED", "STATE",
    ])
    .when_empty(empty);
    for row in rows {
        table.row([
            row.module.clone(),
            row.kind.as_str().into(),
            if row.yanked {
                format!("{} (yanked)", row.version)
            } else {
                row.version.to_string()
            },
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
                PackageState::Mismatch => "MISMATCH",
            }
            .into(),
        ]);
    }
    table
}

/// What differs between a recorded version and its files: the artifact's size or sha256, or a
/// signature the metadata records that is missing or made for other bytes.
fn mismatch(
    registry: &DirectoryRegistry,
    entry: &crate::registry::VersionEntry,
) -> anyhow::Result<Option<String>> {
    let bytes = crate::fs::read(
        &registry.artifact_path(&entry.package_file.to_string()),
        crate::fs::FileKind::Artifact,
    )?;
    let sha256 = Sha256::of(&bytes);
    if sha256 != entry.sha256 {
        return Ok(Some(format!(
            "the artifact has sha256 {}, the metadata records {}",
            sha256.short(),
            entry.sha256.short()
        )));
    }
    let Some(signature) = &entry.signature else {
        return Ok(None);
    };
    let path = registry.artifact_path(signature);
    let text = match crate::fs::read(&path, crate::fs::FileKind::Signature) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Some(format!("the signature `{signature}` is missing")));
        }
        Err(error) => return Err(error.into()),
    };
    // Whose key it is, `pack verify` checks; here, only that it was made for these bytes.
    let comment = text.lines().nth(2).unwrap_or_default();
    Ok((!comment.ends_with(&format!(" sha256={sha256}")))
        .then(|| format!("the signature `{signature}` was not made for these bytes")))
}

/// Artifacts `<module>_<version>.tar` in the packages directory that no metadata names, and
/// the entries no metadata names that are named like one but are not artifacts (a directory, a
/// link to one), with what each is: those are said, not read.
fn unindexed_artifacts(
    registry: &DirectoryRegistry,
    indexed: &std::collections::BTreeSet<ArtifactName>,
) -> (Vec<ArtifactName>, Vec<(std::path::PathBuf, &'static str)>) {
    let mut artifacts = Vec::new();
    let mut strays = Vec::new();
    for (name, file) in registry.artifact_entries() {
        // A recorded version's row says `missing` when its artifact is not a file.
        if indexed.contains(&name) {
            continue;
        }
        match file {
            ArtifactFile::Other(what) => {
                strays.push((registry.artifact_path(&name.to_string()), what));
            }
            _ => artifacts.push(name),
        }
    }
    (artifacts, strays)
}
