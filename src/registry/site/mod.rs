//! The registry directory as a site: `index.json` (the modules, which a static host cannot list
//! by itself: what the HTTP registry reads) and the web pages people browse (`index.html`, and
//! `modules/<module>.html` for each module: its versions, signers, yanked state, the command to
//! install it, and its documentation), all static files beside `registry/` and `packages/`, in
//! the directory that holds them (`distribution/`).
//!
//! A module's documentation is extracted when it is packed (the evaluation is there, with its
//! dependencies on the import path, under the evaluation bounds) into
//! `registry/docs/<module>_<version>.json`, so writing the site reads files and never evaluates:
//! it is fast enough for every pack command to do it. [`html`] renders; everything a page shows
//! is escaped there.
//!
//! Callers hold the registry's lock ([`write`]) or let [`refresh`] take it.

pub mod html;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::metadata::RegistryIndex;
use super::{DirectoryRegistry, ModuleMetadata, RegistryError};
use crate::names::{ModuleName, PackRef};
use crate::nickel::doc::Documentation;
use crate::printer::Printer;
use crate::tuf::publish::Publisher;

/// Where the pages of the modules go, below the site's directory.
pub const MODULES_DIR: &str = "modules";

/// What packing records about a version for its page: the description of its manifest and its
/// documentation (or why there is none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionDocs {
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documentation: Option<Documentation>,
    /// Why the documentation could not be extracted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl VersionDocs {
    pub fn render(&self) -> Vec<u8> {
        // Strings and maps of strings serialize.
        let mut json = serde_json::to_vec_pretty(self).unwrap_or_default();
        json.push(b'\n');
        json
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("failed to write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the registry directory `{}` has no parent directory to hold `index.json` and the pages",
        path.display()
    )]
    NoSiteDir { path: PathBuf },
    #[error("failed to sign the registry's TUF metadata")]
    Tuf(#[from] crate::tuf::TufError),
    #[error("the registry `{}` carries TUF metadata, and this command cannot sign it: no keyring (set `HOME`, `XDG_CONFIG_HOME` or `PROVISIONING_KEYRING`)", dir.display())]
    NoTufKeyring { dir: PathBuf },
}

/// What writing the site did.
#[derive(Debug, Clone)]
pub struct Written {
    /// The directory holding `index.json` and `index.html`.
    pub dir: PathBuf,
    pub modules: usize,
    /// Files written because they changed (or were new), and pages removed.
    pub changed: usize,
    /// The versions of the TUF metadata signed, when the registry carries it and its targets
    /// changed.
    pub tuf: Option<crate::tuf::publish::Versions>,
}

/// The site's directory: the one that holds `registry/` (`distribution/`).
pub fn site_dir(registry: &DirectoryRegistry) -> Result<PathBuf, SiteError> {
    registry
        .registry_path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .map(Path::to_owned)
        .ok_or_else(|| SiteError::NoSiteDir {
            path: registry.registry_path.clone(),
        })
}

/// Where packing records the page of a version.
pub fn docs_path(registry: &DirectoryRegistry, pack: &PackRef) -> PathBuf {
    registry
        .registry_path
        .join(super::directory::DOCS_DIR)
        .join(format!("{}_{}.json", pack.module, pack.version))
}

