//! Pack artifacts: deterministic tar archives of a module.
//!
//! An artifact `<module>_<version>.tar` holds every entry under `<module>/`: the module's files,
//! its `manifest.toml` carrying the packed version, and `export.json`, the Nickel export of its
//! entry point when its value serializes (a library of contracts and functions has none). It is **deterministic**: entries sorted by path, one fixed mtime, uid/gid 0,
//! empty user and group names, modes 0644 (0755 for directories and executables), no links,
//! devices, absolute or `..` paths. The same sources give the same bytes, whatever their mtimes.
//!
//! This module builds artifacts and hashes them; evaluating the module is [`crate::nickel`]'s
//! job, and recording them is [`crate::registry`]'s.

pub mod source;
pub mod unpack;
pub mod verify;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::digest::{ContentHash, Sha256};
use crate::names::{ModuleName, PackRef};

/// The mtime of every entry: 1980-01-01T00:00:00Z, the earliest a zip can hold, as reproducible
/// Python wheels use; non-zero, since some tools treat 0 as "unset".
pub const ARCHIVE_MTIME: u64 = 315_532_800;

/// The name of the Nickel export inside an artifact.
pub const EXPORT_FILE: &str = "export.json";

/// The file name of an artifact, `<module>_<version>.tar`: built and parsed here only. Versions
/// never hold `_` (semver allows `[0-9A-Za-z-.+]`), so the last `_` separates the two.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArtifactName(pub PackRef);

const ARTIFACT_SUFFIX: &str = ".tar";
const SIGNATURE_SUFFIX: &str = ".minisig";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not named `<module>_<version>.tar`")]
pub struct ArtifactNameError {
    text: String,
}

impl ArtifactName {
    pub fn new(pack: PackRef) -> Self {
        Self(pack)
    }

    pub fn pack(&self) -> &PackRef {
        &self.0
    }

    /// `<module>_<version>.tar.minisig`, the detached signature beside it.
    pub fn signature(&self) -> String {
        format!("{self}{SIGNATURE_SUFFIX}")
    }
}

impl FromStr for ArtifactName {
    type Err = ArtifactNameError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parsed = text
            .strip_suffix(ARTIFACT_SUFFIX)
            .and_then(|stem| stem.rsplit_once('_'))
            .and_then(|(module, version)| {
                Some(PackRef::new(
                    module.parse::<ModuleName>().ok()?,
                    semver::Version::parse(version).ok()?,
                ))
            });
        parsed.map(Self).ok_or_else(|| ArtifactNameError {
            text: text.to_owned(),
        })
    }
}

impl fmt::Display for ArtifactName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}{ARTIFACT_SUFFIX}", self.0.module, self.0.version)
    }
}

crate::digest::serde_as_text!(ArtifactName);

/// One regular file of an artifact, its path relative to the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactFile {
    pub path: String,
    pub contents: Vec<u8>,
    pub executable: bool,
}

/// A built artifact, in memory.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub pack: PackRef,
    pub bytes: Vec<u8>,
    /// The SHA-256 of `bytes`.
    pub sha256: Sha256,
    /// The `h1:` hash of the files inside (see [`ContentHash::of_files`]).
    pub content_hash: ContentHash,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("failed to build the archive of `{module}`")]
    Build {
        module: ModuleName,
        #[source]
        source: std::io::Error,
    },
}

/// Builds the artifact of `pack` from its files (which must not hold `export.json`; `export`,
/// when the module's value serializes, is added as it: a library has none).
pub fn build(
    pack: &PackRef,
    files: &[ArtifactFile],
    export: Option<&str>,
) -> Result<Artifact, ArchiveError> {
    let module = &pack.module;
    let export_file = export.map(|export| ArtifactFile {
        path: EXPORT_FILE.to_owned(),
        contents: export.as_bytes().to_vec(),
        executable: false,
    });
    let mut all: Vec<&ArtifactFile> = files.iter().chain(export_file.as_ref()).collect();
    all.sort_by(|a, b| a.path.cmp(&b.path));

    let entries = entries(module, &all);
    let error = |source| ArchiveError::Build {
        module: module.clone(),
        source,
    };
    let mut builder = tar::Builder::new(Vec::new());
    for (path, file) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(ARCHIVE_MTIME);
        header.set_uid(0);
        header.set_gid(0);
        header.set_username("").map_err(error)?;
        header.set_groupname("").map_err(error)?;
        match file {
            None => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                builder
                    .append_data(&mut header, &path, std::io::empty())
                    .map_err(error)?;
            }
            Some(file) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(if file.executable { 0o755 } else { 0o644 });
                header.set_size(file.contents.len() as u64);
                builder
                    .append_data(&mut header, &path, file.contents.as_slice())
                    .map_err(error)?;
            }
        }
    }
    let bytes = builder.into_inner().map_err(error)?;
    let named: Vec<(String, &[u8])> = all
        .iter()
        .map(|file| (format!("{module}/{}", file.path), file.contents.as_slice()))
        .collect();
    Ok(Artifact {
        pack: pack.clone(),
        sha256: Sha256::of(&bytes),
        content_hash: ContentHash::of_files(
            named
                .iter()
                .map(|(name, contents)| (name.as_str(), *contents)),
        ),
        bytes,
    })
}

