//! Pack artifacts: deterministic tar archives of a module.
//!
//! An artifact `<module>_<version>.tar` holds every entry under `<module>/`: the module's files,
//! its `manifest.toml` carrying the packed version, and `export.json`, the Nickel export of its
//! entry point. It is **deterministic**: entries sorted by path, one fixed mtime, uid/gid 0,
//! empty user and group names, modes 0644 (0755 for directories and executables), no links,
//! devices, absolute or `..` paths. The same sources give the same bytes, whatever their mtimes.
//!
//! This module builds artifacts and hashes them; evaluating the module is [`crate::nickel`]'s
//! job, and recording them is [`crate::registry`]'s.

pub mod local;
pub mod source;
pub mod unpack;
pub mod verify;

use std::path::PathBuf;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// The mtime of every entry: 1980-01-01T00:00:00Z, the earliest a zip can hold, as reproducible
/// Python wheels use; non-zero, since some tools treat 0 as "unset".
pub const ARCHIVE_MTIME: u64 = 315_532_800;

/// The name of the Nickel export inside an artifact.
pub const EXPORT_FILE: &str = "export.json";

/// `<module>_<version>.tar`.
pub fn artifact_file_name(module: &str, version: &semver::Version) -> String {
    format!("{module}_{version}.tar")
}

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
    pub module: String,
    pub version: semver::Version,
    pub bytes: Vec<u8>,
    /// Hex SHA-256 of `bytes`.
    pub sha256: String,
    /// The `h1:` hash of the files inside (see [`content_hash`]).
    pub content_hash: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("failed to build the archive of `{module}`")]
    Build {
        module: String,
        #[source]
        source: std::io::Error,
    },
}

/// Builds the artifact of `module` at `version` from its files (which must not hold
/// `export.json`; `export` is added as it).
pub fn build(
    module: &str,
    version: &semver::Version,
    files: &[ArtifactFile],
    export: &str,
) -> Result<Artifact, ArchiveError> {
    let export_file = ArtifactFile {
        path: EXPORT_FILE.to_owned(),
        contents: export.as_bytes().to_vec(),
        executable: false,
    };
    let mut all: Vec<&ArtifactFile> = files.iter().chain(std::iter::once(&export_file)).collect();
    all.sort_by(|a, b| a.path.cmp(&b.path));

    // Directories: the module root and every parent of a file, each once.
    let mut dirs = std::collections::BTreeSet::new();
    dirs.insert(String::new());
    for file in &all {
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
            all.iter()
                .map(|file| (format!("{module}/{}", file.path), Some(*file))),
        )
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));

    let error = |source| ArchiveError::Build {
        module: module.to_owned(),
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
        module: module.to_owned(),
        version: version.clone(),
        sha256: sha256_hex(&bytes),
        content_hash: content_hash(
            named
                .iter()
                .map(|(name, contents)| (name.as_str(), *contents)),
        ),
        bytes,
    })
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

/// The content hash of a set of files, by Go's `dirhash.Hash1` recipe: for each file, sorted by
/// name, the line `<hex sha256 of its contents>  <name>\n`; the SHA-256 of those lines,
/// base64-encoded, prefixed with `h1:`. Names are the paths inside the archive
/// (`upcloud_prov/main.ncl`). It identifies the files whatever the archive format around them.
pub fn content_hash<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    hash_summary(&summary(files))
}

/// The lines [`content_hash`] hashes: `<hex sha256>  <name>\n` for each file, sorted by name.
/// Kept beside a vendored module, they say which file changed.
pub fn summary<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut files: Vec<(&str, &[u8])> = files.into_iter().collect();
    files.sort_by(|a, b| a.0.cmp(b.0));
    files
        .into_iter()
        .map(|(name, contents)| format!("{}  {name}\n", sha256_hex(contents)))
        .collect()
}

/// The `h1:` hash of a [`summary`].
pub fn hash_summary(summary: &str) -> String {
    format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(summary.as_bytes()))
    )
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
    fn content_hash_follows_gos_dirhash() {
        // Go: dirhash.Hash1([]string{"a/x", "a/y"}, open) with x = "hello\n", y = "" gives this.
        let hash = content_hash([("a/y", b"".as_slice()), ("a/x", b"hello\n".as_slice())]);
        let expected_summary = format!(
            "{}  a/x\n{}  a/y\n",
            sha256_hex(b"hello\n"),
            sha256_hex(b"")
        );
        let expected = format!(
            "h1:{}",
            base64::engine::general_purpose::STANDARD
                .encode(Sha256::digest(expected_summary.as_bytes()))
        );
        assert_eq!(hash, expected);
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
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
        let version = semver::Version::new(1, 2, 3);
        let one = build("m_prov", &version, &files, "{}").expect("builds");
        let mut reversed = files.clone();
        reversed.reverse();
        let two = build("m_prov", &version, &reversed, "{}").expect("builds");
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
