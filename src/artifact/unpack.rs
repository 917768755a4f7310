//! Reading an artifact as hostile input. Every entry is checked before anything touches the
//! disk: absolute paths, `..`, symlinks, hardlinks, devices, FIFOs, entries outside
//! `<module>/`, duplicates, more entries or more bytes than the configured limits (a tar bomb),
//! and a truncated or corrupt archive are each refused with their own error. What passes is
//! returned in memory, to be written by [`write_files`] into a fresh directory.

use std::io::Read as _;
use std::path::Path;

use super::ArtifactFile;
use crate::digest::ContentHash;
use crate::names::ModuleName;

/// Bounds on what one artifact may unpack to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_entries: u64,
    pub max_bytes: u64,
}

impl Limits {
    /// `distribution.unpack_max_entries` and `distribution.unpack_max_bytes`.
    pub fn from_config(distribution: &crate::config::Distribution) -> Self {
        Self {
            max_entries: distribution.unpack_max_entries,
            max_bytes: distribution.unpack_max_bytes,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("the archive is truncated or corrupt: {message}")]
    Corrupt { message: String },
    #[error("the archive holds an absolute path `{entry}`")]
    AbsolutePath { entry: String },
    #[error("the archive holds a path with `..`: `{entry}`")]
    ParentDir { entry: String },
    #[error("the archive holds a {kind} `{entry}`; packs hold regular files only")]
    Link { entry: String, kind: &'static str },
    #[error("the archive holds a {kind} `{entry}`; packs hold regular files only")]
    Special { entry: String, kind: &'static str },
    #[error("the archive holds `{entry}`, outside `{module}/`")]
    OutsideModule { entry: String, module: String },
    #[error("the archive holds `{entry}` twice")]
    Duplicate { entry: String },
    #[error("the archive holds `{entry}` both as a file and as a directory")]
    FileAndDirectory { entry: String },
    #[error("the archive holds more than {limit} entries (`distribution.unpack_max_entries`)")]
    TooManyEntries { limit: u64 },
    #[error("the archive unpacks to more than {limit} bytes (`distribution.unpack_max_bytes`)")]
    TooLarge { limit: u64 },
    #[error(
        "the archive holds an entry whose name is not UTF-8 or holds a backslash or newline: `{entry}`"
    )]
    BadName { entry: String },
    #[error(
        "the archive holds `{entry}`, whose name is too long (at most {max_name} bytes a component, {max_path} in all)"
    )]
    TooLong {
        entry: String,
        max_name: usize,
        max_path: usize,
    },
}

/// The longest file name (one path component) and path an entry may have: what Linux and macOS
/// filesystems hold, so that what `pack verify` passes, `install` can write.
const MAX_NAME: usize = 255;
const MAX_PATH: usize = 1024;

