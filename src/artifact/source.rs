//! Reading a module's source for packing: every file under its package directory, safely.
//!
//! Hidden files and directories (names starting with `.`) are left out, so editor and VCS
//! droppings never change an artifact; a hidden file that the module's Nickel imports is part
//! of it all the same, and is added once the evaluation has said which ([`read_hidden`]). A symlink to a file inside the module is packed as the
//! file it points to; a symlink that leaves the module, a symlinked directory, a device or a
//! FIFO is refused, as is a manifest that still holds a path dependency: a development link
//! must never leak into a release.

use std::path::{Path, PathBuf};

use toml_edit::DocumentMut;

use super::{ArtifactFile, EXPORT_FILE};
use crate::names::PackRef;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("failed to read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is a symlink that leaves the module (to `{}`); refusing to pack it", path.display(), target.display())]
    EscapingLink { path: PathBuf, target: PathBuf },
    #[error("`{}` is a symlink to a directory; refusing to pack it\nhint: replace the link with the files, or move them into the module", path.display())]
    LinkedDirectory { path: PathBuf },
    #[error("`{}` is not a regular file or directory; refusing to pack it", path.display())]
    Special { path: PathBuf },
    #[error("`{}` has a name that cannot be packed (not UTF-8, or holding a newline or backslash)", path.display())]
    BadName { path: PathBuf },
    #[error("`{}` is reserved in artifacts for the Nickel export; rename it", path.display())]
    Reserved { path: PathBuf },
    #[error("`{}` is not a valid manifest: {message}", path.display())]
    Manifest { path: PathBuf, message: String },
    #[error(
        "`{}`: `{dependency}` is a path dependency (`{dependency_path}`); refusing to pack a development link into a release\nhint: depend on a released version of `{dependency}` instead",
        path.display()
    )]
    PathDependency {
        path: PathBuf,
        dependency: String,
        dependency_path: String,
    },
}

/// Reads the files of the package in `dir`, with its manifest (`manifest_file`, at the root)
/// rewritten to carry `version` when it says otherwise, or written anew when the package has
/// none: from `described` (what its `Nickel-pkg.ncl` says), else as `[package] name, version`.
/// What a packed manifest is stamped with besides its version: a taskserv or a cluster names
/// its kind (and category) in `[package]`, so the artifact says what it is. A provider's or the
/// core's manifest is left as written (their artifacts stay byte for byte what they were).
#[derive(Debug, Clone, Copy)]
pub struct Stamp<'a> {
    pub kind: crate::module::ModuleKind,
    pub category: Option<&'a str>,
}

pub fn read(
    dir: &Path,
    manifest_file: &str,
    pack: &PackRef,
    stamp: &Stamp<'_>,
    described: Option<&crate::module::PackageManifest>,
) -> Result<Vec<ArtifactFile>, SourceError> {
    let (module, version) = (&pack.module, &pack.version);
    let root = std::fs::canonicalize(dir).map_err(|source| SourceError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut files = Vec::new();
    walk(&root, &root, &mut files)?;
    if let Some(export) = files.iter().find(|file| file.path == EXPORT_FILE) {
        return Err(SourceError::Reserved {
            path: root.join(&export.path),
        });
    }
    let manifest_path = dir.join(manifest_file);
    match files.iter_mut().find(|file| file.path == manifest_file) {
        Some(manifest) => {
            manifest.contents = packed_manifest(&manifest_path, &manifest.contents, version, stamp)?
        }
        None => {
            let written = match described {
                Some(manifest) => manifest.to_toml(),
                None => format!("[package]\nname = \"{module}\"\nversion = \"{version}\"\n"),
            };
            files.push(ArtifactFile {
                path: manifest_file.to_owned(),
                contents: packed_manifest(&manifest_path, written.as_bytes(), version, stamp)?,
                executable: false,
            });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<ArtifactFile>) -> Result<(), SourceError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| SourceError::Io { path, source }
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<Result<_, _>>()
        .map_err(io(dir))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return Err(SourceError::BadName { path });
        };
        if name.starts_with('.') {
            continue;
        }
        if name.contains(['\n', '\\']) {
            return Err(SourceError::BadName { path });
        }
        match read_entry(root, &path)? {
            Entry::Directory => walk(root, &path, files)?,
            Entry::File(file) => files.push(file),
        }
    }
    Ok(())
}

enum Entry {
    Directory,
    File(ArtifactFile),
}

/// One entry under `root`, read as the walk reads it: a symlink to a file inside the module is
/// the file; anything else that is not a file or a directory is refused.
fn read_entry(root: &Path, path: &Path) -> Result<Entry, SourceError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| SourceError::Io { path, source }
    };
    let path = path.to_owned();
    let metadata = std::fs::symlink_metadata(&path).map_err(io(&path))?;
    let file_type = metadata.file_type();
    let (real, metadata) = if file_type.is_symlink() {
        let target = std::fs::canonicalize(&path).map_err(io(&path))?;
        if !target.starts_with(root) {
            return Err(SourceError::EscapingLink { path, target });
        }
        let metadata = std::fs::metadata(&target).map_err(io(&target))?;
        if metadata.is_dir() {
            return Err(SourceError::LinkedDirectory { path });
        }
        (target, metadata)
    } else {
        (path.clone(), metadata)
    };
    if metadata.is_dir() {
        return Ok(Entry::Directory);
    }
    if !metadata.is_file() {
        return Err(SourceError::Special { path });
    }
    let contents = crate::fs::read(&real, crate::fs::FileKind::ModuleFile).map_err(io(&real))?;
    let relative = path
        .strip_prefix(root)
        .map_err(|_| SourceError::BadName { path: path.clone() })?;
    let relative: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Ok(Entry::File(ArtifactFile {
        path: relative.join("/"),
        contents,
        executable: is_executable(&metadata),
    }))
}