/// Every entry of the archive, sorted by path: the module root, every parent directory of a
/// file (each once), and the files.
fn entries<'a>(
    module: &ModuleName,
    files: &[&'a ArtifactFile],
) -> Vec<(String, Option<&'a ArtifactFile>)> {
    // Directories: the module root and every parent of a file, each once.
    let mut dirs = std::collections::BTreeSet::new();
    dirs.insert(String::new());
    for file in files {
        let mut parent = std::path::Path::new(&file.path).parent();
        while let Some(dir) = parent.filter(|d| !d.as_os_str().is_empty()) {
            dirs.insert(dir.to_string_lossy().into_owned());
            parent = dir.parent();
        }
    }
    let mut entries: Vec<(String, Option<&ArtifactFile>)> = dirs
        .into_iter()
        .map(|dir| {
            let path = if dir.is_empty() {
                format!("{module}/")
            } else {
                format!("{module}/{dir}/")
            };
            (path, None)
        })
        .chain(
            files
                .iter()
                .map(|file| (format!("{module}/{}", file.path), Some(*file))),
        )
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));

    entries
}

/// Where artifacts of a run go: the configured packages directory, or `--output`.
#[derive(Debug, Clone)]
pub struct Destination {
    pub dir: PathBuf,
    /// Whether the registry metadata is updated (not for `--output`: an export elsewhere does not
    /// change the registry).
    pub index: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_names_round_trip() {
        let name: ArtifactName = "aws_prov_1.2.0-rc.1+b.tar".parse().expect("valid");
        assert_eq!(name.pack().module.as_str(), "aws_prov");
        assert_eq!(name.to_string(), "aws_prov_1.2.0-rc.1+b.tar");
        assert_eq!(name.signature(), "aws_prov_1.2.0-rc.1+b.tar.minisig");
        for bad in [
            "aws_prov.tar",
            "aws_prov_1.0.tar",
            "x_1.0.0.tgz",
            "../x_1.0.0.tar",
            "_1.0.0.tar",
        ] {
            assert!(bad.parse::<ArtifactName>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn archives_are_deterministic_and_normalised() {
        let files = vec![
            ArtifactFile {
                path: "main.ncl".into(),
                contents: b"{}".to_vec(),
                executable: false,
            },
            ArtifactFile {
                path: "lib/x.ncl".into(),
                contents: b"1".to_vec(),
                executable: true,
            },
        ];
        let pack: PackRef = "m_prov@1.2.3".parse().expect("valid");
        let one = build(&pack, &files, Some("{}")).expect("builds");
        let mut reversed = files.clone();
        reversed.reverse();
        let two = build(&pack, &reversed, Some("{}")).expect("builds");
        assert_eq!(one.bytes, two.bytes);
        let mut archive = tar::Archive::new(one.bytes.as_slice());
        let listing: Vec<String> = archive
            .entries()
            .expect("entries")
            .map(|entry| {
                let entry = entry.expect("entry");
                let header = entry.header();
                format!(
                    "{} {:o} {} {} {}",
                    entry.path().expect("path").display(),
                    header.mode().expect("mode"),
                    header.mtime().expect("mtime"),
                    header.uid().expect("uid"),
                    header.username().expect("name").unwrap_or("-"),
                )
            })
            .collect();
        assert_eq!(
            listing,
            [
                "m_prov/ 755 315532800 0 ",
                "m_prov/export.json 644 315532800 0 ",
                "m_prov/lib/ 755 315532800 0 ",
                "m_prov/lib/x.ncl 755 315532800 0 ",
                "m_prov/main.ncl 644 315532800 0 ",
            ]
        );
    }
}
