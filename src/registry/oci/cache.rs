//! The digest-keyed cache of pulled packs: blobs in `cache_path/oci/blobs/sha256/<hex>`, written
//! only after their digest is checked, and the manifest of each pulled tag in
//! `cache_path/oci/refs/<host>/<namespace>/<module>/<tag>.json`. A tag whose manifest and blobs
//! are all there and intact is answered with no request at all; a damaged entry is a miss.

use std::path::{Path, PathBuf};

use oci_client::manifest::{OciDescriptor, OciImageManifest};

use super::{OciError, RegistryUrl};
use crate::digest::Sha256;
use crate::names::ModuleName;

/// Layers with their bytes, in the manifest's order.
pub type Blobs = Vec<(OciDescriptor, Vec<u8>)>;

#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    pub fn new(cache_path: &Path) -> Self {
        Self {
            dir: cache_path.join("oci"),
        }
    }

    fn ref_path(&self, url: &RegistryUrl, module: &ModuleName, tag: &str) -> PathBuf {
        let host = url.host.replace([':', '[', ']'], "_");
        self.dir
            .join("refs")
            .join(host)
            .join(&url.namespace)
            .join(module)
            .join(format!("{tag}.json"))
    }

    pub fn blob_path(&self, digest: &Sha256) -> PathBuf {
        self.dir.join("blobs/sha256").join(digest.to_string())
    }

    /// Stores a blob whose digest the caller has checked.
    pub fn store_blob(&self, digest: &Sha256, bytes: &[u8]) -> Result<(), OciError> {
        write(&self.blob_path(digest), bytes)
    }

    /// Records the manifest a tag resolved to, once its blobs are stored.
    pub fn store_manifest(
        &self,
        url: &RegistryUrl,
        module: &ModuleName,
        tag: &str,
        manifest: &OciImageManifest,
    ) -> Result<(), OciError> {
        let path = self.ref_path(url, module, tag);
        let json = serde_json::to_vec_pretty(manifest).map_err(|error| OciError::Cache {
            path: path.clone(),
            source: std::io::Error::other(error),
        })?;
        write(&path, &json)
    }

    /// The cached manifest of a tag and its blobs, if every one is there and matches its digest.
    pub fn get(
        &self,
        url: &RegistryUrl,
        module: &ModuleName,
        tag: &str,
    ) -> Option<(OciImageManifest, Blobs)> {
        let text = std::fs::read(self.ref_path(url, module, tag)).ok()?;
        let manifest = serde_json::from_slice::<OciImageManifest>(&text).ok()?;
        let mut blobs = Vec::new();
        for layer in &manifest.layers {
            let digest = Sha256::from_oci_digest(&layer.digest).ok()?;
            let bytes = std::fs::read(self.blob_path(&digest)).ok()?;
            if Sha256::of(&bytes) != digest {
                return None;
            }
            blobs.push((layer.clone(), bytes));
        }
        Some((manifest, blobs))
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), OciError> {
    let error = |path: &Path| {
        let path = path.to_owned();
        move |source| OciError::Cache { path, source }
    };
    if let Some(parent) = path.parent() {
        crate::fs::create_dir_all(parent).map_err(error(parent))?;
    }
    crate::fs::atomic_write(path, bytes).map_err(error(path))
}
