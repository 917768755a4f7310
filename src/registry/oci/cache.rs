//! The digest-keyed cache of pulled packs: blobs in `cache_path/oci/blobs/sha256/<hex>`, streamed
//! there by [`super::http`] and put in place only once their size and digest are checked, and
//! the manifest of each pulled tag in `cache_path/oci/refs/<host>/<namespace>/<module>/<tag>.json`,
//! recorded once its blobs are in. A tag whose manifest and blobs are all there and intact is
//! answered with no request at all; a damaged entry is a miss. The manifests are kept per
//! registry (host, namespace): the signature a pack is verified with is the one its registry's
//! manifest names, and a manifest whose pack fails verification is dropped and pulled again
//! (`Registry::refetch`). Blobs are shared: they are named by their content, checked against it.

use std::path::{Path, PathBuf};

use oci_client::manifest::OciImageManifest;

use super::{OciError, OciUrl};
use crate::digest::Sha256;
use crate::names::ModuleName;
use crate::registry::transport::BlobStore;

#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
    blobs: BlobStore,
}

impl Cache {
    pub fn new(cache_path: &Path) -> Self {
        let dir = cache_path.join("oci");
        Self {
            blobs: BlobStore::new(dir.join("blobs/sha256")),
            dir,
        }
    }

    fn ref_path(&self, url: &OciUrl, module: &ModuleName, tag: &str) -> PathBuf {
        let host = url.host.replace([':', '[', ']'], "_");
        self.dir
            .join("refs")
            .join(host)
            .join(&url.namespace)
            .join(module)
            .join(format!("{tag}.json"))
    }

    /// The tags of `module` whose manifests are recorded: what `--offline` knows of its
    /// versions.
    pub fn tags(&self, url: &OciUrl, module: &ModuleName) -> Vec<String> {
        let dir = self.ref_path(url, module, "x");
        let Some(dir) = dir.parent() else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut tags: Vec<String> = entries
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                name.strip_suffix(".json").map(str::to_owned)
            })
            .collect();
        tags.sort();
        tags
    }

    pub fn blob_path(&self, digest: &Sha256) -> PathBuf {
        self.blobs.path(digest)
    }

    /// Records the manifest a tag resolved to (after its blobs are stored, for a pull; alone, for
    /// an index read: a fetch then finds the blobs missing and pulls them).
    /// `what` names the pack or record in the error.
    pub fn store_manifest(
        &self,
        url: &OciUrl,
        module: &ModuleName,
        tag: &str,
        manifest: &OciImageManifest,
        what: impl FnOnce() -> String,
    ) -> Result<(), OciError> {
        let path = self.ref_path(url, module, tag);
        let stored = serde_json::to_vec_pretty(manifest)
            .map_err(std::io::Error::other)
            .and_then(|json| {
                if let Some(parent) = path.parent() {
                    crate::fs::create_dir_all(parent)?;
                }
                crate::fs::atomic_write(&path, &json)
            });
        stored.map_err(|source| OciError::Cache {
            what: what(),
            source,
        })
    }

    /// Forgets the manifest recorded for a tag (`what` names the pack in the error).
    pub fn drop_manifest(
        &self,
        url: &OciUrl,
        module: &ModuleName,
        tag: &str,
        what: impl FnOnce() -> String,
    ) -> Result<(), OciError> {
        crate::fs::remove_file_if_exists(&self.ref_path(url, module, tag))
            .map(drop)
            .map_err(|source| OciError::Cache {
                what: what(),
                source,
            })
    }

    /// The manifest a tag resolved to when it was pulled, if it is recorded.
    pub fn manifest(
        &self,
        url: &OciUrl,
        module: &ModuleName,
        tag: &str,
    ) -> Option<OciImageManifest> {
        let text =
            crate::fs::read(&self.ref_path(url, module, tag), crate::fs::FileKind::Cache).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Whether the blob `digest` is there with `size` bytes (not read, not checked).
    pub fn holds(&self, digest: &Sha256, size: u64) -> bool {
        self.blobs.holds(digest, size)
    }

    /// The blob `digest`, if it is there with `size` bytes and matches its digest.
    pub fn blob(&self, digest: &Sha256, size: u64) -> Option<Vec<u8>> {
        self.blobs.get(digest, size)
    }
}