/// Files under hidden directories (or hidden themselves) that the module's Nickel reads, which
/// [`read`] left out: a generated library's `.js2n-lib/` is part of the module because its files
/// import it. `paths` are canonical paths under `dir`; the files come back packed as [`read`]
/// packs any file, sorted with the others by the artifact's build.
pub fn read_hidden(dir: &Path, paths: &[PathBuf]) -> Result<Vec<ArtifactFile>, SourceError> {
    let root = std::fs::canonicalize(dir).map_err(|source| SourceError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut files = Vec::new();
    for path in paths {
        let relative = path
            .strip_prefix(&root)
            .map_err(|_| SourceError::BadName { path: path.clone() })?;
        let hidden = relative
            .components()
            .any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
        if !hidden {
            continue;
        }
        if relative
            .to_str()
            .is_none_or(|name| name.contains(['\n', '\\']))
        {
            return Err(SourceError::BadName { path: path.clone() });
        }
        if let Entry::File(file) = read_entry(&root, path)? {
            files.push(file);
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);
    Ok(files)
}

#[cfg(unix)]
fn is_executable(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    metadata.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_metadata: &std::fs::Metadata) -> bool {
    false
}

/// The manifest as packed: refused if it holds a path dependency, its `[package] version` set to
/// `version` (the rest of the file kept as written).
fn packed_manifest(
    path: &Path,
    contents: &[u8],
    version: &semver::Version,
    stamp: &Stamp<'_>,
) -> Result<Vec<u8>, SourceError> {
    let text = String::from_utf8_lossy(contents);
    let mut doc: DocumentMut =
        text.parse()
            .map_err(|error: toml_edit::TomlError| SourceError::Manifest {
                path: path.to_owned(),
                message: crate::text::located(&text, error.message(), error.span()),
            })?;
    if let Some(dependencies) = doc
        .get("dependencies")
        .and_then(toml_edit::Item::as_table_like)
    {
        for (dependency, spec) in dependencies.iter() {
            if let Some(dependency_path) = spec
                .as_table_like()
                .and_then(|t| t.get("path"))
                .and_then(|p| p.as_str())
            {
                return Err(SourceError::PathDependency {
                    path: path.to_owned(),
                    dependency: dependency.to_owned(),
                    dependency_path: dependency_path.to_owned(),
                });
            }
        }
    }
    let Some(package) = doc
        .get_mut("package")
        .and_then(toml_edit::Item::as_table_like_mut)
    else {
        return Err(SourceError::Manifest {
            path: path.to_owned(),
            message: "no `[package]` table".into(),
        });
    };
    let current = package.get("version").and_then(toml_edit::Item::as_str);
    if current != Some(version.to_string().as_str()) {
        match package
            .get_mut("version")
            .and_then(toml_edit::Item::as_value_mut)
        {
            // Replacing only the value keeps a comment after it.
            Some(value) => {
                let decor = value.decor().clone();
                *value = toml_edit::Value::from(version.to_string());
                *value.decor_mut() = decor;
            }
            None => {
                package.insert("version", toml_edit::value(version.to_string()));
            }
        }
    }
    if matches!(
        stamp.kind,
        crate::module::ModuleKind::Taskserv | crate::module::ModuleKind::Cluster
    ) {
        if package.get("kind").and_then(toml_edit::Item::as_str) != Some(stamp.kind.as_str()) {
            package.insert("kind", toml_edit::value(stamp.kind.as_str()));
        }
        if let Some(category) = stamp.category
            && package.get("category").and_then(toml_edit::Item::as_str) != Some(category)
        {
            package.insert("category", toml_edit::value(category));
        }
    }
    Ok(doc.to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packed_manifest_carries_the_packed_version() {
        let path = Path::new("manifest.toml");
        let input = b"[package]\nname = \"x_prov\"\nversion = \"0.0.1\" # bump me\n";
        let provider = Stamp {
            kind: crate::module::ModuleKind::Provider,
            category: None,
        };
        let packed =
            packed_manifest(path, input, &semver::Version::new(1, 0, 0), &provider).expect("packs");
        assert_eq!(
            String::from_utf8_lossy(&packed),
            "[package]\nname = \"x_prov\"\nversion = \"1.0.0\" # bump me\n"
        );
        let same =
            packed_manifest(path, input, &semver::Version::new(0, 0, 1), &provider).expect("packs");
        assert_eq!(same, input);
        let taskserv = Stamp {
            kind: crate::module::ModuleKind::Taskserv,
            category: Some("container-runtime"),
        };
        let stamped =
            packed_manifest(path, input, &semver::Version::new(0, 0, 1), &taskserv).expect("packs");
        assert_eq!(
            String::from_utf8_lossy(&stamped),
            "[package]\nname = \"x_prov\"\nversion = \"0.0.1\" # bump me\nkind = \"taskserv\"\ncategory = \"container-runtime\"\n"
        );
    }

    #[test]
    fn path_dependencies_are_refused() {
        let input = b"[package]\nname = \"x_prov\"\nversion = \"0.0.1\"\n[dependencies]\nlib = { path = \"../lib\" }\n";
        let stamp = Stamp {
            kind: crate::module::ModuleKind::Provider,
            category: None,
        };
        let error = packed_manifest(
            Path::new("m.toml"),
            input,
            &semver::Version::new(0, 0, 1),
            &stamp,
        )
        .expect_err("refused");
        assert!(
            error
                .to_string()
                .contains("`lib` is a path dependency (`../lib`)"),
            "{error}"
        );
    }
}
