//! The site's stamp: whether a registry's `index.json` and pages are still what the last
//! refresh made of its metadata, so that a `pack` that wrote nothing does not read every
//! module's metadata, documentation and page only to write nothing.
//!
//! Every file the site is made from or made of is replaced by a rename into one of a few
//! directories (the metadata and the documentation records in `registry/` and `registry/docs/`,
//! the pages in the site's directory and its `modules/`), and a rename changes its directory's
//! `stat`. The stamp, in `<cache_path>/pack/site.json`, is those directories' `stat` (and
//! `index.json`'s) after a refresh. While they are the same, nothing the site depends on has
//! changed since, and the refresh is skipped; any write, a killed run's included, is a refresh.
//! As with fingerprints ([`super::fingerprint`]), a stamp is recorded only when every entry
//! last changed [`SETTLED`](super::fingerprint::SETTLED) before the refresh began (a rename in
//! the same clock tick as the `stat` would not show); the next command, a little later,
//! records it. Derived and best effort: an unreadable or lost stamp is a refresh.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::fingerprint::{Stat, settled_point};
use crate::registry::DirectoryRegistry;
use crate::registry::site;

/// Where the stamp of the registries packed into is kept.
#[derive(Debug, Clone)]
pub struct SiteStamp {
    path: PathBuf,
}

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Recorded {
    entries: Vec<(PathBuf, Option<Stat>)>,
}

impl SiteStamp {
    pub fn new(cache_path: &Path) -> Self {
        Self {
            path: cache_path.join("pack").join("site.json"),
        }
    }

    /// Whether `registry`'s site is as the last refresh left it.
    pub fn is_current(&self, registry: &DirectoryRegistry) -> bool {
        let Ok(bytes) = crate::fs::read(&self.path, crate::fs::FileKind::Metadata) else {
            return false;
        };
        let Ok(recorded) = serde_json::from_slice::<Recorded>(&bytes) else {
            return false;
        };
        current(registry).is_some_and(|now| now == recorded)
    }

    /// Records the stamp after a refresh of `registry`'s site that began at `started`; when an
    /// entry changed too recently to be told apart by `stat`, removes the old one instead.
    pub fn record(&self, registry: &DirectoryRegistry, started: SystemTime) {
        let stamp = current(registry).filter(|stamp| {
            settled_point(started).is_some_and(|settled| {
                stamp
                    .entries
                    .iter()
                    .all(|(_, stat)| stat.is_none_or(|stat| stat.settled_before(settled)))
            })
        });
        let written = stamp
            .and_then(|stamp| serde_json::to_vec(&stamp).ok())
            .is_some_and(|json| crate::fs::atomic_write_unsynced(&self.path, &json).is_ok());
        if !written {
            let _ = crate::fs::remove_file_if_exists(&self.path);
        }
    }
}

/// The `stat` of every directory whose entries the site is made from or of, and of
/// `index.json`; `None` when one cannot be read.
fn current(registry: &DirectoryRegistry) -> Option<Recorded> {
    let site = site::site_dir(registry).ok()?;
    let entries = [
        registry.registry_path.clone(),
        registry
            .registry_path
            .join(crate::registry::directory::DOCS_DIR),
        site.join(site::MODULES_DIR),
        site.join(crate::registry::metadata::RegistryIndex::FILE_NAME),
        site.clone(),
    ]
    .into_iter()
    .map(|path| Stat::read(&path, false).ok().map(|stat| (path, stat)))
    .collect::<Option<Vec<_>>>()?;
    Some(Recorded { entries })
}