/// The regular files of `module`'s artifact, paths relative to `<module>/`, checked.
pub fn read_artifact(
    bytes: &[u8],
    module: &ModuleName,
    limits: &Limits,
) -> Result<Vec<ArtifactFile>, UnpackError> {
    let corrupt = |error: std::io::Error| UnpackError::Corrupt {
        message: error.to_string(),
    };
    let mut archive = tar::Archive::new(bytes);
    let mut files = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut count = 0u64;
    let mut total = 0u64;
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        count += 1;
        if count > limits.max_entries {
            return Err(UnpackError::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let relative = entry_path(&raw, &name, module)?;
        if check_kind(entry.header().entry_type(), &name)? == Kind::Directory {
            if !seen.insert(format!("{relative}/")) {
                return Err(UnpackError::Duplicate { entry: name });
            }
            continue;
        }
        if relative.is_empty() {
            return Err(UnpackError::OutsideModule {
                entry: name,
                module: module.to_string(),
            });
        }
        if !seen.insert(relative.clone()) {
            return Err(UnpackError::Duplicate { entry: name });
        }
        let size = entry.header().size().map_err(corrupt)?;
        total = total.saturating_add(size);
        if total > limits.max_bytes {
            return Err(UnpackError::TooLarge {
                limit: limits.max_bytes,
            });
        }
        let mut contents = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        entry.read_to_end(&mut contents).map_err(corrupt)?;
        if contents.len() as u64 != size {
            return Err(UnpackError::Corrupt {
                message: format!("`{name}` is cut short"),
            });
        }
        let executable = entry.header().mode().map_err(corrupt)? & 0o111 != 0;
        files.push(ArtifactFile {
            path: relative,
            contents,
            executable,
        });
    }
    refuse_collisions(&files, &seen, module)?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The path of an entry inside `<module>/`, checked: UTF-8 without `\\` or newlines, relative,
/// no `..`, not longer than a filesystem holds, under the module's own directory.
fn entry_path(raw: &[u8], name: &str, module: &ModuleName) -> Result<String, UnpackError> {
    let Ok(path) = std::str::from_utf8(raw) else {
        return Err(UnpackError::BadName {
            entry: name.to_owned(),
        });
    };
    if path.contains(['\\', '\n']) {
        return Err(UnpackError::BadName {
            entry: name.to_owned(),
        });
    }
    if path.starts_with('/') {
        return Err(UnpackError::AbsolutePath {
            entry: name.to_owned(),
        });
    }
    let parts: Vec<&str> = path
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(UnpackError::ParentDir {
            entry: name.to_owned(),
        });
    }
    // What no filesystem can hold would pass here and fail on install with an OS error.
    if path.len() > MAX_PATH || parts.iter().any(|part| part.len() > MAX_NAME) {
        return Err(UnpackError::TooLong {
            entry: name.to_owned(),
            max_name: MAX_NAME,
            max_path: MAX_PATH,
        });
    }
    if parts.first() != Some(&module.as_str()) {
        return Err(UnpackError::OutsideModule {
            entry: name.to_owned(),
            module: module.to_string(),
        });
    }
    Ok(parts[1..].join("/"))
}

/// A file and a directory of one name would collide on disk: an explicit directory entry `x/`
/// (in `directories`, with its slash), or a file `x` beside a file `x/y` (whose parent `x` must
/// be a directory).
fn refuse_collisions(
    files: &[ArtifactFile],
    directories: &std::collections::BTreeSet<String>,
    module: &ModuleName,
) -> Result<(), UnpackError> {
    let file_paths: std::collections::BTreeSet<&str> =
        files.iter().map(|file| file.path.as_str()).collect();
    for file in files {
        let parent_is_a_file = std::path::Path::new(&file.path)
            .ancestors()
            .skip(1)
            .filter_map(|parent| parent.to_str())
            .any(|parent| file_paths.contains(parent));
        if directories.contains(&format!("{}/", file.path)) || parent_is_a_file {
            return Err(UnpackError::FileAndDirectory {
                entry: format!("{module}/{}", file.path),
            });
        }
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum Kind {
    File,
    Directory,
}

/// What an entry may be: a regular file or a directory. Links, devices and the rest are refused.
fn check_kind(kind: tar::EntryType, name: &str) -> Result<Kind, UnpackError> {
    let refuse = |kind: &'static str| UnpackError::Special {
        entry: name.to_owned(),
        kind,
    };
    match kind {
        tar::EntryType::Regular | tar::EntryType::Continuous => Ok(Kind::File),
        tar::EntryType::Directory => Ok(Kind::Directory),
        tar::EntryType::Symlink => Err(UnpackError::Link {
            entry: name.to_owned(),
            kind: "symlink",
        }),
        tar::EntryType::Link => Err(UnpackError::Link {
            entry: name.to_owned(),
            kind: "hardlink",
        }),
        tar::EntryType::Char => Err(refuse("character device")),
        tar::EntryType::Block => Err(refuse("block device")),
        tar::EntryType::Fifo => Err(refuse("FIFO")),
        _ => Err(refuse("special entry")),
    }
}

/// Writes checked files under `dir` (which must be new and empty), modes 0644 or 0755; returns
/// what `stat` says of each, in the order of `files`.
pub fn write_files(dir: &Path, files: &[ArtifactFile]) -> std::io::Result<Vec<std::fs::Metadata>> {
    crate::fs::write_new_tree(
        dir,
        files.iter().map(|file| {
            (
                file.path.as_str(),
                file.contents.as_slice(),
                file.executable,
            )
        }),
    )
}

/// The `h1:` content hash of unpacked files, as the registry records it.
pub fn content_hash(module: &ModuleName, files: &[ArtifactFile]) -> ContentHash {
    ContentHash::of_summary(&summary(module, files))
}

/// The `h1` summary of unpacked files, named `<module>/<path>` as inside the archive.
pub fn summary(module: &ModuleName, files: &[ArtifactFile]) -> String {
    let named: Vec<(String, &[u8])> = files
        .iter()
        .map(|file| (format!("{module}/{}", file.path), file.contents.as_slice()))
        .collect();
    crate::digest::summary(
        named
            .iter()
            .map(|(name, contents)| (name.as_str(), *contents)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_build_writes_reads_back_with_the_same_content_hash() {
        let files = vec![
            ArtifactFile {
                path: "main.ncl".into(),
                contents: b"{}".to_vec(),
                executable: false,
            },
            ArtifactFile {
                path: "lib/run.sh".into(),
                contents: b"#!/bin/sh".to_vec(),
                executable: true,
            },
        ];
        let pack: crate::names::PackRef = "m_prov@1.0.0".parse().expect("valid");
        let artifact = super::super::build(&pack, &files, Some("{}")).expect("builds");
        let limits = Limits {
            max_entries: 100,
            max_bytes: 1 << 20,
        };
        let read = read_artifact(&artifact.bytes, &pack.module, &limits).expect("reads");
        assert_eq!(content_hash(&pack.module, &read), artifact.content_hash);
        let summary = summary(&pack.module, &read);
        assert_eq!(ContentHash::of_summary(&summary), artifact.content_hash);
        assert!(read.iter().any(|f| f.path == "lib/run.sh" && f.executable));
    }
}