/// The recorded page of a version, if there is one that reads.
pub fn read_docs(registry: &DirectoryRegistry, pack: &PackRef) -> Option<VersionDocs> {
    let bytes = crate::fs::read(&docs_path(registry, pack), crate::fs::FileKind::Metadata).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// [`write`], under the registry's lock.
pub fn refresh(
    registry: &DirectoryRegistry,
    install_url: Option<&str>,
    tuf: Option<&Publisher>,
    printer: &Printer,
) -> Result<Written, SiteError> {
    let error = |source| SiteError::Write {
        path: registry.registry_path.clone(),
        source,
    };
    let _lock = registry.lock(printer).map_err(error)?;
    // Nothing is written yet: what is named as debris is a killed run's.
    registry.remove_debris().map_err(error)?;
    write(registry, install_url, tuf)
}

/// Writes `index.json`, `index.html` and every module's page from the registry's metadata (and
/// the recorded documentation), and removes the pages of modules it no longer has. A file that
/// would not change is not written. `install_url` is the registry's address, for the install
/// commands the pages show. The caller holds the registry's lock; what a killed run left in
/// the site's directories (written only here) is removed first. When the registry carries TUF
/// metadata (`distribution/tuf/`), its targets, snapshot and timestamp are signed again in the
/// same transaction as `index.json`, by `tuf`'s keys.
pub fn write(
    registry: &DirectoryRegistry,
    install_url: Option<&str>,
    tuf: Option<&Publisher>,
) -> Result<Written, SiteError> {
    let dir = site_dir(registry)?;
    for debris_dir in [dir.clone(), dir.join(MODULES_DIR)] {
        crate::fs::remove_debris(&debris_dir).map_err(|source| SiteError::Write {
            path: debris_dir.clone(),
            source,
        })?;
    }
    let modules = registry.all()?;
    let mut changed = 0;
    let index = RegistryIndex {
        format: RegistryIndex::FORMAT,
        modules: modules.iter().map(|module| module.name.clone()).collect(),
    };
    let pages: Vec<(&ModuleMetadata, Option<VersionDocs>)> = modules
        .iter()
        .map(|module| {
            let docs = module.versions.last().and_then(|latest| {
                read_docs(
                    registry,
                    &PackRef::new(module.name.clone(), latest.version.clone()),
                )
            });
            (module, docs)
        })
        .collect();
    let pages_dir = dir.join(MODULES_DIR);
    let rendered: Vec<(PathBuf, String)> = pages
        .iter()
        .map(|(module, docs)| {
            (
                pages_dir.join(format!("{}.html", module.name)),
                html::module(module, docs.as_ref(), install_url),
            )
        })
        .collect();
    // The first `modules/`, `index.html` and last `index.json` (what clients read) land
    // together or not at all: a failure puts them back as they were. The pages of an existing
    // `modules/` are written in place, 8 at a time, and stay when a later step fails: they are
    // derived from the metadata, and the next run writes them again (see `write_if_changed`).
    let mut transaction = crate::fs::Transaction::new();
    transaction
        .create_dir_all(&dir)
        .map_err(|source| SiteError::Write {
            path: dir.clone(),
            source,
        })?;
    if pages_dir.exists() {
        changed += write_all_if_changed(&rendered)?;
        changed += remove_stale_pages(&pages_dir, &index.modules)?;
    } else {
        changed += write_fresh_dir(&dir, &pages_dir, &rendered, &mut transaction)?;
    }
    for (name, contents) in [
        ("index.html", html::index(&pages).into_bytes()),
        (RegistryIndex::FILE_NAME, index.render()),
    ] {
        let path = dir.join(name);
        let written = transaction
            .write(&path, &contents)
            .map_err(|source| SiteError::Write { path, source })?;
        changed += usize::from(written);
    }
    let tuf = sign_tuf(&mut transaction, &dir, tuf)?;
    let _ = transaction.commit();
    Ok(Written {
        dir,
        modules: modules.len(),
        changed,
        tuf,
    })
}

/// The registry's TUF metadata signed again, when it carries any.
fn sign_tuf(
    transaction: &mut crate::fs::Transaction,
    dir: &Path,
    tuf: Option<&Publisher>,
) -> Result<Option<crate::tuf::publish::Versions>, SiteError> {
    if !crate::tuf::is_enabled(dir) {
        return Ok(None);
    }
    let publisher = tuf.ok_or_else(|| SiteError::NoTufKeyring {
        dir: dir.to_owned(),
    })?;
    Ok(crate::tuf::publish::sign_changes(
        transaction,
        dir,
        publisher,
    )?)
}

/// Files written at once by [`write_all_if_changed`].
const WRITERS: usize = 8;

/// [`write_if_changed`] for many files, [`WRITERS`] at a time; the first error is the answer.
fn write_all_if_changed(files: &[(PathBuf, String)]) -> Result<usize, SiteError> {
    let chunk = files.len().div_ceil(WRITERS).max(1);
    std::thread::scope(|scope| {
        let writers: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter().try_fold(0, |written, (path, contents)| {
                        Ok(written + write_if_changed(path, contents.as_bytes())?)
                    })
                })
            })
            .collect();
        writers.into_iter().try_fold(0, |total, writer| {
            let written = writer.join().unwrap_or_else(|_| {
                Err(SiteError::Write {
                    path: PathBuf::from(MODULES_DIR),
                    source: std::io::Error::other("a page writer panicked"),
                })
            })?;
            Ok(total + written)
        })
    })
}

/// The first index of a registry: every page written into a staging directory (one `open` and
/// `write` each, no rename each), which is renamed into place whole. Half the system calls of
/// writing the pages one by one, and the pages appear together or not at all.
fn write_fresh_dir(
    dir: &Path,
    pages_dir: &Path,
    files: &[(PathBuf, String)],
    transaction: &mut crate::fs::Transaction,
) -> Result<usize, SiteError> {
    let error = |path: &Path| {
        let path = path.to_owned();
        move |source| SiteError::Write { path, source }
    };
    let staging = crate::fs::new_public_staging_dir(dir).map_err(error(dir))?;
    let written = write_pages_into(&staging, files);
    let moved = written.and_then(|written| {
        transaction
            .move_new_dir_into_place(&staging, pages_dir)
            .map_err(error(pages_dir))?;
        Ok(written)
    });
    if moved.is_err() {
        let _ = crate::fs::remove_dir_all_if_exists(&staging);
    }
    moved
}

/// Writes each page into `staging` under its file name, [`WRITERS`] at a time.
fn write_pages_into(staging: &Path, files: &[(PathBuf, String)]) -> Result<usize, SiteError> {
    let chunk = files.len().div_ceil(WRITERS).max(1);
    std::thread::scope(|scope| {
        let writers: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    for (path, contents) in part {
                        let name = path.file_name().unwrap_or_default();
                        crate::fs::write_new_file(&staging.join(name), contents.as_bytes(), false)
                            .map_err(|source| SiteError::Write {
                                path: path.clone(),
                                source,
                            })?;
                    }
                    Ok::<usize, SiteError>(part.len())
                })
            })
            .collect();
        writers.into_iter().try_fold(0, |total, writer| {
            let written = writer.join().unwrap_or_else(|_| {
                Err(SiteError::Write {
                    path: PathBuf::from(MODULES_DIR),
                    source: std::io::Error::other("a page writer panicked"),
                })
            })?;
            Ok(total + written)
        })
    })
}

/// Writes a page atomically unless the file holds it already. A page is not waited for: it is
/// derived from the metadata, and a page lost to a power cut is rewritten by the next pack
/// command or `pack index` (1,000 pages take a second less).
fn write_if_changed(path: &Path, contents: &[u8]) -> Result<usize, SiteError> {
    if crate::fs::read(path, crate::fs::FileKind::Replaced)
        .is_ok_and(|existing| existing == contents)
    {
        return Ok(0);
    }
    let error = |source| SiteError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        crate::fs::create_dir_all(parent).map_err(error)?;
    }
    crate::fs::atomic_write_unsynced(path, contents).map_err(error)?;
    Ok(1)
}

/// Removes `modules/<module>.html` for modules not in `modules` (only files named so: anything
/// else there is someone's and stays).
fn remove_stale_pages(dir: &Path, modules: &[ModuleName]) -> Result<usize, SiteError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(module) = name
            .to_str()
            .and_then(|name| name.strip_suffix(".html"))
            .and_then(|stem| stem.parse::<ModuleName>().ok())
        else {
            continue;
        };
        if modules.binary_search(&module).is_err() {
            let path = entry.path();
            crate::fs::remove_file_if_exists(&path)
                .map_err(|source| SiteError::Write { path, source })?;
            removed += 1;
        }
    }
    Ok(removed)
}
